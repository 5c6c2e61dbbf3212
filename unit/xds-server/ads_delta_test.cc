// Incremental (delta) ADS over real in-process gRPC.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/xds-server/xds_test_util.h"

namespace meshgate::xds::testing {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kCds(kClusterType);
const std::string kEds(kEndpointType);
const std::string kLds(kListenerType);
const std::string kRds(kRouteType);

DeltaDiscoveryRequest Subscribe(const std::string& type, const std::vector<std::string>& names) {
  DeltaDiscoveryRequest req;
  req.set_type_url(type);
  for (const auto& n : names) req.add_resource_names_subscribe(n);
  return req;
}

std::string VersionIn(const DeltaDiscoveryResponse& r, const std::string& name) {
  for (const auto& res : r.resources()) {
    if (res.name() == name) return res.version();
  }
  return "";
}

TEST(AdsDelta, WildcardGetsEverythingWithPerResourceVersions) {
  XdsHarness h;
  SnapshotPtr snap = BasicSnapshot({"a", "b"});
  ASSERT_TRUE(h.cache.SetSnapshot("n1", snap).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kCds, {})));
  auto r = c.Read();
  EXPECT_EQ(r.type_url(), kCds);
  EXPECT_FALSE(r.nonce().empty());
  EXPECT_THAT(NamesOf(r), UnorderedElementsAre("a", "b"));
  EXPECT_EQ(VersionIn(r, "a"), snap->Find(kCds, "a")->version);
  EXPECT_EQ(VersionIn(r, "b"), snap->Find(kCds, "b")->version);
  EXPECT_THAT(r.removed_resources(), IsEmpty());

  // "*" subscribes to everything as well.
  DeltaClient star(h, "n2");
  ASSERT_TRUE(h.cache.SetSnapshot("n2", snap).ok());
  ASSERT_TRUE(star.Send(Subscribe(kLds, {"*"})));
  EXPECT_THAT(NamesOf(star.Read()), ElementsAre("listener-0"));
}

TEST(AdsDelta, OnlyChangedResourcesAreSent) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kEds, {"a", "b"})));
  auto r1 = c.Read();
  EXPECT_THAT(NamesOf(r1), UnorderedElementsAre("a", "b"));
  ASSERT_TRUE(c.Ack(r1));
  Snapshot::Builder b;
  b.Add(R("a", EdsCluster("a"))).Add(R("a", Endpoints("a", 8000)));
  b.Add(R("b", EdsCluster("b"))).Add(R("b", Endpoints("b", 9999)));
  b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15001)));
  b.Add(R("routes-0", Routes("routes-0", "a")));
  ASSERT_TRUE(h.cache.SetSnapshot("n1", b.Build()).ok());
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), ElementsAre("b"));
  EXPECT_NE(VersionIn(r2, "b"), VersionIn(r1, "b"));
  ASSERT_TRUE(c.Ack(r2));
  // Nothing else was queued: the next response answers a new subscription.
  ASSERT_TRUE(c.Send(Subscribe(kRds, {"routes-0"})));
  EXPECT_EQ(c.Read().type_url(), kRds);
}

TEST(AdsDelta, RemovedClustersAreReportedLast) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kCds, {})));
  ASSERT_TRUE(c.Ack(c.Read()));
  ASSERT_TRUE(c.Send(Subscribe(kRds, {"routes-0"})));
  ASSERT_TRUE(c.Ack(c.Read()));
  // "b" goes away and the route moves from "a" to "c".
  Snapshot::Builder b;
  b.Add(R("a", EdsCluster("a"))).Add(R("a", Endpoints("a", 8000)));
  b.Add(R("c", EdsCluster("c"))).Add(R("c", Endpoints("c", 8002)));
  b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15001)));
  b.Add(R("routes-0", Routes("routes-0", "c")));
  ASSERT_TRUE(h.cache.SetSnapshot("n1", b.Build()).ok());
  auto add = c.Read();
  EXPECT_EQ(add.type_url(), kCds);
  EXPECT_THAT(NamesOf(add), ElementsAre("c"));
  EXPECT_THAT(add.removed_resources(), IsEmpty());
  auto routes = c.Read();
  EXPECT_EQ(routes.type_url(), kRds);
  auto removal = c.Read();
  EXPECT_EQ(removal.type_url(), kCds);
  EXPECT_THAT(NamesOf(removal), IsEmpty());
  EXPECT_THAT(removal.removed_resources(), ElementsAre("b"));
}

TEST(AdsDelta, ReconnectSendsOnlyWhatTheProxyLacks) {
  XdsHarness h;
  SnapshotPtr snap = BasicSnapshot({"a", "b"});
  ASSERT_TRUE(h.cache.SetSnapshot("n1", snap).ok());
  DeltaClient c(h, "n1");
  auto req = Subscribe(kCds, {});
  (*req.mutable_initial_resource_versions())["a"] = snap->Find(kCds, "a")->version;
  (*req.mutable_initial_resource_versions())["b"] = "stale-version";
  (*req.mutable_initial_resource_versions())["gone"] = "whatever";
  ASSERT_TRUE(c.Send(req));
  auto r = c.Read();
  EXPECT_THAT(NamesOf(r), ElementsAre("b"));
  // Clusters are removed in a last step, after the additions.
  auto removal = c.Read();
  EXPECT_THAT(NamesOf(removal), ::testing::IsEmpty());
  EXPECT_THAT(removal.removed_resources(), ElementsAre("gone"));
  // The same holds for listeners, in one response.
  auto lds = Subscribe(kLds, {});
  (*lds.mutable_initial_resource_versions())["listener-0"] =
      snap->Find(kLds, "listener-0")->version;
  (*lds.mutable_initial_resource_versions())["old-listener"] = "v0";
  ASSERT_TRUE(c.Send(lds));
  auto l = c.Read();
  EXPECT_EQ(l.type_url(), kLds);
  EXPECT_THAT(NamesOf(l), ::testing::IsEmpty());
  EXPECT_THAT(l.removed_resources(), ElementsAre("old-listener"));
}

