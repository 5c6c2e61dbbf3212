// ORIGINAL_DST clusters on a worker: hosts made on demand for where a
// captured connection was headed, each with its own pool, and forgotten once
// too many are known and they have no connection.
#include <memory>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "gtest/gtest.h"
#include "proxy/config/cluster_translator.h"
#include "proxy/server/worker_context.h"
#include "unit/proxy/routing_test_util.h"

namespace meshgate::proxy {
namespace {

using testing::ParseProto;

// Ignores what the stream reports: the tests only need it pending.
struct NullCallbacks : upstream::UpstreamStreamCallbacks {
  void OnUpstreamHeaders(http::ResponseHeaders, bool) override {}
  void OnUpstreamData(std::string_view, bool) override {}
  void OnUpstreamTrailers(http::TrailerMap) override {}
  void OnUpstreamReset(UpstreamReset) override {}
};

class OriginalDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = event::Dispatcher::Create();
    ASSERT_TRUE(d.ok());
    dispatcher_ = std::move(*d);
    auto config = config::TranslateCluster(ParseProto<envoy::config::cluster::v3::Cluster>(
        R"pb(name: "PassthroughCluster"
             type: ORIGINAL_DST
             lb_policy: CLUSTER_PROVIDED
             connect_timeout { seconds: 1 })pb"));
    ASSERT_TRUE(config.ok()) << config.status();
    cluster_ =
        std::make_unique<server::WorkerCluster>(*dispatcher_, *config, nullptr, random_, stats_);
  }

  static network::Address At(const std::string& ip, uint16_t port) {
    auto address = network::Address::Parse(ip, port);
    EXPECT_TRUE(address.ok());
    return *address;
  }

  std::unique_ptr<event::Dispatcher> dispatcher_;
  SeededRandom random_{1};
  stats::ClusterStats stats_;
  std::unique_ptr<server::WorkerCluster> cluster_;
};

TEST_F(OriginalDestinationTest, OneHostAndPoolPerDestination) {
  EXPECT_EQ(cluster_->load_balancer(), nullptr) << "no endpoints: hosts come from connections";
  auto a = cluster_->OriginalDestinationHost(At("10.0.0.1", 80));
  auto again = cluster_->OriginalDestinationHost(At("10.0.0.1", 80));
  auto b = cluster_->OriginalDestinationHost(At("10.0.0.1", 8080));
  EXPECT_EQ(a, again);
  EXPECT_NE(a, b);
  EXPECT_EQ(a->key, "10.0.0.1:80");
  upstream::ConnectionPool* pool = cluster_->PoolFor(*a);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->address().ToString(), "10.0.0.1:80");
  EXPECT_NE(cluster_->PoolFor(*b), pool);
}

TEST_F(OriginalDestinationTest, IdleHostsAreForgottenButHostsInUseStay) {
  // In use: a stream waits for its connection to 127.0.0.1 (never run).
  auto busy = cluster_->OriginalDestinationHost(At("127.0.0.1", 1));
  NullCallbacks callbacks;
  auto stream = cluster_->PoolFor(*busy)->NewStream(callbacks);
  auto idle = cluster_->OriginalDestinationHost(At("10.0.0.2", 80));
  ASSERT_NE(cluster_->PoolFor(*idle), nullptr);
  for (size_t i = 0; i < server::WorkerCluster::kMaxOriginalDestinations; ++i) {
    cluster_->OriginalDestinationHost(
        At("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 80));
  }
  // The idle host was dropped (the caller's reference stays valid) and is
  // made anew; the busy one is the same host with the same pool.
  EXPECT_EQ(idle->key, "10.0.0.2:80");
  EXPECT_NE(cluster_->OriginalDestinationHost(At("10.0.0.2", 80)), idle);
  EXPECT_EQ(cluster_->OriginalDestinationHost(At("127.0.0.1", 1)), busy);
  stream->Reset();
}

}  // namespace
}  // namespace meshgate::proxy
