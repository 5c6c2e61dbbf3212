// Listeners for the sidecar, gateway and proxyless gRPC roles.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using namespace testing;  // NOLINT

HttpConnectionManager HcmOf(const envoy::config::listener::v3::FilterChain& chain) {
  HttpConnectionManager hcm;
  EXPECT_EQ(chain.filters(0).name(), "envoy.filters.network.http_connection_manager");
  EXPECT_TRUE(chain.filters(0).typed_config().UnpackTo(&hcm));
  return hcm;
}

std::vector<std::string> FilterNames(const HttpConnectionManager& hcm) {
  std::vector<std::string> out;
  for (const auto& f : hcm.http_filters()) out.push_back(f.name());
  return out;
}

TEST(SidecarListeners, OutboundAndInbound) {
  MeshBuilder mesh;
  mesh.AddService("default", "reviews", {HttpPort(9080, 9080)});
  api::ServicePort db = HttpPort(3306, 3306, "tcp-mysql");
  mesh.AddService("default", "mysql", {db});
  mesh.AddService("default", "productpage", {HttpPort(9080, 9081)});
  auto out = Compile(mesh.Build(), Sidecar("default", {{"app", "productpage"}}));

  const Listener& vo = *out.listeners.at("virtualOutbound").resource;
  EXPECT_EQ(vo.address().socket_address().port_value(), 15001u);
  EXPECT_TRUE(vo.use_original_dst().value());
  EXPECT_EQ(vo.listener_filters(0).name(), "envoy.filters.listener.original_dst");

  const Listener& http = *out.listeners.at("0.0.0.0_9080").resource;
  EXPECT_FALSE(http.bind_to_port().value());
  HttpConnectionManager hcm = HcmOf(http.filter_chains(0));
  EXPECT_EQ(hcm.rds().route_config_name(), "9080");
  EXPECT_TRUE(hcm.rds().config_source().has_ads());
  EXPECT_THAT(FilterNames(hcm), ElementsAre("envoy.filters.http.fault", "envoy.filters.http.cors",
                                            "envoy.filters.http.router"));
  ASSERT_EQ(out.routes.count("9080"), 1u);
  EXPECT_EQ(out.routes.count("3306"), 0u);

  // The TCP service gets its own CLUSTERIP_PORT listener with tcp_proxy.
  bool tcp_listener = false;
  for (const auto& [name, l] : out.listeners) {
    if (absl::EndsWith(name, "_3306")) {
      envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
      ASSERT_TRUE(l.resource->filter_chains(0).filters(0).typed_config().UnpackTo(&tcp));
      EXPECT_EQ(tcp.cluster(), "outbound|3306||mysql.default.svc.cluster.local");
      tcp_listener = true;
    }
  }
  EXPECT_TRUE(tcp_listener);

  const Listener& vi = *out.listeners.at("virtualInbound").resource;
  EXPECT_EQ(vi.address().socket_address().port_value(), 15006u);
  // No PeerAuthentication: PERMISSIVE, an mTLS chain and a plaintext chain.
  ASSERT_EQ(vi.filter_chains_size(), 2);
  EXPECT_EQ(vi.filter_chains(0).filter_chain_match().destination_port().value(), 9081u);
  EXPECT_EQ(vi.filter_chains(1).filter_chain_match().destination_port().value(), 9081u);
  HttpConnectionManager inbound = HcmOf(vi.filter_chains(1));
  EXPECT_EQ(inbound.route_config().virtual_hosts(0).routes(0).route().cluster(), "inbound|9081||");
  const auto& inbound_cluster = *out.clusters.at("inbound|9081||").resource;
  EXPECT_EQ(inbound_cluster.type(), envoy::config::cluster::v3::Cluster::STATIC);
  EXPECT_EQ(inbound_cluster.load_assignment()
                .endpoints(0)
                .lb_endpoints(0)
                .endpoint()
                .address()
                .socket_address()
                .address(),
            "127.0.0.1");
}

// The inbound chains of the workload's port 9081, as (transport_protocol,
// has mTLS transport socket) pairs.
std::vector<std::pair<std::string, bool>> InboundChains(const CompiledResources& out) {
  std::vector<std::pair<std::string, bool>> chains;
  for (const auto& chain : out.listeners.at("virtualInbound").resource->filter_chains()) {
    if (chain.filter_chain_match().destination_port().value() != 9081u) continue;
    chains.emplace_back(chain.filter_chain_match().transport_protocol(),
                        chain.has_transport_socket());
  }
  return chains;
}

api::PeerAuthentication Policy(api::MtlsMode mode, api::Labels selector = {}) {
  api::PeerAuthentication pa;
  pa.selector.match_labels = std::move(selector);
  pa.mtls = api::MutualTls{mode};
  return pa;
}

