// The cluster's circuit breakers through a real Worker, real sockets and a
// slow upstream (requests to /hold wait until released):
//  - max_requests N: N requests in flight, the N+1st is answered 503
//    "upstream overflow" at once (flag UO), counted in
//    envoy_cluster_upstream_rq_pending_overflow; the N finish normally;
//  - max_connections 1 + max_pending_requests 1: the second request waits
//    for the one connection (upstream_cx_overflow), the third overflows;
//  - max_retries 0: a retriable 503 is not retried
//    (upstream_rq_retry_overflow) and passes through; with the default
//    limit the same request is retried.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "unit/proxy-h2guard/h2guard_test_support.h"

namespace meshgate::proxy::h2guard_test {
namespace {

using BreakerTest = ProxyFixture;

std::string Request(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nhost: test\r\n\r\n";
}

TEST_F(BreakerTest, RequestOverMaxRequestsIsAnswered503UpstreamOverflow) {
  StartProxy("circuit_breakers { thresholds { max_requests { value: 2 } } }");
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(ConnectTo(port_));
    SendAll(held.back(), Request("/hold"));
  }
  for (int i = 0; i < 1000 && upstream_.holds_seen() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(upstream_.holds_seen(), 2);

  int over = ConnectTo(port_);
  SendAll(over, Request("/hold"));
  std::string refused = ReadResponse(over);
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_EQ(BodyOf(refused), "upstream overflow");
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_pending_overflow"), 1);
  EXPECT_EQ(upstream_.holds_seen(), 2) << "the refused request never reached the upstream";

  upstream_.Release();
  for (int fd : held) {
    EXPECT_EQ(BodyOf(ReadResponse(fd)), "hello");
    close(fd);
  }
  // Slots were given back: a new request goes through.
  SendAll(over, Request("/"));
  EXPECT_EQ(BodyOf(ReadResponse(over)), "hello");
  close(over);
}

TEST_F(BreakerTest, MaxConnectionsQueuesAndMaxPendingOverflows) {
  StartProxy(
      "circuit_breakers { thresholds { max_connections { value: 1 } "
      "max_pending_requests { value: 1 } } }");
  int first = ConnectTo(port_);
  SendAll(first, Request("/hold"));
  for (int i = 0; i < 1000 && upstream_.holds_seen() < 1; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(upstream_.holds_seen(), 1);

  int second = ConnectTo(port_);
  SendAll(second, Request("/"));
  for (int i = 0; i < 1000 && Metric("envoy_cluster_upstream_cx_overflow") < 1; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(Metric("envoy_cluster_upstream_cx_overflow"), 1) << "no second connection";

  int third = ConnectTo(port_);
  SendAll(third, Request("/"));
  std::string refused = ReadResponse(third);
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_EQ(BodyOf(refused), "upstream overflow");
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_pending_overflow"), 1);

  upstream_.Release();
  EXPECT_EQ(BodyOf(ReadResponse(first)), "hello");
  EXPECT_EQ(BodyOf(ReadResponse(second)), "hello");
  EXPECT_EQ(upstream_.connections(), 1) << "both went over the one connection";
  close(first);
  close(second);
  close(third);
}

TEST_F(BreakerTest, RetryOverMaxRetriesIsNotMade) {
  StartProxy("circuit_breakers { thresholds { max_retries { value: 0 } } }",
             "retry_policy { retry_on: \"5xx\" num_retries { value: 2 } }");
  int fd = ConnectTo(port_);
  SendAll(fd, Request("/status/503"));
  std::string response = ReadResponse(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 503", 0), 0u) << response;
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_retry_overflow"), 1);
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_retry"), 0);
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_total"), 1);
  close(fd);
}

TEST_F(BreakerTest, RetriesUnderTheDefaultLimitAreMade) {
  StartProxy("", "retry_policy { retry_on: \"5xx\" num_retries { value: 2 } }");
  int fd = ConnectTo(port_);
  SendAll(fd, Request("/status/503"));
  std::string response = ReadResponse(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 503", 0), 0u) << response;
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_retry_overflow"), 0);
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_retry"), 2);
  EXPECT_EQ(Metric("envoy_cluster_upstream_rq_total"), 3);
  close(fd);
}

}  // namespace
}  // namespace meshgate::proxy::h2guard_test
