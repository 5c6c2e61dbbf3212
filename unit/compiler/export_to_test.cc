// exportTo, per proxy namespace: VirtualService spec.exportTo decides which
// sidecars route by it; a Service's networking.istio.io/exportTo annotation
// and a ServiceEntry's spec.exportTo decide which sidecars see the host.
// Each case states, per sidecar namespace, where host reviews.shop (port
// 9080) goes: the cluster of its first route, or "-" for no virtual host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT
using ::testing::IsEmpty;

constexpr char kHost[] = "reviews.shop.svc.cluster.local";

std::string RouteOf(const CompiledResources& out, const std::string& vhost_name) {
  auto it = out.routes.find("9080");
  if (it == out.routes.end()) return "-";
  const auto* vhost = FindVhost(*it->second.resource, vhost_name);
  if (vhost == nullptr || vhost->routes_size() == 0) return "-";
  const auto& action = vhost->routes(0).route();
  if (action.has_weighted_clusters()) return action.weighted_clusters().clusters(0).name();
  return action.cluster();
}

api::VirtualService ToSubset(const std::string& subset, std::vector<std::string> export_to) {
  api::VirtualService vs;
  vs.hosts = {kHost};
  api::HTTPRoute r;
  r.route = {To(kHost, subset)};
  vs.http = {r};
  vs.export_to = std::move(export_to);
  return vs;
}

struct Case {
  std::string name;
  std::function<void(MeshBuilder&)> add;
  // sidecar namespace -> expected first cluster for reviews.shop:9080
  std::map<std::string, std::string> expect;
  std::string vhost = std::string(kHost) + ":9080";
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

MeshBuilder Base(std::map<std::string, std::string> service_annotations = {}) {
  MeshBuilder mesh;
  mesh.AddService("shop", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2"});
  if (!service_annotations.empty()) {
    auto svc = std::make_shared<api::Resource>(*mesh.objects()[0]);
    svc->metadata.annotations = std::move(service_annotations);
    mesh.objects()[0] = svc;
  }
  api::DestinationRule dr;
  dr.host = "reviews";
  dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
  mesh.Add(api::Kind::kDestinationRule, "shop", "reviews", dr);
  return mesh;
}

constexpr char kDefault[] = "outbound|9080||reviews.shop.svc.cluster.local";
constexpr char kV1[] = "outbound|9080|v1|reviews.shop.svc.cluster.local";
constexpr char kV2[] = "outbound|9080|v2|reviews.shop.svc.cluster.local";

class ExportTo : public ::testing::TestWithParam<Case> {};

TEST_P(ExportTo, PerProxyNamespace) {
  const Case& c = GetParam();
  MeshBuilder mesh = Base();
  c.add(mesh);
  CompiledMeshPtr compiled = BuildMesh(mesh.Build(), {});
  for (const auto& [ns, want] : c.expect) {
    CompiledResources out = CompileForProxy(*compiled, Sidecar(ns));
    EXPECT_EQ(RouteOf(out, c.vhost), want) << "sidecar in " << ns;
    EXPECT_THAT(out.diagnostics, IsEmpty()) << out.diagnostics[0].ToString();
  }
  // Batch compiles share route configurations between proxies of one
  // namespace only: they must agree with the one-by-one compile.
  std::vector<ProxyTarget> targets;
  for (const auto& [ns, want] : c.expect) targets.push_back(Sidecar(ns));
  auto batch = CompileForProxies(*compiled, targets);
  size_t i = 0;
  for (const auto& [ns, want] : c.expect) {
    EXPECT_EQ(RouteOf(batch[i++], c.vhost), want) << "batch, sidecar in " << ns;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ExportTo,
    ::testing::Values(
        Case{"NoExportToIsEverywhere",
             [](MeshBuilder& m) {
               m.Add(api::Kind::kVirtualService, "shop", "r", ToSubset("v2", {}));
             },
             {{"shop", kV2}, {"web", kV2}}},
        Case{"DotIsTheOwnNamespace",
             [](MeshBuilder& m) {
               m.Add(api::Kind::kVirtualService, "shop", "r", ToSubset("v2", {"."}));
             },
             {{"shop", kV2}, {"web", kDefault}}},
        Case{"NamedNamespaces",
             [](MeshBuilder& m) {
               m.Add(api::Kind::kVirtualService, "shop", "r", ToSubset("v2", {"web", "batch"}));
             },
             {{"shop", kDefault}, {"web", kV2}, {"batch", kV2}, {"other", kDefault}}},
        Case{"EachNamespaceGetsTheFirstVirtualServiceExportedToIt",
             [](MeshBuilder& m) {
               m.Add(api::Kind::kVirtualService, "alpha", "r", ToSubset("v1", {"."}));
               m.Add(api::Kind::kVirtualService, "beta", "r", ToSubset("v2", {"*"}));
             },
             {{"alpha", kV1}, {"beta", kV2}, {"web", kV2}}},
        Case{"ServiceExportedToItsNamespace",
             [](MeshBuilder& m) {
               auto svc = std::make_shared<api::Resource>(*m.objects()[0]);
               svc->metadata.annotations["networking.istio.io/exportTo"] = ".";
               m.objects()[0] = svc;
             },
             {{"shop", kDefault}, {"web", "-"}}},
        Case{"ServiceExportedToAList",
             [](MeshBuilder& m) {
               auto svc = std::make_shared<api::Resource>(*m.objects()[0]);
               svc->metadata.annotations["networking.istio.io/exportTo"] = "web, batch";
               m.objects()[0] = svc;
             },
             {{"shop", "-"}, {"web", kDefault}, {"batch", kDefault}}},
        Case{"ServiceExportedNowhere",
             [](MeshBuilder& m) {
               auto svc = std::make_shared<api::Resource>(*m.objects()[0]);
               svc->metadata.annotations["networking.istio.io/exportTo"] = "~";
               m.objects()[0] = svc;
             },
             {{"shop", "-"}, {"web", "-"}}},
        Case{"ServiceEntryExportTo",
             [](MeshBuilder& m) {
               api::ServiceEntry se;
               se.hosts = {"api.example.com"};
               se.ports = {api::Port{9080, "HTTP", "http", {}}};
               se.resolution = api::ServiceEntry::Resolution::kDNS;
               se.export_to = {"."};
               m.Add(api::Kind::kServiceEntry, "shop", "api", se);
             },
             {{"shop", "outbound|9080||api.example.com"}, {"web", "-"}},
             "api.example.com:9080"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ExportTo, AnUnexportedTcpServiceGetsNoListener) {
  MeshBuilder mesh;
  mesh.AddService("shop", "db", {HttpPort(5432, 5432, "tcp")});
  auto svc = std::make_shared<api::Resource>(*mesh.objects()[0]);
  svc->metadata.annotations["networking.istio.io/exportTo"] = ".";
  mesh.objects()[0] = svc;
  CompiledMeshPtr compiled = BuildMesh(mesh.Build(), {});
  EXPECT_EQ(CompileForProxy(*compiled, Sidecar("shop")).listeners.count("172.20.0.1_5432"), 1u);
  EXPECT_EQ(CompileForProxy(*compiled, Sidecar("web")).listeners.count("172.20.0.1_5432"), 0u);
}

}  // namespace
}  // namespace meshgate::compiler
