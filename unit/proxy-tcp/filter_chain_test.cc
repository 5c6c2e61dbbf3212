// tcp_proxy translation (defaults, weighted clusters, refused fields with
// their field paths), prefix_ranges, and Envoy's filter-chain selection on
// the destination (what original-destination capture feeds it).
#include <google/protobuf/text_format.h>

#include <string>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "gtest/gtest.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/config/listener_translator.h"
#include "proxy/server/xds_config_handler.h"

namespace meshgate::proxy::config {
namespace {

// Links the TcpProxy message into the descriptor pool for the text protos.
const auto* const kTcpProxyDescriptor =
    envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy::descriptor();

envoy::config::listener::v3::Listener ParseListener(const std::string& text) {
  envoy::config::listener::v3::Listener l;
  EXPECT_NE(kTcpProxyDescriptor, nullptr);
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &l)) << text;
  return l;
}

// A listener with one tcp_proxy chain whose TcpProxy body is `body`.
std::string TcpListenerText(const std::string& body, const std::string& match = "") {
  return R"pb(name: "tcp"
              address { socket_address { address: "0.0.0.0" port_value: 9000 } }
              filter_chains {)pb" +
         match + R"pb(filters { name: "envoy.filters.network.tcp_proxy"
                                typed_config {
                                  [type.googleapis.com/
                                   envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy] {)pb" +
         body + " } } } }";
}

TEST(TcpProxyTranslationTest, ClusterWithEnvoyDefaults) {
  auto result =
      TranslateListener(ParseListener(TcpListenerText(R"(stat_prefix: "s" cluster: "c")")));
  ASSERT_TRUE(result.ok()) << result.status();
  const FilterChainConfig& chain = (*result)->filter_chains.at(0);
  ASSERT_TRUE(chain.tcp_proxy.has_value());
  EXPECT_EQ(chain.tcp_proxy->stat_prefix, "s");
  ASSERT_EQ(chain.tcp_proxy->clusters.size(), 1u);
  EXPECT_EQ(chain.tcp_proxy->clusters[0].name, "c");
  EXPECT_EQ(chain.tcp_proxy->idle_timeout, absl::Hours(1));
  EXPECT_EQ(chain.tcp_proxy->max_connect_attempts, 1u);
}

TEST(TcpProxyTranslationTest, WeightedClustersIdleTimeoutAndAttempts) {
  auto result = TranslateListener(ParseListener(TcpListenerText(R"(
    stat_prefix: "s"
    weighted_clusters {
      clusters { name: "a" weight: 1 }
      clusters { name: "b" weight: 3 }
    }
    idle_timeout { seconds: 0 }
    max_connect_attempts { value: 4 })")));
  ASSERT_TRUE(result.ok()) << result.status();
  const TcpProxyConfig& t = *(*result)->filter_chains.at(0).tcp_proxy;
  ASSERT_EQ(t.clusters.size(), 2u);
  EXPECT_EQ(t.clusters[1].name, "b");
  EXPECT_EQ(t.clusters[1].weight, 3u);
  EXPECT_EQ(t.total_weight, 4u);
  EXPECT_EQ(t.idle_timeout, absl::ZeroDuration());  // explicitly disabled
  EXPECT_EQ(t.max_connect_attempts, 4u);
}

struct RefusedCase {
  std::string name;
  std::string body;
  std::string expected;  // substring of the error
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const RefusedCase& c, std::ostream* os) { *os << c.name; }

class TcpProxyRefusedTest : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(TcpProxyRefusedTest, NamesTheField) {
  auto result = TranslateListener(ParseListener(TcpListenerText(GetParam().body)));
  ASSERT_FALSE(result.ok());
  const std::string message(result.status().message());
  EXPECT_NE(message.find("Listener 'tcp'"), std::string::npos) << message;
  EXPECT_NE(message.find("filter_chains[0].filters[0].typed_config"), std::string::npos) << message;
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TcpProxyRefusedTest,
    ::testing::Values(
        RefusedCase{"no_stat_prefix", R"(cluster: "c")", "stat_prefix: required"},
        RefusedCase{"empty_weighted", R"(stat_prefix: "s" weighted_clusters {})",
                    "weighted_clusters.clusters: at least one"},
        RefusedCase{"zero_weight",
                    R"(stat_prefix: "s" weighted_clusters { clusters { name: "a" weight: 0 } })",
                    "weighted_clusters.clusters[0].weight"},
        RefusedCase{"tunneling",
                    R"(stat_prefix: "s" cluster: "c" tunneling_config { hostname: "h" })",
                    "tunneling_config: not supported"},
        RefusedCase{"zero_attempts",
                    R"(stat_prefix: "s" cluster: "c" max_connect_attempts { value: 0 })",
                    "max_connect_attempts"},
        RefusedCase{"sub_millisecond_duration",
                    R"(stat_prefix: "s" cluster: "c"
                       max_downstream_connection_duration { nanos: 1000 })",
                    "max_downstream_connection_duration: must be at least 1ms"},
        RefusedCase{"hash_policy", R"(stat_prefix: "s" cluster: "c" hash_policy { source_ip {} })",
                    "hash_policy: not supported"}),
    [](const auto& info) { return info.param.name; });

TEST(CidrRangeTest, ContainsByPrefix) {
  auto v4 = CidrRange::Parse("10.96.0.0", 12);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_TRUE(v4->Contains("10.96.0.1"));
  EXPECT_TRUE(v4->Contains("10.111.255.255"));
  EXPECT_FALSE(v4->Contains("10.112.0.0"));
  EXPECT_FALSE(v4->Contains("::1"));
  EXPECT_FALSE(v4->Contains("not-an-ip"));
  auto host = CidrRange::Parse("192.168.1.7", 32);
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->Contains("192.168.1.7"));
  EXPECT_FALSE(host->Contains("192.168.1.8"));
  auto v6 = CidrRange::Parse("fd00::", 8);
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains("fd12::1"));
  EXPECT_FALSE(v6->Contains("fe80::1"));
  auto all = CidrRange::Parse("0.0.0.0", 0);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Contains("203.0.113.9"));
  EXPECT_FALSE(CidrRange::Parse("10.0.0.0", 33).ok());
  EXPECT_FALSE(CidrRange::Parse("10.0.0", 8).ok());
}

