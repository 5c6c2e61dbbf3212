// The Sidecar kind: which Sidecar applies to a proxy, what its egress
// listeners import (services, their clusters and load assignments, TCP
// listeners, VirtualServices), per port; REGISTRY_ONLY; ingress listeners
// replacing the workload's inbound ports.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kReviews[] = "reviews.shop.svc.cluster.local";
constexpr char kRatings[] = "ratings.other.svc.cluster.local";
constexpr char kDetails[] = "details.shop.svc.cluster.local";

api::IstioEgressListener Egress(std::vector<std::string> hosts,
                                std::optional<uint32_t> port = std::nullopt) {
  api::IstioEgressListener e;
  e.hosts = std::move(hosts);
  if (port) e.port = api::Port{*port, "HTTP", "http", std::nullopt};
  return e;
}

api::Sidecar EgressOnly(std::vector<api::IstioEgressListener> egress, api::Labels selector = {}) {
  api::Sidecar s;
  s.egress = std::move(egress);
  if (!selector.empty()) s.workload_selector = api::WorkloadSelector{std::move(selector)};
  return s;
}

// reviews.shop:9080 (v1, v2), details.shop:8080, ratings.other:9080,
// mysql.other:3306 (TCP).
MeshBuilder Mesh() {
  MeshBuilder mesh;
  mesh.AddService("shop", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2"});
  mesh.AddService("shop", "details", {HttpPort(8080, 8080)});
  mesh.AddService("other", "ratings", {HttpPort(9080, 9080)});
  mesh.AddService("other", "mysql", {HttpPort(3306, 3306, "tcp-mysql")});
  return mesh;
}

std::set<std::string> OutboundClusterHosts(const CompiledResources& out) {
  std::set<std::string> hosts;
  for (const auto& [name, c] : out.clusters) {
    if (!absl::StartsWith(name, "outbound|")) continue;
    hosts.insert(name.substr(name.rfind('|') + 1));
  }
  return hosts;
}

std::set<std::string> VirtualHosts(const CompiledResources& out, const std::string& port) {
  std::set<std::string> names;
  auto it = out.routes.find(port);
  if (it == out.routes.end()) return names;
  for (const auto& v : it->second.resource->virtual_hosts()) names.insert(v.name());
  return names;
}

bool HasListenerEndingWith(const CompiledResources& out, const std::string& suffix) {
  for (const auto& [name, l] : out.listeners) {
    if (absl::EndsWith(name, suffix)) return true;
  }
  return false;
}

TEST(Sidecar, NamespaceSidecarImportsOnlyWhatItsEgressNames) {
  MeshBuilder mesh = Mesh();
  mesh.Add(api::Kind::kSidecar, "shop", "default", EgressOnly({Egress({"./*"})}));
  CompiledMeshPtr compiled = BuildMesh(mesh.Build(), {});

  CompiledResources scoped = CompileForProxy(*compiled, Sidecar("shop"));
  EXPECT_EQ(OutboundClusterHosts(scoped), (std::set<std::string>{kReviews, kDetails}));
  for (const auto& [name, cla] : scoped.endpoints) {
    EXPECT_FALSE(absl::StrContains(name, ".other.")) << name;
  }
  EXPECT_THAT(VirtualHosts(scoped, "9080"), Contains(std::string(kReviews) + ":9080"));
  EXPECT_THAT(VirtualHosts(scoped, "9080"), Not(Contains(std::string(kRatings) + ":9080")));
  EXPECT_FALSE(HasListenerEndingWith(scoped, "_3306")) << "mysql.other is not imported";
  EXPECT_EQ(scoped.clusters.count("PassthroughCluster"), 1u);
  EXPECT_THAT(scoped.diagnostics, IsEmpty());

  // The Sidecar is shop's: a proxy elsewhere still sees the whole mesh.
  CompiledResources whole = CompileForProxy(*compiled, Sidecar("other"));
  EXPECT_EQ(OutboundClusterHosts(whole),
            (std::set<std::string>{kReviews, kDetails, kRatings, "mysql.other.svc.cluster.local"}));
  EXPECT_TRUE(HasListenerEndingWith(whole, "_3306"));
}

TEST(Sidecar, RootNamespaceSidecarIsTheDefaultUntilANamespaceHasItsOwn) {
  MeshBuilder mesh = Mesh();
  mesh.Add(api::Kind::kSidecar, "istio-system", "default", EgressOnly({Egress({"other/*"})}));
  mesh.Add(api::Kind::kSidecar, "other", "default", EgressOnly({Egress({"*/*"})}));
  CompiledMeshPtr compiled = BuildMesh(mesh.Build(), {});
  EXPECT_EQ(OutboundClusterHosts(CompileForProxy(*compiled, Sidecar("shop"))),
            (std::set<std::string>{kRatings, "mysql.other.svc.cluster.local"}));
  EXPECT_EQ(OutboundClusterHosts(CompileForProxy(*compiled, Sidecar("other"))).size(), 4u);
}

TEST(Sidecar, WorkloadSelectorWinsOverTheNamespaceSidecar) {
  MeshBuilder mesh = Mesh();
  mesh.Add(api::Kind::kSidecar, "shop", "default", EgressOnly({Egress({"./*"})}));
  mesh.Add(api::Kind::kSidecar, "shop", "productpage",
           EgressOnly({Egress({"./*", "other/ratings.other.svc.cluster.local"})},
                      {{"app", "productpage"}}));
  CompiledMeshPtr compiled = BuildMesh(mesh.Build(), {});
  const ProxyTarget productpage = Sidecar("shop", {{"app", "productpage"}});
  const ProxyTarget cart = Sidecar("shop", {{"app", "cart"}});
  EXPECT_EQ(OutboundClusterHosts(CompileForProxy(*compiled, productpage)),
            (std::set<std::string>{kReviews, kDetails, kRatings}));
  EXPECT_EQ(OutboundClusterHosts(CompileForProxy(*compiled, cart)),
            (std::set<std::string>{kReviews, kDetails}));

  // A batch shares route configurations per namespace and Sidecar, never
  // across Sidecars.
  auto batch = CompileForProxies(*compiled, {productpage, cart});
  EXPECT_THAT(VirtualHosts(batch[0], "9080"), Contains(std::string(kRatings) + ":9080"));
  EXPECT_THAT(VirtualHosts(batch[1], "9080"), Not(Contains(std::string(kRatings) + ":9080")));
}

TEST(Sidecar, AnEgressListenerForAPortWinsOverTheCatchAll) {
  MeshBuilder mesh = Mesh();
  mesh.Add(api::Kind::kSidecar, "shop", "default",
           EgressOnly({Egress({"other/*"}, 9080), Egress({"./*"})}));
  CompiledResources out = CompileForProxy(*BuildMesh(mesh.Build(), {}), Sidecar("shop"));
  // Port 9080 imports other/* only; every other port imports ./*.
  EXPECT_EQ(OutboundClusterHosts(out), (std::set<std::string>{kRatings, kDetails}));
  EXPECT_THAT(VirtualHosts(out, "9080"), Contains(std::string(kRatings) + ":9080"));
  EXPECT_THAT(VirtualHosts(out, "9080"), Not(Contains(std::string(kReviews) + ":9080")));
  EXPECT_THAT(VirtualHosts(out, "8080"), Contains(std::string(kDetails) + ":8080"));
}

TEST(Sidecar, VirtualServicesAreImportedByTheirOwnNamespace) {
  api::DestinationRule dr;
  dr.host = kReviews;
  dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
  api::VirtualService vs;
  vs.hosts = {kReviews};
  api::HTTPRoute route;
  route.route = {To(kReviews, "v2")};
  vs.http = {route};
  auto first_cluster = [](const CompiledResources& out) {
    const auto* vhost = FindVhost(*out.routes.at("9080").resource, std::string(kReviews) + ":9080");
    return vhost == nullptr ? std::string("-") : vhost->routes(0).route().cluster();
  };
  for (const auto& [hosts, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"./*"}, "outbound|9080||reviews.shop.svc.cluster.local"},
           {{"./*", "routing/*"}, "outbound|9080|v2|reviews.shop.svc.cluster.local"}}) {
    MeshBuilder mesh = Mesh();
    mesh.Add(api::Kind::kDestinationRule, "shop", "reviews", dr);
    mesh.Add(api::Kind::kVirtualService, "routing", "reviews", vs);
    mesh.Add(api::Kind::kSidecar, "shop", "default", EgressOnly({Egress(hosts)}));
    CompiledResources out = CompileForProxy(*BuildMesh(mesh.Build(), {}), Sidecar("shop"));
    EXPECT_EQ(first_cluster(out), want) << hosts.size() << " egress hosts";
  }
}

