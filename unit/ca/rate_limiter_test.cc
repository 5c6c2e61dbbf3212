#include "ca/rate_limiter.h"

#include "gtest/gtest.h"

namespace meshgate::ca {
namespace {

TEST(RateLimiterTest, TokenBucketRefillsOnTheInjectedClock) {
  ManualClock clock;
  RateLimiter limiter(clock, {.per_second = 2, .burst = 4});
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.TryAcquire("a")) << i;
  EXPECT_FALSE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("b")) << "buckets are per key";
  clock.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(limiter.TryAcquire("a"));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_FALSE(limiter.TryAcquire("a"));
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.TryAcquire("a")) << "refill caps at burst";
  EXPECT_FALSE(limiter.TryAcquire("a"));
}

TEST(RateLimiterTest, MemoryIsBoundedAndFullBucketsAreForgotten) {
  ManualClock clock;
  RateLimiter limiter(clock, {.per_second = 1, .burst = 1, .max_keys = 2});
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("b"));
  EXPECT_FALSE(limiter.TryAcquire("c")) << "table full of callers that are still limited";
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.TryAcquire("c")) << "refilled buckets make room";
  EXPECT_FALSE(limiter.TryAcquire("c"));
}

}  // namespace
}  // namespace meshgate::ca
