// VirtualService TCP and TLS routes, for sidecars (the service's
// CLUSTERIP_PORT listener) and for gateways (TCP servers, and TLS
// PASSTHROUGH servers routed by SNI). Each case compiles a small mesh and
// states the listener's filter chains as "match -> clusters" lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT
using envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;
using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// "sni=a,b prefix=10.0.0.0/8 -> cluster:weight,..." per filter chain.
std::vector<std::string> Chains(const Listener& l) {
  std::vector<std::string> out;
  for (const auto& chain : l.filter_chains()) {
    std::vector<std::string> match;
    const auto& m = chain.filter_chain_match();
    if (m.server_names_size() > 0) {
      match.push_back("sni=" + absl::StrJoin(m.server_names(), ","));
    }
    for (const auto& p : m.prefix_ranges()) {
      match.push_back(absl::StrCat("prefix=", p.address_prefix(), "/", p.prefix_len().value()));
    }
    std::string line = match.empty() ? "*" : absl::StrJoin(match, " ");
    TcpProxy tcp;
    if (chain.filters_size() != 1 || !chain.filters(0).typed_config().UnpackTo(&tcp)) {
      out.push_back(line + " -> (not tcp_proxy)");
      continue;
    }
    std::vector<std::string> clusters;
    if (!tcp.cluster().empty()) clusters.push_back(tcp.cluster());
    for (const auto& c : tcp.weighted_clusters().clusters()) {
      clusters.push_back(absl::StrCat(c.name(), ":", c.weight()));
    }
    out.push_back(line + " -> " + absl::StrJoin(clusters, ","));
  }
  return out;
}

bool HasTlsInspector(const Listener& l) {
  for (const auto& f : l.listener_filters()) {
    if (f.name() == "envoy.filters.listener.tls_inspector") return true;
  }
  return false;
}

api::RouteDestination Dest(std::string host, std::string subset = "",
                           std::optional<int32_t> weight = std::nullopt) {
  return api::RouteDestination{api::Destination{std::move(host), std::move(subset), {}}, weight};
}

// A mesh with TCP service "db" (port 5432, subsets v1/v2) and TLS service
// "secure" (port 443), plus the case's objects.
MeshBuilder BaseMesh() {
  MeshBuilder mesh;
  mesh.AddService("default", "db", {HttpPort(5432, 5432, "tcp-postgres")}, {"v1", "v2"});
  mesh.AddService("default", "secure", {HttpPort(443, 8443, "tls")}, {"v1"});
  api::DestinationRule dr;
  dr.host = "db";
  dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
  mesh.Add(api::Kind::kDestinationRule, "default", "db", dr);
  return mesh;
}

constexpr char kDb[] = "outbound|5432||db.default.svc.cluster.local";
constexpr char kDbV1[] = "outbound|5432|v1|db.default.svc.cluster.local";
constexpr char kDbV2[] = "outbound|5432|v2|db.default.svc.cluster.local";
constexpr char kSecure[] = "outbound|443||secure.default.svc.cluster.local";

