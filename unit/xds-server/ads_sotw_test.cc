// State-of-the-world ADS over real in-process gRPC: one test per protocol rule.
#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/xds-server/xds_test_util.h"

namespace meshgate::xds::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const std::string kCds(kClusterType);
const std::string kEds(kEndpointType);
const std::string kLds(kListenerType);
const std::string kRds(kRouteType);
const std::string kSds(kSecretType);

TypeStatus StatusOf(XdsHarness& h, const std::string& node, const std::string& type) {
  for (const auto& p : h.tracker.Proxies()) {
    if (p.node_id == node) {
      auto it = p.types.find(type);
      if (it != p.types.end()) return it->second;
    }
  }
  ADD_FAILURE() << "no status for " << node << " " << type;
  return {};
}

TEST(AdsSotw, EveryResponseHasANonceAndAckIsRecorded) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kCds, {}));
  auto r1 = c.Read();
  EXPECT_EQ(r1.type_url(), kCds);
  EXPECT_FALSE(r1.nonce().empty());
  EXPECT_FALSE(r1.version_info().empty());
  EXPECT_THAT(NamesOf(r1), UnorderedElementsAre("a", "b"));
  ASSERT_TRUE(c.Ack(r1, {}));

  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b", "c"})).ok());
  auto r2 = c.Read();
  EXPECT_EQ(r2.type_url(), kCds);
  EXPECT_FALSE(r2.nonce().empty());
  EXPECT_NE(r2.nonce(), r1.nonce());
  EXPECT_NE(r2.version_info(), r1.version_info());
  ASSERT_TRUE(c.Ack(r2, {}));
  EXPECT_TRUE(c.Close().ok());
  // The ACK was processed before the server saw the half-close.
  // (The tracker forgets closed streams, so check through metrics instead.)
  EXPECT_THAT(h.metrics.TextExposition(),
              HasSubstr("meshgate_xds_pushes_total{type=\"Cluster\"} 2"));
}

TEST(AdsSotw, AckVersionIsTracked) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kCds, {}));
  auto r1 = c.Read();
  ASSERT_TRUE(c.Ack(r1, {}));
  // A subscription that produces a response proves the ACK before it was handled.
  ASSERT_TRUE(c.Send(kEds, {"a"}));
  auto e = c.Read();
  EXPECT_EQ(e.type_url(), kEds);
  TypeStatus s = StatusOf(h, "n1", kCds);
  EXPECT_EQ(s.last_version_sent, r1.version_info());
  EXPECT_EQ(s.last_acked_version, r1.version_info());
  EXPECT_EQ(s.last_nonce, r1.nonce());
  EXPECT_FALSE(s.last_nack.has_value());
}

TEST(AdsSotw, StaleNonceIsIgnored) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kEds, {"a"}));
  auto r1 = c.Read();
  EXPECT_THAT(NamesOf(r1), ElementsAre("a"));
  ASSERT_TRUE(c.Ack(r1, {"a"}));
  // Requests on a stream are handled in order: an answered later request
  // proves the ACK was handled.
  ASSERT_TRUE(c.Send(kLds, {}));
  ASSERT_EQ(c.Read().type_url(), kLds);
  // Endpoints of "a" change: a new response with a new nonce.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"}, "", 9000)).ok());
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), ElementsAre("a"));
  // A request carrying the superseded nonce would add "b" — it must be ignored.
  ASSERT_TRUE(c.Send(kEds, {"a", "b"}, r1.version_info(), r1.nonce()));
  ASSERT_TRUE(c.Ack(r2, {"a"}));
  ASSERT_TRUE(c.Send(kCds, {}));
  ASSERT_EQ(c.Read().type_url(), kCds);
  // The next change shows the subscription is still {a}.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"}, "", 9100)).ok());
  auto r3 = c.Read();
  EXPECT_EQ(r3.type_url(), kEds);
  EXPECT_THAT(NamesOf(r3), ElementsAre("a"));
  EXPECT_EQ(StatusOf(h, "n1", kEds).last_acked_version, r2.version_info());
}

