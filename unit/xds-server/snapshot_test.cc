// Resources, snapshots and the cache: hashing, sharing, consistency, watches.
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/xds-server/xds_test_util.h"

namespace meshgate::xds::testing {
namespace {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using ::testing::HasSubstr;

TEST(Resource, VersionIsAStableHashOfTheContent) {
  auto a1 = R("a", EdsCluster("a"));
  auto a2 = R("a", EdsCluster("a"));
  EXPECT_EQ(a1->hash, a2->hash);
  EXPECT_EQ(a1->version, a2->version);
  EXPECT_EQ(a1->version.size(), 16u);
  auto changed = EdsCluster("a");
  changed.mutable_connect_timeout()->set_seconds(2);
  EXPECT_NE(R("a", changed)->version, a1->version);
  EXPECT_EQ(a1->type_url, kClusterType);
  // Stable across processes: a fixed input has a fixed hash.
  EXPECT_EQ(StableHash64("meshgate"), StableHash64("meshgate"));
  EXPECT_NE(StableHash64("meshgate"), StableHash64("meshgatf"));
}

TEST(Resource, DependenciesAreFound) {
  auto cluster = EdsCluster("a");
  cluster.mutable_eds_cluster_config()->set_service_name("a-svc");
  auto r = R("a", cluster);
  EXPECT_EQ(r->dependency_type, kEndpointType);
  EXPECT_THAT(r->dependencies, ::testing::ElementsAre("a-svc"));
  auto l = R("l", HttpListener("l", "routes-x", 80));
  EXPECT_EQ(l->dependency_type, kRouteType);
  EXPECT_THAT(l->dependencies, ::testing::ElementsAre("routes-x"));
}

TEST(Resource, InternerSharesIdenticalResources) {
  ResourceInterner interner;
  auto a = interner.Intern("a", EdsCluster("a"));
  auto b = interner.Intern("a", EdsCluster("a"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());  // same object, not just equal
  auto other = EdsCluster("a");
  other.mutable_connect_timeout()->set_seconds(9);
  auto c = interner.Intern("a", other);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->get(), c->get());
  EXPECT_EQ(interner.LiveCount(), 2u);
  c->reset();
  EXPECT_EQ(interner.LiveCount(), 1u);  // weak references: unused ones are freed
}

TEST(Resource, InternerTrustsACallersContentHash) {
  ResourceInterner interner;
  auto a = interner.Intern("a", EdsCluster("a"), 42);
  ASSERT_TRUE(a.ok());
  // Same name and content hash: the known resource, without looking at the
  // message (which is why the caller's hash must really follow the content).
  auto other = EdsCluster("a");
  other.mutable_connect_timeout()->set_seconds(9);
  auto b = interner.Intern("a", other, 42);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());
  // Another hash is another content; identical content still shares.
  auto c = interner.Intern("a", other, 43);
  auto d = interner.Intern("a", EdsCluster("a"), 44);
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_NE(c->get(), a->get());
  EXPECT_EQ(d->get(), a->get());
  EXPECT_EQ(interner.LiveCount(), 2u);
}

TEST(Resource, SharedResourceIsServedToProxiesOfDifferentGroups) {
  XdsHarness h;
  ResourceInterner interner;
  auto build = [&](const std::string& route_tag) {
    Snapshot::Builder b;
    b.Add(*interner.Intern("a", EdsCluster("a"))).Add(*interner.Intern("a", Endpoints("a", 1)));
    b.Add(*interner.Intern("listener-0", HttpListener("listener-0", "routes-0", 80)));
    b.Add(*interner.Intern("routes-0", Routes("routes-0", "a", route_tag)));
    return b.Build();
  };
  ASSERT_TRUE(h.cache.SetSnapshot("g1", build("one")).ok());
  ASSERT_TRUE(h.cache.SetSnapshot("g2", build("two")).ok());
  SotwClient c1(h, "g1");
  SotwClient c2(h, "g2");
  for (auto* c : {&c1, &c2}) {
    ASSERT_TRUE(c->Send(std::string(kClusterType), {}));
    c->Read();
  }
  auto proxies = h.tracker.Proxies();
  ASSERT_EQ(proxies.size(), 2u);
  const auto& r1 = proxies[0].types.at(std::string(kClusterType)).resources;
  const auto& r2 = proxies[1].types.at(std::string(kClusterType)).resources;
  ASSERT_EQ(r1.size(), 1u);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r1[0].get(), r2[0].get());
  EXPECT_NE(h.cache.GetSnapshot("g1").snapshot->Find(kRouteType, "routes-0").get(),
            h.cache.GetSnapshot("g2").snapshot->Find(kRouteType, "routes-0").get());
}

