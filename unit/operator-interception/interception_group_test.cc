// The publisher's node hasher reads Istio's INTERCEPTION_MODE and
// INSTANCE_IPS: capture-less sidecars land in a group of their own instance
// IP, whose snapshot holds inbound listeners bound to that IP; captured
// sidecars keep virtualInbound. A real ConfigStore, publisher and
// SnapshotCache.
#include <google/protobuf/struct.pb.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "operator/xds_publisher.h"
#include "unit/xds-server/xds_test_util.h"

namespace meshgate::operator_ {
namespace {

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

envoy::config::core::v3::Node SidecarNode(const std::string& id, const std::string& mode,
                                          const std::string& ips) {
  envoy::config::core::v3::Node node;
  node.set_id(id);
  auto& fields = *node.mutable_metadata()->mutable_fields();
  fields["MESHGATE_ROLE"].set_string_value("sidecar");
  fields["NAMESPACE"].set_string_value("default");
  (*fields["LABELS"].mutable_struct_value()->mutable_fields())["app"].set_string_value("reviews");
  if (!mode.empty()) fields["INTERCEPTION_MODE"].set_string_value(mode);
  if (!ips.empty()) fields["INSTANCE_IPS"].set_string_value(ips);
  return node;
}

class InterceptionGroupTest : public ::testing::Test {
 protected:
  InterceptionGroupTest()
      : publisher_(store_, clock_, metrics_, {}), harness_({}, publisher_.GroupHasher()) {
    api::Service svc;
    svc.selector = {{"app", "reviews"}};
    svc.cluster_ip = "172.16.0.10";
    api::ServicePort port;
    port.name = "http";
    port.port = 9080;
    port.target_port_number = 9080;
    svc.ports = {port};
    store_.Apply(
        {OriginUpdate{"test", {Object(api::Kind::kService, "reviews", svc)}, {}, std::nullopt}});
    publisher_.AttachCache(&harness_.cache);
    publisher_.Start();
  }
  ~InterceptionGroupTest() override { publisher_.Stop(); }

  // The group of `node` and the names of the listeners published for it.
  std::pair<std::string, std::vector<std::string>> Publish(
      const envoy::config::core::v3::Node& node) {
    std::string group = publisher_.GroupHasher()(node);
    std::vector<std::string> names;
    xds::SnapshotPtr snapshot = harness_.cache.GetSnapshot(group).snapshot;
    if (snapshot != nullptr) {
      for (const auto& [name, resource] : snapshot->Resources(xds::kListenerType)) {
        names.push_back(name);
      }
    }
    return {group, names};
  }

  ConfigStore store_;
  ManualClock clock_;
  xds::MetricsRegistry metrics_;
  XdsPublisher publisher_;
  xds::testing::XdsHarness harness_;
};

bool Has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST_F(InterceptionGroupTest, NoneBindsTheInstanceIpAndRedirectKeepsTheCaptureListener) {
  auto [redirect_group, redirect] = Publish(SidecarNode("a", "", ""));
  ASSERT_FALSE(redirect.empty()) << "nothing published for " << redirect_group;
  EXPECT_TRUE(Has(redirect, "virtualInbound"));
  EXPECT_TRUE(Has(redirect, "virtualOutbound"));
  EXPECT_FALSE(Has(redirect, "10.0.0.1_9080"));
  // REDIRECT said out loud is the default.
  EXPECT_EQ(Publish(SidecarNode("b", "REDIRECT", "10.0.0.1")).first, redirect_group);

  // The first of INSTANCE_IPS is the address bound.
  auto [none_group, none] = Publish(SidecarNode("c", "NONE", "10.0.0.1,fd00::1"));
  EXPECT_NE(none_group, redirect_group);
  ASSERT_FALSE(none.empty()) << "nothing published for " << none_group;
  EXPECT_TRUE(Has(none, "10.0.0.1_9080"));
  EXPECT_FALSE(Has(none, "virtualInbound"));
  EXPECT_FALSE(Has(none, "virtualOutbound"));

  // Same IPs, same group; another IP, another group with its own listener.
  EXPECT_EQ(Publish(SidecarNode("d", "NONE", "10.0.0.1,fd00::1")).first, none_group);
  // A single-stack pod of the same IP: its listeners have no IPv6 address.
  EXPECT_NE(Publish(SidecarNode("f", "NONE", "10.0.0.1")).first, none_group);
  // Dual-stack capture: a group of its own (its capture listeners bind [::]).
  EXPECT_NE(Publish(SidecarNode("g", "REDIRECT", "10.0.0.5,fd00::5")).first, redirect_group);
  auto [other_group, other] = Publish(SidecarNode("e", "NONE", "10.0.0.2"));
  EXPECT_NE(other_group, none_group);
  EXPECT_TRUE(Has(other, "10.0.0.2_9080"));
  EXPECT_FALSE(Has(other, "10.0.0.1_9080"));
}

}  // namespace
}  // namespace meshgate::operator_
