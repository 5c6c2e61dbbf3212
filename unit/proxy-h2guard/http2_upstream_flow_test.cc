// Back-pressure over an HTTP/2 upstream, with two real Workers chained on
// loopback: client → front worker (cluster speaks HTTP/2) → back worker
// (accepts h2c) → the blocking HTTP/1.1 upstream.
//  - A client that does not read: the front's upstream stream stops
//    granting window, the back's stream buffer fills, the back stops reading
//    the upstream, whose sender stalls; resident memory stays bounded, and
//    the whole response arrives once the client reads.
//  - An upload to an upstream that does not read: the back stops crediting
//    the front's stream, the front's HTTP/2 client codec fills, the front
//    stops reading the client, whose send stalls; then everything goes
//    through once the upstream reads.
#include <string>

#include "gtest/gtest.h"
#include "unit/proxy-h2guard/h2guard_test_support.h"

namespace meshgate::proxy::h2guard_test {
namespace {

// More than the kernel buffers of all three hops may hold.
uint64_t Large() { return LargerThanKernelBuffers(4); }

// Two proxies' worth of buffer limits, and allocator slack.
constexpr uint64_t kGrowthBound = 32ull << 20;

class Http2UpstreamFlowTest : public ProxyFixture {
 protected:
  // The back worker fronts the slow upstream (ProxyFixture's); the front
  // worker routes to the back one over HTTP/2.
  void StartChain() {
    StartProxy();  // the back: listener "l" → upstream_
    front_ = std::make_unique<server::Worker>(0, front_stats_.Worker(0), nullptr, /*seed=*/9);
    front_->Start();
    ASSERT_TRUE(front_store_.SetClusters({Cluster(port_, "http2_protocol_options {}")}).ok());
    ASSERT_TRUE(front_store_.SetListeners({Listener("front")}).ok());
    front_->SetSnapshot(front_store_.Current());
    for (int i = 0; i < 500 && front_port_ == 0; ++i) {
      auto ports = front_->ListeningPorts();
      if (auto it = ports.find("front"); it != ports.end()) front_port_ = it->second;
      if (front_port_ == 0) std::this_thread::sleep_for(10ms);
    }
    ASSERT_NE(front_port_, 0);
  }
  void TearDown() override {
    upstream_.Release();
    if (front_) front_->Stop();
    ProxyFixture::TearDown();
  }

  stats::StatsStore front_stats_{1};
  config::ConfigStore front_store_;
  std::unique_ptr<server::Worker> front_;
  uint16_t front_port_ = 0;
};

TEST_F(Http2UpstreamFlowTest, SlowClientHoldsBackAnHttp2Upstream) {
  StartChain();
  const uint64_t large = Large();
  const uint64_t rss_before = ResidentBytes();
  int slow = ConnectTo(front_port_);
  SendAll(slow, "GET /big/" + std::to_string(large) + " HTTP/1.1\r\nhost: test\r\n\r\n");

  upstream_.WaitForBigStallOrEnd();
  ASSERT_TRUE(upstream_.send_stalled()) << "the proxies read the whole response";
  std::this_thread::sleep_for(2 * kStallTimeout);
  EXPECT_FALSE(upstream_.big_done());
  EXPECT_LT(ResidentBytes(), rss_before + kGrowthBound);

  // The HTTP/2 connection between the two still carries other streams.
  int other = ConnectTo(front_port_);
  SendAll(other, "GET / HTTP/1.1\r\nhost: test\r\n\r\n");
  EXPECT_EQ(BodyOf(ReadResponse(other)), "hello");
  close(other);

  std::string response = ReadResponse(slow);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(BodyOf(response).size(), large);
  close(slow);
}

TEST_F(Http2UpstreamFlowTest, UploadThroughAnHttp2UpstreamStallsTheClient) {
  StartChain();
  const uint64_t large = Large();
  const uint64_t rss_before = ResidentBytes();
  int client = ConnectTo(front_port_);
  SendAll(client, "POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: " +
                      std::to_string(large) + "\r\n\r\n");
  const std::string block(64 * 1024, 'u');
  std::atomic<uint64_t> sent{0};
  bool stalled = false;
  while (sent < large) {
    if (!SendAll(client, block, kStallTimeout, &sent)) {
      stalled = true;
      break;
    }
  }
  ASSERT_TRUE(stalled) << "the proxies took the whole upload";
  EXPECT_LT(ResidentBytes(), rss_before + kGrowthBound);

  upstream_.Release();
  uint64_t left = large - sent;
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, block.size()));
    ASSERT_TRUE(SendAll(client, std::string_view(block).substr(0, n), 20000ms));
    left -= n;
  }
  std::string response = ReadResponse(client);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_EQ(BodyOf(response), std::to_string(large));
  close(client);
}

}  // namespace
}  // namespace meshgate::proxy::h2guard_test
