// Black-box tests of `meshgatectl proxy-status` and `proxy-config` against a
// real control plane: meshgate-operator in file mode programs a real
// meshgate-proxy (gateway role) over ADS, and meshgatectl reads the operator's
// admin endpoint.
#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/ctl/run_ctl.h"
#include "e2e/support/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kNodeId[] = "ctl-e2e";
constexpr char kCluster[] = "outbound|8080||echo.demo.svc.cluster.local";

std::string ConfigYaml(int gateway_port, int backend_port) {
  return R"(apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: demo, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: )" +
         std::to_string(backend_port) + R"(}]
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ctl-gateway, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
         std::to_string(gateway_port) + R"(, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo.example.com]
  gateways: [ctl-gateway]
  http:
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: echo.demo.svc.cluster.local}}]
)";
}

// The cells of each line of a table, up to its first blank line.
std::vector<std::vector<std::string>> SplitTable(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream lines(text);
  std::string line;
  static const std::regex kSeparator(" {3,}");
  while (std::getline(lines, line) && !line.empty()) {
    out.emplace_back(std::sregex_token_iterator(line.begin(), line.end(), kSeparator, -1),
                     std::sregex_token_iterator());
  }
  return out;
}

// The proxy-status row of `node_id` as {column title: cell}; empty when absent.
std::map<std::string, std::string> StatusRow(const std::string& table, const std::string& node) {
  auto rows = SplitTable(table);
  std::map<std::string, std::string> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].empty() || rows[r][0] != node) continue;
    for (size_t c = 0; c < rows[0].size() && c < rows[r].size(); ++c) out[rows[0][c]] = rows[r][c];
  }
  return out;
}

class ProxyStatusE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new TempDir();
    state_ = new TempDir();
    xds_port_ = PickFreePort();
    admin_port_ = PickFreePort();
    gateway_port_ = PickFreePort();
    backend_port_ = PickFreePort();
    config_->WriteFile("config.yaml", ConfigYaml(gateway_port_, backend_port_));
    operator_ = new Subprocess(
        {MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir", config_->path(),
         "--state-dir", state_->path(), "--xds-port", std::to_string(xds_port_), "--admin-port",
         std::to_string(admin_port_), "--ca-port", "0", "--debounce", "20ms"});
    // The proxy would connect anyway, but only after a reconnect backoff; if
    // the operator never gets there, the readiness poll below reports it.
    operator_->WaitForSubstring("admin listening", 15s);
    proxy_ =
        new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-proxy", "--xds-address",
                        "127.0.0.1:" + std::to_string(xds_port_), "--node-id", kNodeId, "--role",
                        "gateway", "--namespace", "demo", "--labels", "istio=ingressgateway",
                        "--admin-port", "0", "--workers", "1", "--access-log", "off"});
    // Polls another process's progress: the operator starts, the proxy
    // connects and answers what it was sent; there is no event to wait on
    // from here. Whether it accepted is for the tests to judge.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      Result r = RunCtl({"proxy-status", "--admin", Admin()});
      last_status_ = r.out + r.err;
      auto row = StatusRow(r.out, kNodeId);
      auto answered = [](const std::string& cell) { return cell == "SYNCED" || cell == "NACKED"; };
      if (r.exit_code == 0 && answered(row["CDS"]) && answered(row["LDS"])) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  static void TearDownTestSuite() {
    delete proxy_;
    delete operator_;
    delete config_;
    delete state_;
  }

  void SetUp() override {
    if (!ready_) {
      FAIL() << "ctl-e2e never answered CDS and LDS; last proxy-status:\n"
             << last_status_ << "\noperator:\n"
             << operator_->Output() << "\nproxy:\n"
             << proxy_->Output();
    }
  }

  static std::string Admin() { return "127.0.0.1:" + std::to_string(admin_port_); }

  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline Subprocess* operator_ = nullptr;
  static inline Subprocess* proxy_ = nullptr;
  static inline int xds_port_ = 0;
  static inline int admin_port_ = 0;
  static inline int gateway_port_ = 0;
  static inline int backend_port_ = 0;
  static inline bool ready_ = false;
  static inline std::string last_status_;
};