TEST(SidecarListeners, PermissiveInboundTellsTlsFromPlaintext) {
  MeshBuilder mesh;
  mesh.AddService("default", "productpage", {HttpPort(9080, 9081)});
  auto out = Compile(mesh.Build(), Sidecar("default", {{"app", "productpage"}}));
  EXPECT_THAT(InboundChains(out), ElementsAre(Pair("tls", true), Pair("raw_buffer", false)));
  const Listener& vi = *out.listeners.at("virtualInbound").resource;
  std::vector<std::string> filters;
  for (const auto& f : vi.listener_filters()) filters.push_back(f.name());
  EXPECT_THAT(filters, ElementsAre("envoy.filters.listener.original_dst",
                                   "envoy.filters.listener.tls_inspector"));

  // The mTLS chain: the workload certificate and the trust bundle over SDS,
  // a client certificate required, peers of this trust domain only.
  envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext tls;
  ASSERT_TRUE(vi.filter_chains(0).transport_socket().typed_config().UnpackTo(&tls));
  EXPECT_TRUE(tls.require_client_certificate().value());
  const auto& common = tls.common_tls_context();
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).name(), "default");
  const auto& validation = common.combined_validation_context();
  EXPECT_EQ(validation.validation_context_sds_secret_config().name(), "ROOTCA");
  EXPECT_EQ(
      validation.default_validation_context().match_typed_subject_alt_names(0).matcher().prefix(),
      "spiffe://cluster.local/");
  EXPECT_THAT(common.alpn_protocols(), ElementsAre("h2", "http/1.1"));
  EXPECT_THAT(out.secrets, IsSupersetOf({"default", "ROOTCA"}));

  // The caller's identity reaches the application in x-forwarded-client-cert;
  // over plaintext a client-supplied one is removed.
  EXPECT_EQ(HcmOf(vi.filter_chains(0)).forward_client_cert_details(),
            HttpConnectionManager::APPEND_FORWARD);
  EXPECT_TRUE(HcmOf(vi.filter_chains(0)).set_current_client_cert_details().uri());
  EXPECT_EQ(HcmOf(vi.filter_chains(1)).forward_client_cert_details(),
            HttpConnectionManager::SANITIZE);
}

TEST(SidecarListeners, PeerAuthenticationScopesFromMeshToPort) {
  const api::Labels workload = {{"app", "productpage"}};
  auto compile = [&](const std::function<void(MeshBuilder&)>& policies) {
    MeshBuilder mesh;
    mesh.AddService("default", "productpage", {HttpPort(9080, 9081)});
    policies(mesh);
    return Compile(mesh.Build(), Sidecar("default", workload));
  };
  using api::Kind;
  using api::MtlsMode;
  // Mesh-wide STRICT from the root namespace.
  EXPECT_THAT(InboundChains(compile([](MeshBuilder& m) {
                m.Add(Kind::kPeerAuthentication, "istio-system", "default",
                      Policy(MtlsMode::kStrict));
              })),
              ElementsAre(Pair("tls", true)));
  // The namespace's policy overrides the mesh's; another namespace's does not apply.
  EXPECT_THAT(InboundChains(compile([](MeshBuilder& m) {
                m.Add(Kind::kPeerAuthentication, "istio-system", "default",
                      Policy(MtlsMode::kStrict));
                m.Add(Kind::kPeerAuthentication, "default", "default", Policy(MtlsMode::kDisable));
                m.Add(Kind::kPeerAuthentication, "other", "default", Policy(MtlsMode::kStrict));
              })),
              ElementsAre(Pair("", false)));
  // A workload policy overrides the namespace's; UNSET inherits; a port-level
  // mode overrides the workload's.
  EXPECT_THAT(InboundChains(compile([&](MeshBuilder& m) {
                m.Add(Kind::kPeerAuthentication, "default", "default", Policy(MtlsMode::kStrict));
                m.Add(Kind::kPeerAuthentication, "default", "pp",
                      Policy(MtlsMode::kUnset, workload));
              })),
              ElementsAre(Pair("tls", true)));
  EXPECT_THAT(InboundChains(compile([&](MeshBuilder& m) {
                m.Add(Kind::kPeerAuthentication, "default", "default", Policy(MtlsMode::kStrict));
                api::PeerAuthentication pa = Policy(MtlsMode::kStrict, workload);
                pa.port_level_mtls["9081"] = api::MutualTls{MtlsMode::kPermissive};
                m.Add(Kind::kPeerAuthentication, "default", "pp", pa);
              })),
              ElementsAre(Pair("tls", true), Pair("raw_buffer", false)));
  // A selector that does not match this workload does not apply.
  EXPECT_THAT(InboundChains(compile([](MeshBuilder& m) {
                m.Add(Kind::kPeerAuthentication, "default", "other",
                      Policy(MtlsMode::kStrict, {{"app", "reviews"}}));
              })),
              ElementsAre(Pair("tls", true), Pair("raw_buffer", false)));
}