TEST(AdsDelta, NamedResourcesThatDoNotExistAreReportedRemoved) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kEds, {"a", "nope"})));
  auto r = c.Read();
  EXPECT_THAT(NamesOf(r), ElementsAre("a"));
  EXPECT_THAT(r.removed_resources(), ElementsAre("nope"));
  ASSERT_TRUE(c.Ack(r));
  // Once it exists, it is sent.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "nope"})).ok());
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), ElementsAre("nope"));
  EXPECT_THAT(r2.removed_resources(), IsEmpty());
}

TEST(AdsDelta, SubscribeAndUnsubscribeMidStream) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b", "c"})).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kEds, {"a"})));
  auto r1 = c.Read();
  EXPECT_THAT(NamesOf(r1), ElementsAre("a"));
  auto more = Subscribe(kEds, {"b"});
  more.add_resource_names_unsubscribe("a");
  more.set_response_nonce(r1.nonce());
  ASSERT_TRUE(c.Send(more));
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), ElementsAre("b"));
  EXPECT_THAT(r2.removed_resources(), IsEmpty());
  ASSERT_TRUE(c.Ack(r2));
  // "a" changes; the proxy no longer cares. "b" changes; it does.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b", "c"}, "", 7000)).ok());
  auto r3 = c.Read();
  EXPECT_THAT(NamesOf(r3), ElementsAre("b"));
}

TEST(AdsDelta, NackIsRecordedAndTheNextDifferentVersionIsSent) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kEds, {"a"})));
  auto r1 = c.Read();
  DeltaDiscoveryRequest nack;
  nack.set_type_url(kEds);
  nack.set_response_nonce(r1.nonce());
  nack.mutable_error_detail()->set_message("endpoint a: bad port");
  ASSERT_TRUE(c.Send(nack));
  ASSERT_TRUE(c.Send(Subscribe(kLds, {})));  // answered after the NACK was handled
  ASSERT_EQ(c.Read().type_url(), kLds);
  // Same content again: not resent. A different one is.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"}, "", 8100)).ok());
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), ElementsAre("a"));
  EXPECT_NE(VersionIn(r2, "a"), VersionIn(r1, "a"));
  bool found = false;
  for (const auto& p : h.tracker.Proxies()) {
    auto it = p.types.find(kEds);
    if (p.node_id != "n1" || it == p.types.end()) continue;
    ASSERT_TRUE(it->second.last_nack.has_value());
    EXPECT_EQ(it->second.last_nack->message, "endpoint a: bad port");
    found = true;
  }
  EXPECT_TRUE(found);
  EXPECT_THAT(h.metrics.TextExposition(),
              HasSubstr("meshgate_xds_nacks_total{type=\"ClusterLoadAssignment\"} 1"));
}

TEST(AdsDelta, StaleNonceAckOrNackIsIgnored) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  DeltaClient c(h, "n1");
  ASSERT_TRUE(c.Send(Subscribe(kEds, {"a"})));
  auto r1 = c.Read();
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"}, "", 8100)).ok());
  auto r2 = c.Read();
  // A NACK of the superseded response does not count.
  DeltaDiscoveryRequest stale;
  stale.set_type_url(kEds);
  stale.set_response_nonce(r1.nonce());
  stale.mutable_error_detail()->set_message("late complaint");
  ASSERT_TRUE(c.Send(stale));
  ASSERT_TRUE(c.Ack(r2));
  // Prove both were handled: a new subscription answers after them.
  ASSERT_TRUE(c.Send(Subscribe(kLds, {})));
  EXPECT_EQ(c.Read().type_url(), kLds);
  for (const auto& p : h.tracker.Proxies()) {
    auto it = p.types.find(kEds);
    ASSERT_NE(it, p.types.end());
    EXPECT_FALSE(it->second.last_nack.has_value());
    EXPECT_EQ(it->second.nack_count, 0u);
    EXPECT_EQ(it->second.last_acked_version, it->second.last_version_sent);
  }
  EXPECT_EQ(
      h.metrics.GetCounter("meshgate_xds_nacks_total", "", {{"type", "ClusterLoadAssignment"}})
          ->Value(),
      0);
}

TEST(AdsDelta, NewStreamsAboveTheRateGetResourceExhausted) {
  AdsServerOptions options;
  options.max_new_streams_per_second = 1;
  options.new_stream_burst = 1;
  XdsHarness h(options);
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  DeltaClient first(h, "n1");
  ASSERT_TRUE(first.Send(Subscribe(kCds, {})));
  EXPECT_EQ(first.Read().type_url(), kCds);
  DeltaClient refused(h, "n1");
  refused.Send(Subscribe(kCds, {}));
  DeltaDiscoveryResponse r;
  EXPECT_FALSE(refused.stream->Read(&r));
  refused.closed = true;
  EXPECT_EQ(refused.stream->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace meshgate::xds::testing
