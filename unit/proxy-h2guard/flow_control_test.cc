// Back-pressure through a real Worker, with real loopback sockets:
//  - an HTTP/2 client that never opens its stream window while downloading
//    a large response holds the upstream back (it stops being read: its
//    sender stalls before the end, and the process's resident memory grows
//    by a few buffer limits, not by the response) instead of the proxy
//    buffering the response; other clients are served meanwhile; once the
//    client reads, the whole response arrives;
//  - the same for an HTTP/1.1 client that does not read its socket;
//  - an upload to an upstream that does not read stalls the client, with
//    the same memory bound, and completes once the upstream reads.
#include <string>

#include "gtest/gtest.h"
#include "unit/proxy-h2guard/h2guard_test_support.h"

namespace meshgate::proxy::h2guard_test {
namespace {

// More than the kernel buffers of the client and upstream hops may hold.
uint64_t Large() { return LargerThanKernelBuffers(2); }

// What the proxy may add while a peer is stalled: a buffer limit (1 MiB) in
// each of a few places, and slack for the allocator.
constexpr uint64_t kProxyGrowthBound = 24ull << 20;

using FlowControlTest = ProxyFixture;

TEST_F(FlowControlTest, Http2ClientThatNeverOpensItsWindowHoldsTheUpstreamBack) {
  StartProxy();
  const uint64_t kLarge = Large();
  const uint64_t rss_before = ResidentBytes();
  http::Http2Settings settings;
  settings.initial_stream_window_bytes = 65535;
  H2Client slow(port_, settings);
  const http::StreamId id = slow.Get("/big/" + std::to_string(kLarge));

  upstream_.WaitForBigStallOrEnd();
  ASSERT_TRUE(upstream_.send_stalled()) << "the proxy read the whole response";
  // Stays stalled: the proxy does not come back for more on its own.
  std::this_thread::sleep_for(2 * kStallTimeout);
  EXPECT_FALSE(upstream_.big_done());
  EXPECT_LT(ResidentBytes(), rss_before + kProxyGrowthBound);

  // Other clients go on, over HTTP/1.1 and HTTP/2.
  int other = ConnectTo(port_);
  SendAll(other, "GET / HTTP/1.1\r\nhost: test\r\n\r\n");
  EXPECT_EQ(BodyOf(ReadResponse(other)), "hello");
  close(other);
  H2Client fresh(port_, {});
  const http::StreamId quick = fresh.Get("/");
  fresh.ReadUntilDone(quick);
  EXPECT_EQ(fresh.status_[quick], 200);

  // The client reads at last: all of it arrives.
  slow.ReadUntilDone(id);
  EXPECT_EQ(slow.status_[id], 200);
  EXPECT_FALSE(slow.reset_[id]);
  EXPECT_EQ(slow.body_bytes_[id], kLarge);
  EXPECT_TRUE(upstream_.big_done());
}

TEST_F(FlowControlTest, Http1ClientThatDoesNotReadHoldsTheUpstreamBack) {
  StartProxy();
  const uint64_t kLarge = Large();
  const uint64_t rss_before = ResidentBytes();
  int slow = ConnectTo(port_);
  SendAll(slow, "GET /big/" + std::to_string(kLarge) + " HTTP/1.1\r\nhost: test\r\n\r\n");

  upstream_.WaitForBigStallOrEnd();
  ASSERT_TRUE(upstream_.send_stalled()) << "the proxy read the whole response";
  std::this_thread::sleep_for(2 * kStallTimeout);
  EXPECT_FALSE(upstream_.big_done());
  EXPECT_LT(ResidentBytes(), rss_before + kProxyGrowthBound);
  EXPECT_GE(Metric("envoy_http_downstream_rq_active"), 1);

  int other = ConnectTo(port_);
  SendAll(other, "GET / HTTP/1.1\r\nhost: test\r\n\r\n");
  EXPECT_EQ(BodyOf(ReadResponse(other)), "hello");
  close(other);

  std::string response = ReadResponse(slow);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(BodyOf(response).size(), kLarge);
  close(slow);
}

TEST_F(FlowControlTest, UploadToAnUpstreamThatDoesNotReadStallsTheClient) {
  StartProxy();
  const uint64_t kLarge = Large();
  const uint64_t rss_before = ResidentBytes();
  int client = ConnectTo(port_);
  SendAll(client, "POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: " +
                      std::to_string(kLarge) + "\r\n\r\n");
  const std::string block(64 * 1024, 'u');
  std::atomic<uint64_t> sent{0};
  bool stalled = false;
  while (sent < kLarge) {
    if (!SendAll(client, block, kStallTimeout, &sent)) {
      stalled = true;
      break;
    }
  }
  ASSERT_TRUE(stalled) << "the proxy took the whole upload";
  EXPECT_LT(ResidentBytes(), rss_before + kProxyGrowthBound);
  EXPECT_EQ(upstream_.holds_seen(), 1);

  // The upstream reads: the rest goes through.
  upstream_.Release();
  uint64_t left = kLarge - sent;
  std::string rest(std::min<uint64_t>(left, block.size()), 'u');
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, rest.size()));
    ASSERT_TRUE(SendAll(client, std::string_view(rest).substr(0, n), 20000ms));
    left -= n;
  }
  std::string response = ReadResponse(client);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_EQ(BodyOf(response), std::to_string(kLarge));
  close(client);
}

}  // namespace
}  // namespace meshgate::proxy::h2guard_test