TEST(SidecarListeners, ConflictingPeerAuthenticationsAreReportedAndTheFirstWins) {
  MeshBuilder mesh;
  mesh.AddService("default", "productpage", {HttpPort(9080, 9081)});
  mesh.Add(api::Kind::kPeerAuthentication, "default", "a", Policy(api::MtlsMode::kStrict));
  mesh.Add(api::Kind::kPeerAuthentication, "default", "b", Policy(api::MtlsMode::kDisable));
  auto out = Compile(mesh.Build(), Sidecar("default", {{"app", "productpage"}}));
  EXPECT_THAT(InboundChains(out), ElementsAre(Pair("tls", true)));
  bool reported = false;
  for (const auto& d : out.diagnostics) {
    if (d.object == "PeerAuthentication/default/b" &&
        absl::StrContains(d.message, "PeerAuthentication/default/a")) {
      reported = true;
    }
  }
  EXPECT_TRUE(reported);
}

struct GatewayFixture {
  MeshBuilder mesh;
  GatewayFixture() {
    mesh.AddService("default", "productpage", {HttpPort(9080, 9080)});
    api::Gateway gw;
    gw.selector = {{"istio", "ingressgateway"}};
    api::Server http;
    http.port = api::Port{80, "HTTP", "http", {}};
    http.hosts = {"*.example.com"};
    http.tls = api::ServerTLSSettings{.https_redirect = true};
    api::Server https;
    https.port = api::Port{443, "HTTPS", "https", {}};
    https.hosts = {"shop.example.com"};
    https.tls = api::ServerTLSSettings{.mode = api::ServerTLSSettings::Mode::kSimple,
                                       .credential_name = "shop-cert"};
    api::Server mtls;
    mtls.port = api::Port{443, "HTTPS", "https-partner", {}};
    mtls.hosts = {"./partner.example.com"};
    mtls.tls = api::ServerTLSSettings{.mode = api::ServerTLSSettings::Mode::kMutual,
                                      .credential_name = "partner-cert"};
    gw.servers = {http, https, mtls};
    mesh.Add(api::Kind::kGateway, "ingress", "public", gw);
    api::VirtualService vs;
    vs.hosts = {"shop.example.com", "partner.example.com"};
    vs.gateways = {"ingress/public"};
    api::HTTPRoute r;
    r.route = {To("productpage.default.svc.cluster.local")};
    vs.http = {r};
    mesh.Add(api::Kind::kVirtualService, "ingress", "shop", vs);
  }
};

ProxyTarget IngressTarget() {
  ProxyTarget t;
  t.role = ProxyTarget::Role::kGateway;
  t.namespace_ = "istio-system";  // Gateway selection is namespace-agnostic
  t.labels = {{"istio", "ingressgateway"}, {"app", "gw"}};
  return t;
}

TEST(GatewayListeners, HttpAndHttpsServers) {
  GatewayFixture f;
  auto out = Compile(f.mesh.Build(), IngressTarget());
  EXPECT_FALSE(HasErrors(out.diagnostics));
  ASSERT_EQ(out.listeners.count("0.0.0.0_80"), 1u);
  HttpConnectionManager hcm = HcmOf(out.listeners.at("0.0.0.0_80").resource->filter_chains(0));
  EXPECT_EQ(hcm.rds().route_config_name(), "http.80");
  const auto& http_routes = *out.routes.at("http.80").resource;
  ASSERT_EQ(http_routes.virtual_hosts_size(), 2);  // VS hosts within *.example.com
  for (const auto& v : http_routes.virtual_hosts()) {
    EXPECT_EQ(v.require_tls(), envoy::config::route::v3::VirtualHost::ALL);  // httpsRedirect
  }
  EXPECT_THAT(http_routes.virtual_hosts(0).domains(),
              ElementsAre("partner.example.com", "partner.example.com:80"));

  const Listener& l443 = *out.listeners.at("0.0.0.0_443").resource;
  ASSERT_EQ(l443.filter_chains_size(), 2);
  EXPECT_EQ(l443.listener_filters(0).name(), "envoy.filters.listener.tls_inspector");
  const auto& simple = l443.filter_chains(0);
  EXPECT_THAT(simple.filter_chain_match().server_names(), ElementsAre("shop.example.com"));
  envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext tls;
  ASSERT_TRUE(simple.transport_socket().typed_config().UnpackTo(&tls));
  EXPECT_EQ(tls.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "shop-cert");
  EXPECT_FALSE(tls.has_require_client_certificate());
  EXPECT_EQ(HcmOf(simple).rds().route_config_name(), "https.443.https.public.ingress");
  const auto& shop_routes = *out.routes.at("https.443.https.public.ingress").resource;
  ASSERT_EQ(shop_routes.virtual_hosts_size(), 1);
  EXPECT_EQ(shop_routes.virtual_hosts(0).routes(0).route().cluster(),
            "outbound|9080||productpage.default.svc.cluster.local");

  const auto& mutual = l443.filter_chains(1);
  ASSERT_TRUE(mutual.transport_socket().typed_config().UnpackTo(&tls));
  EXPECT_TRUE(tls.require_client_certificate().value());
  EXPECT_EQ(tls.common_tls_context()
                .combined_validation_context()
                .validation_context_sds_secret_config()
                .name(),
            "partner-cert-cacert");
  // The servers' certificates, and the gateway's own identity and trust
  // bundle for auto mTLS to the mesh's sidecars.
  EXPECT_THAT(out.secrets, UnorderedElementsAre("shop-cert", "partner-cert", "partner-cert-cacert",
                                                "default", "ROOTCA"));
}