TEST(Snapshot, TypeVersionsFollowContent) {
  auto s1 = BasicSnapshot({"a", "b"});
  auto s2 = BasicSnapshot({"a", "b"});
  auto s3 = BasicSnapshot({"a", "b"}, "changed");
  EXPECT_EQ(s1->Version(kClusterType), s2->Version(kClusterType));
  EXPECT_EQ(s1->Version(kRouteType), s2->Version(kRouteType));
  EXPECT_EQ(s1->Version(kClusterType), s3->Version(kClusterType));
  EXPECT_NE(s1->Version(kRouteType), s3->Version(kRouteType));
  EXPECT_TRUE(s1->Version("type.googleapis.com/unknown").empty());
  EXPECT_EQ(s1->TypeUrls().front(), kClusterType);  // push order
}

TEST(Snapshot, MissingEndpointsAreRejected) {
  SnapshotCache cache;
  Snapshot::Builder b;
  b.Add(R("a", EdsCluster("a")));
  b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 80)));
  b.Add(R("routes-0", Routes("routes-0", "a")));
  auto s = cache.SetSnapshot("g", b.Build());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("cluster \"a\" needs ClusterLoadAssignment \"a\""));
  EXPECT_THAT(s.message(), HasSubstr("group \"g\""));
  EXPECT_EQ(cache.GetSnapshot("g").snapshot, nullptr);
}

TEST(Snapshot, MissingRoutesAreRejectedForEveryChainAndApiListener) {
  auto listener = HttpListener("l", "routes-0", 80);
  // A second filter chain and an API listener naming other route configurations.
  *listener.add_filter_chains() = HttpListener("x", "routes-chain2", 80).filter_chains(0);
  HttpConnectionManager hcm;
  hcm.set_stat_prefix("api");
  hcm.mutable_rds()->set_route_config_name("routes-api");
  auto api = HttpListener("api", "unused", 0);
  api.clear_filter_chains();
  api.clear_address();
  api.mutable_api_listener()->mutable_api_listener()->PackFrom(hcm);
  Snapshot::Builder b;
  b.Add(R("l", listener)).Add(R("api", api)).Add(R("routes-0", Routes("routes-0", "a")));
  absl::Status s = b.Build()->Consistent();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("listener \"l\" needs RouteConfiguration \"routes-chain2\""));
  EXPECT_THAT(s.message(), HasSubstr("listener \"api\" needs RouteConfiguration \"routes-api\""));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("\"routes-0\"")));
}

TEST(Snapshot, ListenerWithUnparsableManagerIsAnError) {
  envoy::config::listener::v3::Listener l;
  l.set_name("broken");
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("hcm");
  f->mutable_typed_config()->set_type_url(
      "type.googleapis.com/"
      "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  f->mutable_typed_config()->set_value("\xff\xff\xff");
  auto r = MakeResource("broken", l);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("listener broken.filter_chains[0].filters[0]"));
}

TEST(Snapshot, ConsistentSnapshotIsAcceptedAndWatchersAreNotified) {
  SnapshotCache cache;
  VersionedSnapshot current;
  std::vector<uint64_t> seen;
  auto id = cache.Watch(
      "g", [&](const VersionedSnapshot& vs) { seen.push_back(vs.generation); }, &current);
  EXPECT_EQ(current.snapshot, nullptr);
  ASSERT_TRUE(cache.SetSnapshot("g", BasicSnapshot({"a"})).ok());
  ASSERT_TRUE(cache.SetSnapshot("other", BasicSnapshot({"a"})).ok());
  ASSERT_TRUE(cache.SetSnapshot("g", BasicSnapshot({"a", "b"})).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_LT(seen[0], seen[1]);
  cache.CancelWatch(id);
  ASSERT_TRUE(cache.SetSnapshot("g", BasicSnapshot({"a"})).ok());
  EXPECT_EQ(seen.size(), 2u);
  cache.ClearSnapshot("g");
  EXPECT_EQ(cache.GetSnapshot("g").snapshot, nullptr);
  EXPECT_EQ(cache.Groups(), std::vector<std::string>{"other"});
}

}  // namespace
}  // namespace meshgate::xds::testing
