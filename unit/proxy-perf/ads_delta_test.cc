// The ADS client in delta mode against a real in-process gRPC server that
// scripts DeltaAggregatedResources: what the client subscribes to, how it
// applies added and removed resources (the handler always sees the complete
// set), that a NACK leaves the accepted set untouched, and that a reconnect
// announces the held versions in initial_resource_versions.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "gtest/gtest.h"
#include "proxy/xds/ads_client.h"

namespace meshgate::proxy::xds {
namespace {

using namespace std::chrono_literals;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

// A delta ADS server whose responses the test writes; requests are recorded.
class ScriptedAds final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  grpc::Status DeltaAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<DeltaDiscoveryResponse, DeltaDiscoveryRequest>* stream) override {
    {
      std::lock_guard lock(mu_);
      ++streams_;
      stream_ = stream;
      cv_.notify_all();
    }
    DeltaDiscoveryRequest request;
    while (stream->Read(&request)) {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    stream_ = nullptr;
    (void)context;
    return grpc::Status::OK;
  }

  // Waits for the next request the client sends.
  std::optional<DeltaDiscoveryRequest> NextRequest() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 10s, [this] { return !requests_.empty(); })) return std::nullopt;
    DeltaDiscoveryRequest r = requests_.front();
    requests_.pop_front();
    return r;
  }
  bool Send(const DeltaDiscoveryResponse& response) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 10s, [this] { return stream_ != nullptr; });
    return stream_ != nullptr && stream_->Write(response);
  }
  bool WaitForStreams(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return streams_ >= n && stream_ != nullptr; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<DeltaDiscoveryRequest> requests_;
  grpc::ServerReaderWriter<DeltaDiscoveryResponse, DeltaDiscoveryRequest>* stream_ = nullptr;
  int streams_ = 0;
};

// Records what the client hands over; rejects clusters named "bad".
class RecordingHandler : public ResourceHandler {
 public:
  absl::Status OnResources(const std::string& type_url,
                           const std::vector<google::protobuf::Any>& resources,
                           const std::string& version) override {
    std::set<std::string> names;
    for (const auto& any : resources) {
      envoy::config::cluster::v3::Cluster c;
      any.UnpackTo(&c);
      if (c.name() == "bad") return absl::InvalidArgumentError("cluster 'bad' is refused");
      names.insert(c.name());
    }
    std::lock_guard lock(mu_);
    last_[type_url] = names;
    last_version_ = version;
    return absl::OkStatus();
  }
  std::set<std::string> Last(const std::string& type) {
    std::lock_guard lock(mu_);
    return last_[type];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> last_;
  std::string last_version_;
};

DeltaDiscoveryResponse Clusters(const std::string& nonce, std::vector<std::string> added,
                                std::vector<std::string> removed) {
  DeltaDiscoveryResponse r;
  r.set_type_url(kClusterType);
  r.set_nonce(nonce);
  r.set_system_version_info("v" + nonce);
  for (const auto& name : added) {
    auto* resource = r.add_resources();
    resource->set_name(name);
    resource->set_version(name + "-" + nonce);
    envoy::config::cluster::v3::Cluster c;
    c.set_name(name);
    resource->mutable_resource()->PackFrom(c);
  }
  for (const auto& name : removed) r.add_removed_resources(name);
  return r;
}

// Skips the client's requests until the ACK/NACK of `nonce` for `type`.
std::optional<DeltaDiscoveryRequest> ReplyTo(ScriptedAds& ads, const std::string& nonce) {
  for (int i = 0; i < 10; ++i) {
    auto r = ads.NextRequest();
    if (!r) return std::nullopt;
    if (r->response_nonce() == nonce) return r;
  }
  return std::nullopt;
}

class AdsDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(0); }
  void StartServer(int port) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &port_);
    service_ = std::make_unique<ScriptedAds>();
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }
  void StartClient() {
    AdsClientOptions options;
    options.target = "127.0.0.1:" + std::to_string(port_);
    options.node.set_id("delta-test");
    options.delta = true;
    options.initial_backoff = 50ms;
    options.max_backoff = 100ms;
    client_ = std::make_unique<AdsClient>(options, &handler_);
    client_->Start();
  }

  int port_ = 0;
  std::unique_ptr<ScriptedAds> service_;
  std::unique_ptr<grpc::Server> server_;
  RecordingHandler handler_;
  std::unique_ptr<AdsClient> client_;
};

