#include "ca/rate_limiter.h"

#include <algorithm>

namespace meshgate::ca {

RateLimiter::RateLimiter(const Clock& clock, Options options) : clock_(clock), options_(options) {}

double RateLimiter::Refilled(const Bucket& bucket,
                             std::chrono::steady_clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  return std::min(options_.burst, bucket.tokens + std::max(0.0, elapsed) * options_.per_second);
}

bool RateLimiter::TryAcquire(absl::string_view key) {
  auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_keys) {
      std::erase_if(buckets_, [&](const auto& entry) {
        return Refilled(entry.second, now) >= options_.burst;
      });
      if (buckets_.size() >= options_.max_keys) return false;  // flood of distinct callers
    }
    it = buckets_.emplace(std::string(key), Bucket{options_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.updated = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

}  // namespace meshgate::ca
