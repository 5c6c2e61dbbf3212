// RetryState: classification of attempt outcomes under each retry_on
// condition, the retry budget, jittered exponential backoff and "retry to
// another host".
#include "proxy/router/retry_state.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/upstream/random.h"

namespace meshgate::proxy {
namespace {

RetryPolicy Policy(std::string_view retry_on, uint32_t num_retries = 3) {
  RetryPolicy policy;
  auto bits = ParseRetryOn(retry_on);
  EXPECT_TRUE(bits.ok()) << bits.status();
  policy.retry_on = *bits;
  policy.num_retries = num_retries;
  return policy;
}

AttemptOutcome Status(uint32_t code) {
  return AttemptOutcome{code, std::nullopt, UpstreamReset::kNone};
}
AttemptOutcome Grpc(uint32_t grpc_status) {
  return AttemptOutcome{200, grpc_status, UpstreamReset::kNone};
}
AttemptOutcome Reset(UpstreamReset reset) {
  return AttemptOutcome{std::nullopt, std::nullopt, reset};
}

TEST(RetryStateTest, ClassifiesOutcomesPerCondition) {
  struct Case {
    std::string retry_on;
    AttemptOutcome outcome;
    bool retriable;
  };
  const std::vector<Case> cases = {
      {"5xx", Status(500), true},
      {"5xx", Status(503), true},
      {"5xx", Status(404), false},
      {"5xx", Status(200), false},
      {"5xx", Reset(UpstreamReset::kConnectFailure), true},
      {"5xx", Reset(UpstreamReset::kRemoteReset), true},
      {"5xx", Reset(UpstreamReset::kPerTryTimeout), true},
      {"5xx", Reset(UpstreamReset::kOverflow), false},
      {"gateway-error", Status(500), false},
      {"gateway-error", Status(502), true},
      {"gateway-error", Status(503), true},
      {"gateway-error", Status(504), true},
      {"gateway-error", Reset(UpstreamReset::kPerTryTimeout), true},
      {"connect-failure", Reset(UpstreamReset::kConnectFailure), true},
      {"connect-failure", Reset(UpstreamReset::kRemoteReset), false},
      {"connect-failure", Status(503), false},
      {"reset", Reset(UpstreamReset::kRemoteReset), true},
      {"reset", Reset(UpstreamReset::kPerTryTimeout), true},
      {"reset", Reset(UpstreamReset::kOverflow), false},
      {"reset", Status(503), false},
      {"refused-stream", Reset(UpstreamReset::kRefusedStream), true},
      {"refused-stream", Reset(UpstreamReset::kRemoteReset), false},
      {"retriable-4xx", Status(409), true},
      {"retriable-4xx", Status(404), false},
      {"retriable-status-codes", Status(418), true},  // 418 is listed below
      {"retriable-status-codes", Status(503), false},
      {"cancelled", Grpc(1), true},
      {"deadline-exceeded", Grpc(4), true},
      {"resource-exhausted", Grpc(8), true},
      {"internal", Grpc(13), true},
      {"unavailable", Grpc(14), true},
      {"unavailable", Grpc(13), false},
      {"unavailable", Grpc(0), false},
      {"cancelled,unavailable", Grpc(14), true},
  };
  SeededRandom random(1);
  for (const Case& c : cases) {
    RetryPolicy policy = Policy(c.retry_on);
    policy.retriable_status_codes = {418};
    RetryState state(policy, random);
    EXPECT_EQ(state.IsRetriable(c.outcome), c.retriable)
        << c.retry_on << " status=" << c.outcome.http_status.value_or(0)
        << " grpc=" << c.outcome.grpc_status.value_or(99)
        << " reset=" << static_cast<int>(c.outcome.reset);
  }
}

TEST(RetryStateTest, UnknownConditionIsRejected) {
  auto bits = ParseRetryOn("5xx,retry-on-tuesdays");
  ASSERT_FALSE(bits.ok());
  EXPECT_NE(bits.status().message().find("retry-on-tuesdays"), std::string::npos);
}

TEST(RetryStateTest, StopsWhenBudgetIsSpent) {
  SeededRandom random(2);
  RetryState state(Policy("5xx", 2), random);
  EXPECT_TRUE(state.OnAttemptComplete(Status(503)).retry);
  EXPECT_TRUE(state.OnAttemptComplete(Status(503)).retry);
  EXPECT_FALSE(state.OnAttemptComplete(Status(503)).retry);
  EXPECT_EQ(state.attempts(), 3u);
  EXPECT_EQ(state.retries_remaining(), 0u);
}

TEST(RetryStateTest, SuccessEndsTheRequest) {
  SeededRandom random(3);
  RetryState state(Policy("5xx", 5), random);
  EXPECT_TRUE(state.OnAttemptComplete(Status(500)).retry);
  EXPECT_FALSE(state.OnAttemptComplete(Status(200)).retry);
  EXPECT_EQ(state.retries_remaining(), 4u);
}

TEST(RetryStateTest, BackoffIsJitteredAndGrowsToTheCap) {
  RetryPolicy policy = Policy("5xx", 6);
  policy.backoff_base = absl::Milliseconds(100);
  policy.backoff_max = absl::Milliseconds(350);
  // Ceilings of retries 1..6: 100, 200, 350 (capped), 350, 350, 350 ms.
  const std::vector<absl::Duration> ceilings = {absl::Milliseconds(100), absl::Milliseconds(200),
                                                absl::Milliseconds(350), absl::Milliseconds(350),
                                                absl::Milliseconds(350), absl::Milliseconds(350)};
  std::vector<absl::Duration> sum(ceilings.size());
  constexpr int kRuns = 2000;
  for (int seed = 0; seed < kRuns; ++seed) {
    SeededRandom random(seed);
    RetryState state(policy, random);
    for (size_t i = 0; i < ceilings.size(); ++i) {
      RetryState::Decision decision = state.OnAttemptComplete(Status(503));
      ASSERT_TRUE(decision.retry);
      EXPECT_GE(decision.backoff, absl::ZeroDuration());
      EXPECT_LT(decision.backoff, ceilings[i]);
      sum[i] += decision.backoff;
    }
  }
  // Full jitter: the mean is half the ceiling.
  for (size_t i = 0; i < ceilings.size(); ++i) {
    const double mean_ms = absl::ToDoubleMilliseconds(sum[i]) / kRuns;
    EXPECT_NEAR(mean_ms, absl::ToDoubleMilliseconds(ceilings[i]) / 2,
                absl::ToDoubleMilliseconds(ceilings[i]) * 0.05)
        << "retry " << i + 1;
  }
}

TEST(RetryStateTest, SameSeedSameBackoff) {
  RetryPolicy policy = Policy("reset", 3);
  SeededRandom a(99), b(99);
  RetryState first(policy, a), second(policy, b);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(first.OnAttemptComplete(Reset(UpstreamReset::kRemoteReset)).backoff,
              second.OnAttemptComplete(Reset(UpstreamReset::kRemoteReset)).backoff);
  }
}

TEST(RetryStateTest, PreviousHostsAreExcludedOnlyWhenAsked) {
  Host a{"10.0.0.1", 80, 1, 0, "10.0.0.1:80"};
  Host b{"10.0.0.2", 80, 1, 1, "10.0.0.2:80"};
  SeededRandom random(4);
  RetryPolicy policy = Policy("5xx");
  RetryState plain(policy, random);
  plain.OnAttemptComplete(Status(503), &a);
  EXPECT_FALSE(plain.ExcludePredicate());

  policy.retry_other_host = true;
  RetryState other_host(policy, random);
  EXPECT_FALSE(other_host.ExcludePredicate());  // nothing tried yet
  other_host.OnAttemptComplete(Status(503), &a);
  auto exclude = other_host.ExcludePredicate();
  ASSERT_TRUE(exclude);
  EXPECT_TRUE(exclude(a));
  EXPECT_FALSE(exclude(b));
}

}  // namespace
}  // namespace meshgate::proxy