TEST(Sidecar, RegistryOnlyRefusesUnknownDestinations) {
  MeshBuilder mesh = Mesh();
  api::Sidecar sidecar = EgressOnly({Egress({"*/*"})});
  sidecar.outbound_traffic_policy =
      api::OutboundTrafficPolicy{api::OutboundTrafficPolicy::Mode::kRegistryOnly};
  mesh.Add(api::Kind::kSidecar, "shop", "default", sidecar);
  CompiledMeshPtr compiled = BuildMesh(mesh.Build(), {});

  CompiledResources out = CompileForProxy(*compiled, Sidecar("shop"));
  const auto* block = FindVhost(*out.routes.at("9080").resource, "block_all");
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block->domains(0), "*");
  EXPECT_EQ(block->routes(0).direct_response().status(), 502u);
  EXPECT_EQ(FindVhost(*out.routes.at("9080").resource, "allow_any"), nullptr);
  const Listener& outbound = *out.listeners.at("virtualOutbound").resource;
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  ASSERT_TRUE(outbound.filter_chains(0).filters(0).typed_config().UnpackTo(&tcp));
  EXPECT_EQ(tcp.cluster(), "BlackHoleCluster");
  ASSERT_EQ(out.clusters.count("BlackHoleCluster"), 1u);
  EXPECT_EQ(out.clusters.at("BlackHoleCluster").resource->load_assignment().endpoints_size(), 0);

  // ALLOW_ANY (the default) passes unknown destinations through.
  CompiledResources other = CompileForProxy(*compiled, Sidecar("other"));
  EXPECT_NE(FindVhost(*other.routes.at("9080").resource, "allow_any"), nullptr);
  EXPECT_EQ(other.clusters.count("BlackHoleCluster"), 0u);
}