TEST(AdsSotw, NackIsRecordedAndTheRejectedVersionIsNotResent) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kCds, {}));
  auto r1 = c.Read();
  ASSERT_TRUE(c.Ack(r1, {}));
  ASSERT_TRUE(c.Send(kLds, {}));  // answered after the ACK was handled
  ASSERT_EQ(c.Read().type_url(), kLds);

  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "bad"})).ok());
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), UnorderedElementsAre("a", "bad"));
  // NACK: version_info stays at the last accepted version.
  ASSERT_TRUE(c.Send(kCds, {}, r1.version_info(), r2.nonce(), "cluster bad: unsupported"));
  ASSERT_TRUE(c.Send(kRds, {"routes-0"}));  // answered after the NACK was handled
  ASSERT_EQ(c.Read().type_url(), kRds);
  // The same content again (a fresh snapshot object) must not be resent...
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "bad"})).ok());
  // ...the next different version is.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "good"})).ok());
  auto r3 = c.Read();
  EXPECT_EQ(r3.type_url(), kCds);
  EXPECT_THAT(NamesOf(r3), UnorderedElementsAre("a", "good"));
  EXPECT_NE(r3.version_info(), r2.version_info());

  TypeStatus s = StatusOf(h, "n1", kCds);
  ASSERT_TRUE(s.last_nack.has_value());
  EXPECT_EQ(s.last_nack->version, r2.version_info());
  EXPECT_EQ(s.last_nack->message, "cluster bad: unsupported");
  EXPECT_EQ(s.last_nack->time, h.clock.Now());
  EXPECT_EQ(s.nack_count, 1u);
  EXPECT_EQ(s.last_acked_version, r1.version_info());
  EXPECT_THAT(h.metrics.TextExposition(),
              HasSubstr("meshgate_xds_nacks_total{type=\"Cluster\"} 1"));
}

TEST(AdsSotw, WildcardByEmptyNamesAndByStar) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  SotwClient legacy(h, "n1");
  ASSERT_TRUE(legacy.Send(kCds, {}));
  EXPECT_THAT(NamesOf(legacy.Read()), UnorderedElementsAre("a", "b"));

  SotwClient star(h, "n1");
  ASSERT_TRUE(star.Send(kLds, {"*"}));
  EXPECT_THAT(NamesOf(star.Read()), ElementsAre("listener-0"));

  // Both stay wildcard: a new cluster reaches the legacy one.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b", "c"})).ok());
  EXPECT_THAT(NamesOf(legacy.Read()), UnorderedElementsAre("a", "b", "c"));
}

TEST(AdsSotw, NamedSubscriptionChangesMidStream) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b", "c"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kEds, {"a"}));
  auto r1 = c.Read();
  EXPECT_THAT(NamesOf(r1), ElementsAre("a"));
  // Adding a name: the response holds every requested name (SotW for EDS/RDS).
  ASSERT_TRUE(c.Send(kEds, {"a", "b"}, r1.version_info(), r1.nonce()));
  auto r2 = c.Read();
  EXPECT_THAT(NamesOf(r2), UnorderedElementsAre("a", "b"));
  // Switching names: only the requested ones.
  ASSERT_TRUE(c.Send(kEds, {"c"}, r2.version_info(), r2.nonce()));
  auto r3 = c.Read();
  EXPECT_THAT(NamesOf(r3), ElementsAre("c"));
  // Routes by name, too.
  ASSERT_TRUE(c.Send(kRds, {"routes-0"}));
  auto r4 = c.Read();
  EXPECT_EQ(r4.type_url(), kRds);
  EXPECT_THAT(NamesOf(r4), ElementsAre("routes-0"));
}

