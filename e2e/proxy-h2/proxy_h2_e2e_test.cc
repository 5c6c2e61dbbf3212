// HTTP/2 downstream end to end: meshgate-operator (file mode) programs a
// gateway meshgate-proxy over ADS; meshgate-echo answers over HTTP/1.1. Real
// HTTP/2 clients speak h2c prior knowledge to the gateway: curl, h2load
// (many streams on one connection), a python3-h2 client, and the attack
// script h2_attack.py (rapid reset, CONTINUATION / PING / SETTINGS / empty
// frame floods, oversized headers). After each attack the proxy must have
// closed that connection (with GOAWAY ENHANCE_YOUR_CALM when the client got
// to read it), still serve a normal request, and not have grown its RSS; each
// attack moves its counter in /stats/prometheus (envoy_http2_*). A client
// that never opens its flow-control window on a 1 GiB response leaves the
// proxy's RSS where it was while others are served.
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "e2e/support/mesh_yaml.h"
#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

struct HttpResult {
  std::string status_line;
  std::string headers;
  std::string body;
};

HttpResult CurlH2(int port, const std::string& path, const std::string& extra = "") {
  const std::string cmd = "curl -s -m 10 --http2-prior-knowledge -D - -o /dev/stdout " + extra +
                          " -H 'host: demo.example.com' 'http://127.0.0.1:" + std::to_string(port) +
                          path + "'";
  const std::string out = RunCommand(cmd);
  HttpResult r;
  const size_t split = out.find("\r\n\r\n");
  if (split == std::string::npos) return r;
  r.headers = out.substr(0, split);
  r.status_line = r.headers.substr(0, r.headers.find("\r\n"));
  while (!r.status_line.empty() && r.status_line.back() == ' ') r.status_line.pop_back();
  r.body = out.substr(split + 4);
  return r;
}

// Resident set of a process, in KiB (0 if it cannot be read).
long RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// `slow_port`: a backend that takes its time, routed at /slow; `big_port`:
// one that streams large bodies, routed at /big.
std::string Config(int echo_port, int gateway_port, int slow_port, int big_port) {
  std::string y = ServiceYaml("demo", "echo", "http", 8080) +
                  PodYaml("demo", "echo-v1", "echo", {{"version", "v1"}}) +
                  EndpointSliceYaml("demo", "echo-v1", "echo", "echo-v1", "http", echo_port) +
                  ServiceYaml("demo", "slow", "http", 8080) +
                  PodYaml("demo", "slow-1", "slow", {{"version", "v1"}}) +
                  EndpointSliceYaml("demo", "slow-1", "slow", "slow-1", "http", slow_port) +
                  ServiceYaml("demo", "big", "http", 8080) +
                  PodYaml("demo", "big-1", "big", {{"version", "v1"}}) +
                  EndpointSliceYaml("demo", "big-1", "big", "big-1", "http", big_port);
  y += R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: demo-gateway, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
       std::to_string(gateway_port) + R"(, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: demo, namespace: demo}
spec:
  hosts: ["*"]
  gateways: [demo-gateway]
  http:
  - name: slow
    match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: slow.demo.svc.cluster.local}}]
  - name: big
    match: [{uri: {prefix: /big}}]
    route: [{destination: {host: big.demo.svc.cluster.local}}]
  - name: all
    headers:
      response:
        set: {x-served-by: meshgate}
    route: [{destination: {host: echo.demo.svc.cluster.local}}]
)";
  return y;
}

