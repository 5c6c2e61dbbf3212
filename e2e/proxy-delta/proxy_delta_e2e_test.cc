// meshgate-proxy with --xds-delta against the real meshgate-operator (which
// serves DeltaAggregatedResources): the proxy comes up on delta xDS, applies
// incremental changes (a route added, an endpoint moved, a listener's routes
// replaced), and survives the control plane restarting — it reconnects with
// the versions it holds and keeps serving meanwhile.
#include <signal.h>

#include <array>
#include <chrono>
#include <cstdio>
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

constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

struct Reply {
  int status = 0;
  std::string body;
};

Reply Get(int port, const std::string& path) {
  std::string out = RunCommand(
      "curl -s -m 5 -o /dev/stdout -w '\\n%{http_code}' -H 'host: "
      "delta.example.com' 'http://127.0.0.1:" +
      std::to_string(port) + path + "'");
  Reply r;
  size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return r;
  r.status = std::atoi(out.c_str() + nl + 1);
  r.body = out.substr(0, nl);
  return r;
}

std::string EchoVersion(const Reply& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("version")) return "";
  return j["version"].get<std::string>();
}

std::string Backend(int port) {
  return ServiceYaml("delta", "echo", "http", 8080) + PodYaml("delta", "echo-1", "echo", {}) +
         EndpointSliceYaml("delta", "echo-1", "echo", "echo-1", "http", port);
}

std::string Gateway(int port) {
  return R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: delta}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
         std::to_string(port) + R"(, name: http, protocol: HTTP}
    hosts: ["*"]
)";
}

// `teapot` adds a direct-response route, to see an incremental RDS change.
std::string Routes(bool teapot) {
  std::string y = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routes, namespace: delta}
spec:
  hosts: [delta.example.com]
  gateways: [gw]
  http:
)";
  if (teapot) {
    y += R"(  - name: teapot
    match: [{uri: {exact: /teapot}}]
    directResponse: {status: 418, body: {string: "delta teapot"}}
)";
  }
  y += R"(  - name: echo
    route: [{destination: {host: echo.delta.svc.cluster.local}}]
)";
  return y;
}

class ProxyDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_a_port_ = PickFreePort();
    echo_b_port_ = PickFreePort();
    gateway_port_ = PickFreePort();
    admin_port_ = PickFreePort();
    xds_port_ = PickFreePort();
    op_admin_port_ = PickFreePort();
    std::string echo = MESHGATE_BINARY_DIR "/bin/meshgate-echo";
    echo_a_ = std::make_unique<Subprocess>(
        std::vector<std::string>{echo, "--port", std::to_string(echo_a_port_), "--version", "a"});
    echo_b_ = std::make_unique<Subprocess>(
        std::vector<std::string>{echo, "--port", std::to_string(echo_b_port_), "--version", "b"});
    ASSERT_TRUE(echo_a_->WaitForSubstring("listening", 10s)) << echo_a_->Output();
    ASSERT_TRUE(echo_b_->WaitForSubstring("listening", 10s)) << echo_b_->Output();
    config_.WriteFile("backend.yaml", Backend(echo_a_port_));
    config_.WriteFile("gateway.yaml", Gateway(gateway_port_));
    config_.WriteFile("routes.yaml", Routes(false));
    StartOperator();
    proxy_ = std::make_unique<Subprocess>(std::vector<std::string>{
        MESHGATE_BINARY_DIR "/bin/meshgate-proxy", "--xds-address",
        "127.0.0.1:" + std::to_string(xds_port_), "--node-id", "delta-gateway", "--role", "gateway",
        "--namespace", "delta", "--labels", "istio=ingressgateway", "--admin-port",
        std::to_string(admin_port_), "--workers", "1", "--access-log", "off", "--xds-delta"});
    ASSERT_TRUE(Eventually([&] { return Get(gateway_port_, "/").status == 200; }, 30s))
        << "proxy never served\nproxy:\n"
        << proxy_->Output() << "\noperator:\n"
        << op_->Output();
  }

  void StartOperator() {
    op_ = std::make_unique<Subprocess>(std::vector<std::string>{
        MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir", config_.path(), "--state-dir",
        state_.path(), "--xds-port", std::to_string(xds_port_), "--admin-port",
        std::to_string(op_admin_port_), "--ca-port", std::to_string(PickFreePort()), "--debounce",
        "20ms"});
  }

  // The operator's view of our proxy: protocol and per-type ACK state.
  nlohmann::json ProxyStatus() {
    auto syncz = nlohmann::json::parse(RunCommand("curl -s -m 2 http://127.0.0.1:" +
                                                  std::to_string(op_admin_port_) + "/debug/syncz"),
                                       nullptr, false);
    if (syncz.is_discarded() || !syncz.contains("proxies")) return {};
    for (const auto& p : syncz["proxies"]) {
      if (p.value("node_id", "") == "delta-gateway") return p;
    }
    return {};
  }

  bool AllTypesAcked() {
    nlohmann::json p = ProxyStatus();
    if (p.is_null() || !p.contains("types") || p["types"].size() < 4) return false;
    for (const auto& [type, t] : p["types"].items()) {
      if (!t.value("acked", false)) return false;
    }
    return true;
  }

  template <typename Probe>
  static bool Eventually(Probe probe, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe()) return true;
      std::this_thread::sleep_for(50ms);  // polling separate processes
    }
    return probe();
  }

  TempDir config_;
  TempDir state_;
  std::unique_ptr<Subprocess> echo_a_, echo_b_, op_, proxy_;
  int echo_a_port_ = 0, echo_b_port_ = 0, gateway_port_ = 0, admin_port_ = 0, xds_port_ = 0,
      op_admin_port_ = 0;
};

