// Test support for the flow-control and circuit-breaker tests: a real Worker
// programmed through a real ConfigStore, a blocking HTTP/1.1 upstream on
// loopback with a thread per connection, and blocking clients (HTTP/1.1 by
// hand with unit/proxy-support/loopback.h, HTTP/2 through the proxy's own
// client codec).
//
// The upstream counts what it managed to send and notices when the proxy
// stops reading (a send blocked for kStallTimeout): that is how the tests see
// back-pressure without looking at the clock.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/http/http2_codec.h"
#include "proxy/server/worker.h"
#include "proxy/stats/stats.h"
#include "unit/proxy-support/loopback.h"

namespace meshgate::proxy::h2guard_test {

using namespace std::chrono_literals;

// A send that makes no progress for this long means the peer stopped reading.
inline constexpr auto kStallTimeout = 1500ms;

using loopback::BodyOf;
using loopback::ConnectTo;
using loopback::ReadResponse;
using loopback::SendAll;

// The largest buffer the kernel may give a TCP socket in `sysctl` (the
// third field of net.ipv4.tcp_rmem / tcp_wmem).
inline uint64_t KernelBufferMax(const char* sysctl) {
  std::ifstream in(sysctl);
  uint64_t min = 0, initial = 0, max = 0;
  in >> min >> initial >> max;
  return max > 0 ? max : (6ull << 20);
}

// A body larger than `n` receive-plus-send buffer pairs at the kernel's
// maxima (loopback autotunes up to them) and 64 MiB more, so that a proxy
// without back-pressure would have to hold much of it in memory.
inline uint64_t LargerThanKernelBuffers(int n) {
  return n * (KernelBufferMax("/proc/sys/net/ipv4/tcp_rmem") +
              KernelBufferMax("/proc/sys/net/ipv4/tcp_wmem")) +
         (64ull << 20);
}

// The resident memory of this process (the proxy's worker, the clients and
// the upstream; only the proxy buffers bodies). CTest runs each case in a
// process of its own.
inline uint64_t ResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// The blocking upstream. Paths:
//   /big/N      200 with N bytes of body ('x'), sent as fast as the proxy reads
//   /hold       waits for Release(), then 200 "hello"
//   /status/S   answers status S
//   /upload     waits for Release() before reading the body, then 200 with
//               the number of body bytes as its body
//   anything    200 "hello"
class SlowUpstream {
 public:
  ~SlowUpstream() { Release(); }
  uint16_t port() const { return server_.port(); }
  void Release() { gate_.Release(); }
  int connections() const { return server_.connections(); }
  int holds_seen() const { return holds_seen_; }
  uint64_t body_bytes_sent() const { return body_bytes_sent_; }
  bool send_stalled() const { return send_stalled_; }
  bool big_done() const { return big_done_; }
  // Waits (bounded) until the /big sender stalled or finished.
  void WaitForBigStallOrEnd() {
    for (int i = 0; i < 3000 && !send_stalled_ && !big_done_; ++i) std::this_thread::sleep_for(5ms);
  }

