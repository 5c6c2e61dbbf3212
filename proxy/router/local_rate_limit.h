// Local rate limiting (envoy.filters.http.local_ratelimit): a token bucket
// per route-level configuration, per worker — each worker enforces the
// configured rate on the requests it serves, as Envoy's local limit does per
// Envoy worker when no shared bucket is configured.
//
// Envoy's bucket: it starts full (max_tokens); every fill_interval,
// tokens_per_fill tokens are added, never beyond max_tokens. A request takes
// one token or, when none is left, is limited.
//
// LocalRateLimiter is one bucket. LocalRateLimitRegistry is one worker's set
// of buckets, keyed by the configuration they serve. A bucket belongs to the
// route table that holds its configuration: when xDS replaces the table, the
// buckets of the old one are dropped (as Envoy recreates the filter config),
// and a configuration object at a recycled address never inherits the state
// of the one before.
//
// Time comes from an injected meshgate::Clock (tests use ManualClock).
// Thread-safety: none; both classes belong to one worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "common/clock.h"
#include "proxy/router/filter_configs.h"

namespace meshgate::proxy {

class RouteTable;

// The outcome of one request against a bucket, with what the x-ratelimit-*
// headers report (draft-03: limit, remaining, reset in seconds).
struct RateLimitDecision {
  bool allowed = true;
  uint32_t limit = 0;          // max_tokens
  uint32_t remaining = 0;      // tokens left after this request
  uint32_t reset_seconds = 0;  // until the next fill, rounded up
};

class LocalRateLimiter {
 public:
  // REQUIRES: config.has_token_bucket; `clock` outlives the limiter.
  LocalRateLimiter(const LocalRateLimitConfig& config, const Clock& clock);

  // Takes a token if there is one.
  RateLimitDecision Consume();

 private:
  void Refill();

  uint32_t max_tokens_;
  uint32_t tokens_per_fill_;
  std::chrono::nanoseconds fill_interval_;
  const Clock& clock_;
  uint32_t tokens_;
  std::chrono::steady_clock::time_point next_fill_;
};

class LocalRateLimitRegistry {
 public:
  // REQUIRES: `clock` outlives the registry.
  explicit LocalRateLimitRegistry(const Clock& clock) : clock_(clock) {}

  // The bucket for `config`, which belongs to `table`. nullptr when the
  // configuration has no token bucket (the filter is only declared).
  LocalRateLimiter* For(const std::shared_ptr<const RouteTable>& table,
                        const LocalRateLimitConfig& config);

  // Drops buckets whose route table is gone (called between requests).
  void Sweep();
  size_t size() const { return buckets_.size(); }

 private:
  struct Entry {
    std::weak_ptr<const RouteTable> table;
    std::unique_ptr<LocalRateLimiter> limiter;
  };
  const Clock& clock_;
  std::unordered_map<const LocalRateLimitConfig*, Entry> buckets_;
};

}  // namespace meshgate::proxy
