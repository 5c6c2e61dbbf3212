// The per-type xDS services (CDS, EDS, LDS, RDS, SDS, each SotW and delta):
// a real gRPC server on loopback and clients calling the methods by their
// Envoy names, as a non-ADS Envoy does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/sync_stream.h"
#include "unit/xds-server/xds_test_util.h"

namespace meshgate::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using namespace testing;  // NOLINT

struct PerType {
  std::string path;  // "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters"
  std::string type_url;
  std::vector<std::string> subscribe;  // empty: wildcard
  std::vector<std::string> expect;
  std::string other_type;  // a type this service must refuse
};

// The harness's cache and ADS server, with the per-type services on a second
// loopback server.
class PerTypeServices : public ::testing::TestWithParam<PerType> {
 protected:
  PerTypeServices() {
    Snapshot::Builder b;
    b.Add(R("a", EdsCluster("a")))
        .Add(R("a", Endpoints("a", 8000)))
        .Add(R("listener-0", HttpListener("listener-0", "routes-0", 80)))
        .Add(R("routes-0", Routes("routes-0", "a")))
        .Add(R("s1", GenericSecret("s1", "value")));
    EXPECT_TRUE(h_.cache.SetSnapshot("node-1", b.Build()).ok());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    for (grpc::Service* s : h_.ads->per_type_services()) builder.RegisterService(s);
    server_ = builder.BuildAndStart();
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  ~PerTypeServices() override {
    server_->Shutdown();
    server_->Wait();
  }

  template <typename Req, typename Resp>
  std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>> Open(const std::string& path,
                                                            grpc::ClientContext* context) {
    grpc::internal::RpcMethod method(path.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING);
    return std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>>(
        grpc::internal::ClientReaderWriterFactory<Req, Resp>::Create(channel_.get(), method,
                                                                     context));
  }

  XdsHarness h_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(PerTypeServices, ServeTheirTypeAndRefuseOthers) {
  const PerType& p = GetParam();
  grpc::ClientContext context;
  auto stream = Open<DiscoveryRequest, DiscoveryResponse>(p.path, &context);
  DiscoveryRequest req;
  *req.mutable_node() = TestNode("node-1");
  // No type_url: a per-type service knows its type.
  for (const auto& n : p.subscribe) req.add_resource_names(n);
  ASSERT_TRUE(stream->Write(req));
  DiscoveryResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.type_url(), p.type_url);
  EXPECT_THAT(NamesOf(resp), ElementsAreArray(p.expect));

  // ACK, then ask for another type on the same stream.
  DiscoveryRequest ack;
  ack.set_type_url(p.type_url);
  ack.set_version_info(resp.version_info());
  ack.set_response_nonce(resp.nonce());
  for (const auto& n : p.subscribe) ack.add_resource_names(n);
  ASSERT_TRUE(stream->Write(ack));
  DiscoveryRequest other;
  other.set_type_url(p.other_type);
  stream->Write(other);
  stream->WritesDone();
  while (stream->Read(&resp)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("this service serves " + p.type_url));
}

INSTANTIATE_TEST_SUITE_P(
    Types, PerTypeServices,
    ::testing::Values(PerType{"/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters",
                              std::string(kClusterType),
                              {},
                              {"a"},
                              std::string(kListenerType)},
                      PerType{"/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints",
                              std::string(kEndpointType),
                              {"a"},
                              {"a"},
                              std::string(kClusterType)},
                      PerType{"/envoy.service.listener.v3.ListenerDiscoveryService/StreamListeners",
                              std::string(kListenerType),
                              {},
                              {"listener-0"},
                              std::string(kRouteType)},
                      PerType{"/envoy.service.route.v3.RouteDiscoveryService/StreamRoutes",
                              std::string(kRouteType),
                              {"routes-0"},
                              {"routes-0"},
                              std::string(kSecretType)},
                      PerType{"/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets",
                              std::string(kSecretType),
                              {"s1"},
                              {"s1"},
                              std::string(kEndpointType)}),
    [](const ::testing::TestParamInfo<PerType>& info) {
      std::string path = info.param.path;
      return path.substr(path.rfind('/') + 1);
    });

TEST_F(PerTypeServices, DeltaClustersServesClustersIncrementally) {
  grpc::ClientContext context;
  auto stream = Open<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
      "/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters", &context);
  DeltaDiscoveryRequest req;
  *req.mutable_node() = TestNode("node-1");
  req.set_type_url(std::string(kClusterType));
  ASSERT_TRUE(stream->Write(req));
  DeltaDiscoveryResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.type_url(), kClusterType);
  EXPECT_THAT(NamesOf(resp), ElementsAreArray({"a"}));

  // A new snapshot with one more cluster: the delta carries only it.
  Snapshot::Builder b;
  b.Add(R("a", EdsCluster("a")))
      .Add(R("a", Endpoints("a", 8000)))
      .Add(R("b", EdsCluster("b")))
      .Add(R("b", Endpoints("b", 8001)));
  DeltaDiscoveryRequest ack;
  ack.set_type_url(std::string(kClusterType));
  ack.set_response_nonce(resp.nonce());
  ASSERT_TRUE(stream->Write(ack));
  ASSERT_TRUE(h_.cache.SetSnapshot("node-1", b.Build()).ok());
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_THAT(NamesOf(resp), ElementsAreArray({"b"}));
  context.TryCancel();
}

}  // namespace
}  // namespace meshgate::xds
