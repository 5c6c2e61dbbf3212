// Unit tests of proxy-status rendering on recorded /debug/syncz documents
// (the schema of xds::StatusTracker::ToJson).
#include "ctl/proxy_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "unit/ctl/test_util.h"

namespace meshgate::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadTestdata;
using testing::SplitTable;

TEST(ClassifySyncTest, StatesFromVersions) {
  const std::string v2 = "v2";
  const std::string v1 = "v1";
  EXPECT_EQ(ClassifySync("", "", nullptr), SyncState::kNotSent);
  EXPECT_EQ(ClassifySync("v2", "v2", nullptr), SyncState::kSynced);
  EXPECT_EQ(ClassifySync("v2", "v1", nullptr), SyncState::kStale);
  EXPECT_EQ(ClassifySync("v2", "", nullptr), SyncState::kStale);
  EXPECT_EQ(ClassifySync("v2", "v1", &v2), SyncState::kNacked);
  // A NACK of an older version does not make the current one rejected.
  EXPECT_EQ(ClassifySync("v2", "v1", &v1), SyncState::kStale);
  EXPECT_EQ(ClassifySync("v2", "v2", &v1), SyncState::kSynced);
}

TEST(ProxyStatusTest, TableOfEveryState) {
  auto out = RenderProxyStatus(ReadTestdata("syncz_mixed.json"), OutputFormat::kTable);
  ASSERT_TRUE(out.ok()) << out.status();
  auto table = SplitTable(*out);
  ASSERT_EQ(table.size(), 4u) << *out;
  // Sorted by node id; SDS shown because one proxy was sent secrets.
  EXPECT_THAT(table[0], ElementsAre("NAME", "GROUP", "CDS", "LDS", "EDS", "RDS", "SDS"));
  EXPECT_THAT(table[1],
              ElementsAre("edge", "-", "STALE", "NOT SENT", "NOT SENT", "NOT SENT", "NOT SENT"));
  EXPECT_THAT(table[2], ElementsAre("gw-1", "gateway/demo/istio=ingressgateway", "NACKED", "STALE",
                                    "NOT SENT", "SYNCED", "NOT SENT"));
  EXPECT_THAT(table[3], ElementsAre("sidecar~10.0.0.5~reviews-v1.default~default.svc.cluster.local",
                                    "sidecar/default/app=reviews", "SYNCED", "SYNCED", "SYNCED",
                                    "SYNCED", "SYNCED"));
}

TEST(ProxyStatusTest, NackMessagesFollowTheTable) {
  auto out = RenderProxyStatus(ReadTestdata("syncz_mixed.json"), OutputFormat::kTable);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("\nNACKed configuration:\n"
                              "  gw-1 CDS version v2:\n"
                              "    Cluster 'PassthroughCluster': type: unsupported discovery "
                              "type ORIGINAL_DST\n"
                              "    second line of the error\n"));
  // Superseded NACKs (edge's v2, gw-1's RDS v1) are history, not status.
  EXPECT_THAT(*out, Not(HasSubstr("rejected v2")));
  EXPECT_THAT(*out, Not(HasSubstr("an old rejection")));
}

TEST(ProxyStatusTest, ExactLayoutWithoutSecrets) {
  auto out = RenderProxyStatus(ReadTestdata("syncz_no_secrets.json"), OutputFormat::kTable);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "NAME      GROUP                               CDS      LDS        EDS        RDS\n"
            "ctl-e2e   gateway/demo/istio=ingressgateway   SYNCED   NOT SENT   NOT SENT   NOT "
            "SENT\n");
}

TEST(ProxyStatusTest, NoProxiesIsAHeader) {
  auto out = RenderProxyStatus(ReadTestdata("syncz_empty.json"), OutputFormat::kTable);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "NAME   GROUP   CDS   LDS   EDS   RDS\n");
}

TEST(ProxyStatusTest, JsonIsTheDocumentPretty) {
  const std::string text = ReadTestdata("syncz_no_secrets.json");
  auto out = RenderProxyStatus(text, OutputFormat::kJson);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(nlohmann::json::parse(*out), nlohmann::json::parse(text));
  EXPECT_THAT(*out, HasSubstr("\n  \"proxies\": [\n"));
}

TEST(ProxyStatusTest, GarbageIsAnErrorNamingWhere) {
  struct Case {
    std::string json;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"hello", "syncz: not a JSON document"},
           {"", "syncz: not a JSON document"},
           {"[1,2]", "syncz: want an object"},
           {"{\"proxies\":{}}", "syncz.proxies: want an array"},
           {"{\"proxies\":[7]}", "syncz.proxies[0]: want an object"},
           {"{\"proxies\":[{\"group\":\"g\"}]}", "syncz.proxies[0].node_id: want a node id"},
           {"{\"proxies\":[{\"node_id\":5}]}", "syncz.proxies[0].node_id: want a string"},
           {"{\"proxies\":[{\"node_id\":\"a\",\"types\":[]}]}",
            "syncz.proxies[0].types: want an object"},
           {"{\"proxies\":[{\"node_id\":\"a\",\"types\":{\"t\":{\"last_version_sent\":1}}}]}",
            "syncz.proxies[0].types[\"t\"].last_version_sent: want a string"},
           {"{\"proxies\":[{\"node_id\":\"a\",\"types\":{\"t\":{\"last_nack\":\"x\"}}}]}",
            "syncz.proxies[0].types[\"t\"].last_nack: want an object or null"},
           {"{\"proxies\":[{\"node_id\":\"a\",\"types\":{\"t\":{\"last_nack\":{\"message\":[]}}}}]"
            "}",
            "syncz.proxies[0].types[\"t\"].last_nack.message: want a string"},
       }) {
    auto out = RenderProxyStatus(c.json, OutputFormat::kTable);
    ASSERT_FALSE(out.ok()) << c.json;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(c.message)) << c.json;
    EXPECT_FALSE(RenderProxyStatus(c.json, OutputFormat::kJson).ok()) << c.json;
  }
}

}  // namespace
}  // namespace meshgate::ctl