 private:
  void Serve(int fd) {
    std::string buf;
    char chunk[65536];
    while (true) {
      size_t end = buf.find("\r\n\r\n");
      if (end == std::string::npos) {
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<size_t>(n));
        continue;
      }
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      std::string path = head.substr(head.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      if (path.rfind("/big/", 0) == 0) {
        SendBig(fd, std::stoull(path.substr(5)));
        continue;
      }
      if (path == "/hold" || path == "/upload") {
        ++holds_seen_;
        gate_.Wait();
      }
      if (path == "/upload") {
        uint64_t want = loopback::ContentLengthOf(head);
        uint64_t got = std::min<uint64_t>(want, buf.size());
        buf.erase(0, got);
        while (got < want) {
          ssize_t n = recv(fd, chunk, std::min<uint64_t>(sizeof(chunk), want - got), 0);
          if (n <= 0) break;
          got += static_cast<uint64_t>(n);
        }
        std::string body = std::to_string(got);
        SendAll(fd, "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
        continue;
      }
      if (path.rfind("/status/", 0) == 0) {
        SendAll(fd, "HTTP/1.1 " + path.substr(8) + " X\r\ncontent-length: 0\r\n\r\n");
        continue;
      }
      SendAll(fd, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    }
  }
  void SendBig(int fd, uint64_t size) {
    SendAll(fd, "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(size) + "\r\n\r\n");
    const std::string block(64 * 1024, 'x');
    timeval tv{static_cast<time_t>(kStallTimeout.count() / 1000),
               static_cast<suseconds_t>((kStallTimeout.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    uint64_t left = size;
    while (left > 0) {
      ssize_t n = send(fd, block.data(), std::min<uint64_t>(left, block.size()), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        send_stalled_ = true;  // the proxy stopped reading; keep trying
        continue;
      }
      if (n <= 0) return;
      left -= static_cast<uint64_t>(n);
      body_bytes_sent_ += static_cast<uint64_t>(n);
    }
    big_done_ = true;
  }

  loopback::Gate gate_;
  std::atomic<int> holds_seen_{0};
  std::atomic<uint64_t> body_bytes_sent_{0};
  std::atomic<bool> send_stalled_{false};
  std::atomic<bool> big_done_{false};
  // Last: destroyed first, joining the connection threads that use the rest.
  loopback::ThreadPerConnectionServer server_{[this](int fd) { Serve(fd); }};
};

template <typename T>
T Parse(const std::string& text) {
  return loopback::ParseText<T>(text);
}

// A listener on an ephemeral port routing everything to cluster "c";
// `action_extra` goes inside the route action (e.g. a retry_policy).
inline envoy::config::listener::v3::Listener Listener(const std::string& name,
                                                      const std::string& action_extra = "") {
  return Parse<envoy::config::listener::v3::Listener>(R"(
name: ")" + name + R"("
address { socket_address { address: "127.0.0.1" port_value: 0 } }
filter_chains { filters {
  name: "envoy.filters.network.http_connection_manager"
  typed_config {
    [type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager] {
      stat_prefix: "guard"
      route_config { name: "routes" virtual_hosts { name: "all" domains: "*"
        routes { match { prefix: "/" } route { cluster: "c" timeout { seconds: 60 } )" +
                                                      action_extra + R"( } } } }
      http_filters { name: "envoy.filters.http.router" typed_config {
        [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {} } }
    } } } }
)");
}

inline envoy::config::cluster::v3::Cluster Cluster(uint16_t port, const std::string& extra = "") {
  return Parse<envoy::config::cluster::v3::Cluster>(R"(
name: "c" type: STATIC connect_timeout { seconds: 2 }
)" + extra + R"(
load_assignment { cluster_name: "c" endpoints { lb_endpoints { endpoint { address {
  socket_address { address: "127.0.0.1" port_value: )" +
                                                    std::to_string(port) + R"( } } } } } }
)");
}

// One worker with one listener "l" in front of cluster "c".
class ProxyFixture : public ::testing::Test {
 protected:
  void StartProxy(const std::string& cluster_extra = "", const std::string& action_extra = "") {
    worker_ = std::make_unique<server::Worker>(0, stats_.Worker(0), nullptr, /*seed=*/7);
    worker_->Start();
    ASSERT_TRUE(store_.SetClusters({Cluster(upstream_.port(), cluster_extra)}).ok());
    ASSERT_TRUE(store_.SetListeners({Listener("l", action_extra)}).ok());
    worker_->SetSnapshot(store_.Current());
    for (int i = 0; i < 500 && port_ == 0; ++i) {
      auto ports = worker_->ListeningPorts();
      if (auto it = ports.find("l"); it != ports.end()) port_ = it->second;
      if (port_ == 0) std::this_thread::sleep_for(10ms);  // applied on the worker's thread
    }
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    upstream_.Release();
    if (worker_) worker_->Stop();
  }
  // One Prometheus sample, e.g. Metric("envoy_cluster_upstream_cx_overflow").
  double Metric(const std::string& name) {
    std::string text = stats_.RenderPrometheus();
    size_t at = 0;
    while ((at = text.find(name, at)) != std::string::npos) {
      const bool line_start = at == 0 || text[at - 1] == '\n';
      const char next = text[at + name.size()];
      size_t eol = text.find('\n', at);
      if (line_start && (next == '{' || next == ' ')) {
        std::string line = text.substr(at, eol - at);
        return std::stod(line.substr(line.rfind(' ') + 1));
      }
      at = eol;
    }
    return -1;
  }

  stats::StatsStore stats_{1};
  config::ConfigStore store_;
  SlowUpstream upstream_;
  std::unique_ptr<server::Worker> worker_;
  uint16_t port_ = 0;
};

// A blocking HTTP/2 client on the proxy's own client codec. It reads only
// when asked to, so a test can play a peer that never opens its window.
class H2Client : public http::ClientCallbacks {
 public:
  H2Client(uint16_t port, http::Http2Settings settings)
      : fd_(ConnectTo(port)), codec_(*this, std::move(settings)) {
    Flush();
  }
  ~H2Client() override {
    if (fd_ >= 0) close(fd_);
  }
  http::StreamId Get(const std::string& path) {
    http::RequestHeaders h;
    h.Add(":method", "GET");
    h.Add(":path", path);
    h.Add(":scheme", "http");
    h.Add(":authority", "test");
    http::StreamId id = codec_.NewStream();
    EXPECT_TRUE(codec_.EncodeHeaders(id, h, true).ok());
    Flush();
    return id;
  }
  // Reads and decodes what arrives; writes what the codec answers (SETTINGS
  // ACK, WINDOW_UPDATE) only when `answer` is set. Returns false on EOF or
  // after the socket's receive timeout.
  bool ReadOnce(bool answer) {
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    (void)codec_.Dispatch(std::string_view(chunk, static_cast<size_t>(n)));
    if (answer) Flush();
    return true;
  }
  // Reads (answering) until `stream` ended or the connection failed.
  void ReadUntilDone(http::StreamId stream) {
    while (!ended_[stream] && ReadOnce(/*answer=*/true)) {
    }
  }
  void Flush() {
    while (true) {
      std::string_view out = codec_.PendingOutput();
      if (out.empty()) return;
      SendAll(fd_, out);
      codec_.DrainOutput(out.size());
    }
  }

  void OnHeaders(http::StreamId id, http::ResponseHeaders headers, bool end_stream) override {
    status_[id] = headers.Status();
    if (end_stream) ended_[id] = true;
  }
  void OnData(http::StreamId id, std::string_view data, bool end_stream) override {
    body_bytes_[id] += data.size();
    if (end_stream) ended_[id] = true;
  }
  void OnTrailers(http::StreamId id, http::TrailerMap) override { ended_[id] = true; }
  void OnStreamReset(http::StreamId id, http::StreamResetReason) override {
    reset_[id] = true;
    ended_[id] = true;
  }
  void OnProtocolError(const http::ProtocolError&) override { failed_ = true; }

  int fd() const { return fd_; }
  std::map<http::StreamId, int> status_;
  std::map<http::StreamId, uint64_t> body_bytes_;
  std::map<http::StreamId, bool> ended_;
  std::map<http::StreamId, bool> reset_;
  bool failed_ = false;

 private:
  int fd_;
  http::Http2ClientConnection codec_;
};

}  // namespace meshgate::proxy::h2guard_test