struct Case {
  std::string name;
  std::function<void(MeshBuilder&)> add;
  ProxyTarget target;
  std::string listener;
  std::vector<std::string> chains;
  bool tls_inspector = false;
  std::vector<std::string> diagnostics = {};  // "field_path: message" substrings
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

ProxyTarget Gateway() {
  ProxyTarget t;
  t.role = ProxyTarget::Role::kGateway;
  t.namespace_ = "ingress";
  t.labels = {{"istio", "ingressgateway"}};
  return t;
}

void AddVs(MeshBuilder& mesh, const std::string& name, api::VirtualService vs,
           const std::string& ns = "default") {
  mesh.Add(api::Kind::kVirtualService, ns, name, std::move(vs));
}

void AddGateway(MeshBuilder& mesh, api::Server server) {
  api::Gateway gw;
  gw.selector = {{"istio", "ingressgateway"}};
  gw.servers = {std::move(server)};
  mesh.Add(api::Kind::kGateway, "ingress", "edge", gw);
}

api::Server PassthroughServer(std::vector<std::string> hosts) {
  api::Server s;
  s.port = api::Port{443, "TLS", "tls", {}};
  s.hosts = std::move(hosts);
  s.tls = api::ServerTLSSettings{.mode = api::ServerTLSSettings::Mode::kPassthrough};
  return s;
}

class L4Routes : public ::testing::TestWithParam<Case> {};

TEST_P(L4Routes, Compile) {
  const Case& c = GetParam();
  MeshBuilder mesh = BaseMesh();
  c.add(mesh);
  CompiledResources out = Compile(mesh.Build(), c.target);
  auto it = out.listeners.find(c.listener);
  ASSERT_NE(it, out.listeners.end()) << c.listener;
  EXPECT_THAT(Chains(*it->second.resource), ElementsAreArray(c.chains));
  EXPECT_EQ(HasTlsInspector(*it->second.resource), c.tls_inspector);
  std::vector<std::string> diagnostics;
  for (const auto& d : out.diagnostics) diagnostics.push_back(d.field_path + ": " + d.message);
  for (const auto& want : c.diagnostics) EXPECT_THAT(diagnostics, Contains(HasSubstr(want)));
  if (c.diagnostics.empty()) {
    EXPECT_THAT(diagnostics, IsEmpty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sidecar, L4Routes,
    ::testing::Values(
        Case{"NoVirtualServiceGoesToTheService",
             [](MeshBuilder&) {},
             Sidecar("default"),
             "172.20.0.1_5432",
             {absl::StrCat("* -> ", kDb)}},
        Case{"WeightedTcpRoute",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"db"};
               vs.tcp = {api::TCPRoute{{}, {Dest("db", "v1", 80), Dest("db", "v2", 20)}}};
               AddVs(m, "db", vs);
             },
             Sidecar("default"),
             "172.20.0.1_5432",
             {absl::StrCat("* -> ", kDbV1, ":80,", kDbV2, ":20")}},
        Case{"SubnetMatchThenCatchAll",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"db"};
               api::L4MatchAttributes subnet;
               subnet.destination_subnets = {"172.20.0.0/16", "10.1.2.3"};
               vs.tcp = {api::TCPRoute{{subnet}, {Dest("db", "v2")}},
                         api::TCPRoute{{}, {Dest("db", "v1")}}, api::TCPRoute{{}, {Dest("db")}}};
               AddVs(m, "db", vs);
             },
             Sidecar("default"),
             "172.20.0.1_5432",
             {absl::StrCat("prefix=10.1.2.3/32 prefix=172.20.0.0/16 -> ", kDbV2),
              absl::StrCat("* -> ", kDbV1)},
             false,
             {"spec.tcp[2]: shadowed by an earlier route"}},
        Case{"MatchOnAnotherPortLeavesTheDefault",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"db"};
               api::L4MatchAttributes other_port;
               other_port.port = 3306;
               vs.tcp = {api::TCPRoute{{other_port}, {Dest("db", "v2")}}};
               AddVs(m, "db", vs);
             },
             Sidecar("default"),
             "172.20.0.1_5432",
             {absl::StrCat("* -> ", kDb)}},
        Case{"SourceLabelsSelectTheProxy",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"db"};
               api::L4MatchAttributes from_batch;
               from_batch.source_labels = {{"app", "batch"}};
               vs.tcp = {api::TCPRoute{{from_batch}, {Dest("db", "v2")}},
                         api::TCPRoute{{}, {Dest("db", "v1")}}};
               AddVs(m, "db", vs);
             },
             Sidecar("default", {{"app", "batch"}}),
             "172.20.0.1_5432",
             {absl::StrCat("* -> ", kDbV2)},
             false,
             {"spec.tcp[1]: shadowed"}},
        Case{"SourceLabelsOfAnotherProxy",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"db"};
               api::L4MatchAttributes from_batch;
               from_batch.source_labels = {{"app", "batch"}};
               vs.tcp = {api::TCPRoute{{from_batch}, {Dest("db", "v2")}},
                         api::TCPRoute{{}, {Dest("db", "v1")}}};
               AddVs(m, "db", vs);
             },
             Sidecar("default", {{"app", "web"}}),
             "172.20.0.1_5432",
             {absl::StrCat("* -> ", kDbV1)}},
        Case{"TlsRouteBySni",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"secure", "api.example.com"};
               api::TLSMatchAttributes sni;
               sni.sni_hosts = {"api.example.com"};
               vs.tls = {api::TLSRoute{{sni}, {Dest("db", "v1")}}};
               AddVs(m, "secure", vs);
             },
             Sidecar("default"),
             "172.20.0.2_443",
             {absl::StrCat("sni=api.example.com -> ", kDbV1), absl::StrCat("* -> ", kSecure)},
             true},
        Case{"UnknownDestinationIsReported",
             [](MeshBuilder& m) {
               api::VirtualService vs;
               vs.hosts = {"db"};
               vs.tcp = {api::TCPRoute{{}, {Dest("db", "v9")}}};
               AddVs(m, "db", vs);
             },
             Sidecar("default"),
             "172.20.0.1_5432",
             {absl::StrCat("* -> outbound|5432|v9|db.default.svc.cluster.local")},
             false,
             {"spec.tcp[0].route[0].destination.subset: subset v9 is not defined"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Gateway, L4Routes,
    ::testing::Values(
        Case{"PassthroughBySni",
             [](MeshBuilder& m) {
               AddGateway(m, PassthroughServer({"*.example.com"}));
               api::VirtualService vs;
               vs.hosts = {"*.example.com"};
               vs.gateways = {"ingress/edge"};
               api::TLSMatchAttributes a, b, outside;
               a.sni_hosts = {"a.example.com"};
               b.sni_hosts = {"b.example.com"};
               outside.sni_hosts = {"c.example.org"};
               vs.tls = {api::TLSRoute{{a}, {Dest("secure")}},
                         api::TLSRoute{{b, outside}, {Dest("db", "v1", 50), Dest("db", "v2", 50)}}};
               AddVs(m, "edge-routes", vs);
             },
             Gateway(),
             "0.0.0.0_443",
             {absl::StrCat("sni=a.example.com -> ", kSecure),
              absl::StrCat("sni=b.example.com -> ", kDbV1, ":50,", kDbV2, ":50")},
             true},
        Case{"PassthroughIgnoresVirtualServicesOfOtherHosts",
             [](MeshBuilder& m) {
               AddGateway(m, PassthroughServer({"a.example.com"}));
               api::VirtualService vs;
               vs.hosts = {"z.example.net"};
               vs.gateways = {"ingress/edge"};
               api::TLSMatchAttributes z;
               z.sni_hosts = {"z.example.net"};
               vs.tls = {api::TLSRoute{{z}, {Dest("secure")}}};
               AddVs(m, "other", vs);
               api::VirtualService mine;
               mine.hosts = {"a.example.com"};
               mine.gateways = {"ingress/edge"};
               api::TLSMatchAttributes a;
               a.sni_hosts = {"a.example.com"};
               mine.tls = {api::TLSRoute{{a}, {Dest("secure")}}};
               AddVs(m, "mine", mine);
             },
             Gateway(),
             "0.0.0.0_443",
             {absl::StrCat("sni=a.example.com -> ", kSecure)},
             true},
        Case{"TcpServer",
             [](MeshBuilder& m) {
               api::Server s;
               s.port = api::Port{31400, "TCP", "tcp", {}};
               s.hosts = {"*"};
               AddGateway(m, s);
               api::VirtualService vs;
               vs.hosts = {"*"};
               vs.gateways = {"ingress/edge"};
               api::L4MatchAttributes port;
               port.port = 31400;
               vs.tcp = {api::TCPRoute{{port}, {Dest("db.default.svc.cluster.local", "", 100)}}};
               AddVs(m, "tcp-in", vs);
             },
             Gateway(),
             "0.0.0.0_31400",
             {absl::StrCat("* -> ", kDb)}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace meshgate::compiler
