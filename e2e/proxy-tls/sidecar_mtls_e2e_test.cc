// Mesh mTLS between two meshgate-proxy processes, each holding an identity
// issued by the real meshgate-operator's CA (--ca-address, bootstrap tokens):
//
//   curl -> gateway proxy (plain listener) --ISTIO_MUTUAL--> sidecar proxy
//        (inbound listener: client certificate required, SANITIZE_SET)
//        -> meshgate-echo, which shows the x-forwarded-client-cert it got.
//
// The xDS resources are written here in the exact form the compiler emits
// for ISTIO_MUTUAL (SDS `default` + `ROOTCA`, typed URI SAN matchers) and
// served by an in-process ADS server, with ROOTCA = the operator's root.
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "e2e/support/subprocess.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "xds-server/ads_server.h"
#include "xds-server/metrics.h"
#include "xds-server/resource.h"
#include "xds-server/snapshot_cache.h"
#include "xds-server/status_tracker.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kGatewayId[] = "spiffe://cluster.local/ns/demo/sa/gateway";
constexpr char kEchoId[] = "spiffe://cluster.local/ns/demo/sa/echo";

// The text format resolves Any payloads by descriptor: make sure the types
// used inside Any are linked in.
void LinkAnyTypes() {
  (void)envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext::descriptor();
  (void)envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext::descriptor();
  (void)envoy::extensions::filters::http::router::v3::Router::descriptor();
  (void)envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager::
      descriptor();
}

template <typename T>
T Parse(const std::string& text) {
  LinkAnyTypes();
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

// The ISTIO_MUTUAL common context the compiler emits, for a peer `peer_id`.
std::string MeshTlsContext(const std::string& peer_id) {
  return R"(
    alpn_protocols: "h2"
    alpn_protocols: "http/1.1"
    tls_certificate_sds_secret_configs { name: "default" sds_config { ads {} } }
    combined_validation_context {
      default_validation_context {
        match_typed_subject_alt_names { san_type: URI matcher { exact: ")" +
         peer_id + R"(" } }
      }
      validation_context_sds_secret_config { name: "ROOTCA" sds_config { ads {} } }
    })";
}

std::string Hcm(const std::string& cluster, const std::string& xfcc) {
  return R"(
    filters {
      name: "envoy.filters.network.http_connection_manager"
      typed_config {
        [type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager] {
          stat_prefix: "http"
          )" +
         xfcc + R"(
          route_config { name: "r" virtual_hosts { name: "all" domains: "*"
            routes { match { prefix: "/" } route { cluster: ")" +
         cluster + R"(" } } } }
          http_filters { name: "envoy.filters.http.router" typed_config { [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {} } }
        }
      }
    })";
}