class ProxyH2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new TempDir();
    state_ = new TempDir();
    const int echo_port = PickFreePort();
    gateway_port_ = PickFreePort();
    admin_port_ = PickFreePort();
    const int xds_port = PickFreePort();
    const int slow_port = PickFreePort();
    const int big_port = PickFreePort();
    echo_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-echo", "--port",
                            std::to_string(echo_port), "--version", "v1"});
    slow_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-echo", "--port",
                            std::to_string(slow_port), "--version", "slow", "--delay-ms", "1500"});
    ASSERT_TRUE(echo_->WaitForSubstring("listening", 10s)) << echo_->Output();
    ASSERT_TRUE(slow_->WaitForSubstring("listening", 10s)) << slow_->Output();
    big_ = new Subprocess({"/usr/bin/python3", MESHGATE_SOURCE_DIR "/e2e/proxy-h2/big_backend.py",
                           std::to_string(big_port)});
    ASSERT_TRUE(big_->WaitForSubstring("listening", 10s)) << big_->Output();
    config_->WriteFile("mesh.yaml", Config(echo_port, gateway_port_, slow_port, big_port));
    op_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir",
                          config_->path(), "--state-dir", state_->path(), "--xds-port",
                          std::to_string(xds_port), "--admin-port", std::to_string(PickFreePort()),
                          "--ca-port", std::to_string(PickFreePort()), "--debounce", "20ms"});
    access_log_ = state_->path() + "/access.log";
    proxy_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-proxy", "--xds-address",
                             "127.0.0.1:" + std::to_string(xds_port), "--node-id", "gateway-h2",
                             "--role", "gateway", "--namespace", "demo", "--labels",
                             "istio=ingressgateway", "--admin-port", std::to_string(admin_port_),
                             "--workers", "2", "--access-log", access_log_});
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (RunCommand("curl -s -m 2 http://127.0.0.1:" + std::to_string(admin_port_) + "/ready") ==
              "LIVE\n" &&
          CurlH2(gateway_port_, "/").status_line == "HTTP/2 200") {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(100ms);  // polling a separate process's readiness
    }
    ASSERT_TRUE(ready_) << "proxy never served\nproxy:\n"
                        << proxy_->Output() << "\noperator:\n"
                        << op_->Output();
  }

  static void TearDownTestSuite() {
    delete proxy_;
    delete op_;
    delete echo_;
    delete slow_;
    delete big_;
    delete config_;
    delete state_;
  }

  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "setup failed";
  }

  static nlohmann::json Attack(const std::string& name) {
    const std::string out =
        RunCommand("/usr/bin/python3 " MESHGATE_SOURCE_DIR "/e2e/proxy-h2/h2_attack.py 127.0.0.1 " +
                   std::to_string(gateway_port_) + " " + name);
    auto j = nlohmann::json::parse(out, nullptr, false);
    return j;
  }

  // The sum of the named samples in the proxy's /stats/prometheus.
  static double Metrics(const std::vector<std::string>& names) {
    const std::string text = RunCommand(
        "curl -s -m 5 http://127.0.0.1:" + std::to_string(admin_port_) + "/stats/prometheus");
    double sum = 0;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      for (const auto& name : names) {
        if (line.rfind(name + " ", 0) == 0 || line.rfind(name + "{", 0) == 0) {
          sum += std::stod(line.substr(line.rfind(' ') + 1));
        }
      }
    }
    return sum;
  }

  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* proxy_ = nullptr;
  static inline Subprocess* echo_ = nullptr;
  static inline Subprocess* slow_ = nullptr;
  static inline Subprocess* big_ = nullptr;
  static inline int gateway_port_ = 0, admin_port_ = 0;
  static inline bool ready_ = false;
  static inline std::string access_log_;
};

TEST_F(ProxyH2Test, CurlPriorKnowledgeGetsTheEchoThroughTheGateway) {
  const HttpResult r = CurlH2(gateway_port_, "/items?x=1", "-H 'x-custom: abc'");
  ASSERT_EQ(r.status_line, "HTTP/2 200") << r.headers;
  EXPECT_NE(r.headers.find("x-served-by: meshgate"), std::string::npos) << r.headers;
  EXPECT_NE(r.headers.find("x-echo-version: v1"), std::string::npos) << r.headers;
  EXPECT_EQ(r.headers.find("connection:"), std::string::npos) << r.headers;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_EQ(j["path"], "/items?x=1");
  EXPECT_EQ(j["method"], "GET");
  // The HTTP/1.1 upstream request: Host from :authority, our headers, no h2 leftovers.
  EXPECT_EQ(j["headers"].value("host", ""), "demo.example.com") << r.body;
  EXPECT_EQ(j["headers"].value("x-custom", ""), "abc");
  EXPECT_EQ(j["headers"].value("x-forwarded-for", ""), "127.0.0.1");
  EXPECT_FALSE(j["headers"].value("x-request-id", "").empty());
}