TEST(AdsSotw, NothingIsSentWhenTheProxysResourcesDidNotChange) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  SotwClient c(h, "n1");
  for (const auto& [type, names] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {kCds, {}}, {kEds, {"a"}}, {kLds, {}}, {kRds, {"routes-0"}}}) {
    ASSERT_TRUE(c.Send(type, names));
    auto r = c.Read();
    ASSERT_EQ(r.type_url(), type);
    ASSERT_TRUE(c.Ack(r, names));
  }
  // Identical content, rebuilt from scratch: nothing to send.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"})).ok());
  // Endpoints of "b" change, which this proxy did not subscribe to: nothing.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"}, "", 8000)).ok());
  {
    Snapshot::Builder b;
    b.Add(R("a", EdsCluster("a"))).Add(R("a", Endpoints("a", 8000)));
    b.Add(R("b", EdsCluster("b"))).Add(R("b", Endpoints("b", 7777)));
    b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15001)));
    b.Add(R("routes-0", Routes("routes-0", "a")));
    ASSERT_TRUE(h.cache.SetSnapshot("n1", b.Build()).ok());
  }
  // A route change is the first thing this proxy hears about.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a", "b"}, "v2")).ok());
  auto r = c.Read();
  EXPECT_EQ(r.type_url(), kRds);
  EXPECT_EQ(h.metrics.GetCounter("meshgate_xds_pushes_total", "", {{"type", "Cluster"}})->Value(),
            1);
  EXPECT_EQ(
      h.metrics.GetCounter("meshgate_xds_pushes_total", "", {{"type", "ClusterLoadAssignment"}})
          ->Value(),
      1);
}

TEST(AdsSotw, MultiTypeChangeIsPushedMakeBeforeBreak) {
  XdsHarness h;
  {
    Snapshot::Builder b;
    b.Add(R("old", EdsCluster("old"))).Add(R("old", Endpoints("old", 8000)));
    b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15001)));
    b.Add(R("routes-0", Routes("routes-0", "old")));
    b.Add(R("cert", GenericSecret("cert", "one")));
    ASSERT_TRUE(h.cache.SetSnapshot("n1", b.Build()).ok());
  }
  SotwClient c(h, "n1");
  const std::vector<std::pair<std::string, std::vector<std::string>>> subs = {
      {kSds, {"cert"}}, {kCds, {}}, {kEds, {"old"}}, {kLds, {}}, {kRds, {"routes-0"}}};
  for (const auto& [type, names] : subs) {
    ASSERT_TRUE(c.Send(type, names));
    auto r = c.Read();
    ASSERT_EQ(r.type_url(), type);
    ASSERT_TRUE(c.Ack(r, names));
  }
  // One snapshot moves traffic from "old" to "new" and touches every type.
  {
    Snapshot::Builder b;
    b.Add(R("new", EdsCluster("new"))).Add(R("new", Endpoints("new", 8001)));
    b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15002)));
    b.Add(R("routes-0", Routes("routes-0", "new")));
    b.Add(R("cert", GenericSecret("cert", "two")));
    ASSERT_TRUE(h.cache.SetSnapshot("n1", b.Build()).ok());
  }
  std::vector<envoy::service::discovery::v3::DiscoveryResponse> got;
  for (int i = 0; i < 6; ++i) got.push_back(c.Read());
  std::vector<std::string> order;
  for (const auto& r : got) order.push_back(r.type_url());
  EXPECT_THAT(order, ElementsAre(kSds, kCds, kEds, kLds, kRds, kCds));
  // The new cluster comes while the old one is still there...
  EXPECT_THAT(NamesOf(got[1]), UnorderedElementsAre("old", "new"));
  // ...and the old one goes only after routes stopped using it.
  EXPECT_THAT(NamesOf(got[5]), ElementsAre("new"));
  // The proxy then asks for the new cluster's endpoints: they are there.
  ASSERT_TRUE(c.Send(kEds, {"new"}, got[2].version_info(), got[2].nonce()));
  auto eds = c.Read();
  EXPECT_EQ(eds.type_url(), kEds);
  EXPECT_THAT(NamesOf(eds), ElementsAre("new"));
}

