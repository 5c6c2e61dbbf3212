#include "proxy/router/local_rate_limit.h"

#include <algorithm>

#include "absl/time/time.h"

namespace meshgate::proxy {

LocalRateLimiter::LocalRateLimiter(const LocalRateLimitConfig& config, const Clock& clock)
    : max_tokens_(config.max_tokens),
      tokens_per_fill_(config.tokens_per_fill),
      fill_interval_(absl::ToChronoNanoseconds(config.fill_interval)),
      clock_(clock),
      tokens_(config.max_tokens),
      next_fill_(clock.Monotonic() + fill_interval_) {}

void LocalRateLimiter::Refill() {
  const auto now = clock_.Monotonic();
  if (now < next_fill_) return;
  // Every interval that passed adds its tokens (capped), as if a timer had
  // fired at each one.
  const auto intervals = static_cast<uint64_t>((now - next_fill_) / fill_interval_) + 1;
  const uint64_t added = intervals * tokens_per_fill_;
  tokens_ = static_cast<uint32_t>(std::min<uint64_t>(max_tokens_, tokens_ + added));
  next_fill_ += fill_interval_ * static_cast<int64_t>(intervals);
}

RateLimitDecision LocalRateLimiter::Consume() {
  Refill();
  RateLimitDecision decision;
  decision.limit = max_tokens_;
  if (tokens_ > 0) {
    --tokens_;
  } else {
    decision.allowed = false;
  }
  decision.remaining = tokens_;
  const auto until_fill = next_fill_ - clock_.Monotonic();
  decision.reset_seconds =
      static_cast<uint32_t>(std::chrono::ceil<std::chrono::seconds>(until_fill).count());
  return decision;
}

LocalRateLimiter* LocalRateLimitRegistry::For(const std::shared_ptr<const RouteTable>& table,
                                              const LocalRateLimitConfig& config) {
  if (!config.has_token_bucket) return nullptr;
  Entry& entry = buckets_[&config];
  // A bucket from a table that is gone (or another table) is not this one's.
  std::shared_ptr<const RouteTable> owner = entry.table.lock();
  if (!entry.limiter || owner != table) {
    entry.table = table;
    entry.limiter = std::make_unique<LocalRateLimiter>(config, clock_);
  }
  return entry.limiter.get();
}

void LocalRateLimitRegistry::Sweep() {
  std::erase_if(buckets_, [](const auto& item) { return item.second.table.expired(); });
}

}  // namespace meshgate::proxy
