// Test support for the flow-control and circuit-breaker tests: a real Worker
// programmed through a real ConfigStore, a blocking HTTP/1.1 upstream on
// loopback with a thread per connection, and blocking client helpers
// (HTTP/1.1 by hand, HTTP/2 through the proxy's own client codec).
//
// The upstream counts what it managed to send and notices when the proxy
// stops reading (a send blocked for kStallTimeout): that is how the tests see
// back-pressure without looking at the clock.
#pragma once

#include <arpa/inet.h>
#include <google/protobuf/text_format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/http/http2_codec.h"
#include "proxy/server/worker.h"
#include "proxy/stats/stats.h"

namespace meshgate::proxy::h2guard_test {

using namespace std::chrono_literals;

// A send that makes no progress for this long means the peer stopped reading.
inline constexpr auto kStallTimeout = 1500ms;

inline int ConnectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{20, 0};  // a broken proxy fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Sends everything; false when the peer stopped taking bytes for
// `stall` (if given) or the connection failed.
inline bool SendAll(int fd, std::string_view bytes, std::chrono::milliseconds stall = 0ms,
                    std::atomic<uint64_t>* counter = nullptr) {
  if (stall.count() > 0) {
    timeval tv{static_cast<time_t>(stall.count() / 1000),
               static_cast<suseconds_t>((stall.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    if (counter != nullptr) *counter += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one HTTP/1.1 response (head + content-length body), or until EOF.
inline std::string ReadResponse(int fd) {
  std::string buf;
  char chunk[65536];
  while (true) {
    size_t head_end = buf.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      std::string head = buf.substr(0, head_end);
      for (auto& c : head) c = static_cast<char>(std::tolower(c));
      size_t cl = head.find("content-length: ");
      if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
      if (buf.size() >= head_end + 4 + length) return buf.substr(0, head_end + 4 + length);
    }
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return buf;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

inline std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
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
  SlowUpstream() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 128);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~SlowUpstream() {
    Release();
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return port_; }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int connections() const { return connections_; }
  int holds_seen() const { return holds_seen_; }
  uint64_t body_bytes_sent() const { return body_bytes_sent_; }
  bool send_stalled() const { return send_stalled_; }
  bool big_done() const { return big_done_; }
  // Waits (bounded) until the /big sender stalled or finished.
  void WaitForBigStallOrEnd() {
    for (int i = 0; i < 3000 && !send_stalled_ && !big_done_; ++i) std::this_thread::sleep_for(5ms);
  }

 private:
  void Accept() {
    while (true) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }
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
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return released_; });
      }
      if (path == "/upload") {
        std::string lower = head;
        for (auto& c : lower) c = static_cast<char>(std::tolower(c));
        size_t cl = lower.find("content-length: ");
        uint64_t want = cl == std::string::npos ? 0 : std::stoull(lower.substr(cl + 16));
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
    close(fd);
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

  int listen_fd_;
  uint16_t port_;
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::atomic<int> connections_{0};
  std::atomic<int> holds_seen_{0};
  std::atomic<uint64_t> body_bytes_sent_{0};
  std::atomic<bool> send_stalled_{false};
  std::atomic<bool> big_done_{false};
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

template <typename T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
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
