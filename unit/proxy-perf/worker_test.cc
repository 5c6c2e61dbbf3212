// A real Worker programmed through a real ConfigStore (Envoy protos in text
// form), with a real upstream and real client sockets on loopback:
//  - a listener removed from the config drains: idle connections close at
//    once, the request in flight finishes (with `connection: close`), and
//    what is still open at the drain timeout is closed;
//  - STRICT_DNS / LOGICAL_DNS clusters resolve `localhost` on the resolver
//    thread and route to the result;
//  - a WebSocket upgrade goes through the whole path (codec, router, pool)
//    to an echo upstream and frames come back;
//  - the local rate limit answers 429 with the x-ratelimit-* headers.
#include "proxy/server/worker.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/stats/stats.h"
#include "unit/proxy-support/loopback.h"

namespace meshgate::proxy::server {
namespace {

using namespace std::chrono_literals;

using loopback::PeerClosed;
using loopback::ReadResponse;
using loopback::SendAll;

int ConnectTo(uint16_t port) { return loopback::ConnectTo(port, /*receive_timeout=*/10s); }

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nhost: test\r\n" + extra + "\r\n";
}

// --- WebSocket bits (RFC 6455) ---------------------------------------------

std::string AcceptKey(const std::string& key) {
  std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// A short frame (payload < 126 bytes), masked as clients must.
std::string Frame(uint8_t opcode, const std::string& payload, bool masked) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  f.push_back(static_cast<char>((masked ? 0x80 : 0) | payload.size()));
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(payload[i] ^ (masked ? mask[i % 4] : 0)));
  }
  return f;
}

// Parses one short frame from the front of `buf`; false if incomplete.
bool TakeFrame(std::string& buf, uint8_t* opcode, std::string* payload) {
  if (buf.size() < 2) return false;
  const bool masked = (static_cast<uint8_t>(buf[1]) & 0x80) != 0;
  const size_t len = static_cast<uint8_t>(buf[1]) & 0x7f;
  const size_t header = 2 + (masked ? 4 : 0);
  if (len >= 126 || buf.size() < header + len) return false;
  *opcode = static_cast<uint8_t>(buf[0]) & 0x0f;
  payload->clear();
  for (size_t i = 0; i < len; ++i) {
    char c = buf[header + i];
    if (masked) c = static_cast<char>(c ^ buf[2 + i % 4]);
    payload->push_back(c);
  }
  buf.erase(0, header + len);
  return true;
}

// --- upstream ---------------------------------------------------------------

// A blocking HTTP/1.1 upstream on 127.0.0.1, a thread per connection:
// "/hold" waits until Release(); a WebSocket upgrade is answered 101 and
// every frame is echoed (unmasked) until a close frame; anything else gets
// 200 "hello".
class TestUpstream {
 public:
  ~TestUpstream() { Release(); }
  uint16_t port() const { return server_.port(); }
  void Release() { gate_.Release(); }
  int holds_seen() const { return holds_seen_; }

 private:
  void Serve(int fd) {
    std::string buf;
    char chunk[4096];
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
      std::string lower = head;
      for (auto& c : lower) c = static_cast<char>(std::tolower(c));
      if (lower.find("upgrade: websocket") != std::string::npos) {
        size_t k = lower.find("sec-websocket-key: ");
        std::string key = head.substr(k + 19, head.find("\r\n", k) - k - 19);
        SendAll(fd,
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                "connection: upgrade\r\nsec-websocket-accept: " +
                    AcceptKey(key) + "\r\n\r\n");
        EchoFrames(fd, buf);
        break;
      }
      if (head.rfind("GET /hold", 0) == 0) {
        ++holds_seen_;
        gate_.Wait();
      }
      SendAll(fd, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    }
  }
  void EchoFrames(int fd, std::string& buf) {
    char chunk[4096];
    while (true) {
      uint8_t opcode;
      std::string payload;
      while (TakeFrame(buf, &opcode, &payload)) {
        SendAll(fd, Frame(opcode, payload, /*masked=*/false));
        if (opcode == 0x8) return;  // close
      }
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
    }
  }

  loopback::Gate gate_;
  std::atomic<int> holds_seen_{0};
  // Last: destroyed first, joining the connection threads that use the rest.
  loopback::ThreadPerConnectionServer server_{[this](int fd) { Serve(fd); }};
};

