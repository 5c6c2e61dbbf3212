// The router's gRPC rules: recognising gRPC requests, reading grpc-status and
// grpc-timeout, the HTTP → gRPC status of local replies, and the retry
// policy's gRPC conditions applied to a status from headers or trailers.
#include "proxy/router/grpc.h"

#include "gtest/gtest.h"
#include "proxy/router/retry_state.h"

namespace meshgate::proxy {
namespace {

http::RequestHeaders WithHeader(std::string_view name, std::string_view value) {
  http::RequestHeaders h;
  h.Add(":method", "POST");
  h.Add(":path", "/pkg.Service/Method");
  h.Add(name, value);
  return h;
}

TEST(GrpcTest, RecognisesGrpcContentTypes) {
  EXPECT_TRUE(IsGrpcRequest(WithHeader("content-type", "application/grpc")));
  EXPECT_TRUE(IsGrpcRequest(WithHeader("content-type", "application/grpc+proto")));
  EXPECT_TRUE(IsGrpcRequest(WithHeader("content-type", "Application/GRPC")));
  EXPECT_TRUE(IsGrpcRequest(WithHeader("content-type", "application/grpc-web+proto")));
  EXPECT_FALSE(IsGrpcRequest(WithHeader("content-type", "application/grpcx")));
  EXPECT_FALSE(IsGrpcRequest(WithHeader("content-type", "application/json")));
  EXPECT_FALSE(IsGrpcRequest(WithHeader("x-other", "application/grpc")));
}

TEST(GrpcTest, ParsesGrpcTimeoutInEveryUnit) {
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "2H")), absl::Hours(2));
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "3M")), absl::Minutes(3));
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "10S")), absl::Seconds(10));
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "250m")), absl::Milliseconds(250));
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "99999999u")), absl::Microseconds(99999999));
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "5n")), absl::Nanoseconds(5));
  EXPECT_EQ(GrpcTimeoutOf(WithHeader("grpc-timeout", "0m")), absl::ZeroDuration());
}

TEST(GrpcTest, IgnoresMalformedGrpcTimeout) {
  for (const char* bad : {"", "m", "10", "10x", "-5m", "1.5S", "123456789m", " 5m"}) {
    EXPECT_FALSE(GrpcTimeoutOf(WithHeader("grpc-timeout", bad)).has_value()) << bad;
  }
  EXPECT_FALSE(GrpcTimeoutOf(WithHeader("x-other", "5m")).has_value());
}

TEST(GrpcTest, ReadsGrpcStatus) {
  http::TrailerMap trailers;
  EXPECT_FALSE(GrpcStatusOf(trailers).has_value());
  trailers.Add("grpc-status", "14");
  EXPECT_EQ(GrpcStatusOf(trailers), 14u);
  trailers.Set("grpc-status", "1a");
  EXPECT_FALSE(GrpcStatusOf(trailers).has_value());
}

TEST(GrpcTest, LocalReplyStatusesMapToGrpc) {
  EXPECT_EQ(GrpcStatusForHttpStatus(503), GrpcStatus::kUnavailable);
  EXPECT_EQ(GrpcStatusForHttpStatus(502), GrpcStatus::kUnavailable);
  EXPECT_EQ(GrpcStatusForHttpStatus(504), GrpcStatus::kDeadlineExceeded);
  EXPECT_EQ(GrpcStatusForHttpStatus(404), GrpcStatus::kUnimplemented);
  EXPECT_EQ(GrpcStatusForHttpStatus(429), GrpcStatus::kUnavailable);
  EXPECT_EQ(GrpcStatusForHttpStatus(403), GrpcStatus::kPermissionDenied);
  EXPECT_EQ(GrpcStatusForHttpStatus(418), GrpcStatus::kUnknown);
}

TEST(GrpcRetryTest, GrpcConditionsMatchTheStatusWhereverItCameFrom) {
  auto on = ParseRetryOn("cancelled,deadline-exceeded,internal,resource-exhausted,unavailable");
  ASSERT_TRUE(on.ok());
  RetryPolicy policy;
  policy.retry_on = *on;
  policy.num_retries = 5;
  SeededRandom random(7);
  RetryState state(policy, random);
  EXPECT_TRUE(state.RetriesOnGrpcStatus());
  for (uint32_t code : {1u, 4u, 8u, 13u, 14u}) {
    AttemptOutcome outcome;
    outcome.http_status = 200;  // gRPC failures travel in a 200 response
    outcome.grpc_status = code;
    EXPECT_TRUE(state.IsRetriable(outcome)) << code;
  }
  for (uint32_t code : {0u, 2u, 3u, 5u, 7u, 12u, 16u}) {
    AttemptOutcome outcome;
    outcome.http_status = 200;
    outcome.grpc_status = code;
    EXPECT_FALSE(state.IsRetriable(outcome)) << code;
  }
}

TEST(GrpcRetryTest, HttpOnlyPolicyDoesNotWaitForGrpcStatus) {
  auto on = ParseRetryOn("5xx,connect-failure");
  ASSERT_TRUE(on.ok());
  RetryPolicy policy;
  policy.retry_on = *on;
  SeededRandom random(7);
  RetryState state(policy, random);
  EXPECT_FALSE(state.RetriesOnGrpcStatus());
  AttemptOutcome outcome;
  outcome.http_status = 200;
  outcome.grpc_status = 14;
  EXPECT_FALSE(state.IsRetriable(outcome));
}

}  // namespace
}  // namespace meshgate::proxy
