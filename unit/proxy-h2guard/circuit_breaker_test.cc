// CircuitBreaker: slots up to each limit, given back by destruction, moves
// and Release(); AcquireConnection() over the limit for a pool without
// connections; contention from threads never grants more than the limit.
#include "proxy/upstream/circuit_breaker.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace meshgate::proxy::upstream {
namespace {

using Resource = CircuitBreaker::Resource;

TEST(CircuitBreakerTest, GrantsUpToTheLimitAndTakesSlotsBack) {
  auto breaker = std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_requests = 2});
  CircuitBreaker::Slot a = breaker->TryAcquire(Resource::kRequests);
  CircuitBreaker::Slot b = breaker->TryAcquire(Resource::kRequests);
  CircuitBreaker::Slot c = breaker->TryAcquire(Resource::kRequests);
  EXPECT_TRUE(a.held());
  EXPECT_TRUE(b.held());
  EXPECT_FALSE(c.held());
  EXPECT_TRUE(breaker->Open(Resource::kRequests));
  EXPECT_EQ(breaker->InUse(Resource::kRequests), 2u);
  // Other resources have their own counts.
  EXPECT_TRUE(breaker->TryAcquire(Resource::kConnections).held());
  a.Release();
  EXPECT_FALSE(a.held());
  EXPECT_EQ(breaker->InUse(Resource::kRequests), 1u);
  CircuitBreaker::Slot moved = std::move(b);
  EXPECT_EQ(breaker->InUse(Resource::kRequests), 1u);
  { CircuitBreaker::Slot gone = std::move(moved); }
  EXPECT_EQ(breaker->InUse(Resource::kRequests), 0u);
  EXPECT_FALSE(breaker->Open(Resource::kRequests));
}

TEST(CircuitBreakerTest, APoolWithoutConnectionsGetsOneOverTheLimit) {
  auto breaker = std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_connections = 1});
  bool overflowed = true;
  CircuitBreaker::Slot first =
      breaker->AcquireConnection(/*pool_has_connections=*/false, &overflowed);
  ASSERT_TRUE(first.held());
  EXPECT_FALSE(overflowed);
  // At the limit: a pool that has a connection waits for it...
  EXPECT_FALSE(breaker->AcquireConnection(/*pool_has_connections=*/true, &overflowed).held());
  EXPECT_TRUE(overflowed);
  EXPECT_EQ(breaker->InUse(Resource::kConnections), 1u);
  // ...one that has none would strand its requests, so it gets one anyway.
  overflowed = false;
  CircuitBreaker::Slot forced =
      breaker->AcquireConnection(/*pool_has_connections=*/false, &overflowed);
  EXPECT_TRUE(forced.held());
  EXPECT_TRUE(overflowed) << "still counted as an overflow";
  EXPECT_EQ(breaker->InUse(Resource::kConnections), 2u);
  first.Release();
  EXPECT_TRUE(breaker->Open(Resource::kConnections)) << "still at the limit with the forced one";
}

TEST(CircuitBreakerTest, SlotOutlivesTheConfigThatOwnedTheBreaker) {
  auto breaker = std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_retries = 1});
  CircuitBreaker::Slot slot = breaker->TryAcquire(Resource::kRetries);
  std::weak_ptr<CircuitBreaker> weak = breaker;
  breaker.reset();
  EXPECT_FALSE(weak.expired());
  slot.Release();
  EXPECT_TRUE(weak.expired());
}

TEST(CircuitBreakerTest, ConcurrentWorkersNeverExceedTheLimit) {
  auto breaker = std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_requests = 5});
  std::atomic<int> held{0};
  std::atomic<int> max_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        CircuitBreaker::Slot slot = breaker->TryAcquire(Resource::kRequests);
        if (!slot.held()) continue;
        int now = ++held;
        int seen = max_seen.load();
        while (now > seen && !max_seen.compare_exchange_weak(seen, now)) {
        }
        --held;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_seen.load(), 5);
  EXPECT_GE(max_seen.load(), 1);
  EXPECT_EQ(breaker->InUse(Resource::kRequests), 0u);
}

}  // namespace
}  // namespace meshgate::proxy::upstream
