// Unit tests of proxy-config rendering on a recorded /debug/config_dump
// document (the schema of xds::StatusTracker::ConfigDumpJson, resources in the
// protobuf JSON mapping).
#include "ctl/proxy_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "unit/ctl/test_util.h"

namespace meshgate::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ReadTestdata;
using testing::SplitTable;

std::vector<std::vector<std::string>> Table(ConfigSection section,
                                            const std::string& file = "config_dump_gateway.json") {
  auto out = RenderProxyConfig(section, ReadTestdata(file), OutputFormat::kTable);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? SplitTable(*out) : std::vector<std::vector<std::string>>{};
}

TEST(ConfigSectionTest, Names) {
  EXPECT_EQ(ParseConfigSection("listeners"), ConfigSection::kListeners);
  EXPECT_EQ(ParseConfigSection("route"), ConfigSection::kRoutes);
  EXPECT_EQ(ParseConfigSection("clusters"), ConfigSection::kClusters);
  EXPECT_EQ(ParseConfigSection("endpoints"), ConfigSection::kEndpoints);
  EXPECT_EQ(ParseConfigSection("secrets"), std::nullopt);
  EXPECT_EQ(ParseConfigSection(""), std::nullopt);
}

TEST(ProxyConfigTest, Listeners) {
  auto table = Table(ConfigSection::kListeners);
  ASSERT_EQ(table.size(), 6u);
  EXPECT_THAT(table[0], ElementsAre("NAME", "ADDRESS:PORT", "MATCH", "DESTINATION"));
  EXPECT_THAT(table[1], ElementsAre("0.0.0.0_8080", "0.0.0.0:8080", "ALL", "Route: http.8080"));
  EXPECT_THAT(table[2],
              ElementsAre("0.0.0.0_8443", "[::]:8443", "sni api.example.com,www.example.com; tls",
                          "Cluster: outbound|443||api.demo.svc.cluster.local"));
  EXPECT_THAT(table[3],
              ElementsAre("0.0.0.0_8443", "[::]:8443", "port 9090", "Inline Route: inline-9090"));
  EXPECT_THAT(table[4], ElementsAre("0.0.0.0_8443", "[::]:8443", "DEFAULT", "Clusters: a, b"));
  // A resource the control plane could not decode is shown, not skipped.
  EXPECT_THAT(table[5],
              ElementsAre("broken", "-", "-", "<undecodable: INVALID_ARGUMENT: unknown type>"));
}

TEST(ProxyConfigTest, Routes) {
  auto table = Table(ConfigSection::kRoutes);
  ASSERT_EQ(table.size(), 6u);
  EXPECT_THAT(table[0],
              ElementsAre("ROUTE NAME", "VIRTUAL HOST", "DOMAINS", "MATCH", "ACTION/CLUSTERS"));
  const std::string vhost = "echo.demo.svc.cluster.local:8080";
  const std::string domains =
      "echo.demo.svc.cluster.local,echo.demo.svc.cluster.local:8080,echo.demo +2 more";
  EXPECT_THAT(table[1], ElementsAre("http.8080", vhost, domains, "prefix / (headers: x-canary)",
                                    "outbound|8080|v2|echo.demo.svc.cluster.local"));
  EXPECT_THAT(table[2],
              ElementsAre("http.8080", vhost, domains, "regex ^/api/v[0-9]+/.* (query: debug)",
                          "outbound|8080|v1|echo.demo.svc.cluster.local (90), "
                          "outbound|8080|v2|echo.demo.svc.cluster.local (10)"));
  EXPECT_THAT(table[3], ElementsAre("http.8080", vhost, domains, "path /old",
                                    "redirect new.example.com /new"));
  EXPECT_THAT(table[4],
              ElementsAre("http.8080", vhost, domains, "prefix /gone", "direct response 410"));
  EXPECT_THAT(table[5], ElementsAre("http.8080", "empty", "*", "-", "-"));
}

TEST(ProxyConfigTest, Clusters) {
  auto table = Table(ConfigSection::kClusters);
  ASSERT_EQ(table.size(), 5u);
  EXPECT_THAT(table[0], ElementsAre("NAME", "TYPE", "LB POLICY", "EDS SERVICE"));
  // EDS without a service name subscribes to the cluster's own name.
  EXPECT_THAT(table[1], ElementsAre("outbound|8080|v1|echo.demo.svc.cluster.local", "EDS",
                                    "ROUND_ROBIN", "outbound|8080|v1|echo.demo.svc.cluster.local"));
  EXPECT_THAT(table[2], ElementsAre("outbound|8080||echo.demo.svc.cluster.local", "EDS",
                                    "LEAST_REQUEST", "echo-all"));
  EXPECT_THAT(table[3], ElementsAre("external", "STRICT_DNS", "RANDOM", "-"));
  // proto3 JSON leaves out enum defaults.
  EXPECT_THAT(table[4], ElementsAre("static-local", "STATIC", "ROUND_ROBIN", "-"));
}