std::string StaticCluster(const std::string& name, int port, const std::string& tls) {
  return R"(
    name: ")" +
         name + R"("
    type: STATIC
    connect_timeout { seconds: 2 }
    load_assignment { cluster_name: ")" +
         name + R"(" endpoints { lb_endpoints { endpoint { address { socket_address {
      address: "127.0.0.1" port_value: )" +
         std::to_string(port) + R"( } } } } } }
    )" + tls;
}

class SidecarMtlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new TempDir();
    state_ = new TempDir();
    work_ = new TempDir();
    int echo_port = PickFreePort();
    inbound_port_ = PickFreePort();
    gateway_port_ = PickFreePort();
    int ca_port = PickFreePort();
    sidecar_log_ = work_->path() + "/sidecar-access.log";

    echo_ = new Subprocess(
        {MESHGATE_BINARY_DIR "/bin/meshgate-echo", "--port", std::to_string(echo_port)});
    ASSERT_TRUE(echo_->WaitForSubstring("listening", 10s)) << echo_->Output();
    std::string tokens = work_->path() + "/tokens";
    std::ofstream(tokens) << "gateway-bootstrap-token " << kGatewayId << "\necho-bootstrap-token-1 "
                          << kEchoId << "\n";
    std::ofstream(work_->path() + "/gw.token") << "gateway-bootstrap-token\n";
    std::ofstream(work_->path() + "/echo.token") << "echo-bootstrap-token-1\n";
    op_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir",
                          config_->path(), "--state-dir", state_->path(), "--xds-port", "0",
                          "--admin-port", "0", "--ca-port", std::to_string(ca_port), "--ca-tokens",
                          tokens});
    ASSERT_TRUE(op_->WaitForSubstring("CA serving", 20s)) << op_->Output();
    std::string root_file = state_->path() + "/ca/root-cert.pem";

    // The control plane for both proxies.
    cache_ = new xds::SnapshotCache(xds::NodeIdHasher());
    ads_ = new xds::AdsServer(*cache_, tracker_, metrics_, SystemClock::Get());
    grpc::ServerBuilder builder;
    int xds_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &xds_port);
    builder.RegisterService(ads_->service());
    server_ = builder.BuildAndStart().release();
    ASSERT_GT(xds_port, 0);

    envoy::extensions::transport_sockets::tls::v3::Secret roots;
    roots.set_name("ROOTCA");
    roots.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(ReadFile(root_file));
    auto add = [](xds::Snapshot::Builder& b, const std::string& name,
                  const google::protobuf::Message& m) {
      auto r = xds::MakeResource(name, m);
      ASSERT_TRUE(r.ok()) << r.status();
      b.Add(*r);
    };
    {
      xds::Snapshot::Builder b;
      add(b, "inbound",
          Parse<envoy::config::listener::v3::Listener>(absl::StrCat(
              R"(name: "inbound"
        address { socket_address { address: "127.0.0.1" port_value: )",
              inbound_port_, R"( } }
        filter_chains {
          transport_socket { name: "envoy.transport_sockets.tls" typed_config {
            [type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext] {
              require_client_certificate { value: true }
              common_tls_context {)",
              MeshTlsContext(kGatewayId), R"( } } } }
          )",
              Hcm("inbound|8080", R"(forward_client_cert_details: SANITIZE_SET
          set_current_client_cert_details { uri: true })"),
              "}")));
      add(b, "inbound|8080",
          Parse<envoy::config::cluster::v3::Cluster>(StaticCluster("inbound|8080", echo_port, "")));
      add(b, "ROOTCA", roots);
      b.AddEmptyType(xds::kEndpointType);
      b.AddEmptyType(xds::kRouteType);
      ASSERT_TRUE(cache_->SetSnapshot("sidecar-1", b.Build()).ok());
    }
    {
      xds::Snapshot::Builder b;
      add(b, "gateway",
          Parse<envoy::config::listener::v3::Listener>(absl::StrCat(
              R"(name: "gateway"
        address { socket_address { address: "127.0.0.1" port_value: )",
              gateway_port_, R"( } }
        filter_chains {)",
              Hcm("outbound|8080||echo", ""), "}")));
      add(b, "outbound|8080||echo",
          Parse<envoy::config::cluster::v3::Cluster>(StaticCluster(
              "outbound|8080||echo", inbound_port_,
              absl::StrCat(R"(transport_socket { name: "envoy.transport_sockets.tls" typed_config {
                [type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext] {
                  sni: "outbound_.8080_._.echo.demo.svc.cluster.local"
                  common_tls_context {)",
                           MeshTlsContext(kEchoId), "} } } }"))));
      add(b, "ROOTCA", roots);
      b.AddEmptyType(xds::kEndpointType);
      b.AddEmptyType(xds::kRouteType);
      ASSERT_TRUE(cache_->SetSnapshot("gateway-1", b.Build()).ok());
    }

    auto proxy = [&](const std::string& node, const std::string& sa, const std::string& token,
                     const std::string& log) {
      return new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-proxy",
                             "--xds-address",
                             "127.0.0.1:" + std::to_string(xds_port),
                             "--node-id",
                             node,
                             "--role",
                             node == "gateway-1" ? "gateway" : "sidecar",
                             "--namespace",
                             "demo",
                             "--service-account",
                             sa,
                             "--admin-port",
                             "0",
                             "--workers",
                             "2",
                             "--access-log",
                             log,
                             "--ca-address",
                             "127.0.0.1:" + std::to_string(ca_port),
                             "--token-file",
                             token,
                             "--ca-root-file",
                             root_file});
    };
    sidecar_ = proxy("sidecar-1", "echo", work_->path() + "/echo.token", sidecar_log_);
    gateway_ = proxy("gateway-1", "gateway", work_->path() + "/gw.token", "off");
    ready_ = sidecar_->WaitForSubstring("first complete config applied", 30s) &&
             gateway_->WaitForSubstring("first complete config applied", 30s);
    ASSERT_TRUE(ready_) << "sidecar:\n"
                        << sidecar_->Output() << "\ngateway:\n"
                        << gateway_->Output();
  }

  static void TearDownTestSuite() {
    for (Subprocess* p : {gateway_, sidecar_, op_, echo_}) {
      if (p != nullptr) p->Stop(SIGTERM, 10s);
      delete p;
    }
    if (server_ != nullptr) {
      server_->Shutdown();
      delete server_;
    }
    delete ads_;
    delete cache_;
    delete config_;
    delete state_;
    delete work_;
  }

  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "setup failed";
  }

  // The headers meshgate-echo saw, for a request through the gateway.
  static nlohmann::json EchoedHeaders(const std::string& extra_header = "") {
    std::string cmd = absl::StrCat("curl -s -m 10 http://127.0.0.1:", gateway_port_, "/who");
    if (!extra_header.empty()) cmd += " -H '" + extra_header + "'";
    std::string body = RunCommand(cmd);
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.contains("headers")) return nlohmann::json::object();
    return j["headers"];
  }

  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline TempDir* work_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* echo_ = nullptr;
  static inline Subprocess* sidecar_ = nullptr;
  static inline Subprocess* gateway_ = nullptr;
  static inline xds::SnapshotCache* cache_ = nullptr;
  static inline xds::StatusTracker tracker_;
  static inline xds::MetricsRegistry metrics_;
  static inline xds::AdsServer* ads_ = nullptr;
  static inline grpc::Server* server_ = nullptr;
  static inline int inbound_port_ = 0, gateway_port_ = 0;
  static inline std::string sidecar_log_;
  static inline bool ready_ = false;
};

TEST_F(SidecarMtlsTest, EchoSeesTheCallersSpiffeIdInXfcc) {
  nlohmann::json headers = EchoedHeaders();
  std::string xfcc = headers.value("x-forwarded-client-cert", "");
  EXPECT_TRUE(absl::StrContains(xfcc, absl::StrCat("By=", kEchoId, ";"))) << headers.dump();
  EXPECT_TRUE(absl::StrContains(xfcc, absl::StrCat(";URI=", kGatewayId))) << headers.dump();
  EXPECT_TRUE(absl::StrContains(xfcc, "Hash=")) << xfcc;
}

TEST_F(SidecarMtlsTest, SpoofedXfccFromOutsideIsReplaced) {
  nlohmann::json headers =
      EchoedHeaders("x-forwarded-client-cert: URI=spiffe://cluster.local/ns/evil/sa/mallory");
  std::string xfcc = headers.value("x-forwarded-client-cert", "");
  EXPECT_FALSE(absl::StrContains(xfcc, "mallory")) << xfcc;
  EXPECT_TRUE(absl::StrContains(xfcc, kGatewayId)) << xfcc;
}

TEST_F(SidecarMtlsTest, InboundPortRefusesClientsWithoutACertificate) {
  std::string root = state_->path() + "/ca/root-cert.pem";
  int rc = -1;
  std::string out = RunCommand(absl::StrCat("curl -s -k -m 5 https://127.0.0.1:", inbound_port_,
                                            "/ -o /dev/null -w '%{http_code}' 2>&1"),
                               &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_EQ(out, "000");
  std::string s_client = RunCommand(absl::StrCat(
      "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 openssl s_client -connect 127.0.0.1:",
      inbound_port_, " -CAfile ", root, " -ign_eof 2>&1"));
  EXPECT_FALSE(absl::StrContains(s_client, "HTTP/1.")) << s_client;
}

TEST_F(SidecarMtlsTest, AccessLogRecordsThePeerIdentity) {
  EchoedHeaders();
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {  // the log is written in batches
    found = absl::StrContains(ReadFile(sidecar_log_),
                              absl::StrCat("\"downstream_peer_identity\":\"", kGatewayId, "\""));
    if (!found) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(found) << ReadFile(sidecar_log_);
}

}  // namespace
}  // namespace meshgate::e2e