TEST_F(ProxyStatusE2eTest, ProxyIsListedSynced) {
  Result r = RunCtl({"proxy-status", "--admin", Admin()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  auto rows = SplitTable(r.out);
  ASSERT_GE(rows.size(), 2u) << r.out;
  EXPECT_THAT(rows[0], ElementsAre("NAME", "GROUP", "CDS", "LDS", "EDS", "RDS"));
  auto row = StatusRow(r.out, kNodeId);
  EXPECT_EQ(row["CDS"], "SYNCED") << r.out;
  EXPECT_EQ(row["LDS"], "SYNCED") << r.out;
  EXPECT_THAT(row["GROUP"], HasSubstr("gateway")) << r.out;
}

TEST_F(ProxyStatusE2eTest, JsonIsTheSynczDocument) {
  Result r = RunCtl({"proxy-status", "--admin", Admin(), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  std::vector<std::string> nodes;
  for (const auto& p : doc["proxies"]) nodes.push_back(p.value("node_id", ""));
  EXPECT_THAT(nodes, Contains(kNodeId));
}

TEST_F(ProxyStatusE2eTest, ClustersListTheServiceCluster) {
  Result r = RunCtl({"proxy-config", "clusters", kNodeId, "--admin", Admin()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = SplitTable(r.out);
  ASSERT_FALSE(rows.empty());
  EXPECT_THAT(rows[0], ElementsAre("NAME", "TYPE", "LB POLICY", "EDS SERVICE"));
  // The LB policy is the compiler's choice; the type and EDS name are the contract.
  EXPECT_THAT(rows, Contains(ElementsAre(kCluster, "EDS", ::testing::_, kCluster))) << r.out;
}

TEST_F(ProxyStatusE2eTest, ListenersAndRoutesOfTheGateway) {
  Result listeners = RunCtl({"proxy-config", "listeners", kNodeId, "--admin", Admin()});
  ASSERT_EQ(listeners.exit_code, 0) << listeners.err;
  EXPECT_THAT(listeners.out, HasSubstr(":" + std::to_string(gateway_port_) + " ")) << listeners.out;
  EXPECT_THAT(listeners.out, HasSubstr("Route: ")) << listeners.out;

  Result routes = RunCtl({"proxy-config", "routes", kNodeId, "--admin", Admin()});
  ASSERT_EQ(routes.exit_code, 0) << routes.err;
  bool found = false;
  for (const auto& row : SplitTable(routes.out)) {
    if (row.size() == 5 && row[4] == kCluster && row[2].find("echo.example.com") == 0) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << routes.out;
}

TEST_F(ProxyStatusE2eTest, EndpointsListTheEndpointSlicesAddress) {
  Result r = RunCtl({"proxy-config", "endpoints", kNodeId, "--admin", Admin()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = SplitTable(r.out);
  ASSERT_FALSE(rows.empty());
  EXPECT_THAT(rows[0], ElementsAre("CLUSTER", "ENDPOINT", "HEALTH", "WEIGHT"));
  EXPECT_THAT(rows, Contains(ElementsAre(kCluster, "127.0.0.1:" + std::to_string(backend_port_),
                                         ::testing::_, ::testing::_)))
      << r.out;
}

TEST_F(ProxyStatusE2eTest, JsonOfASectionIsItsResources) {
  Result r = RunCtl({"proxy-config", "clusters", kNodeId, "--admin", Admin(), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json clusters = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(clusters.is_array()) << r.out;
  std::vector<std::string> names;
  for (const auto& c : clusters) names.push_back(c.value("name", ""));
  EXPECT_THAT(names, Contains(kCluster));
}

TEST_F(ProxyStatusE2eTest, UnknownProxyFails) {
  Result r = RunCtl({"proxy-config", "clusters", "no-such-proxy", "--admin", Admin()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, HasSubstr("proxy \"no-such-proxy\" is not connected to the control plane"));
}

TEST_F(ProxyStatusE2eTest, PortsThatAreNotAnAdminEndpointFail) {
  // Nothing listening.
  Result closed =
      RunCtl({"proxy-status", "--admin", "127.0.0.1:" + std::to_string(PickFreePort())});
  EXPECT_EQ(closed.exit_code, 1);
  EXPECT_THAT(closed.err, HasSubstr("cannot reach the control plane admin endpoint"));
  // The xDS port speaks gRPC (HTTP/2 only), not the admin's HTTP/1.1 JSON.
  Result grpc = RunCtl({"proxy-status", "--admin", "127.0.0.1:" + std::to_string(xds_port_)});
  EXPECT_EQ(grpc.exit_code, 1) << grpc.out;
  EXPECT_THAT(grpc.out, IsEmpty());
  EXPECT_THAT(grpc.err, HasSubstr("meshgatectl proxy-status: "));
}

}  // namespace
}  // namespace meshgate::e2e