TEST_F(AdsDeltaTest, AppliesChangesNacksAndResumesWithItsVersions) {
  StartClient();
  // The first requests: node once, LDS and CDS as wildcard (no names).
  std::set<std::string> types;
  bool node_seen = false;
  for (int i = 0; i < 2; ++i) {
    auto r = service_->NextRequest();
    ASSERT_TRUE(r.has_value());
    types.insert(r->type_url());
    node_seen |= r->node().id() == "delta-test";
    EXPECT_EQ(r->resource_names_subscribe_size(), 0);
    EXPECT_TRUE(r->initial_resource_versions().empty());
  }
  EXPECT_TRUE(node_seen);
  EXPECT_EQ(types, (std::set<std::string>{kClusterType, kListenerType}));

  ASSERT_TRUE(service_->Send(Clusters("1", {"a", "b"}, {})));
  auto ack = ReplyTo(*service_, "1");
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->has_error_detail());
  EXPECT_EQ(handler_.Last(kClusterType), (std::set<std::string>{"a", "b"}));

  // Incremental: c added, a removed; the handler sees the whole result.
  ASSERT_TRUE(service_->Send(Clusters("2", {"c"}, {"a"})));
  ack = ReplyTo(*service_, "2");
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->has_error_detail());
  EXPECT_EQ(handler_.Last(kClusterType), (std::set<std::string>{"b", "c"}));

  // Refused: NACK with the reason, and the kept set does not move.
  ASSERT_TRUE(service_->Send(Clusters("3", {"bad"}, {"b"})));
  auto nack = ReplyTo(*service_, "3");
  ASSERT_TRUE(nack.has_value());
  ASSERT_TRUE(nack->has_error_detail());
  EXPECT_NE(nack->error_detail().message().find("cluster 'bad'"), std::string::npos);
  ASSERT_TRUE(service_->Send(Clusters("4", {"d"}, {})));
  ASSERT_TRUE(ReplyTo(*service_, "4").has_value());
  EXPECT_EQ(handler_.Last(kClusterType), (std::set<std::string>{"b", "c", "d"}));

  // The server goes away and comes back on the same port: the client's first
  // CDS request announces what it holds.
  server_->Shutdown(std::chrono::system_clock::now() + 100ms);
  server_.reset();
  StartServer(port_);
  ASSERT_TRUE(service_->WaitForStreams(1));
  std::optional<DeltaDiscoveryRequest> cds;
  for (int i = 0; i < 2 && !cds; ++i) {
    auto r = service_->NextRequest();
    ASSERT_TRUE(r.has_value());
    if (r->type_url() == kClusterType) cds = r;
  }
  ASSERT_TRUE(cds.has_value());
  std::map<std::string, std::string> versions(cds->initial_resource_versions().begin(),
                                              cds->initial_resource_versions().end());
  EXPECT_EQ(versions,
            (std::map<std::string, std::string>{{"b", "b-1"}, {"c", "c-2"}, {"d", "d-4"}}));
}

TEST_F(AdsDeltaTest, NamedSubscriptionsGoOutAsSubscribeAndUnsubscribe) {
  StartClient();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(service_->NextRequest().has_value());
  client_->SetSubscription(kRouteType, {"r1", "r2"});
  auto first = service_->NextRequest();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type_url(), kRouteType);
  EXPECT_EQ(std::set<std::string>(first->resource_names_subscribe().begin(),
                                  first->resource_names_subscribe().end()),
            (std::set<std::string>{"r1", "r2"}));
  client_->SetSubscription(kRouteType, {"r2", "r3"});
  auto change = service_->NextRequest();
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(std::vector<std::string>(change->resource_names_subscribe().begin(),
                                     change->resource_names_subscribe().end()),
            std::vector<std::string>{"r3"});
  EXPECT_EQ(std::vector<std::string>(change->resource_names_unsubscribe().begin(),
                                     change->resource_names_unsubscribe().end()),
            std::vector<std::string>{"r1"});
}

}  // namespace
}  // namespace meshgate::proxy::xds