TEST_F(ProxyH2Test, PostBodyLargerThanTheStreamWindowIsForwarded) {
  TempDir dir;
  const std::string body(3 * 1024 * 1024, 'b');
  dir.WriteFile("body.bin", body);
  const HttpResult r =
      CurlH2(gateway_port_, "/upload", "-X POST --data-binary @" + dir.path() + "/body.bin");
  ASSERT_EQ(r.status_line, "HTTP/2 200") << r.headers;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_EQ(j["method"], "POST");
  // The echo's JSON keeps the field name's spelling.
  std::string length;
  for (const auto& [name, value] : j["headers"].items()) {
    if (name == "content-length" || name == "Content-Length") length = value.get<std::string>();
  }
  EXPECT_EQ(length, std::to_string(body.size())) << r.body;
}

TEST_F(ProxyH2Test, H2loadManyStreamsOnOneConnectionAllSucceed) {
  int rc = -1;
  const std::string out = RunCommand(
      "h2load -n 200 -c 1 -m 10 http://127.0.0.1:" + std::to_string(gateway_port_) + "/load 2>&1",
      &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("200 succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx"), std::string::npos) << out;
  EXPECT_NE(out.find("Application protocol: h2c"), std::string::npos) << out;
}

TEST_F(ProxyH2Test, Http1StillWorksOnTheSameListener) {
  const std::string out = RunCommand(
      "curl -s -m 10 -o /dev/null -w '%{http_version} %{http_code}' "
      "-H 'host: demo.example.com' http://127.0.0.1:" +
      std::to_string(gateway_port_) + "/h1");
  EXPECT_EQ(out, "1.1 200");
}

TEST_F(ProxyH2Test, AccessLogNamesTheProtocol) {
  ASSERT_EQ(CurlH2(gateway_port_, "/logged-h2").status_line, "HTTP/2 200");
  bool found = false;
  for (int i = 0; i < 50 && !found; ++i) {
    std::ifstream in(access_log_);
    std::stringstream ss;
    ss << in.rdbuf();
    for (std::string line; std::getline(ss, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      const std::string dump = j.dump();
      if (dump.find("/logged-h2") != std::string::npos &&
          dump.find("HTTP/2") != std::string::npos) {
        found = true;
      }
    }
    if (!found) std::this_thread::sleep_for(100ms);  // the log is flushed in batches
  }
  EXPECT_TRUE(found);
}

TEST_F(ProxyH2Test, AttacksCloseTheConnectionAndTheProxyKeepsServing) {
  const long rss_before = RssKib(proxy_->pid());
  ASSERT_GT(rss_before, 0);
  int goaways_seen = 0;
  for (const std::string attack : {"rapid_reset", "continuation", "ping_flood", "settings_flood",
                                   "oversized_headers", "empty_data"}) {
    SCOPED_TRACE(attack);
    const nlohmann::json result = Attack(attack);
    ASSERT_FALSE(result.is_discarded());
    EXPECT_TRUE(result.value("closed", false)) << result.dump();
    if (!result["goaway"].is_null()) {
      ++goaways_seen;
      EXPECT_EQ(result["goaway"].get<int>(), 11) << result.dump();  // ENHANCE_YOUR_CALM
    }
    // The proxy still serves a well-behaved client.
    EXPECT_EQ(CurlH2(gateway_port_, "/after-" + attack).status_line, "HTTP/2 200");
  }
  // The client reads concurrently, so it normally sees the GOAWAY before
  // the close; a reset can race it away for an attack or two at most.
  EXPECT_GE(goaways_seen, 4);
  const long rss_after = RssKib(proxy_->pid());
  EXPECT_LT(rss_after, rss_before + 64 * 1024)
      << "RSS " << rss_before << " -> " << rss_after << " KiB";
  const std::string out =
      RunCommand("/usr/bin/python3 " MESHGATE_SOURCE_DIR "/e2e/proxy-h2/h2_attack.py 127.0.0.1 " +
                 std::to_string(gateway_port_) + " normal");
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["statuses"], nlohmann::json::array({200, 200, 200, 200, 200})) << out;
}

