// The gateway end to end: meshgate-operator (file mode) programs
// meshgate-proxy over ADS; meshgate-echo backends answer; curl, wrk and raw
// sockets are the clients. Every routing feature the compiler emits is
// exercised through real sockets, plus the failure modes: a config change
// under load, the control plane going away, and a NACKed update.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/support/mesh_yaml.h"
#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

// The gateway's worker threads, each with its own upstream connection pools.
constexpr int kWorkers = 2;

struct HttpResult {
  int status = 0;
  std::string body;
  std::string headers;
};

// One request with curl; headers as "-H 'a: b'" pieces.
HttpResult Curl(int port, const std::string& path, const std::vector<std::string>& headers = {},
                const std::string& host = "demo.example.com") {
  std::string cmd = "curl -s -m 10 -D - -o /dev/stdout -H 'host: " + host + "'";
  for (const auto& h : headers) cmd += " -H '" + h + "'";
  cmd += " 'http://127.0.0.1:" + std::to_string(port) + path + "'";
  std::string out = RunCommand(cmd);
  HttpResult r;
  size_t split = out.find("\r\n\r\n");
  if (split == std::string::npos) return r;
  r.headers = out.substr(0, split);
  r.body = out.substr(split + 4);
  if (r.headers.size() > 12) r.status = std::atoi(r.headers.substr(9, 3).c_str());
  return r;
}

std::string Version(const HttpResult& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("version")) return "";
  return j["version"].get<std::string>();
}

// Raw bytes over a socket, for what curl refuses to send.
std::string RawExchange(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)!write(fd, bytes.data(), bytes.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;  // complete only if the proxy closed the connection
}

std::string Services(int v1, int v2, int flaky, int slow) {
  std::string y = ServiceYaml("demo", "echo", "http", 8080) +
                  ServiceYaml("demo", "flaky", "http", 8080) +
                  ServiceYaml("demo", "slow", "http", 8080);
  y += PodYaml("demo", "echo-v1", "echo", {{"version", "v1"}}) +
       PodYaml("demo", "echo-v2", "echo", {{"version", "v2"}}) +
       PodYaml("demo", "flaky-1", "flaky", {{"version", "v1"}}) +
       PodYaml("demo", "slow-1", "slow", {{"version", "v1"}});
  y += EndpointSliceYaml("demo", "echo-v1", "echo", "echo-v1", "http", v1) +
       EndpointSliceYaml("demo", "echo-v2", "echo", "echo-v2", "http", v2) +
       EndpointSliceYaml("demo", "flaky-1", "flaky", "flaky-1", "http", flaky) +
       EndpointSliceYaml("demo", "slow-1", "slow", "slow-1", "http", slow);
  y += R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo.demo.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
)";
  return y;
}

std::string GatewayYaml(int port) {
  return R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: demo-gateway, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
         std::to_string(port) + R"(, name: http, protocol: HTTP}
    hosts: ["*"]
)";
}

std::string Routes(int weight_v1, int weight_v2) {
  return R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: demo, namespace: demo}
spec:
  hosts: [demo.example.com]
  gateways: [demo-gateway]
  http:
  - name: canary
    match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: echo.demo.svc.cluster.local, subset: v2}}]
  - name: api
    match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /}
    route: [{destination: {host: echo.demo.svc.cluster.local, subset: v1}}]
  - name: flaky
    match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: flaky.demo.svc.cluster.local}}]
  - name: slow
    match: [{uri: {prefix: /slow}}]
    timeout: 300ms
    route: [{destination: {host: slow.demo.svc.cluster.local}}]
  - name: teapot
    match: [{uri: {exact: /teapot}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - name: moved
    match: [{uri: {exact: /old}}]
    redirect: {uri: /new, redirectCode: 308}
  - name: split
    headers:
      response:
        set: {x-served-by: meshgate}
    route:
    - destination: {host: echo.demo.svc.cluster.local, subset: v1}
      weight: )" +
         std::to_string(weight_v1) + R"(
    - destination: {host: echo.demo.svc.cluster.local, subset: v2}
      weight: )" +
         std::to_string(weight_v2) + "\n";
}

class ProxyGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new TempDir();
    state_ = new TempDir();
    int v1 = PickFreePort(), v2 = PickFreePort(), flaky = PickFreePort(), slow = PickFreePort();
    gateway_port_ = PickFreePort();
    admin_port_ = PickFreePort();
    xds_port_ = PickFreePort();
    op_admin_port_ = PickFreePort();
    std::string echo = MESHGATE_BINARY_DIR "/bin/meshgate-echo";
    backends_.push_back(new Subprocess({echo, "--port", std::to_string(v1), "--version", "v1"}));
    backends_.push_back(new Subprocess({echo, "--port", std::to_string(v2), "--version", "v2"}));
    backends_.push_back(new Subprocess(
        {echo, "--port", std::to_string(flaky), "--version", "flaky", "--fail-every", "2"}));
    backends_.push_back(new Subprocess(
        {echo, "--port", std::to_string(slow), "--version", "slow", "--delay-ms", "2000"}));
    for (auto* b : backends_) ASSERT_TRUE(b->WaitForSubstring("listening", 10s)) << b->Output();

    config_->WriteFile("services.yaml", Services(v1, v2, flaky, slow));
    config_->WriteFile("gateway.yaml", GatewayYaml(gateway_port_));
    config_->WriteFile("routes.yaml", Routes(90, 10));
    StartOperator();
    access_log_ = state_->path() + "/access.log";
    proxy_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-proxy", "--xds-address",
                             "127.0.0.1:" + std::to_string(xds_port_), "--node-id", "gateway-1",
                             "--role", "gateway", "--namespace", "demo", "--labels",
                             "istio=ingressgateway", "--admin-port", std::to_string(admin_port_),
                             "--workers", std::to_string(kWorkers), "--access-log", access_log_});
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (RunCommand("curl -s -m 2 http://127.0.0.1:" + std::to_string(admin_port_) + "/ready") ==
          "LIVE\n") {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(100ms);  // polling a separate process's readiness
    }
    ASSERT_TRUE(ready_) << "proxy never became ready\nproxy:\n"
                        << proxy_->Output() << "\noperator:\n"
                        << op_->Output();
  }

  static void StartOperator() {
    op_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir",
                          config_->path(), "--state-dir", state_->path(), "--xds-port",
                          std::to_string(xds_port_), "--admin-port", std::to_string(op_admin_port_),
                          "--ca-port", std::to_string(PickFreePort()), "--debounce", "20ms"});
  }

  static void TearDownTestSuite() {
    delete proxy_;
    delete op_;
    for (auto* b : backends_) delete b;
    backends_.clear();
    delete config_;
    delete state_;
  }

  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "setup failed";
  }

  // Waits until `probe` holds, re-checking while the config propagates.
  template <typename Probe>
  static bool Eventually(Probe probe, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return probe();
  }

  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* proxy_ = nullptr;
  static inline std::vector<Subprocess*> backends_;
  static inline int gateway_port_ = 0, admin_port_ = 0, xds_port_ = 0, op_admin_port_ = 0;
  static inline bool ready_ = false;
  static inline std::string access_log_;
};

TEST_F(ProxyGatewayTest, HeaderMatchRoutesToCanary) {
  for (int i = 0; i < 10; ++i) {
    auto r = Curl(gateway_port_, "/", {"x-canary: true"});
    ASSERT_EQ(r.status, 200) << r.headers;
    EXPECT_EQ(Version(r), "v2");
  }
}

TEST_F(ProxyGatewayTest, WeightedSplitIsNinetyTen) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 200; ++i) ++seen[Version(Curl(gateway_port_, "/split"))];
  EXPECT_EQ(seen["v1"] + seen["v2"], 200);
  // Binomial(200, 0.1): mean 20, sd 4.2; allow > 3 sd.
  EXPECT_GE(seen["v2"], 6);
  EXPECT_LE(seen["v2"], 36);
}

TEST_F(ProxyGatewayTest, PrefixRewriteAndResponseHeaders) {
  auto r = Curl(gateway_port_, "/api/items?x=1");
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["path"], "/items?x=1");
  EXPECT_EQ(j["version"], "v1");
  // The backend saw the request id the proxy generated and the forwarded-for.
  EXPECT_FALSE(j["headers"].value("x-request-id", "").empty()) << r.body;
  EXPECT_EQ(j["headers"].value("x-forwarded-for", ""), "127.0.0.1");
  auto split = Curl(gateway_port_, "/split");
  EXPECT_NE(split.headers.find("x-served-by: meshgate"), std::string::npos) << split.headers;
}

TEST_F(ProxyGatewayTest, RetriesHideFailuresOnPurpose) {
  // The flaky backend answers 503 to every second request; 3 retries on 5xx.
  for (int i = 0; i < 20; ++i) {
    auto r = Curl(gateway_port_, "/flaky");
    EXPECT_EQ(r.status, 200) << i << " " << r.headers;
  }
  std::string stats =
      RunCommand("curl -s http://127.0.0.1:" + std::to_string(admin_port_) + "/stats/prometheus");
  EXPECT_NE(stats.find("envoy_cluster_upstream_rq_retry{envoy_cluster_name=\"outbound|8080||flaky."
                       "demo.svc.cluster.local\"}"),
            std::string::npos)
      << stats.substr(0, 2000);
  EXPECT_EQ(stats.find("envoy_cluster_upstream_rq_retry{envoy_cluster_name=\"outbound|8080||flaky."
                       "demo.svc.cluster.local\"} 0\n"),
            std::string::npos);
}

