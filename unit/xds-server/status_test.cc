// /debug/syncz JSON, config dumps and metrics as seen after real ADS traffic.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "unit/xds-server/xds_test_util.h"

namespace meshgate::xds::testing {
namespace {

using ::testing::HasSubstr;

const std::string kCds(kClusterType);
const std::string kRds(kRouteType);

TEST(Status, SynczJsonDescribesEachProxy) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("sidecar-1", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "sidecar-1");
  ASSERT_TRUE(c.Send(kCds, {}));
  auto cds = c.Read();
  ASSERT_TRUE(c.Ack(cds, {}));
  ASSERT_TRUE(c.Send(kRds, {"routes-0"}));
  auto rds = c.Read();
  ASSERT_TRUE(c.Send(kRds, {"routes-0"}, "", rds.nonce(), "route \"x\": \"bad\" regex"));
  // A later response proves the NACK was handled.
  ASSERT_TRUE(c.Send(std::string(kListenerType), {}));
  c.Read();

  auto doc = nlohmann::json::parse(h.tracker.ToJson());
  ASSERT_EQ(doc["proxies"].size(), 1u);
  const auto& p = doc["proxies"][0];
  EXPECT_EQ(p["node_id"], "sidecar-1");
  EXPECT_EQ(p["group"], "sidecar-1");
  EXPECT_EQ(p["protocol"], "sotw");
  EXPECT_EQ(p["metadata"]["role"], "sidecar");
  EXPECT_EQ(p["connected_since"], "2023-11-14T22:13:20Z");  // the ManualClock's start
  const auto& t = p["types"][kCds];
  EXPECT_EQ(t["last_version_sent"], cds.version_info());
  EXPECT_EQ(t["last_nonce"], cds.nonce());
  EXPECT_EQ(t["last_acked_version"], cds.version_info());
  EXPECT_EQ(t["acked"], true);
  EXPECT_EQ(t["resource_count"], 1);
  EXPECT_TRUE(t["last_nack"].is_null());
  const auto& r = p["types"][kRds];
  EXPECT_EQ(r["acked"], false);
  EXPECT_EQ(r["nack_count"], 1);
  EXPECT_EQ(r["last_nack"]["version"], rds.version_info());
  EXPECT_EQ(r["last_nack"]["message"], "route \"x\": \"bad\" regex");
  EXPECT_EQ(r["last_nack"]["time"], "2023-11-14T22:13:20Z");
}

TEST(Status, ConfigDumpExpandsResources) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(std::string(kListenerType), {}));
  c.Read();
  auto dump = h.tracker.ConfigDumpJson("n1");
  ASSERT_TRUE(dump.ok()) << dump.status();
  auto doc = nlohmann::json::parse(*dump);
  EXPECT_EQ(doc["node_id"], "n1");
  const auto& listeners = doc["resources"][std::string(kListenerType)];
  ASSERT_EQ(listeners.size(), 1u);
  EXPECT_EQ(listeners[0]["name"], "listener-0");
  const auto& l = listeners[0]["resource"];
  EXPECT_EQ(l["name"], "listener-0");
  EXPECT_EQ(l["address"]["socketAddress"]["portValue"], 15001);
  // The nested Any (HttpConnectionManager) is expanded, not base64.
  const auto& hcm = l["filterChains"][0]["filters"][0]["typedConfig"];
  EXPECT_EQ(hcm["@type"],
            "type.googleapis.com/"
            "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  EXPECT_EQ(hcm["rds"]["routeConfigName"], "routes-0");

  EXPECT_EQ(h.tracker.ConfigDumpJson("nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST(Status, MetricsCoverConnectionsPushesAndLatency) {
  XdsHarness h;
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"})).ok());
  SotwClient c(h, "n1");
  ASSERT_TRUE(c.Send(kRds, {"routes-0"}));
  auto r1 = c.Read();
  ASSERT_TRUE(c.Ack(r1, {"routes-0"}));
  // A change seen "now"; the push and its ACK follow.
  ASSERT_TRUE(h.cache.SetSnapshot("n1", BasicSnapshot({"a"}, "v2")).ok());
  auto r2 = c.Read();
  ASSERT_TRUE(c.Ack(r2, {"routes-0"}));
  ASSERT_TRUE(c.Send(kCds, {}));  // answered after the ACK was handled
  c.Read();
  std::string text = h.metrics.TextExposition();
  EXPECT_THAT(text, HasSubstr("meshgate_xds_connected_proxies 1"));
  EXPECT_THAT(text, HasSubstr("meshgate_xds_pushes_total{type=\"RouteConfiguration\"} 2"));
  EXPECT_THAT(text, HasSubstr("meshgate_xds_push_latency_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("meshgate_xds_convergence_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("meshgate_xds_push_bytes_total{type=\"Cluster\",protocol=\"sotw\"}"));
  EXPECT_TRUE(c.Close().ok());
}

}  // namespace
}  // namespace meshgate::xds::testing
