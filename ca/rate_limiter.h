// Per-caller token buckets on an injected clock, so the CA's CSR service can
// refuse floods (RESOURCE_EXHAUSTED) without one caller starving the others.
//
// Each key (an authenticated SPIFFE ID, or a peer address before
// authentication) gets `burst` tokens refilled at `per_second`. Memory is
// bounded: when `max_keys` buckets exist, buckets that are full again are
// forgotten (they carry no information).
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace meshgate::ca {

class RateLimiter {
 public:
  struct Options {
    double per_second = 5.0;
    double burst = 20.0;
    size_t max_keys = 100'000;
  };
  // REQUIRES: `clock` outlives the limiter.
  RateLimiter(const Clock& clock, Options options);

  // Takes one token from `key`'s bucket; false when the bucket is empty.
  bool TryAcquire(absl::string_view key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };
  double Refilled(const Bucket& bucket, std::chrono::steady_clock::time_point now) const;

  const Clock& clock_;
  const Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace meshgate::ca