TEST(Sidecar, IngressListenersReplaceTheWorkloadPorts) {
  MeshBuilder mesh = Mesh();
  api::Sidecar sidecar = EgressOnly({Egress({"./*"})}, {{"app", "reviews"}});
  api::IstioIngressListener http;
  http.port = api::Port{7071, "HTTP", "httplocal", std::nullopt};
  http.default_endpoint = "127.0.0.1:17071";
  api::IstioIngressListener tcp;
  tcp.port = api::Port{7070, "TCP", "tcplocal", std::nullopt};
  tcp.default_endpoint = "0.0.0.0:17070";
  sidecar.ingress = {http, tcp};
  mesh.Add(api::Kind::kSidecar, "shop", "reviews", sidecar);

  ProxyTarget target = Sidecar("shop", {{"app", "reviews"}, {"version", "v1"}});
  target.interception_mode = ProxyTarget::InterceptionMode::kNone;
  target.instance_ip = "10.1.1.1";
  CompiledResources out = CompileForProxy(*BuildMesh(mesh.Build(), {}), target);

  EXPECT_EQ(out.listeners.count("10.1.1.1_7071"), 1u);
  EXPECT_EQ(out.listeners.count("10.1.1.1_7070"), 1u);
  EXPECT_EQ(out.listeners.count("10.1.1.1_9080"), 0u) << "the Service port is not an ingress";
  auto endpoint_of = [&out](const std::string& cluster) {
    const auto& sa = out.clusters.at(cluster)
                         .resource->load_assignment()
                         .endpoints(0)
                         .lb_endpoints(0)
                         .endpoint()
                         .address()
                         .socket_address();
    return sa.address() + ":" + std::to_string(sa.port_value());
  };
  EXPECT_EQ(endpoint_of("inbound|7071||"), "127.0.0.1:17071");
  EXPECT_EQ(endpoint_of("inbound|7070||"), "10.1.1.1:17070");  // 0.0.0.0: the instance
  const Listener& l7071 = *out.listeners.at("10.1.1.1_7071").resource;
  bool http_chain = false;
  for (const auto& chain : l7071.filter_chains()) {
    if (chain.filters(0).name() == "envoy.filters.network.http_connection_manager") {
      http_chain = true;
    }
  }
  EXPECT_TRUE(http_chain) << "port 7071 is HTTP";
}