TEST(AdsSotw, ChangedClusterGetsItsEndpointsAgain) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "n1");
  for (const auto& [type, names] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{kCds, {}}, {kEds, {"a"}}}) {
    ASSERT_TRUE(c.Send(type, names));
    auto r = c.Read();
    ASSERT_TRUE(c.Ack(r, names));
  }
  // Only the cluster changes; Envoy re-warms it and needs its endpoints again.
  Snapshot::Builder b;
  auto cluster = EdsCluster("a");
  cluster.mutable_connect_timeout()->set_seconds(5);
  b.Add(R("a", cluster)).Add(R("a", Endpoints("a", 8000)));
  b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15001)));
  b.Add(R("routes-0", Routes("routes-0", "a")));
  ASSERT_TRUE(h.cache.SetSnapshot("n1", b.Build()).ok());
  EXPECT_EQ(c.Read().type_url(), kCds);
  auto eds = c.Read();
  EXPECT_EQ(eds.type_url(), kEds);
  EXPECT_THAT(NamesOf(eds), ElementsAre("a"));
}

TEST(AdsSotw, ReconnectWithCurrentVersionGetsNothingNew) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  std::string version;
  {
    SotwClient c(h, "n1");
    ASSERT_TRUE(c.Send(kCds, {}));
    version = c.Read().version_info();
    EXPECT_TRUE(c.Close().ok());
  }
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kCds, {}, version));
  ASSERT_TRUE(c.Send(kLds, {}));
  // The first response is LDS: CDS at the proxy's version was not resent.
  EXPECT_EQ(c.Read().type_url(), kLds);
}

TEST(AdsSotw, NewStreamsAboveTheRateGetResourceExhausted) {
  AdsServerOptions options;
  options.max_new_streams_per_second = 1;
  options.new_stream_burst = 2;
  XdsHarness h(options);
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  std::vector<std::unique_ptr<SotwClient>> ok;
  for (int i = 0; i < 2; ++i) {
    ok.push_back(std::make_unique<SotwClient>(h, "n1"));
    ASSERT_TRUE(ok.back()->Send(kCds, {}));
    EXPECT_EQ(ok.back()->Read().type_url(), kCds);
  }
  SotwClient refused(h, "n1");
  refused.Send(kCds, {});
  envoy::service::discovery::v3::DiscoveryResponse r;
  EXPECT_FALSE(refused.stream->Read(&r));
  grpc::Status s = refused.stream->Finish();
  refused.closed = true;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(h.metrics.TextExposition(), HasSubstr("meshgate_xds_streams_rejected_total 1"));

  // One second later the bucket has a token again.
  h.clock.Advance(absl::Seconds(1));
  SotwClient later(h, "n1");
  ASSERT_TRUE(later.Send(kCds, {}));
  EXPECT_EQ(later.Read().type_url(), kCds);
}

TEST(AdsSotw, FirstRequestWithoutNodeIsRejected) {
  XdsHarness h;
  auto stub = h.NewStub();
  grpc::ClientContext ctx;
  auto stream = stub->StreamAggregatedResources(&ctx);
  envoy::service::discovery::v3::DiscoveryRequest req;
  req.set_type_url(kCds);
  stream->Write(req);
  envoy::service::discovery::v3::DiscoveryResponse r;
  EXPECT_FALSE(stream->Read(&r));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("node.id"));
}

TEST(AdsSotw, ProxiesAreGroupedByMetadata) {
  XdsHarness h({}, MetadataHasher({"role"}));
  ASSERT_TRUE(h.cache.SetSnapshot("sidecar", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "any-node-id");  // TestNode sets role=sidecar
  ASSERT_TRUE(c.Send(kCds, {}));
  EXPECT_THAT(NamesOf(c.Read()), ElementsAre("a"));
  auto proxies = h.tracker.Proxies();
  ASSERT_EQ(proxies.size(), 1u);
  EXPECT_EQ(proxies[0].group, "sidecar");
}

}  // namespace
}  // namespace meshgate::xds::testing