TEST_F(ProxyH2Test, AttacksMoveTheirCountersInPrometheus) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"rapid_reset", {"meshgate_http2_rapid_reset_flood"}},
      {"continuation", {"envoy_http2_too_many_header_frames", "envoy_http2_header_overflow"}},
      {"ping_flood", {"envoy_http2_outbound_control_flood", "envoy_http2_outbound_flood"}},
      {"settings_flood", {"envoy_http2_outbound_control_flood", "envoy_http2_outbound_flood"}},
      {"oversized_headers", {"envoy_http2_header_overflow"}},
      {"empty_data", {"envoy_http2_inbound_empty_frames_flood"}},
  };
  for (const auto& [attack, counters] : expected) {
    SCOPED_TRACE(attack);
    const double before = Metrics(counters);
    const double goaways_before = Metrics({"envoy_http2_goaway_sent"});
    const double errors_before = Metrics({"meshgate_http2_connection_errors"});
    ASSERT_FALSE(Attack(attack).is_discarded());
    // The connection's counters are exported once it is released, on the
    // proxy's own schedule.
    double after = before;
    for (int i = 0; i < 50 && after <= before; ++i) {
      std::this_thread::sleep_for(100ms);
      after = Metrics(counters);
    }
    EXPECT_GT(after, before);
    EXPECT_GT(Metrics({"envoy_http2_goaway_sent"}), goaways_before);
    EXPECT_GT(Metrics({"meshgate_http2_connection_errors"}), errors_before);
  }
  EXPECT_GT(Metrics({"envoy_http2_rx_reset"}), 0) << "the rapid reset's RST_STREAMs";
}

TEST_F(ProxyH2Test, ClientThatNeverOpensItsWindowDoesNotGrowTheProxy) {
  const long rss_before = RssKib(proxy_->pid());
  ASSERT_GT(rss_before, 0);
  // 1 GiB: buffered, it would show in the RSS within a second or two.
  Subprocess reader({"/usr/bin/python3", MESHGATE_SOURCE_DIR "/e2e/proxy-h2/h2_attack.py",
                     "127.0.0.1", std::to_string(gateway_port_), "slow_reader", "/big/1073741824",
                     "6"});
  ASSERT_TRUE(reader.WaitForSubstring("sent", 10s)) << reader.Output();
  std::this_thread::sleep_for(4s);  // the backend streams as fast as it is read
  const long rss_during = RssKib(proxy_->pid());
  EXPECT_LT(rss_during, rss_before + 64 * 1024)
      << "RSS " << rss_before << " -> " << rss_during << " KiB";
  // Others are served meanwhile, also from the same backend.
  EXPECT_EQ(CurlH2(gateway_port_, "/").status_line, "HTTP/2 200");
  const HttpResult big = CurlH2(gateway_port_, "/big/100000");
  EXPECT_EQ(big.status_line, "HTTP/2 200");
  EXPECT_EQ(big.body.size(), 100000u);

  ASSERT_TRUE(reader.WaitForSubstring("\"received\"", 15s)) << reader.Output();
  nlohmann::json result;
  for (const std::string& line : reader.Lines()) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) result = j;
  }
  ASSERT_TRUE(result.is_object()) << reader.Output();
  EXPECT_LE(result["received"].get<int64_t>(), 65535) << result.dump();
}

// Runs last in this suite: it drains the shared proxy.
TEST_F(ProxyH2Test, ZzDrainSendsGoAwayAndLetsTheOpenStreamFinish) {
  Subprocess client({"/usr/bin/python3", MESHGATE_SOURCE_DIR "/e2e/proxy-h2/h2_attack.py",
                     "127.0.0.1", std::to_string(gateway_port_), "drain"});
  ASSERT_TRUE(client.WaitForSubstring("sent", 10s)) << client.Output();
  std::this_thread::sleep_for(300ms);  // let the request reach the slow backend
  EXPECT_EQ(
      RunCommand("curl -s -m 5 -X POST http://127.0.0.1:" + std::to_string(admin_port_) + "/drain"),
      "draining\n");
  ASSERT_TRUE(client.WaitForSubstring("\"closed\"", 15s)) << client.Output();
  nlohmann::json result;
  for (const std::string& line : client.Lines()) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) result = j;
  }
  ASSERT_TRUE(result.is_object()) << client.Output();
  EXPECT_EQ(result["goaway"], 0) << result.dump();       // NO_ERROR: graceful
  EXPECT_EQ(result["last_stream"], 1) << result.dump();  // our stream is kept
  EXPECT_TRUE(result["goaway_before_end"].get<bool>()) << result.dump();
  EXPECT_EQ(result["status"], 200) << result.dump();
  EXPECT_TRUE(result["ended"].get<bool>()) << result.dump();
  EXPECT_TRUE(result["closed"].get<bool>()) << result.dump();
}

}  // namespace
}  // namespace meshgate::e2e