TEST(ProxyConfigTest, Endpoints) {
  auto table = Table(ConfigSection::kEndpoints);
  ASSERT_EQ(table.size(), 5u);
  const std::string v1 = "outbound|8080|v1|echo.demo.svc.cluster.local";
  EXPECT_THAT(table[0], ElementsAre("CLUSTER", "ENDPOINT", "HEALTH", "WEIGHT"));
  EXPECT_THAT(table[1], ElementsAre(v1, "10.1.0.4:9101", "HEALTHY", "3"));
  EXPECT_THAT(table[2], ElementsAre(v1, "[fd00::7]:9101", "UNKNOWN", "1"));
  EXPECT_THAT(table[3], ElementsAre(v1, "10.1.0.5:9101", "DRAINING", "1"));
  EXPECT_THAT(table[4], ElementsAre("outbound|8080|v2|echo.demo.svc.cluster.local", "-", "-", "-"));
}

TEST(ProxyConfigTest, JsonIsTheRawResourcesOfTheSection) {
  const std::string text = ReadTestdata("config_dump_gateway.json");
  auto out = RenderProxyConfig(ConfigSection::kClusters, text, OutputFormat::kJson);
  ASSERT_TRUE(out.ok()) << out.status();
  nlohmann::json parsed = nlohmann::json::parse(*out);
  ASSERT_TRUE(parsed.is_array());
  const nlohmann::json doc = nlohmann::json::parse(text);
  const nlohmann::json& dumped =
      doc["resources"]["type.googleapis.com/envoy.config.cluster.v3.Cluster"];
  ASSERT_EQ(parsed.size(), dumped.size());
  for (size_t i = 0; i < parsed.size(); ++i) EXPECT_EQ(parsed[i], dumped[i]["resource"]);
}

TEST(ProxyConfigTest, SectionAbsentFromTheDumpIsEmpty) {
  const std::string dump = R"({"node_id":"p","group":"","resources":{}})";
  auto table = RenderProxyConfig(ConfigSection::kEndpoints, dump, OutputFormat::kTable);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(*table, "CLUSTER   ENDPOINT   HEALTH   WEIGHT\n");
  auto json = RenderProxyConfig(ConfigSection::kEndpoints, dump, OutputFormat::kJson);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, "[]\n");
}

TEST(ProxyConfigTest, SnakeCaseFieldNamesAreReadToo) {
  const std::string dump =
      R"({"resources":{"type.googleapis.com/envoy.config.listener.v3.Listener":[
      {"name":"l","resource":{"name":"l","address":{"socket_address":{"address":"127.0.0.1",
      "port_value":15001}},"filter_chains":[{"filter_chain_match":{"destination_port":80},
      "filters":[{"name":"hcm","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "rds":{"route_config_name":"80"}}}]}]}}]}})";
  auto out = RenderProxyConfig(ConfigSection::kListeners, dump, OutputFormat::kTable);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(SplitTable(*out)[1], ElementsAre("l", "127.0.0.1:15001", "port 80", "Route: 80"));
}

TEST(ProxyConfigTest, OddlyTypedFieldsShowAsDashes) {
  // Wrong types inside a resource never fail the table; they read as absent.
  const std::string dump = R"({"resources":{"type.googleapis.com/envoy.config.cluster.v3.Cluster":[
      {"name":7,"resource":{"type":{"x":1},"lbPolicy":[]}}],
      "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment":[
      {"name":"e","resource":{"endpoints":[{"lbEndpoints":[{"endpoint":"x"}]}]}}]}})";
  auto clusters = RenderProxyConfig(ConfigSection::kClusters, dump, OutputFormat::kTable);
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  EXPECT_THAT(SplitTable(*clusters)[1], ElementsAre("7", "STATIC", "ROUND_ROBIN", "-"));
  auto endpoints = RenderProxyConfig(ConfigSection::kEndpoints, dump, OutputFormat::kTable);
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  EXPECT_THAT(SplitTable(*endpoints)[1], ElementsAre("e", "-", "UNKNOWN", "1"));
}

TEST(ProxyConfigTest, NotADumpIsAnErrorNamingWhere) {
  struct Case {
    std::string json;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"<html>", "config dump: not a JSON document"},
           {"[]", "config dump: want an object"},
           {"{\"node_id\":\"x\"}", "config dump.resources: want an object keyed by type URL"},
           {R"({"resources":{"type.googleapis.com/envoy.config.cluster.v3.Cluster":{}}})",
            "config dump.resources[\"type.googleapis.com/envoy.config.cluster.v3.Cluster\"]: "
            "want an array"},
           {R"({"resources":{"type.googleapis.com/envoy.config.cluster.v3.Cluster":[1]}})",
            "config dump.resources[\"type.googleapis.com/envoy.config.cluster.v3.Cluster\"][0]: "
            "want an object"},
       }) {
    for (OutputFormat format : {OutputFormat::kTable, OutputFormat::kJson}) {
      auto out = RenderProxyConfig(ConfigSection::kClusters, c.json, format);
      ASSERT_FALSE(out.ok()) << c.json;
      EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(out.status().message()), HasSubstr(c.message)) << c.json;
    }
  }
}

}  // namespace
}  // namespace meshgate::ctl
