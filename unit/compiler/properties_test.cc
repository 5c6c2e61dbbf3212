// Whole-output properties: determinism, sharing between proxies, hashes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT

template <typename T>
std::string Serialize(const ResourceMap<T>& map) {
  std::string out;
  for (const auto& [name, v] : map) {
    out += name;
    out += '\0';
    std::string bytes;
    EXPECT_TRUE(v.resource->SerializeToString(&bytes));
    out += bytes;
    out += std::to_string(v.hash);
  }
  return out;
}

std::string SerializeAll(const CompiledResources& r) {
  std::string out =
      Serialize(r.listeners) + Serialize(r.routes) + Serialize(r.clusters) + Serialize(r.endpoints);
  for (const auto& d : r.diagnostics) out += d.ToString();
  return out;
}

MeshBuilder SampleMesh() {
  MeshBuilder mesh;
  for (int i = 0; i < 20; ++i) {
    std::string name = "svc" + std::to_string(i);
    mesh.AddService(i % 2 ? "alpha" : "beta", name,
                    {HttpPort(8080, 8080), HttpPort(9090, 9090, "grpc")}, {"v1", "v2", "v1"});
    api::DestinationRule dr;
    dr.host = name;
    dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
    mesh.Add(api::Kind::kDestinationRule, i % 2 ? "alpha" : "beta", name, dr);
    api::VirtualService vs;
    vs.hosts = {name};
    api::HTTPRoute r1;
    r1.match = {{.headers = {{"end-user", Exact("jason")}}}};
    r1.route = {To(name, "v2")};
    api::HTTPRoute r2;
    r2.route = {To(name, "v1", 70), To(name, "v2", 30)};
    vs.http = {r1, r2};
    mesh.Add(api::Kind::kVirtualService, i % 2 ? "alpha" : "beta", name, vs);
  }
  return mesh;
}

TEST(Properties, CompilingTwiceGivesIdenticalBytes) {
  auto snapshot = SampleMesh().Build();
  auto a = Compile(snapshot, Sidecar("alpha"));
  auto b = Compile(snapshot, Sidecar("alpha"));
  EXPECT_EQ(SerializeAll(a), SerializeAll(b));
  EXPECT_GT(a.clusters.size(), 60u);
}

TEST(Properties, InputOrderDoesNotMatter) {
  MeshBuilder ordered = SampleMesh();
  MeshBuilder shuffled = SampleMesh();
  std::mt19937 rng(42);
  // Shuffle the objects and, inside every EndpointSlice, its endpoints.
  for (auto& r : shuffled.objects()) {
    if (r->kind != api::Kind::kEndpointSlice) continue;
    auto copy = std::make_shared<api::Resource>(*r);
    auto& slice = std::get<api::EndpointSlice>(copy->spec);
    std::shuffle(slice.endpoints.begin(), slice.endpoints.end(), rng);
    r = copy;
  }
  std::shuffle(shuffled.objects().begin(), shuffled.objects().end(), rng);
  auto a = Compile(ordered.Build(), Sidecar("beta"));
  auto b = Compile(shuffled.Build(), Sidecar("beta"));
  EXPECT_EQ(SerializeAll(a), SerializeAll(b));
}

TEST(Properties, ProxiesShareMeshResources) {
  auto mesh = BuildMesh(SampleMesh().Build(), {});
  auto results = CompileForProxies(*mesh, {Sidecar("alpha", {{"app", "svc1"}}),
                                           Sidecar("alpha", {{"app", "svc3"}}), Sidecar("beta")});
  const std::string cluster = "outbound|8080|v1|svc1.alpha.svc.cluster.local";
  EXPECT_EQ(results[0].clusters.at(cluster).resource.get(),
            results[1].clusters.at(cluster).resource.get());
  EXPECT_EQ(results[0].clusters.at(cluster).resource.get(),
            mesh->clusters.at(cluster).resource.get());
  EXPECT_EQ(results[0].endpoints.at(cluster).resource.get(),
            results[2].endpoints.at(cluster).resource.get());
  // Same namespace, no label-dependent route: one route configuration.
  EXPECT_EQ(results[0].routes.at("8080").resource.get(),
            results[1].routes.at("8080").resource.get());
  // Another namespace sees other short names: another route configuration.
  EXPECT_NE(results[0].routes.at("8080").hash, results[2].routes.at("8080").hash);
}

TEST(Properties, HashFollowsContent) {
  auto mesh = BuildMesh(SampleMesh().Build(), {});
  const auto& a = mesh->clusters.at("outbound|8080|v1|svc1.alpha.svc.cluster.local");
  const auto& b = mesh->clusters.at("outbound|8080|v2|svc1.alpha.svc.cluster.local");
  EXPECT_EQ(a.hash, ContentHash(*a.resource));
  EXPECT_NE(a.hash, b.hash);
  Cluster copy = *a.resource;
  EXPECT_EQ(ContentHash(copy), a.hash);
  copy.mutable_connect_timeout()->set_seconds(11);
  EXPECT_NE(ContentHash(copy), a.hash);
}

}  // namespace
}  // namespace meshgate::compiler