// --- config -----------------------------------------------------------------

template <typename T>
T Parse(const std::string& text) {
  return loopback::ParseText<T>(text);
}

// A listener on an ephemeral port routing everything to cluster "c", with
// `route_extra` inside the route (e.g. typed_per_filter_config).
envoy::config::listener::v3::Listener Listener(const std::string& name,
                                               const std::string& route_extra = "") {
  return Parse<envoy::config::listener::v3::Listener>(R"(
name: ")" + name + R"("
address { socket_address { address: "127.0.0.1" port_value: 0 } }
filter_chains { filters {
  name: "envoy.filters.network.http_connection_manager"
  typed_config {
    [type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager] {
      stat_prefix: "test"
      upgrade_configs { upgrade_type: "websocket" }
      route_config { name: "routes" virtual_hosts { name: "all" domains: "*"
        routes { match { prefix: "/" } route { cluster: "c" timeout { seconds: 30 } }
          )" + route_extra + R"( } } }
      http_filters { name: "envoy.filters.http.local_ratelimit" typed_config {
        [type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit] {
          stat_prefix: "rl" } } }
      http_filters { name: "envoy.filters.http.router" typed_config {
        [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {} } }
    } } } }
)");
}

envoy::config::cluster::v3::Cluster Cluster(const std::string& type, const std::string& host,
                                            uint16_t port, const std::string& extra = "") {
  return Parse<envoy::config::cluster::v3::Cluster>(R"(
name: "c" type: )" + type + R"( connect_timeout { seconds: 2 }
)" + extra + R"(
load_assignment { cluster_name: "c" endpoints { lb_endpoints { endpoint { address {
  socket_address { address: ")" + host + R"(" port_value: )" +
                                                    std::to_string(port) +
                                                    R"( } } } } } }
)");
}

class WorkerTest : public ::testing::Test {
 protected:
  void StartWorker(std::chrono::milliseconds drain_timeout = 5s) {
    worker_ = std::make_unique<Worker>(0, stats_.Worker(0), nullptr, /*seed=*/7);
    worker_->SetListenerDrainTimeout(drain_timeout);
    worker_->Start();
  }
  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  // Publishes the store's snapshot and waits for the worker to apply it.
  void Publish() { worker_->SetSnapshot(store_.Current()); }

  uint16_t WaitForPort(const std::string& listener) {
    for (int i = 0; i < 500; ++i) {
      auto ports = worker_->ListeningPorts();
      if (auto it = ports.find(listener); it != ports.end()) return it->second;
      std::this_thread::sleep_for(10ms);  // the worker applies config on its own thread
    }
    return 0;
  }
  bool WaitForNoPort(const std::string& listener) {
    for (int i = 0; i < 500; ++i) {
      if (!worker_->ListeningPorts().contains(listener)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // Sends requests until one is answered 200, for clusters whose endpoints
  // arrive asynchronously (DNS).
  bool EventuallyOk(uint16_t port) {
    for (int i = 0; i < 200; ++i) {
      int fd = ConnectTo(port);
      SendAll(fd, Get("/"));
      std::string r = ReadResponse(fd);
      close(fd);
      if (r.rfind("HTTP/1.1 200", 0) == 0) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  stats::StatsStore stats_{1};
  config::ConfigStore store_;
  TestUpstream upstream_;
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, RemovedListenerFinishesTheRequestInFlightThenCloses) {
  StartWorker();
  ASSERT_TRUE(store_.SetClusters({Cluster("STATIC", "127.0.0.1", upstream_.port())}).ok());
  ASSERT_TRUE(store_.SetListeners({Listener("drained")}).ok());
  Publish();
  uint16_t port = WaitForPort("drained");
  ASSERT_NE(port, 0);

  int idle = ConnectTo(port);
  SendAll(idle, Get("/"));
  ASSERT_EQ(ReadResponse(idle).rfind("HTTP/1.1 200", 0), 0u);
  int busy = ConnectTo(port);
  SendAll(busy, Get("/hold"));
  while (upstream_.holds_seen() == 0) std::this_thread::sleep_for(5ms);

  ASSERT_TRUE(store_.SetListeners({}).ok());
  Publish();
  ASSERT_TRUE(WaitForNoPort("drained"));
  EXPECT_TRUE(PeerClosed(idle, 5s)) << "an idle connection closes at once";
  EXPECT_EQ(ConnectTo(port), -1) << "the listener no longer accepts";

  upstream_.Release();
  std::string reply = ReadResponse(busy);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("connection: close"), std::string::npos) << reply;
  EXPECT_TRUE(PeerClosed(busy, 5s));
  close(idle);
  close(busy);
}

TEST_F(WorkerTest, RemovedListenerClosesStragglersAtTheDrainTimeout) {
  StartWorker(/*drain_timeout=*/200ms);
  ASSERT_TRUE(store_.SetClusters({Cluster("STATIC", "127.0.0.1", upstream_.port())}).ok());
  ASSERT_TRUE(store_.SetListeners({Listener("drained")}).ok());
  Publish();
  uint16_t port = WaitForPort("drained");
  ASSERT_NE(port, 0);
  int busy = ConnectTo(port);
  SendAll(busy, Get("/hold"));
  while (upstream_.holds_seen() == 0) std::this_thread::sleep_for(5ms);

  ASSERT_TRUE(store_.SetListeners({}).ok());
  Publish();
  // The upstream never answers: the drain deadline cuts the connection.
  EXPECT_TRUE(PeerClosed(busy, 10s));
  close(busy);
}

TEST_F(WorkerTest, KeptListenerIsNotDrained) {
  StartWorker(/*drain_timeout=*/100ms);
  ASSERT_TRUE(store_.SetClusters({Cluster("STATIC", "127.0.0.1", upstream_.port())}).ok());
  ASSERT_TRUE(store_.SetListeners({Listener("kept"), Listener("other")}).ok());
  Publish();
  uint16_t port = WaitForPort("kept");
  ASSERT_NE(port, 0);
  int fd = ConnectTo(port);
  SendAll(fd, Get("/"));
  ASSERT_EQ(ReadResponse(fd).rfind("HTTP/1.1 200", 0), 0u);
  ASSERT_TRUE(store_.SetListeners({Listener("kept")}).ok());  // only "other" goes
  Publish();
  ASSERT_TRUE(WaitForNoPort("other"));
  EXPECT_FALSE(PeerClosed(fd, 300ms));
  SendAll(fd, Get("/"));
  std::string reply = ReadResponse(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(reply.find("connection: close"), std::string::npos) << reply;
  close(fd);
}

TEST_F(WorkerTest, StrictDnsClusterResolvesLocalhost) {
  StartWorker();
  ASSERT_TRUE(store_
                  .SetClusters({Cluster("STRICT_DNS", "localhost", upstream_.port(),
                                        "dns_lookup_family: V4_ONLY dns_refresh_rate { nanos: "
                                        "100000000 }")})
                  .ok());
  ASSERT_TRUE(store_.SetListeners({Listener("dns")}).ok());
  Publish();
  uint16_t port = WaitForPort("dns");
  ASSERT_NE(port, 0);
  EXPECT_TRUE(EventuallyOk(port));
  // Re-resolution every 100 ms keeps the same answer: the pool (and its
  // keep-alive connection) stays.
  int fd = ConnectTo(port);
  for (int i = 0; i < 5; ++i) {
    SendAll(fd, Get("/"));
    EXPECT_EQ(ReadResponse(fd).rfind("HTTP/1.1 200", 0), 0u);
    std::this_thread::sleep_for(60ms);  // spans refreshes
  }
  close(fd);
}

TEST_F(WorkerTest, LogicalDnsClusterResolvesLocalhost) {
  StartWorker();
  ASSERT_TRUE(store_
                  .SetClusters({Cluster("LOGICAL_DNS", "localhost", upstream_.port(),
                                        "dns_lookup_family: V4_ONLY")})
                  .ok());
  ASSERT_TRUE(store_.SetListeners({Listener("dns")}).ok());
  Publish();
  uint16_t port = WaitForPort("dns");
  ASSERT_NE(port, 0);
  EXPECT_TRUE(EventuallyOk(port));
}

TEST_F(WorkerTest, UnresolvableHostnameAnswers503NotACrash) {
  StartWorker();
  ASSERT_TRUE(store_
                  .SetClusters({Cluster("STRICT_DNS", "no-such-host.invalid", upstream_.port(),
                                        "dns_refresh_rate { nanos: 100000000 }")})
                  .ok());
  ASSERT_TRUE(store_.SetListeners({Listener("dns")}).ok());
  Publish();
  uint16_t port = WaitForPort("dns");
  ASSERT_NE(port, 0);
  int fd = ConnectTo(port);
  SendAll(fd, Get("/"));
  EXPECT_EQ(ReadResponse(fd).rfind("HTTP/1.1 503", 0), 0u);
  close(fd);
}

TEST_F(WorkerTest, WebSocketUpgradeEchoesFramesThroughTheProxy) {
  StartWorker();
  ASSERT_TRUE(store_.SetClusters({Cluster("STATIC", "127.0.0.1", upstream_.port())}).ok());
  ASSERT_TRUE(store_.SetListeners({Listener("ws")}).ok());
  Publish();
  uint16_t port = WaitForPort("ws");
  ASSERT_NE(port, 0);
  int fd = ConnectTo(port);
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  SendAll(fd, Get("/chat", "upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: " +
                               key + "\r\nsec-websocket-version: 13\r\n"));
  std::string rest;
  std::string head = ReadResponse(fd, &rest);
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  EXPECT_NE(head.find("sec-websocket-accept: " + AcceptKey(key)), std::string::npos) << head;

  std::string buf = rest;
  char chunk[4096];
  for (const std::string message : {"hello", "through meshgate", "third frame"}) {
    SendAll(fd, Frame(0x1, message, /*masked=*/true));
    uint8_t opcode = 0;
    std::string payload;
    while (!TakeFrame(buf, &opcode, &payload)) {
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      ASSERT_GT(n, 0) << "connection ended before the echo of '" << message << "'";
      buf.append(chunk, static_cast<size_t>(n));
    }
    EXPECT_EQ(opcode, 0x1);
    EXPECT_EQ(payload, message);
  }
  // The close handshake: the upstream echoes the close frame and hangs up;
  // the proxy passes both on.
  SendAll(fd, Frame(0x8, "", /*masked=*/true));
  uint8_t opcode = 0;
  std::string payload;
  while (!TakeFrame(buf, &opcode, &payload)) {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    ASSERT_GT(n, 0) << "no close frame came back";
    buf.append(chunk, static_cast<size_t>(n));
  }
  EXPECT_EQ(opcode, 0x8);
  EXPECT_TRUE(PeerClosed(fd, 5s));
  close(fd);
}

TEST_F(WorkerTest, LocalRateLimitAnswers429WithRateLimitHeaders) {
  StartWorker();
  ASSERT_TRUE(store_.SetClusters({Cluster("STATIC", "127.0.0.1", upstream_.port())}).ok());
  const std::string limit = R"(typed_per_filter_config {
    key: "envoy.filters.http.local_ratelimit"
    value { [type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit] {
      stat_prefix: "rl"
      token_bucket { max_tokens: 2 tokens_per_fill { value: 2 } fill_interval { seconds: 3600 } }
      filter_enabled { default_value { numerator: 100 denominator: HUNDRED } }
      filter_enforced { default_value { numerator: 100 denominator: HUNDRED } }
      enable_x_ratelimit_headers: DRAFT_VERSION_03 } } })";
  ASSERT_TRUE(store_.SetListeners({Listener("limited", limit)}).ok());
  Publish();
  uint16_t port = WaitForPort("limited");
  ASSERT_NE(port, 0);
  int fd = ConnectTo(port);
  std::vector<std::string> replies;
  for (int i = 0; i < 3; ++i) {
    SendAll(fd, Get("/"));
    replies.push_back(ReadResponse(fd));
  }
  EXPECT_EQ(replies[0].rfind("HTTP/1.1 200", 0), 0u) << replies[0];
  EXPECT_NE(replies[0].find("x-ratelimit-limit: 2\r\n"), std::string::npos) << replies[0];
  EXPECT_NE(replies[0].find("x-ratelimit-remaining: 1\r\n"), std::string::npos) << replies[0];
  EXPECT_EQ(replies[1].rfind("HTTP/1.1 200", 0), 0u) << replies[1];
  EXPECT_EQ(replies[2].rfind("HTTP/1.1 429", 0), 0u) << replies[2];
  EXPECT_NE(replies[2].find("x-ratelimit-remaining: 0\r\n"), std::string::npos) << replies[2];
  EXPECT_NE(replies[2].find("local_rate_limited"), std::string::npos) << replies[2];
  close(fd);
}

}  // namespace
}  // namespace meshgate::proxy::server
