// Interop with an independent xDS client. gRPC's own xDS client (libgrpc++,
// `xds:///` targets, GRPC_XDS_BOOTSTRAP) is pointed at a real
// meshgate-operator serving a config directory; it calls two real gRPC
// backends through a VirtualService with a 75/25 split and a header-matched
// route. gRPC's client rejects malformed resources, so traffic reaching the
// right backends proves the resources are right. Then the config file is
// edited and the new split must take effect without restarting the client.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "e2e/support/mesh_yaml.h"
#include "e2e/support/subprocess.h"
#include "e2e/xds-interop/echo.grpc.pb.h"
#include "gtest/gtest.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

class NamedEcho final : public meshgate::test::Echo::Service {
 public:
  explicit NamedEcho(std::string name) : name_(std::move(name)) {}
  grpc::Status Call(grpc::ServerContext*, const meshgate::test::EchoRequest* request,
                    meshgate::test::EchoReply* reply) override {
    reply->set_backend(name_);
    reply->set_payload(request->payload());
    return grpc::Status::OK;
  }

 private:
  std::string name_;
};

struct Backend {
  std::unique_ptr<NamedEcho> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

Backend StartBackend(const std::string& name) {
  Backend b;
  b.service = std::make_unique<NamedEcho>(name);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &b.port);
  builder.RegisterService(b.service.get());
  b.server = builder.BuildAndStart();
  return b;
}

std::string MeshConfig(int port_a, int port_b) {
  std::string config = ServiceYaml("demo", "echo", "grpc", 9000, "grpc") +
                       PodYaml("demo", "echo-a", "echo", {{"version", "a"}}) +
                       PodYaml("demo", "echo-b", "echo", {{"version", "b"}}) +
                       EndpointSliceYaml("demo", "echo-a", "echo", "echo-a", "grpc", port_a) +
                       EndpointSliceYaml("demo", "echo-b", "echo", "echo-b", "grpc", port_b);
  config += R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo.demo.svc.cluster.local
  subsets:
  - {name: a, labels: {version: a}}
  - {name: b, labels: {version: b}}
)";
  return config;
}

std::string Routes(int weight_a, int weight_b) {
  return R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo.demo.svc.cluster.local]
  http:
  - name: canary
    match:
    - headers:
        x-canary: {exact: "true"}
    route:
    - destination: {host: echo.demo.svc.cluster.local, subset: b}
  - name: split
    route:
    - destination: {host: echo.demo.svc.cluster.local, subset: a}
      weight: )" +
         std::to_string(weight_a) + R"(
    - destination: {host: echo.demo.svc.cluster.local, subset: b}
      weight: )" +
         std::to_string(weight_b) + "\n";
}

// Calls the service `n` times and counts answers per backend.
std::map<std::string, int> CallMany(meshgate::test::Echo::Stub& stub, int n, bool canary) {
  std::map<std::string, int> seen;
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ctx.set_wait_for_ready(true);
    if (canary) ctx.AddMetadata("x-canary", "true");
    meshgate::test::EchoRequest req;
    req.set_payload("ping");
    meshgate::test::EchoReply reply;
    grpc::Status status = stub.Call(&ctx, req, &reply);
    ++seen[status.ok() ? reply.backend() : "error: " + status.error_message()];
  }
  return seen;
}

TEST(XdsGrpcInterop, WeightedSplitHeaderRouteAndLiveEdit) {
  Backend a = StartBackend("a");
  Backend b = StartBackend("b");
  ASSERT_GT(a.port, 0);
  ASSERT_GT(b.port, 0);

  TempDir config;
  config.WriteFile("mesh.yaml", MeshConfig(a.port, b.port));
  config.WriteFile("routes.yaml", Routes(75, 25));
  TempDir state;

  int xds_port = PickFreePort();
  int admin_port = PickFreePort();
  Subprocess op({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir", config.path(),
                 "--state-dir", state.path(), "--xds-port", std::to_string(xds_port),
                 "--admin-port", std::to_string(admin_port), "--ca-port", "0", "--debounce",
                 "20ms"});
  ASSERT_TRUE(op.started());

  std::string bootstrap_path = state.path() + "/grpc-bootstrap.json";
  {
    std::ofstream out(bootstrap_path);
    out << R"({"xds_servers": [{"server_uri": "127.0.0.1:)" << xds_port
        << R"(", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
  "node": {"id": "proxyless-interop", "metadata": {"GENERATOR": "grpc", "NAMESPACE": "demo"}}})";
  }
  setenv("GRPC_XDS_BOOTSTRAP", bootstrap_path.c_str(), 1);

  auto channel = grpc::CreateChannel("xds:///echo.demo.svc.cluster.local:9000",
                                     grpc::InsecureChannelCredentials());
  auto stub = meshgate::test::Echo::NewStub(channel);

  // First call waits for the xDS client to receive a complete config.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    ctx.set_wait_for_ready(true);
    meshgate::test::EchoRequest req;
    meshgate::test::EchoReply reply;
    grpc::Status status = stub->Call(&ctx, req, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\noperator output:\n" << op.Output();
  }

  // 75/25: with 400 calls, a's count has a standard deviation of ~8.7; allow 5 of them.
  auto split = CallMany(*stub, 400, /*canary=*/false);
  EXPECT_EQ(split["a"] + split["b"], 400) << "errors: " << split.size();
  EXPECT_NEAR(split["a"], 300, 44) << "a=" << split["a"] << " b=" << split["b"];

  auto canary = CallMany(*stub, 50, /*canary=*/true);
  EXPECT_EQ(canary["b"], 50) << "a=" << canary["a"];

  // Edit the file: 25/75. The client must pick it up without restarting.
  config.WriteFile("routes.yaml", Routes(25, 75));
  std::map<std::string, int> after;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    after = CallMany(*stub, 100, /*canary=*/false);
  } while (after["a"] > 40 && std::chrono::steady_clock::now() < deadline);
  after = CallMany(*stub, 400, /*canary=*/false);
  EXPECT_NEAR(after["a"], 100, 44) << "a=" << after["a"] << " b=" << after["b"];

  EXPECT_EQ(op.Stop(SIGTERM, 10s), 0) << op.Output();
  a.server->Shutdown();
  b.server->Shutdown();
}

}  // namespace
}  // namespace meshgate::e2e
