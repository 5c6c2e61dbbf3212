// Translation of a cluster's limits: circuit_breakers thresholds (default
// priority) become the cluster's CircuitBreaker, shared by whoever holds the
// config; per_connection_buffer_limit_bytes is kept; bad values are refused
// with their field path.
#include <google/protobuf/text_format.h>

#include "gtest/gtest.h"
#include "proxy/config/cluster_translator.h"

namespace meshgate::proxy::config {
namespace {

using Resource = upstream::CircuitBreaker::Resource;

envoy::config::cluster::v3::Cluster Parse(const std::string& text) {
  envoy::config::cluster::v3::Cluster c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

constexpr const char* kBase = R"(name: "c" type: STATIC connect_timeout { seconds: 1 }
load_assignment { cluster_name: "c" endpoints { lb_endpoints { endpoint { address {
  socket_address { address: "127.0.0.1" port_value: 80 } } } } } }
)";

TEST(ClusterLimitsTest, ThresholdsBecomeTheClustersBreaker) {
  auto cluster = TranslateCluster(Parse(std::string(kBase) + R"(
circuit_breakers {
  thresholds { priority: HIGH max_requests { value: 1 } }
  thresholds { max_connections { value: 7 } max_pending_requests { value: 8 }
               max_requests { value: 9 } max_retries { value: 0 } }
}
per_connection_buffer_limit_bytes { value: 32768 })"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const auto& breaker = (*cluster)->circuit_breaker;
  ASSERT_NE(breaker, nullptr);
  EXPECT_EQ(breaker->Limit(Resource::kConnections), 7u);
  EXPECT_EQ(breaker->Limit(Resource::kPendingRequests), 8u);
  EXPECT_EQ(breaker->Limit(Resource::kRequests), 9u) << "HIGH priority is not ours";
  EXPECT_EQ(breaker->Limit(Resource::kRetries), 0u);
  EXPECT_FALSE(breaker->TryAcquire(Resource::kRetries).held());
  EXPECT_EQ((*cluster)->per_connection_buffer_limit_bytes, 32768u);
}

TEST(ClusterLimitsTest, EnvoysDefaultsWithoutThresholds) {
  auto cluster = TranslateCluster(Parse(kBase));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const auto& breaker = (*cluster)->circuit_breaker;
  ASSERT_NE(breaker, nullptr);
  EXPECT_EQ(breaker->Limit(Resource::kConnections), 1024u);
  EXPECT_EQ(breaker->Limit(Resource::kPendingRequests), 1024u);
  EXPECT_EQ(breaker->Limit(Resource::kRequests), 1024u);
  EXPECT_EQ(breaker->Limit(Resource::kRetries), 3u);
  EXPECT_FALSE((*cluster)->per_connection_buffer_limit_bytes.has_value());
}

TEST(ClusterLimitsTest, ZeroBufferLimitIsRefusedWithItsField) {
  auto cluster = TranslateCluster(
      Parse(std::string(kBase) + "per_connection_buffer_limit_bytes { value: 0 }"));
  ASSERT_FALSE(cluster.ok());
  EXPECT_NE(cluster.status().message().find("per_connection_buffer_limit_bytes"), std::string::npos)
      << cluster.status();
}

}  // namespace
}  // namespace meshgate::proxy::config