TEST(Sidecar, AUnixSocketDefaultEndpointIsAPipeWithAWarning) {
  MeshBuilder mesh = Mesh();
  api::Sidecar sidecar = EgressOnly({Egress({"./*"})});
  api::IstioIngressListener uds;
  uds.port = api::Port{7072, "HTTP", "http-uds", std::nullopt};
  uds.default_endpoint = "unix:///var/run/app.sock";
  sidecar.ingress = {uds};
  mesh.Add(api::Kind::kSidecar, "shop", "default", sidecar);
  CompiledResources out = CompileForProxy(*BuildMesh(mesh.Build(), {}), Sidecar("shop"));
  EXPECT_EQ(out.clusters.at("inbound|7072||")
                .resource->load_assignment()
                .endpoints(0)
                .lb_endpoints(0)
                .endpoint()
                .address()
                .pipe()
                .path(),
            "/var/run/app.sock");
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].field_path, "spec.ingress[0].defaultEndpoint");
  EXPECT_EQ(out.diagnostics[0].severity, CompileDiagnostic::Severity::kWarning);
}

TEST(Sidecar, ASecondNamespaceWideSidecarIsReportedAndIgnored) {
  MeshBuilder mesh = Mesh();
  mesh.Add(api::Kind::kSidecar, "shop", "a", EgressOnly({Egress({"./*"})}));
  mesh.Add(api::Kind::kSidecar, "shop", "b", EgressOnly({Egress({"*/*"})}));
  CompiledResources out = CompileForProxy(*BuildMesh(mesh.Build(), {}), Sidecar("shop"));
  EXPECT_EQ(OutboundClusterHosts(out), (std::set<std::string>{kReviews, kDetails}));
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].object, "Sidecar/shop/b");
  EXPECT_EQ(out.diagnostics[0].severity, CompileDiagnostic::Severity::kWarning);
  EXPECT_THAT(out.diagnostics[0].message, HasSubstr("already has Sidecar a"));
}

TEST(Sidecar, AChangedSidecarIsNotAnEndpointOnlyChange) {
  MeshBuilder before = Mesh();
  CompiledMeshPtr previous = BuildMesh(before.Build(), {});
  MeshBuilder after = Mesh();
  after.Add(api::Kind::kSidecar, "shop", "default", EgressOnly({Egress({"./*"})}));
  std::string why;
  EXPECT_EQ(RebuildEndpoints(*previous, after.Build(), &why), nullptr);
  EXPECT_EQ(why, "Sidecars changed");
}

}  // namespace
}  // namespace meshgate::compiler