TEST(CidrRangeTest, BadPrefixRangeIsRefusedWithItsPath) {
  auto result = TranslateListener(ParseListener(TcpListenerText(
      R"(stat_prefix: "s" cluster: "c")",
      R"(filter_chain_match { prefix_ranges { address_prefix: "10.0.0.0" prefix_len { value: 8 } }
                              prefix_ranges { address_prefix: "ten" } })")));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(std::string(result.status().message())
                .find("filter_chains[0].filter_chain_match.prefix_ranges[1]"),
            std::string::npos)
      << result.status();
}

TEST(TcpProxyTranslationTest, TcpChainsNeedNoRoutesToBeComplete) {
  // A sidecar's config is mostly tcp_proxy chains; the proxy must not hold
  // it back (warming) waiting for route configurations they never name.
  ConfigStore store;
  ASSERT_TRUE(
      store.SetListeners({ParseListener(TcpListenerText(R"(stat_prefix: "s" cluster: "c")"))})
          .ok());
  std::string missing;
  EXPECT_TRUE(server::XdsConfigHandler::IsComplete(*store.Current(), &missing)) << missing;
}

// Chains named by what they carry; selection returns one of them.
ListenerConfig Chains(const std::vector<std::pair<std::string, FilterChainMatch>>& chains,
                      bool with_default) {
  ListenerConfig l;
  for (const auto& [name, match] : chains) {
    FilterChainConfig c;
    c.name = name;
    c.match = match;
    l.filter_chains.push_back(c);
  }
  if (with_default) {
    FilterChainConfig d;
    d.name = "default";
    l.default_filter_chain = d;
  }
  return l;
}

FilterChainMatch Port(uint32_t port) {
  FilterChainMatch m;
  m.destination_port = port;
  return m;
}

FilterChainMatch Prefix(const std::string& ip, uint32_t len, std::optional<uint32_t> port = {}) {
  FilterChainMatch m;
  m.prefix_ranges.push_back(*CidrRange::Parse(ip, len));
  m.destination_port = port;
  return m;
}

std::string Selected(const ListenerConfig& l, const std::string& ip, uint32_t port) {
  ConnectionMatchInfo info;
  info.destination_ip = ip;
  info.destination_port = port;
  const FilterChainConfig* chain = SelectFilterChain(l, info);
  return chain == nullptr ? "none" : chain->name;
}

TEST(SelectFilterChainTest, DestinationPortBeatsWildcardAndFallsBackToDefault) {
  // virtualInbound's shape: one chain per workload port.
  auto l = Chains({{"p8080", Port(8080)}, {"p9000", Port(9000)}}, /*with_default=*/false);
  EXPECT_EQ(Selected(l, "10.0.0.5", 8080), "p8080");
  EXPECT_EQ(Selected(l, "10.0.0.5", 9000), "p9000");
  EXPECT_EQ(Selected(l, "10.0.0.5", 7000), "none");
  auto with_any = Chains({{"p8080", Port(8080)}, {"any", FilterChainMatch{}}}, true);
  EXPECT_EQ(Selected(with_any, "10.0.0.5", 7000), "any");
  auto only_default = Chains({{"p8080", Port(8080)}}, true);
  EXPECT_EQ(Selected(only_default, "10.0.0.5", 7000), "default");
}

TEST(SelectFilterChainTest, LongestPrefixWinsWithinThePortLevel) {
  auto l = Chains({{"cluster-ips", Prefix("10.96.0.0", 12)},
                   {"one-service", Prefix("10.96.0.10", 32)},
                   {"rest", FilterChainMatch{}}},
                  false);
  EXPECT_EQ(Selected(l, "10.96.0.10", 80), "one-service");
  EXPECT_EQ(Selected(l, "10.96.3.4", 80), "cluster-ips");
  EXPECT_EQ(Selected(l, "192.0.2.1", 80), "rest");
}

TEST(SelectFilterChainTest, NoBacktrackingFromAMatchingPortLevel) {
  // Envoy picks the port level first; a prefix mismatch below it does not
  // fall back to the port-less chain.
  auto l = Chains({{"port-and-prefix", Prefix("10.0.0.0", 8, 5432)}, {"anything", {}}}, true);
  EXPECT_EQ(Selected(l, "10.1.2.3", 5432), "port-and-prefix");
  EXPECT_EQ(Selected(l, "192.0.2.1", 5432), "default");
  EXPECT_EQ(Selected(l, "192.0.2.1", 80), "anything");
}

TEST(SelectFilterChainTest, TlsOnlyChainsAreSkippedForPlaintext) {
  FilterChainMatch tls;
  tls.transport_protocol = "tls";
  FilterChainMatch sni;
  sni.server_names = {"api.example.com"};
  auto l = Chains({{"tls", tls}, {"sni", sni}, {"plain", {}}}, false);
  EXPECT_EQ(Selected(l, "10.0.0.1", 443), "plain");
  ConnectionMatchInfo info;
  info.destination_ip = "10.0.0.1";
  info.destination_port = 443;
  info.transport_protocol = "tls";
  info.server_name = "api.example.com";
  EXPECT_EQ(SelectFilterChain(l, info)->name, "sni");
}

}  // namespace
}  // namespace meshgate::proxy::config