TEST(GatewayListeners, SelectorMustMatchAndVsMustBindTheGateway) {
  GatewayFixture f;
  ProxyTarget other = IngressTarget();
  other.labels = {{"istio", "egressgateway"}};
  auto out = Compile(f.mesh.Build(), other);
  EXPECT_TRUE(out.listeners.empty());

  // A VirtualService bound by short name resolves in its own namespace.
  GatewayFixture g;
  api::VirtualService vs;
  vs.hosts = {"other.example.com"};
  vs.gateways = {"public"};  // means default/public: not the ingress/public gateway
  vs.http = {api::HTTPRoute{.route = {To("productpage")}}};
  g.mesh.Add(api::Kind::kVirtualService, "default", "wrong-ns", vs);
  auto out2 = Compile(g.mesh.Build(), IngressTarget());
  EXPECT_EQ(out2.routes.at("http.80").resource->virtual_hosts_size(), 2);
}

TEST(Proxyless, ApiListenerAndRoutesForHostPort) {
  MeshBuilder mesh;
  mesh.AddService("default", "greeter", {HttpPort(50051, 50051, "grpc")}, {"v1", "v2"});
  api::DestinationRule dr;
  dr.host = "greeter";
  dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
  dr.traffic_policy.emplace().tls.emplace().mode = api::ClientTLSSettings::Mode::kIstioMutual;
  mesh.Add(api::Kind::kDestinationRule, "default", "greeter", dr);
  api::VirtualService vs;
  vs.hosts = {"greeter"};
  vs.http = {api::HTTPRoute{.route = {To("greeter", "v1", 80), To("greeter", "v2", 20)}}};
  mesh.Add(api::Kind::kVirtualService, "default", "greeter", vs);
  auto compiled = BuildMesh(mesh.Build(), {});
  ProxyTarget client;
  client.role = ProxyTarget::Role::kProxylessGrpc;
  client.namespace_ = "default";

  const std::string name = "greeter.default.svc.cluster.local:50051";
  EXPECT_THAT(ListenerNamesForProxyless(*compiled), ElementsAre(name));
  auto result = CompileProxylessListener(*compiled, client, name);
  ASSERT_TRUE(result.ok()) << result.status();
  const Listener& l = *result->listener.resource;
  EXPECT_EQ(l.name(), name);
  HttpConnectionManager hcm;
  ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&hcm));
  EXPECT_EQ(hcm.rds().route_config_name(), name);
  EXPECT_TRUE(hcm.rds().config_source().has_ads());
  EXPECT_EQ(FilterNames(hcm).back(), "envoy.filters.http.router");
  const auto& rc = *result->route.resource;
  EXPECT_EQ(rc.name(), name);
  EXPECT_THAT(rc.virtual_hosts(0).domains(),
              ::testing::IsSupersetOf({name, std::string("greeter.default.svc.cluster.local")}));
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).route().weighted_clusters().clusters_size(), 2);

  // Clusters as gRPC accepts them: EDS over ADS, ROUND_ROBIN, no SDS TLS.
  auto out = CompileForProxy(*compiled, client);
  const auto& c = *out.clusters.at("outbound|50051|v1|greeter.default.svc.cluster.local").resource;
  EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::EDS);
  EXPECT_TRUE(c.eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_FALSE(c.has_transport_socket());
  EXPECT_FALSE(out.diagnostics.empty());  // the dropped TLS is reported

  EXPECT_EQ(CompileProxylessListener(*compiled, client, "greeter:1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CompileProxylessListener(*compiled, client, "greeter").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Short names resolve in the client's namespace.
  EXPECT_TRUE(CompileProxylessListener(*compiled, client, "greeter:50051").ok());
}

}  // namespace
}  // namespace meshgate::compiler
