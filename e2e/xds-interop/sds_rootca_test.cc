// The CA's trust bundle reaches proxies over SDS: a real ADS client asks the
// real meshgate-operator for the Secret `ROOTCA` (Istio's name) and must get
// exactly the roots the CA wrote to STATE_DIR/ca/root-cert.pem.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "e2e/support/subprocess.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "gtest/gtest.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

TEST(SdsRootCa, TrustBundleIsServedAsRootCaSecret) {
  TempDir config;
  config.WriteFile("empty.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n");
  TempDir state;
  int xds_port = PickFreePort();
  Subprocess op({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir", config.path(),
                 "--state-dir", state.path(), "--xds-port", std::to_string(xds_port),
                 "--admin-port", "0", "--ca-port", std::to_string(PickFreePort())});
  ASSERT_TRUE(op.WaitForSubstring("xDS (ADS) serving", 20s)) << op.Output();

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(xds_port),
                                     grpc::InsecureChannelCredentials());
  auto stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  auto stream = stub->StreamAggregatedResources(&ctx);
  DiscoveryRequest request;
  request.mutable_node()->set_id("sds-test");
  (*request.mutable_node()->mutable_metadata()->mutable_fields())["MESHGATE_ROLE"].set_string_value(
      "sidecar");
  request.set_type_url(kSecretType);
  request.add_resource_names("ROOTCA");
  ASSERT_TRUE(stream->Write(request));
  DiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response)) << op.Output();
  ASSERT_EQ(response.type_url(), kSecretType);
  ASSERT_EQ(response.resources_size(), 1);
  envoy::extensions::transport_sockets::tls::v3::Secret secret;
  ASSERT_TRUE(response.resources(0).UnpackTo(&secret));
  EXPECT_EQ(secret.name(), "ROOTCA");

  std::ifstream in(state.path() + "/ca/root-cert.pem");
  std::stringstream pem;
  pem << in.rdbuf();
  ASSERT_FALSE(pem.str().empty());
  EXPECT_EQ(secret.validation_context().trusted_ca().inline_bytes(), pem.str());
  EXPECT_NE(pem.str().find("BEGIN CERTIFICATE"), std::string::npos);
  stream->WritesDone();
  ctx.TryCancel();
  EXPECT_EQ(op.Stop(SIGTERM, 10s), 0) << op.Output();
}

}  // namespace
}  // namespace meshgate::e2e
