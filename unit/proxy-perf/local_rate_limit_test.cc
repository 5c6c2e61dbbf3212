// The local rate limit's token bucket against a ManualClock: Envoy's fill
// semantics (start full, discrete fills, capped at max_tokens), the values
// the x-ratelimit-* headers report, and the registry's per-table buckets.
#include "proxy/router/local_rate_limit.h"

#include <memory>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "proxy/router/route_table.h"

namespace meshgate::proxy {
namespace {

LocalRateLimitConfig Bucket(uint32_t max_tokens, uint32_t per_fill, absl::Duration interval) {
  LocalRateLimitConfig c;
  c.max_tokens = max_tokens;
  c.tokens_per_fill = per_fill;
  c.fill_interval = interval;
  c.has_token_bucket = true;
  c.enabled_fraction = kAlways;
  c.enforced_fraction = kAlways;
  return c;
}

TEST(LocalRateLimiterTest, StartsFullAndLimitsWhenEmpty) {
  ManualClock clock;
  LocalRateLimiter limiter(Bucket(3, 1, absl::Seconds(10)), clock);
  for (uint32_t left : {2u, 1u, 0u}) {
    RateLimitDecision d = limiter.Consume();
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, left);
    EXPECT_EQ(d.limit, 3u);
  }
  RateLimitDecision d = limiter.Consume();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset_seconds, 10u);
}

TEST(LocalRateLimiterTest, RefillsPerIntervalAndNeverAboveMax) {
  ManualClock clock;
  LocalRateLimiter limiter(Bucket(4, 2, absl::Seconds(1)), clock);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limiter.Consume().allowed);
  ASSERT_FALSE(limiter.Consume().allowed);

  clock.Advance(absl::Milliseconds(999));  // not yet a whole interval
  EXPECT_FALSE(limiter.Consume().allowed);
  clock.Advance(absl::Milliseconds(1));  // the first fill: two tokens
  EXPECT_TRUE(limiter.Consume().allowed);
  EXPECT_TRUE(limiter.Consume().allowed);
  EXPECT_FALSE(limiter.Consume().allowed);

  // A long pause fills to max_tokens, not beyond.
  clock.Advance(absl::Seconds(60));
  int allowed = 0;
  while (limiter.Consume().allowed) ++allowed;
  EXPECT_EQ(allowed, 4);
}

TEST(LocalRateLimiterTest, ResetCountsDownToTheNextFill) {
  ManualClock clock;
  LocalRateLimiter limiter(Bucket(1, 1, absl::Seconds(5)), clock);
  EXPECT_EQ(limiter.Consume().reset_seconds, 5u);
  clock.Advance(absl::Milliseconds(2500));
  RateLimitDecision d = limiter.Consume();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reset_seconds, 3u);  // 2.5 s rounded up
  clock.Advance(absl::Milliseconds(2500));
  d = limiter.Consume();
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reset_seconds, 5u);
}

TEST(LocalRateLimitRegistryTest, OneBucketPerConfigAndTable) {
  ManualClock clock;
  LocalRateLimitRegistry registry(clock);
  LocalRateLimitConfig config = Bucket(1, 1, absl::Seconds(1));
  LocalRateLimitConfig declared_only;  // no token bucket: nothing to enforce
  std::shared_ptr<const RouteTable> table = *RouteTable::Create({}, {});
  EXPECT_EQ(registry.For(table, declared_only), nullptr);

  LocalRateLimiter* bucket = registry.For(table, config);
  ASSERT_NE(bucket, nullptr);
  EXPECT_EQ(registry.For(table, config), bucket);  // the same bucket across requests
  EXPECT_TRUE(bucket->Consume().allowed);
  EXPECT_FALSE(registry.For(table, config)->Consume().allowed);

  // A new route table (new xDS version) starts with a full bucket.
  std::shared_ptr<const RouteTable> next = *RouteTable::Create({}, {});
  EXPECT_TRUE(registry.For(next, config)->Consume().allowed);

  // Buckets of tables that are gone are swept.
  table.reset();
  next.reset();
  registry.Sweep();
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace meshgate::proxy
