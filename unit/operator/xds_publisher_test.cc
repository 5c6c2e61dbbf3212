// XdsPublisher end to end in one process: a real ConfigStore, the publisher's
// debounce loop on a ManualClock, the SnapshotCache and the ADS server on a
// loopback gRPC port, and a SotW client subscribed the way Envoy subscribes.
// The EDS fast path: an endpoint change reaches the proxy as EDS alone,
// without a full compile; other changes still compile in full.
#include "operator/xds_publisher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "unit/xds-server/xds_test_util.h"

namespace meshgate::operator_ {
namespace {

using envoy::service::discovery::v3::DiscoveryResponse;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using xds::testing::SotwClient;
using xds::testing::XdsHarness;

api::ResourcePtr Object(api::Kind kind, const std::string& name, api::Spec spec,
                        api::Labels labels = {}) {
  auto r = std::make_shared<api::Resource>();
  r->kind = kind;
  r->metadata.namespace_ = "default";
  r->metadata.name = name;
  r->metadata.labels = std::move(labels);
  r->spec = std::move(spec);
  return r;
}

api::ResourcePtr Pod(const std::string& name, const std::string& ip, const std::string& version) {
  api::Pod pod;
  pod.pod_ip = ip;
  pod.service_account_name = "reviews";
  return Object(api::Kind::kPod, name, pod, {{"app", "reviews"}, {"version", version}});
}

api::ResourcePtr Slice(const std::vector<std::pair<std::string, std::string>>& pods) {
  api::EndpointSlice slice;
  slice.service_name = "reviews";
  slice.ports = {api::EndpointPort{"http", "TCP", "", 9080}};
  for (const auto& [pod, ip] : pods) {
    api::Endpoint e;
    e.addresses = {ip};
    e.conditions.ready = true;
    e.target_ref = api::ObjectReference{"Pod", "default", pod};
    slice.endpoints.push_back(e);
  }
  return Object(api::Kind::kEndpointSlice, "reviews-x", slice);
}

api::ResourcePtr Rule(int subsets) {
  api::DestinationRule dr;
  dr.host = "reviews";
  dr.subsets = {{"v1", {{"version", "v1"}}, {}}};
  if (subsets > 1) dr.subsets.push_back({"v2", {{"version", "v2"}}, {}});
  return Object(api::Kind::kDestinationRule, "reviews", dr);
}

std::vector<api::ResourcePtr> InitialObjects() {
  api::Service svc;
  svc.selector = {{"app", "reviews"}};
  svc.cluster_ip = "172.16.0.10";
  api::ServicePort port;
  port.name = "http";
  port.port = 9080;
  port.target_port_number = 9080;
  svc.ports = {port};
  return {Object(api::Kind::kService, "reviews", svc), Pod("reviews-1", "10.0.0.1", "v1"),
          Slice({{"reviews-1", "10.0.0.1"}}), Rule(1)};
}

std::vector<std::string> Addresses(const DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) {
    compiler::ClusterLoadAssignment cla;
    EXPECT_TRUE(any.UnpackTo(&cla));
    for (const auto& group : cla.endpoints()) {
      for (const auto& e : group.lb_endpoints()) {
        out.push_back(cla.cluster_name() + "=" + e.endpoint().address().socket_address().address());
      }
    }
  }
  return out;
}

class XdsPublisherTest : public ::testing::Test {
 protected:
  XdsPublisherTest()
      : publisher_(store_, clock_, metrics_, Options()), harness_({}, publisher_.GroupHasher()) {
    store_.Apply({OriginUpdate{"test", InitialObjects(), {}, std::nullopt}});
    publisher_.AttachCache(&harness_.cache);
    publisher_.Start();
  }
  ~XdsPublisherTest() override { publisher_.Stop(); }

  static XdsPublisherOptions Options() {
    XdsPublisherOptions options;
    // The loop waits the quiet period in real time, then polls on clock_.
    options.debounce.quiet = absl::Milliseconds(1);
    options.debounce.max_delay = absl::Seconds(1);
    return options;
  }

  // Applies a change and lets the debouncer release it.
  void Change(std::vector<api::ResourcePtr> upserts) {
    store_.Apply({OriginUpdate{"test", std::move(upserts), {}, std::nullopt}});
    clock_.Advance(absl::Milliseconds(50));
  }

  double Pushes(const std::string& type) {
    return harness_.metrics
        .GetCounter("meshgate_xds_pushes_total", "Responses sent, by type.", {{"type", type}})
        ->Value();
  }
  double Counter(const std::string& name) { return metrics_.GetCounter(name, "")->Value(); }

  // Subscribes like Envoy: CDS and LDS wildcard, then the EDS and RDS names
  // they reference; every response ACKed.
  void Subscribe(SotwClient& client) {
    client.Send(xds::kClusterType.data(), {});
    DiscoveryResponse cds = client.Read();
    ASSERT_EQ(cds.type_url(), xds::kClusterType);
    client.Ack(cds, {});
    eds_names_ = xds::testing::NamesOf(cds);
    eds_names_.erase(std::remove(eds_names_.begin(), eds_names_.end(), "PassthroughCluster"),
                     eds_names_.end());
    client.Send(xds::kEndpointType.data(), eds_names_);
    DiscoveryResponse eds = client.Read();
    ASSERT_EQ(eds.type_url(), xds::kEndpointType);
    client.Ack(eds, eds_names_);
    client.Send(xds::kListenerType.data(), {});
    DiscoveryResponse lds = client.Read();
    ASSERT_EQ(lds.type_url(), xds::kListenerType);
    client.Ack(lds, {});
    client.Send(xds::kRouteType.data(), {"9080"});
    DiscoveryResponse rds = client.Read();
    ASSERT_EQ(rds.type_url(), xds::kRouteType);
    client.Ack(rds, {"9080"});
  }

