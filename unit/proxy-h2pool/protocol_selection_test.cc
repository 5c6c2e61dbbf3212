// Which protocol the proxy speaks to a cluster's hosts: the xDS fields that
// choose it (typed HttpProtocolOptions, the deprecated Cluster field, use of
// the downstream's protocol), the per-cluster stream cap they carry, and the
// pool the worker hands out for each.
#include <memory>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/config/cluster_translator.h"
#include "proxy/server/worker_context.h"
#include "unit/proxy/routing_test_util.h"

namespace meshgate::proxy {
namespace {

using ::testing::HasSubstr;
using testing::ParseProto;

constexpr char kCluster[] =
    R"pb(name: "grpc-svc"
         type: STATIC
         load_assignment {
           cluster_name: "grpc-svc"
           endpoints {
             lb_endpoints {
               endpoint { address { socket_address { address: "127.0.0.1" port_value: 9000 } } }
             }
           }
         }
    )pb";

std::string WithOptions(const std::string& options) {
  return std::string(kCluster) + R"pb(
           typed_extension_protocol_options {
             key: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
             value {
               [type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions] {)pb" +
         options + "}}}";
}

std::shared_ptr<const config::ClusterConfig> Translate(const std::string& text) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(text);
  auto result = config::TranslateCluster(cluster);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : nullptr;
}

TEST(ProtocolSelectionTest, Http1ByDefault) {
  auto c = Translate(kCluster);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->protocol, config::UpstreamProtocol::kHttp1);
  EXPECT_FALSE(c->http2_max_concurrent_streams.has_value());
}

TEST(ProtocolSelectionTest, ExplicitHttp2WithItsStreamCap) {
  auto c = Translate(WithOptions(
      "explicit_http_config { http2_protocol_options { max_concurrent_streams { value: 50 } } }"));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->protocol, config::UpstreamProtocol::kHttp2);
  EXPECT_EQ(c->http2_max_concurrent_streams, 50u);
}

TEST(ProtocolSelectionTest, ExplicitHttp1) {
  auto c = Translate(WithOptions("explicit_http_config { http_protocol_options {} }"));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->protocol, config::UpstreamProtocol::kHttp1);
}

TEST(ProtocolSelectionTest, UseDownstreamProtocol) {
  auto c = Translate(WithOptions(
      "use_downstream_protocol_config { http2_protocol_options { max_concurrent_streams { value: "
      "7 } } }"));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->protocol, config::UpstreamProtocol::kUseDownstream);
  EXPECT_EQ(c->http2_max_concurrent_streams, 7u);
}

TEST(ProtocolSelectionTest, DeprecatedClusterField) {
  auto c = Translate(std::string(kCluster) +
                     "http2_protocol_options { max_concurrent_streams { value: 9 } }");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->protocol, config::UpstreamProtocol::kHttp2);
  EXPECT_EQ(c->http2_max_concurrent_streams, 9u);
}

TEST(ProtocolSelectionTest, ZeroStreamCapIsRefusedWithItsPath) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(WithOptions(
      "explicit_http_config { http2_protocol_options { max_concurrent_streams { value: 0 } } }"));
  auto result = config::TranslateCluster(cluster);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("explicit_http_config.http2_protocol_options.max_concurrent_streams"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("grpc-svc"));
}

TEST(ProtocolSelectionTest, Http3IsRefused) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(
      WithOptions("use_downstream_protocol_config { http3_protocol_options {} }"));
  auto result = config::TranslateCluster(cluster);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("use_downstream_protocol_config.http3_protocol_options"));
}

// The worker's pools follow the cluster's protocol.
class PoolChoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = event::Dispatcher::Create();
    ASSERT_TRUE(d.ok());
    dispatcher_ = std::move(*d);
  }
  std::unique_ptr<server::WorkerCluster> Cluster(const std::string& text) {
    auto config = Translate(text);
    return std::make_unique<server::WorkerCluster>(*dispatcher_, config, config->static_endpoints,
                                                   random_, stats_);
  }
  std::unique_ptr<event::Dispatcher> dispatcher_;
  SeededRandom random_{1};
  stats::ClusterStats stats_;
};

TEST_F(PoolChoiceTest, Http2ClusterGetsTheHttp2PoolWhateverTheDownstream) {
  auto cluster = Cluster(WithOptions("explicit_http_config { http2_protocol_options {} }"));
  ASSERT_NE(cluster->load_balancer(), nullptr);
  const Host* host = cluster->load_balancer()->ChooseHost(LbContext{});
  ASSERT_NE(host, nullptr);
  auto* from_h1 = cluster->PoolFor(*host, upstream::PoolProtocol::kHttp1);
  auto* from_h2 = cluster->PoolFor(*host, upstream::PoolProtocol::kHttp2);
  ASSERT_NE(from_h1, nullptr);
  EXPECT_EQ(from_h1->protocol(), upstream::PoolProtocol::kHttp2);
  EXPECT_EQ(from_h1, from_h2);  // one pool per host
}

TEST_F(PoolChoiceTest, UseDownstreamKeepsOnePoolPerProtocol) {
  auto cluster = Cluster(WithOptions("use_downstream_protocol_config {}"));
  const Host* host = cluster->load_balancer()->ChooseHost(LbContext{});
  ASSERT_NE(host, nullptr);
  auto* h1 = cluster->PoolFor(*host, upstream::PoolProtocol::kHttp1);
  auto* h2 = cluster->PoolFor(*host, upstream::PoolProtocol::kHttp2);
  ASSERT_NE(h1, nullptr);
  ASSERT_NE(h2, nullptr);
  EXPECT_EQ(h1->protocol(), upstream::PoolProtocol::kHttp1);
  EXPECT_EQ(h2->protocol(), upstream::PoolProtocol::kHttp2);
  EXPECT_EQ(cluster->PoolFor(*host, upstream::PoolProtocol::kHttp2), h2);
}

}  // namespace
}  // namespace meshgate::proxy