TEST_F(ProxyGatewayTest, DirectResponseRedirectAndNoRoute) {
  auto teapot = Curl(gateway_port_, "/teapot");
  EXPECT_EQ(teapot.status, 418);
  EXPECT_EQ(teapot.body, "short and stout");
  auto moved = Curl(gateway_port_, "/old");
  EXPECT_EQ(moved.status, 308);
  EXPECT_NE(moved.headers.find("location: http://demo.example.com/new"), std::string::npos)
      << moved.headers;
  auto unknown = Curl(gateway_port_, "/", {}, "nobody.example.com");
  EXPECT_EQ(unknown.status, 404);
}

TEST_F(ProxyGatewayTest, SmugglingAttemptsAreRefusedAndClosed) {
  std::string reply =
      RawExchange(gateway_port_,
                  "POST /split HTTP/1.1\r\nHost: demo.example.com\r\nContent-Length: 4\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  std::string huge =
      "GET / HTTP/1.1\r\nHost: demo.example.com\r\nx-big: " + std::string(70 * 1024, 'a') +
      "\r\n\r\n";
  EXPECT_EQ(RawExchange(gateway_port_, huge).rfind("HTTP/1.1 431", 0), 0u);
}

TEST_F(ProxyGatewayTest, PipelinedRequestsAnsweredInOrder) {
  std::string reply = RawExchange(gateway_port_,
                                  "GET /teapot HTTP/1.1\r\nHost: demo.example.com\r\n\r\n"
                                  "GET /api/one HTTP/1.1\r\nHost: demo.example.com\r\n\r\n"
                                  "GET /teapot HTTP/1.1\r\nHost: demo.example.com\r\n"
                                  "Connection: close\r\n\r\n");
  size_t first = reply.find("HTTP/1.1 418");
  size_t second = reply.find("HTTP/1.1 200", first);
  size_t third = reply.find("HTTP/1.1 418", second);
  EXPECT_NE(first, std::string::npos) << reply;
  EXPECT_NE(second, std::string::npos) << reply;
  EXPECT_NE(third, std::string::npos) << reply;
  EXPECT_NE(reply.find("\"path\":\"/one\""), std::string::npos);
}

TEST_F(ProxyGatewayTest, HopByHopFieldsStayOnTheClientsConnection) {
  // A client's "Connection: close" ends its own connection: the pooled
  // upstream connection stays open, and what Connection names never leaves.
  const std::string sample =
      "envoy_cluster_upstream_cx_total{envoy_cluster_name=\"outbound|8080|v1|echo.demo.svc."
      "cluster.local\"} ";
  auto upstream_connections = [&] {
    std::string stats =
        RunCommand("curl -s http://127.0.0.1:" + std::to_string(admin_port_) + "/stats/prometheus");
    size_t at = stats.find(sample);
    return at == std::string::npos ? -1.0 : std::stod(stats.substr(at + sample.size()));
  };
  ASSERT_EQ(Curl(gateway_port_, "/api/warm").status, 200);
  const double before = upstream_connections();
  ASSERT_GE(before, 1);
  for (int i = 0; i < 5; ++i) {
    auto r = Curl(gateway_port_, "/api/hop",
                  {"Connection: close, X-Hop", "X-Hop: secret", "Keep-Alive: timeout=5"});
    ASSERT_EQ(r.status, 200) << r.headers;
    auto j = nlohmann::json::parse(r.body);
    EXPECT_FALSE(j["headers"].contains("x-hop")) << r.body;
    EXPECT_FALSE(j["headers"].contains("keep-alive")) << r.body;
    EXPECT_NE(j["headers"].value("connection", ""), "close") << r.body;
  }
  // Forwarding the client's close cost one upstream connection per request
  // (five here). Each worker has its own pool, as in Envoy, and the warm-up
  // request reached one of them: a closing client that lands on another
  // worker opens that worker's first connection, and nothing more.
  EXPECT_LE(upstream_connections(), before + (kWorkers - 1))
      << "the upstream connection was reused";
}

TEST_F(ProxyGatewayTest, AccessLogHasOneJsonLinePerRequest) {
  auto r = Curl(gateway_port_, "/api/logged", {"x-request-id: e2e-log-check", "user-agent: e2e"});
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(Eventually(
      [&] { return RunCommand("grep -c e2e-log-check " + access_log_).find('1') == 0; }));
  std::string line = RunCommand("grep e2e-log-check " + access_log_);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["path"], "/api/logged");
  EXPECT_EQ(j["response_code"], 200);
  EXPECT_EQ(j["user_agent"], "e2e");
  EXPECT_EQ(j["upstream_cluster"], "outbound|8080|v1|echo.demo.svc.cluster.local");
}