TEST_F(ProxyDeltaTest, ServesOverDeltaAndAcksEveryType) {
  EXPECT_EQ(EchoVersion(Get(gateway_port_, "/")), "a");
  ASSERT_TRUE(Eventually([&] { return AllTypesAcked(); })) << ProxyStatus().dump();
  nlohmann::json p = ProxyStatus();
  EXPECT_EQ(p.value("protocol", ""), "delta") << p.dump();
  for (const char* type : {"envoy.config.listener.v3.Listener", "envoy.config.cluster.v3.Cluster",
                           "envoy.config.route.v3.RouteConfiguration",
                           "envoy.config.endpoint.v3.ClusterLoadAssignment"}) {
    EXPECT_TRUE(p["types"].contains(std::string("type.googleapis.com/") + type)) << p.dump();
  }
}

TEST_F(ProxyDeltaTest, IncrementalRouteAndEndpointChangesApply) {
  EXPECT_EQ(Get(gateway_port_, "/teapot").status, 200);  // still the echo route
  config_.WriteFile("routes.yaml", Routes(true));
  ASSERT_TRUE(Eventually([&] { return Get(gateway_port_, "/teapot").status == 418; }))
      << proxy_->Output();
  EXPECT_EQ(Get(gateway_port_, "/teapot").body, "delta teapot");
  // The endpoint moves to the other backend: an EDS-only change.
  config_.WriteFile("backend.yaml", Backend(echo_b_port_));
  ASSERT_TRUE(Eventually([&] { return EchoVersion(Get(gateway_port_, "/")) == "b"; }))
      << proxy_->Output();
  // And the route goes away again: the resource is replaced, not merged.
  config_.WriteFile("routes.yaml", Routes(false));
  ASSERT_TRUE(Eventually([&] { return Get(gateway_port_, "/teapot").status == 200; }));
  EXPECT_TRUE(Eventually([&] { return AllTypesAcked(); })) << ProxyStatus().dump();
}

TEST_F(ProxyDeltaTest, ControlPlaneRestartReconnectsAndKeepsServing) {
  ASSERT_TRUE(Eventually([&] { return AllTypesAcked(); })) << ProxyStatus().dump();
  EXPECT_EQ(op_->Stop(SIGTERM, 10s), 0);
  // No control plane: the proxy serves what it has.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(EchoVersion(Get(gateway_port_, "/")), "a");
  // Changed while the control plane was down; seen after it comes back.
  config_.WriteFile("routes.yaml", Routes(true));
  StartOperator();
  ASSERT_TRUE(Eventually([&] { return Get(gateway_port_, "/teapot").status == 418; }, 30s))
      << proxy_->Output() << "\noperator:\n"
      << op_->Output();
  EXPECT_EQ(EchoVersion(Get(gateway_port_, "/")), "a");
  // The reconnecting proxy announced the versions it holds
  // (initial_resource_versions): the new server resends only what differs —
  // the changed routes (and the by-name EDS it re-subscribes to), never the
  // unchanged listener and cluster.
  nlohmann::json p;
  ASSERT_TRUE(Eventually([&] {
    p = ProxyStatus();
    return !p.is_null() && p["types"].contains(kRouteType) && p["types"][kRouteType]["acked"];
  })) << p.dump();
  EXPECT_EQ(p.value("protocol", ""), "delta");
  EXPECT_FALSE(p["types"].contains(kListenerType)) << p.dump();
  EXPECT_FALSE(p["types"].contains(kClusterType)) << p.dump();
}

}  // namespace
}  // namespace meshgate::e2e
