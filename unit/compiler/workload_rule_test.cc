// DestinationRules with a workloadSelector: they replace the host's mesh-wide
// rule for the proxies they select (same namespace, matching labels) and for
// no one else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

CompiledMeshPtr Mesh() {
  MeshBuilder mesh;
  mesh.AddService("shop", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2"});
  api::DestinationRule everyone;
  everyone.host = "reviews";
  everyone.subsets = {{"v1", {{"version", "v1"}}, {}}};
  mesh.Add(api::Kind::kDestinationRule, "shop", "reviews", everyone);
  api::DestinationRule batch;
  batch.host = "reviews.shop.svc.cluster.local";
  batch.workload_selector = api::WorkloadSelector{{{"app", "batch"}}};
  batch.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
  api::TrafficPolicy policy;
  policy.load_balancer = api::LoadBalancerSettings{};
  policy.load_balancer->simple = api::LoadBalancerSettings::Simple::kRoundRobin;
  batch.traffic_policy = policy;
  mesh.Add(api::Kind::kDestinationRule, "shop", "reviews-for-batch", batch);
  return BuildMesh(mesh.Build(), {});
}

// "name:LB_POLICY" of the reviews clusters, and the names of their CLAs.
std::vector<std::string> ReviewsClusters(const CompiledResources& out) {
  std::vector<std::string> names;
  for (const auto& [name, c] : out.clusters) {
    if (name.find("reviews") == std::string::npos) continue;
    names.push_back(name + ":" + Cluster::LbPolicy_Name(c.resource->lb_policy()));
    EXPECT_EQ(out.endpoints.count(name), 1u) << name;
  }
  return names;
}

TEST(WorkloadRules, ApplyToTheWorkloadsTheySelect) {
  CompiledMeshPtr mesh = Mesh();
  EXPECT_THAT(mesh->diagnostics, IsEmpty());
  EXPECT_THAT(ReviewsClusters(CompileForProxy(*mesh, Sidecar("shop", {{"app", "batch"}}))),
              UnorderedElementsAre("outbound|9080||reviews.shop.svc.cluster.local:ROUND_ROBIN",
                                   "outbound|9080|v1|reviews.shop.svc.cluster.local:ROUND_ROBIN",
                                   "outbound|9080|v2|reviews.shop.svc.cluster.local:ROUND_ROBIN"));
}

TEST(WorkloadRules, OtherWorkloadsKeepTheMeshWideRule) {
  CompiledMeshPtr mesh = Mesh();
  for (const auto& target :
       {Sidecar("shop", {{"app", "web"}}), Sidecar("web", {{"app", "batch"}})}) {
    EXPECT_THAT(
        ReviewsClusters(CompileForProxy(*mesh, target)),
        UnorderedElementsAre("outbound|9080||reviews.shop.svc.cluster.local:LEAST_REQUEST",
                             "outbound|9080|v1|reviews.shop.svc.cluster.local:LEAST_REQUEST"))
        << target.namespace_;
  }
  // The mesh's own clusters are untouched by a proxy that had them replaced.
  CompileForProxy(*mesh, Sidecar("shop", {{"app", "batch"}}));
  EXPECT_EQ(mesh->clusters.count("outbound|9080|v2|reviews.shop.svc.cluster.local"), 0u);
}

}  // namespace
}  // namespace meshgate::compiler