TEST_F(ProxyGatewayTest, WrkThroughTheProxyHasNoErrors) {
  std::string out = RunCommand("wrk -t1 -c8 -d2s -H 'Host: demo.example.com' http://127.0.0.1:" +
                               std::to_string(gateway_port_) + "/api/wrk 2>&1");
  EXPECT_NE(out.find("Requests/sec"), std::string::npos) << out;
  EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;
  EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
}

TEST_F(ProxyGatewayTest, ConfigChangeUnderLoadDropsNoRequest) {
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, total{0};
  std::thread load([&] {
    while (!stop) {
      auto r = Curl(gateway_port_, "/split");
      ++total;
      if (r.status != 200) ++failures;
    }
  });
  config_->WriteFile("routes.yaml", Routes(10, 90));
  bool switched = Eventually([&] {
    int v2 = 0;
    for (int i = 0; i < 20; ++i) v2 += Version(Curl(gateway_port_, "/split")) == "v2";
    return v2 >= 12;
  });
  config_->WriteFile("routes.yaml", Routes(90, 10));
  std::this_thread::sleep_for(500ms);  // keep the load running across the second push
  stop = true;
  load.join();
  EXPECT_TRUE(switched);
  EXPECT_GT(total.load(), 10);
  EXPECT_EQ(failures.load(), 0) << "of " << total.load();
}

TEST_F(ProxyGatewayTest, RouteTimeoutAnswers504) {
  auto start = std::chrono::steady_clock::now();
  auto r = Curl(gateway_port_, "/slow");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 504) << r.headers;
  EXPECT_EQ(r.body, "upstream request timeout");
  // 300 ms route timeout against a 2 s backend: well before the backend answers.
  EXPECT_LT(took, 1900ms);
}

TEST_F(ProxyGatewayTest, NackedUpdateKeepsTheLastGoodConfig) {
  // A ring larger than Envoy's 8M maximum: the compiler passes it through,
  // the proxy must refuse the whole CDS update and keep serving.
  config_->WriteFile("bad-dr.yaml", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: demo}
spec:
  host: flaky.demo.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 9000000}}
)");
  std::string syncz;
  auto nacked = [&] {
    syncz =
        RunCommand("curl -s http://127.0.0.1:" + std::to_string(op_admin_port_) + "/debug/syncz");
    return syncz.find("minimum_ring_size 9000000") != std::string::npos;
  };
  ASSERT_TRUE(Eventually(nacked)) << syncz;
  EXPECT_NE(syncz.find("gateway-1"), std::string::npos);
  // The old config is still in force.
  EXPECT_EQ(Curl(gateway_port_, "/api/after-nack").status, 200);
  EXPECT_EQ(Curl(gateway_port_, "/flaky").status, 200);
  std::string stats =
      RunCommand("curl -s http://127.0.0.1:" + std::to_string(admin_port_) + "/stats/prometheus");
  EXPECT_EQ(stats.find("envoy_control_plane_rejected_total 0\n"), std::string::npos);
  // Fixing the object heals it: the next (different) version is sent and ACKed.
  config_->WriteFile("bad-dr.yaml", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: demo}
spec:
  host: flaky.demo.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 1024}}
)");
  EXPECT_TRUE(Eventually([&] {
    auto j = nlohmann::json::parse(
        RunCommand("curl -s http://127.0.0.1:" + std::to_string(op_admin_port_) + "/debug/syncz"),
        nullptr, false);
    if (j.is_discarded()) return false;
    for (const auto& p : j["proxies"]) {
      if (p["node_id"] != "gateway-1") continue;
      const auto& cds = p["types"]["type.googleapis.com/envoy.config.cluster.v3.Cluster"];
      return cds["last_acked_version"] == cds["last_version_sent"];
    }
    return false;
  }));
  EXPECT_EQ(Curl(gateway_port_, "/flaky", {"x-user: alice"}).status, 200);
  std::filesystem::remove(config_->path() + "/bad-dr.yaml");
}

TEST_F(ProxyGatewayTest, ControlPlaneDownProxyKeepsServing) {
  ASSERT_EQ(op_->Stop(SIGKILL, 5s), 128 + SIGKILL);
  delete op_;
  op_ = nullptr;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Curl(gateway_port_, "/api/x").status, 200);
  StartOperator();
  // Reconnects and stays serving.
  EXPECT_TRUE(Eventually(
      [&] {
        return RunCommand("curl -s http://127.0.0.1:" + std::to_string(admin_port_) +
                          "/stats/prometheus")
                   .find("envoy_control_plane_connected_state 1") != std::string::npos;
      },
      30s));
  EXPECT_EQ(Curl(gateway_port_, "/api/x").status, 200);
}

}  // namespace
}  // namespace meshgate::e2e
