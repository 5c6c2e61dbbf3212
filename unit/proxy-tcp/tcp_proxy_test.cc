// The TCP proxy on a real Worker, programmed through the real ConfigStore
// from Envoy protos, between real loopback clients and upstream servers:
// bytes both ways, half-close in each direction, a large transfer through a
// stalled upstream (back-pressure), weighted clusters, connect failures with
// retries to another host, the idle timeout, the access log and the stats.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "gtest/gtest.h"
#include "proxy/accesslog/access_log.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/server/worker.h"
#include "proxy/stats/stats.h"

namespace meshgate::proxy {
namespace {

using namespace std::chrono_literals;
using envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;

// ---------------------------------------------------------------------------
// Blocking loopback sockets for the test's side of the wire.

int ListenLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 128) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

void SetTimeouts(int fd, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  SetTimeouts(fd, 20s);
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until EOF (true) or an error / timeout (false).
bool ReadToEof(int fd, std::string* out) {
  char buf[65536];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
}

bool ReadExactly(int fd, size_t size, std::string* out) {
  char buf[65536];
  while (out->size() < size) {
    ssize_t n = recv(fd, buf, std::min(sizeof(buf), size - out->size()), 0);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// An upstream server on loopback: every accepted connection is handed to
// `handler` on its own thread.
class Upstream {
 public:
  explicit Upstream(std::function<void(int fd)> handler) : handler_(std::move(handler)) {
    fd_ = ListenLoopback(&port_);
    acceptor_ = std::thread([this] {
      while (true) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;  // closed by the destructor
        if (stopping_) {
          close(c);
          return;
        }
        accepted_.fetch_add(1);
        SetTimeouts(c, 20s);
        std::lock_guard lock(mu_);
        workers_.emplace_back([this, c] {
          handler_(c);
          close(c);
        });
      }
    });
  }
  ~Upstream() {
    stopping_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (auto& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  std::function<void(int)> handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

// Echoes until the client's FIN, then half-closes too.
void Echo(int fd) {
  char buf[65536];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    if (!SendAll(fd, std::string_view(buf, static_cast<size_t>(n)))) return;
  }
  shutdown(fd, SHUT_WR);
}

// Reads to the client's FIN, then answers with what it got, and closes: only
// works if the client's half-close arrived and the way back stayed open.
void AnswerAfterEof(int fd) {
  std::string got;
  if (!ReadToEof(fd, &got)) return;
  SendAll(fd, "got:" + got);
  shutdown(fd, SHUT_WR);
}

// A port nothing listens on.
uint16_t DeadPort() {
  uint16_t port = 0;
  int fd = ListenLoopback(&port);
  close(fd);
  return port;
}

uint64_t Fnv1a(std::string_view data, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// ---------------------------------------------------------------------------
// Config: Envoy protos through the real translation.

envoy::config::listener::v3::Listener TcpListener(const std::string& name, const TcpProxy& proxy) {
  envoy::config::listener::v3::Listener l;
  l.set_name(name);
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address("127.0.0.1");
  sa->set_port_value(0);
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("envoy.filters.network.tcp_proxy");
  f->mutable_typed_config()->PackFrom(proxy);
  return l;
}

TcpProxy ToCluster(const std::string& cluster) {
  TcpProxy p;
  p.set_stat_prefix("tcp_" + cluster);
  p.set_cluster(cluster);
  return p;
}

envoy::config::cluster::v3::Cluster StaticCluster(const std::string& name,
                                                  const std::vector<uint16_t>& ports) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::STATIC);
  c.mutable_connect_timeout()->set_seconds(2);
  auto* cla = c.mutable_load_assignment();
  cla->set_cluster_name(name);
  auto* locality = cla->add_endpoints();
  for (uint16_t port : ports) {
    auto* sa = locality->add_lb_endpoints()
                   ->mutable_endpoint()
                   ->mutable_address()
                   ->mutable_socket_address();
    sa->set_address("127.0.0.1");
    sa->set_port_value(port);
  }
  return c;
}

// One worker thread with its stats and access log, programmed with the
// given listeners and clusters.
class ProxyFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path_ = ::testing::TempDir() + "/tcp_proxy_access_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".log";
    std::remove(log_path_.c_str());
    auto log = accesslog::AccessLogFile::Open(log_path_);
    ASSERT_TRUE(log.ok()) << log.status();
    worker_ = std::make_unique<server::Worker>(0, stats_.Worker(0), *log, /*seed=*/42);
    worker_->Start();
  }
  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  // Programs the worker; returns the port of listener `name`.
  uint16_t Program(const std::vector<envoy::config::listener::v3::Listener>& listeners,
                   const std::vector<envoy::config::cluster::v3::Cluster>& clusters,
                   const std::string& name) {
    auto status = store_.SetClusters(clusters);
    EXPECT_TRUE(status.ok()) << status;
    status = store_.SetListeners(listeners);
    EXPECT_TRUE(status.ok()) << status;
    worker_->SetSnapshot(store_.Current());
    for (int i = 0; i < 500; ++i) {
      auto ports = worker_->ListeningPorts();
      if (auto it = ports.find(name); it != ports.end()) return it->second;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "listener " << name << " never opened";
    return 0;
  }

  // The value of one Prometheus sample ("name{labels}"), 0 when absent.
  double Stat(const std::string& sample) {
    std::istringstream in(stats_.RenderPrometheus());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
    }
    return 0;
  }

  // Waits (bounded) for a stat to reach `at_least`: the worker updates it on
  // its own thread after the client has seen the bytes.
  double WaitStat(const std::string& sample, double at_least) {
    for (int i = 0; i < 1000; ++i) {
      double v = Stat(sample);
      if (v >= at_least) return v;
      std::this_thread::sleep_for(10ms);
    }
    return Stat(sample);
  }

  // Access-log lines; stops the worker first so its batch is flushed.
  std::vector<std::string> AccessLog() {
    worker_->Stop();
    worker_.reset();
    std::ifstream in(log_path_);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }

  stats::StatsStore stats_{1};
  config::ConfigStore store_;
  std::unique_ptr<server::Worker> worker_;
  std::string log_path_;
};

TEST_F(ProxyFixture, BytesBothWaysAndFinInBothDirections) {
  Upstream echo(Echo);
  uint16_t port = Program({TcpListener("tcp", ToCluster("echo"))},
                          {StaticCluster("echo", {echo.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "ping-1"));
  std::string got;
  ASSERT_TRUE(ReadExactly(fd, 6, &got));
  EXPECT_EQ(got, "ping-1");
  ASSERT_TRUE(SendAll(fd, "ping-2"));
  // Our FIN reaches the echo server, whose FIN comes back after the echo.
  shutdown(fd, SHUT_WR);
  got.clear();
  ASSERT_TRUE(ReadToEof(fd, &got));
  EXPECT_EQ(got, "ping-2");
  close(fd);

  EXPECT_EQ(WaitStat("envoy_tcp_downstream_cx_rx_bytes_total{envoy_tcp_prefix=\"tcp_echo\"}", 12),
            12);
  EXPECT_EQ(WaitStat("envoy_tcp_downstream_cx_tx_bytes_total{envoy_tcp_prefix=\"tcp_echo\"}", 12),
            12);
  EXPECT_EQ(Stat("envoy_tcp_downstream_cx_total{envoy_tcp_prefix=\"tcp_echo\"}"), 1);
  EXPECT_EQ(WaitStat("envoy_cluster_upstream_cx_rx_bytes_total{envoy_cluster_name=\"echo\"}", 12),
            12);
  EXPECT_EQ(Stat("envoy_cluster_upstream_cx_total{envoy_cluster_name=\"echo\"}"), 1);
  for (int i = 0; i < 500 && Stat("envoy_tcp_downstream_cx_active{envoy_tcp_prefix=\"tcp_echo\"}");
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(Stat("envoy_tcp_downstream_cx_active{envoy_tcp_prefix=\"tcp_echo\"}"), 0);
  EXPECT_EQ(Stat("envoy_cluster_upstream_cx_active{envoy_cluster_name=\"echo\"}"), 0);

  auto log = AccessLog();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("\"bytes_received\":12"), std::string::npos) << log[0];
  EXPECT_NE(log[0].find("\"bytes_sent\":12"), std::string::npos) << log[0];
  EXPECT_NE(log[0].find("\"upstream_cluster\":\"echo\""), std::string::npos) << log[0];
  EXPECT_NE(log[0].find("\"upstream_host\":\"127.0.0.1:" + std::to_string(echo.port()) + "\""),
            std::string::npos)
      << log[0];
  EXPECT_NE(log[0].find("\"response_flags\":\"-\""), std::string::npos) << log[0];
}

TEST_F(ProxyFixture, DownstreamHalfCloseKeepsTheWayBackOpen) {
  Upstream server(AnswerAfterEof);
  uint16_t port = Program({TcpListener("tcp", ToCluster("answer"))},
                          {StaticCluster("answer", {server.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "question"));
  shutdown(fd, SHUT_WR);
  std::string got;
  ASSERT_TRUE(ReadToEof(fd, &got));
  EXPECT_EQ(got, "got:question");
  close(fd);
}

TEST_F(ProxyFixture, UpstreamHalfCloseKeepsTheWayUpOpen) {
  // The server speaks first and half-closes; the client then still sends,
  // and the server reads it after its own FIN.
  std::atomic<bool> server_got_late_bytes{false};
  Upstream server([&](int fd) {
    SendAll(fd, "banner");
    shutdown(fd, SHUT_WR);
    std::string got;
    if (ReadToEof(fd, &got) && got == "late") server_got_late_bytes = true;
  });
  uint16_t port = Program({TcpListener("tcp", ToCluster("banner"))},
                          {StaticCluster("banner", {server.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  std::string got;
  ASSERT_TRUE(ReadToEof(fd, &got));
  EXPECT_EQ(got, "banner");
  ASSERT_TRUE(SendAll(fd, "late"));
  shutdown(fd, SHUT_WR);
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0);  // the proxy closes once both sides are done
  close(fd);
  for (int i = 0; i < 500 && !server_got_late_bytes; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(server_got_late_bytes);
}

TEST_F(ProxyFixture, LargeTransferThroughAStalledUpstreamIsPausedAndComplete) {
  constexpr size_t kSize = 48 * 1024 * 1024;
  // The upstream reads nothing until told to, so the proxy's upstream write
  // buffer fills and the proxy must stop reading from the client.
  std::atomic<bool> release{false};
  Upstream sink([&](int fd) {
    while (!release) std::this_thread::sleep_for(5ms);
    std::string got;
    if (!ReadToEof(fd, &got)) return;
    SendAll(fd, std::to_string(got.size()) + ":" + std::to_string(Fnv1a(got)));
    shutdown(fd, SHUT_WR);
  });
  uint16_t port = Program({TcpListener("tcp", ToCluster("sink"))},
                          {StaticCluster("sink", {sink.port()})}, "tcp");
  std::string payload(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) payload[i] = static_cast<char>((i * 2654435761u) >> 13);
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  std::atomic<bool> sent{false};
  std::thread writer([&] {
    sent = SendAll(fd, payload);
    shutdown(fd, SHUT_WR);
  });
  const std::string paused =
      "envoy_tcp_downstream_flow_control_paused_reading_total{envoy_tcp_prefix=\"tcp_sink\"}";
  EXPECT_GE(WaitStat(paused, 1), 1) << "the proxy never stopped reading the client";
  release = true;
  std::string answer;
  EXPECT_TRUE(ReadToEof(fd, &answer));
  writer.join();
  EXPECT_TRUE(sent);
  EXPECT_EQ(answer, std::to_string(kSize) + ":" + std::to_string(Fnv1a(payload)));
  EXPECT_GE(Stat("envoy_tcp_downstream_flow_control_resumed_reading_total{envoy_tcp_prefix="
                 "\"tcp_sink\"}"),
            1);
  close(fd);
}

TEST_F(ProxyFixture, LargeDownloadToAStalledClientIsPausedAndComplete) {
  constexpr size_t kSize = 48 * 1024 * 1024;
  std::string payload(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) payload[i] = static_cast<char>((i * 40503u) >> 7);
  Upstream source([&](int fd) {
    SendAll(fd, payload);
    shutdown(fd, SHUT_WR);
  });
  uint16_t port = Program({TcpListener("tcp", ToCluster("source"))},
                          {StaticCluster("source", {source.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  // The client reads nothing yet: the proxy's downstream write buffer fills
  // and it must stop reading from the upstream.
  const std::string paused =
      "envoy_cluster_upstream_flow_control_paused_reading_total{envoy_cluster_name=\"source\"}";
  EXPECT_GE(WaitStat(paused, 1), 1) << "the proxy never stopped reading the upstream";
  std::string got;
  ASSERT_TRUE(ReadToEof(fd, &got));
  EXPECT_EQ(got.size(), kSize);
  EXPECT_TRUE(got == payload) << "the bytes arrived altered or out of order";
  EXPECT_GE(Stat("envoy_cluster_upstream_flow_control_resumed_reading_total{envoy_cluster_name="
                 "\"source\"}"),
            1);
  close(fd);
}

TEST_F(ProxyFixture, WeightedClustersSplitConnections) {
  Upstream a(Echo);
  Upstream b(Echo);
  TcpProxy proxy;
  proxy.set_stat_prefix("split");
  auto* w = proxy.mutable_weighted_clusters();
  auto* ca = w->add_clusters();
  ca->set_name("a");
  ca->set_weight(1);
  auto* cb = w->add_clusters();
  cb->set_name("b");
  cb->set_weight(3);
  uint16_t port = Program({TcpListener("tcp", proxy)},
                          {StaticCluster("a", {a.port()}), StaticCluster("b", {b.port()})}, "tcp");
  constexpr int kConnections = 200;
  for (int i = 0; i < kConnections; ++i) {
    int fd = ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "x"));
    shutdown(fd, SHUT_WR);
    std::string got;
    ASSERT_TRUE(ReadToEof(fd, &got));
    EXPECT_EQ(got, "x");
    close(fd);
  }
  EXPECT_EQ(a.accepted() + b.accepted(), kConnections);
  // 1:3 expected (50 : 150); binomial spread at this size stays well inside.
  EXPECT_GT(a.accepted(), 20);
  EXPECT_LT(a.accepted(), 85);
  EXPECT_GT(b.accepted(), a.accepted());
}

TEST_F(ProxyFixture, ConnectFailureRetriesAnotherHostUpToMaxConnectAttempts) {
  Upstream echo(Echo);
  uint16_t dead = DeadPort();
  TcpProxy retrying = ToCluster("mixed");
  retrying.mutable_max_connect_attempts()->set_value(2);
  TcpProxy single = ToCluster("dead");
  uint16_t port_retry = Program(
      {TcpListener("retry", retrying), TcpListener("single", single)},
      {StaticCluster("mixed", {dead, echo.port()}), StaticCluster("dead", {dead})}, "retry");
  uint16_t port_single = worker_->ListeningPorts()["single"];
  ASSERT_NE(port_single, 0);

  // Whichever host the balancer tries first, two attempts reach the live one.
  for (int i = 0; i < 4; ++i) {
    int fd = ConnectLoopback(port_retry);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "hi"));
    shutdown(fd, SHUT_WR);
    std::string got;
    ASSERT_TRUE(ReadToEof(fd, &got));
    EXPECT_EQ(got, "hi");
    close(fd);
  }
  EXPECT_GE(Stat("envoy_cluster_upstream_cx_connect_fail{envoy_cluster_name=\"mixed\"}"), 1);

  // One host, down: the client's connection is closed.
  int fd = ConnectLoopback(port_single);
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(ReadToEof(fd, &got));
  EXPECT_EQ(got, "");
  close(fd);
  EXPECT_EQ(WaitStat("envoy_cluster_upstream_cx_connect_fail{envoy_cluster_name=\"dead\"}", 1), 1);
  auto log = AccessLog();
  bool uf = false;
  for (const auto& line : log) {
    if (line.find("\"upstream_cluster\":\"dead\"") != std::string::npos &&
        line.find("\"response_flags\":\"UF\"") != std::string::npos) {
      uf = true;
    }
  }
  EXPECT_TRUE(uf) << "no UF line for the dead cluster";
}

TEST_F(ProxyFixture, UnknownClusterClosesTheConnection) {
  uint16_t port = Program({TcpListener("tcp", ToCluster("missing"))}, {}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(ReadToEof(fd, &got));
  close(fd);
  EXPECT_EQ(WaitStat("envoy_tcp_downstream_cx_no_route{envoy_tcp_prefix=\"tcp_missing\"}", 1), 1);
  auto log = AccessLog();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("\"response_flags\":\"NR\""), std::string::npos) << log[0];
}

TEST_F(ProxyFixture, IdleConnectionIsClosedAfterIdleTimeout) {
  Upstream echo(Echo);
  TcpProxy proxy = ToCluster("echo");
  proxy.mutable_idle_timeout()->set_nanos(200'000'000);
  uint16_t port =
      Program({TcpListener("tcp", proxy)}, {StaticCluster("echo", {echo.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "once"));
  std::string got;
  ASSERT_TRUE(ReadExactly(fd, 4, &got));
  // Then silence: the proxy's idle timer (on the worker's dispatcher) ends it.
  got.clear();
  EXPECT_TRUE(ReadToEof(fd, &got)) << "the connection was not closed";
  EXPECT_EQ(got, "");
  close(fd);
  EXPECT_EQ(WaitStat("envoy_tcp_idle_timeout{envoy_tcp_prefix=\"tcp_echo\"}", 1), 1);
}

TEST_F(ProxyFixture, BusyConnectionEndsAtMaxDownstreamConnectionDuration) {
  Upstream echo(Echo);
  TcpProxy proxy = ToCluster("echo");
  proxy.mutable_max_downstream_connection_duration()->set_nanos(300'000'000);
  uint16_t port =
      Program({TcpListener("tcp", proxy)}, {StaticCluster("echo", {echo.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  // Keep it busy: exchanges until the proxy ends the connection.
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {
    std::string got;
    closed = !SendAll(fd, "k") || !ReadExactly(fd, 1, &got);
    if (!closed) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(closed) << "still open after 4 s";
  close(fd);
  EXPECT_EQ(
      WaitStat("envoy_tcp_max_downstream_connection_duration{envoy_tcp_prefix=\"tcp_echo\"}", 1),
      1);
  EXPECT_EQ(Stat("envoy_tcp_idle_timeout{envoy_tcp_prefix=\"tcp_echo\"}"), 0);
}

TEST_F(ProxyFixture, ActivityKeepsTheConnectionPastTheIdleTimeout) {
  Upstream echo(Echo);
  TcpProxy proxy = ToCluster("echo");
  proxy.mutable_idle_timeout()->set_seconds(1);
  uint16_t port =
      Program({TcpListener("tcp", proxy)}, {StaticCluster("echo", {echo.port()})}, "tcp");
  int fd = ConnectLoopback(port);
  ASSERT_GE(fd, 0);
  // Twenty exchanges 100 ms apart: two seconds, twice the idle timeout.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(SendAll(fd, "k"));
    std::string got;
    ASSERT_TRUE(ReadExactly(fd, 1, &got)) << "closed after " << i << " exchanges";
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(Stat("envoy_tcp_idle_timeout{envoy_tcp_prefix=\"tcp_echo\"}"), 0);
  close(fd);
}

}  // namespace
}  // namespace meshgate::proxy
