// RebuildEndpoints, the EDS fast path: what it reuses, what it rebuilds, and
// when it refuses (so the caller compiles the whole mesh).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Two services; reviews has subsets v1/v2 under ISTIO_MUTUAL and a
// VirtualService, ratings none.
MeshBuilder Sample() {
  MeshBuilder mesh;
  mesh.AddService("shop", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2"});
  mesh.AddService("shop", "ratings", {HttpPort(9080, 9080)}, {"v1"});
  api::DestinationRule dr;
  dr.host = "reviews";
  dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
  api::TrafficPolicy policy;
  policy.tls = api::ClientTLSSettings{};
  policy.tls->mode = api::ClientTLSSettings::Mode::kIstioMutual;
  dr.traffic_policy = policy;
  mesh.Add(api::Kind::kDestinationRule, "shop", "reviews", dr);
  api::VirtualService vs;
  vs.hosts = {"reviews"};
  api::HTTPRoute r;
  r.route = {To("reviews", "v1", 80), To("reviews", "v2", 20)};
  vs.http = {r};
  mesh.Add(api::Kind::kVirtualService, "shop", "reviews", vs);
  return mesh;
}

// `base` with `objects` put in (replacing those with the same key) and `gone`
// removed; every other object keeps its pointer, as the config store does.
api::ConfigSnapshotPtr Change(const api::ConfigSnapshot& base,
                              const std::vector<api::ResourcePtr>& objects,
                              const std::vector<api::ObjectKey>& gone = {}) {
  auto out = std::make_shared<api::ConfigSnapshot>(base);
  out->resource_version = base.resource_version + 1;
  for (const auto& r : objects) out->objects[r->Key()] = r;
  for (const auto& k : gone) out->objects.erase(k);
  return out;
}

template <typename T>
std::shared_ptr<api::Resource> Copy(const api::ConfigSnapshot& s, api::Kind kind,
                                    const std::string& ns, const std::string& name, T** spec) {
  auto r = std::make_shared<api::Resource>(*s.Find(api::ObjectKey{kind, ns, name}));
  *spec = &std::get<T>(r->spec);
  return r;
}

std::vector<std::string> Addresses(const ClusterLoadAssignment& cla) {
  std::vector<std::string> out;
  for (const auto& group : cla.endpoints()) {
    for (const auto& e : group.lb_endpoints()) {
      out.push_back(e.endpoint().address().socket_address().address());
    }
  }
  return out;
}

template <typename T>
std::map<std::string, uint64_t> Hashes(const ResourceMap<T>& map) {
  std::map<std::string, uint64_t> out;
  for (const auto& [name, v] : map) out[name] = v.hash;
  return out;
}

constexpr char kReviews[] = "outbound|9080||reviews.shop.svc.cluster.local";
constexpr char kReviewsV1[] = "outbound|9080|v1|reviews.shop.svc.cluster.local";
constexpr char kReviewsV2[] = "outbound|9080|v2|reviews.shop.svc.cluster.local";
constexpr char kRatings[] = "outbound|9080||ratings.shop.svc.cluster.local";

TEST(RebuildEndpoints, ReusesEveryClusterAndRebuildsOnlyChangedLoadAssignments) {
  auto before = Sample().Build();
  CompiledMeshPtr previous = BuildMesh(before, {});
  previous->GrpcClusters();  // a proxyless client was served from it

  // A third reviews pod (v2, same service account) becomes ready.
  api::EndpointSlice* slice = nullptr;
  auto new_slice = Copy(*before, api::Kind::kEndpointSlice, "shop", "reviews-abcde", &slice);
  api::Endpoint e;
  e.addresses = {"10.0.0.9"};
  e.conditions.ready = true;
  e.target_ref = api::ObjectReference{"Pod", "shop", "reviews-v2-9"};
  slice->endpoints.push_back(e);
  api::Pod pod;
  pod.service_account_name = "bookinfo-reviews";
  pod.pod_ip = "10.0.0.9";
  auto new_pod = testing::MakeResource(api::Kind::kPod, "shop", "reviews-v2-9", pod,
                                       {{"app", "reviews"}, {"version", "v2"}});
  auto after = Change(*before, {new_slice, new_pod});

  std::string why;
  CompiledMeshPtr rebuilt = RebuildEndpoints(*previous, after, &why);
  ASSERT_NE(rebuilt, nullptr) << why;

  // Every cluster is the previous object, and so are the shared routes.
  ASSERT_EQ(rebuilt->clusters.size(), previous->clusters.size());
  for (const auto& [name, v] : previous->clusters) {
    EXPECT_EQ(rebuilt->clusters.at(name).resource.get(), v.resource.get()) << name;
  }
  for (const auto& [name, v] : previous->GrpcClusters()) {
    EXPECT_EQ(rebuilt->GrpcClusters().at(name).resource.get(), v.resource.get()) << name;
  }
  EXPECT_EQ(rebuilt->route_cache.get(), previous->route_cache.get());

  // The load assignments the new pod belongs to changed; the others are kept.
  EXPECT_THAT(Addresses(*rebuilt->endpoints.at(kReviewsV2).resource), Contains("10.0.0.9"));
  EXPECT_THAT(Addresses(*rebuilt->endpoints.at(kReviews).resource), Contains("10.0.0.9"));
  EXPECT_THAT(Addresses(*rebuilt->endpoints.at(kReviewsV1).resource), Not(Contains("10.0.0.9")));
  EXPECT_NE(rebuilt->endpoints.at(kReviewsV2).hash, previous->endpoints.at(kReviewsV2).hash);
  EXPECT_EQ(rebuilt->endpoints.at(kReviewsV1).resource.get(),
            previous->endpoints.at(kReviewsV1).resource.get());
  EXPECT_EQ(rebuilt->endpoints.at(kRatings).resource.get(),
            previous->endpoints.at(kRatings).resource.get());

  // And the result is exactly what a full compile gives, for a proxy too.
  CompiledMeshPtr full = BuildMesh(after, {});
  EXPECT_EQ(Hashes(rebuilt->endpoints), Hashes(full->endpoints));
  EXPECT_EQ(Hashes(rebuilt->clusters), Hashes(full->clusters));
  EXPECT_EQ(rebuilt->diagnostics, full->diagnostics);
  CompiledResources from_rebuilt = CompileForProxy(*rebuilt, Sidecar("shop", {{"app", "ratings"}}));
  CompiledResources from_full = CompileForProxy(*full, Sidecar("shop", {{"app", "ratings"}}));
  EXPECT_EQ(Hashes(from_rebuilt.listeners), Hashes(from_full.listeners));
  EXPECT_EQ(Hashes(from_rebuilt.routes), Hashes(from_full.routes));
  EXPECT_EQ(Hashes(from_rebuilt.clusters), Hashes(from_full.clusters));
  EXPECT_EQ(Hashes(from_rebuilt.endpoints), Hashes(from_full.endpoints));
}

TEST(RebuildEndpoints, APodRelabelledMovesBetweenSubsets) {
  auto before = Sample().Build();
  CompiledMeshPtr previous = BuildMesh(before, {});
  api::Pod* pod = nullptr;
  auto relabelled = Copy(*before, api::Kind::kPod, "shop", "reviews-v1-0", &pod);
  relabelled->metadata.labels["version"] = "v2";
  std::string ip = pod->pod_ip;
  auto after = Change(*before, {relabelled});

  std::string why;
  CompiledMeshPtr rebuilt = RebuildEndpoints(*previous, after, &why);
  ASSERT_NE(rebuilt, nullptr) << why;
  EXPECT_THAT(Addresses(*rebuilt->endpoints.at(kReviewsV1).resource), IsEmpty());
  EXPECT_THAT(Addresses(*rebuilt->endpoints.at(kReviewsV2).resource), Contains(ip));
  EXPECT_EQ(rebuilt->endpoints.at(kReviews).resource.get(),
            previous->endpoints.at(kReviews).resource.get());
  EXPECT_EQ(Hashes(rebuilt->endpoints), Hashes(BuildMesh(after, {})->endpoints));
}

TEST(RebuildEndpoints, AnEndpointRemovedEmptiesItsLoadAssignment) {
  auto before = Sample().Build();
  CompiledMeshPtr previous = BuildMesh(before, {});
  auto after =
      Change(*before, {}, {api::ObjectKey{api::Kind::kEndpointSlice, "shop", "ratings-abcde"}});
  CompiledMeshPtr rebuilt = RebuildEndpoints(*previous, after);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_THAT(Addresses(*rebuilt->endpoints.at(kRatings).resource), IsEmpty());
  EXPECT_EQ(rebuilt->clusters.at(kRatings).resource.get(),
            previous->clusters.at(kRatings).resource.get());
}

struct Refusal {
  std::string name;
  std::function<api::ConfigSnapshotPtr(const api::ConfigSnapshot&)> change;
  std::string why;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const Refusal& c, std::ostream* os) { *os << c.name; }

class RebuildEndpointsRefuses : public ::testing::TestWithParam<Refusal> {};

TEST_P(RebuildEndpointsRefuses, WhenMoreThanEndpointsChanged) {
  auto before = Sample().Build();
  CompiledMeshPtr previous = BuildMesh(before, {});
  auto after = GetParam().change(*before);
  std::string why;
  EXPECT_EQ(RebuildEndpoints(*previous, after, &why), nullptr);
  EXPECT_THAT(why, HasSubstr(GetParam().why));
  // The full compile remains the answer.
  EXPECT_NE(BuildMesh(after, {}), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Changes, RebuildEndpointsRefuses,
    ::testing::Values(
        Refusal{"ServiceChanged",
                [](const api::ConfigSnapshot& s) {
                  api::Service* svc = nullptr;
                  auto r = Copy(s, api::Kind::kService, "shop", "ratings", &svc);
                  svc->ports.push_back(HttpPort(9443, 9443, "http-alt"));
                  return Change(s, {r});
                },
                "ratings.shop.svc.cluster.local: its Service or ServiceEntry changed"},
        Refusal{"ServiceAdded",
                [](const api::ConfigSnapshot& s) {
                  api::Service svc;
                  svc.ports = {HttpPort(80, 8080)};
                  return Change(s,
                                {testing::MakeResource(api::Kind::kService, "shop", "new", svc)});
                },
                "the set of services changed"},
        Refusal{"DestinationRuleChanged",
                [](const api::ConfigSnapshot& s) {
                  api::DestinationRule* dr = nullptr;
                  auto r = Copy(s, api::Kind::kDestinationRule, "shop", "reviews", &dr);
                  dr->subsets.pop_back();
                  return Change(s, {r});
                },
                "its DestinationRule changed"},
        Refusal{"VirtualServiceChanged",
                [](const api::ConfigSnapshot& s) {
                  api::VirtualService* vs = nullptr;
                  auto r = Copy(s, api::Kind::kVirtualService, "shop", "reviews", &vs);
                  vs->http[0].timeout = absl::Seconds(3);
                  return Change(s, {r});
                },
                "VirtualServices changed"},
        Refusal{"ServiceAccountChanged",
                [](const api::ConfigSnapshot& s) {
                  // ISTIO_MUTUAL clusters name the service accounts they trust.
                  api::Pod* pod = nullptr;
                  auto r = Copy(s, api::Kind::kPod, "shop", "reviews-v1-0", &pod);
                  pod->service_account_name = "someone-else";
                  return Change(s, {r});
                },
                "its service accounts changed"}),
    [](const ::testing::TestParamInfo<Refusal>& info) { return info.param.name; });

TEST(RebuildEndpoints, NamedTargetPortsFollowContainerPortChanges) {
  MeshBuilder builder;
  api::ServicePort port = HttpPort(80, 0);
  port.target_port_number.reset();
  port.target_port_name = "web";
  builder.AddService("shop", "web", {port});
  auto before = builder.Build();
  CompiledMeshPtr previous = BuildMesh(before, {});
  api::Pod* pod = nullptr;
  auto r = Copy(*before, api::Kind::kPod, "shop", "web-v1-0", &pod);
  pod->container_ports = {api::ContainerPort{"web", 8081, "TCP"}};
  std::string why;
  EXPECT_EQ(RebuildEndpoints(*previous, Change(*before, {r}), &why), nullptr);
  EXPECT_THAT(why, HasSubstr("container ports"));
}

}  // namespace
}  // namespace meshgate::compiler