  ConfigStore store_;
  ManualClock clock_;
  xds::MetricsRegistry metrics_;
  XdsPublisher publisher_;
  XdsHarness harness_;
  std::vector<std::string> eds_names_;
};

TEST_F(XdsPublisherTest, AnEndpointChangeIsPushedAsEdsAloneWithoutAFullCompile) {
  SotwClient client(harness_, "sidecar-1");
  ASSERT_NO_FATAL_FAILURE(Subscribe(client));
  const std::string group = harness_.cache.Groups().at(0);
  xds::SnapshotPtr before = harness_.cache.GetSnapshot(group).snapshot;
  const double full_compiles = Counter("meshgate_xds_full_compiles_total");
  const double cds = Pushes("Cluster"), lds = Pushes("Listener"),
               rds = Pushes("RouteConfiguration");

  // A second reviews pod (v1) becomes ready: endpoints only.
  Change({Pod("reviews-2", "10.0.0.2", "v1"),
          Slice({{"reviews-1", "10.0.0.1"}, {"reviews-2", "10.0.0.2"}})});
  DiscoveryResponse eds = client.Read();
  ASSERT_EQ(eds.type_url(), xds::kEndpointType);
  EXPECT_THAT(Addresses(eds),
              Contains("outbound|9080|v1|reviews.default.svc.cluster.local=10.0.0.2"));
  client.Ack(eds, eds_names_);
  EXPECT_EQ(Counter("meshgate_xds_eds_only_pushes_total"), 1);
  EXPECT_EQ(Counter("meshgate_xds_full_compiles_total"), full_compiles);

  // The group's snapshot kept its other resources: the same objects.
  xds::SnapshotPtr after = harness_.cache.GetSnapshot(group).snapshot;
  for (auto type : {xds::kClusterType, xds::kListenerType, xds::kRouteType}) {
    ASSERT_EQ(after->Resources(type).size(), before->Resources(type).size());
    for (const auto& [name, resource] : before->Resources(type)) {
      EXPECT_EQ(after->Find(type, name).get(), resource.get()) << name;
    }
  }

  // A DestinationRule change is not endpoints-only: a full compile, pushing
  // clusters. The first response after the endpoint change is this one's, so
  // the endpoint change sent nothing but EDS.
  Change({Rule(2)});
  DiscoveryResponse next = client.Read();
  EXPECT_EQ(next.type_url(), xds::kClusterType);
  EXPECT_THAT(xds::testing::NamesOf(next),
              Contains("outbound|9080|v2|reviews.default.svc.cluster.local"));
  EXPECT_EQ(Counter("meshgate_xds_full_compiles_total"), full_compiles + 1);
  EXPECT_EQ(Pushes("Cluster"), cds + 1);
  EXPECT_EQ(Pushes("Listener"), lds);
  EXPECT_EQ(Pushes("RouteConfiguration"), rds);
}

TEST_F(XdsPublisherTest, AnEndpointChangeTheCompilerRefusesCompilesInFull) {
  SotwClient client(harness_, "sidecar-1");
  ASSERT_NO_FATAL_FAILURE(Subscribe(client));
  // Istio-mutual clusters verify the service accounts behind the endpoints,
  // so for them a Pod's service account is more than an endpoint.
  api::DestinationRule dr = std::get<api::DestinationRule>(Rule(1)->spec);
  dr.traffic_policy.emplace().tls.emplace().mode = api::ClientTLSSettings::Mode::kIstioMutual;
  Change({Object(api::Kind::kDestinationRule, "reviews", dr)});
  for (int i = 0; i < 2; ++i) {  // the clusters, and their endpoints again
    DiscoveryResponse r = client.Read();
    client.Ack(r, r.type_url() == xds::kEndpointType ? eds_names_ : std::vector<std::string>{});
  }
  const double full_compiles = Counter("meshgate_xds_full_compiles_total");

  api::Pod pod = std::get<api::Pod>(Pod("reviews-1", "10.0.0.1", "v1")->spec);
  pod.service_account_name = "ratings";
  Change({Object(api::Kind::kPod, "reviews-1", pod, {{"app", "reviews"}, {"version", "v1"}})});
  DiscoveryResponse cds = client.Read();
  ASSERT_EQ(cds.type_url(), xds::kClusterType);
  std::string bytes;
  for (const auto& any : cds.resources()) bytes += any.value();
  EXPECT_THAT(bytes, ::testing::HasSubstr("spiffe://cluster.local/ns/default/sa/ratings"));
  EXPECT_EQ(Counter("meshgate_xds_full_compiles_total"), full_compiles + 1);
  EXPECT_EQ(Counter("meshgate_xds_eds_only_pushes_total"), 0);
}

}  // namespace
}  // namespace meshgate::operator_
