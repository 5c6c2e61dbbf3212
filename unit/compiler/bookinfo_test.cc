// Istio's bookinfo samples (shared/compat/istio/bookinfo), decoded from YAML
// and compiled with Services for the bookinfo hosts: no error diagnostics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/decode.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using namespace testing;  // NOLINT

const char kBookinfoDir[] = MESHGATE_SOURCE_DIR "/../shared/compat/istio/bookinfo/";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The bookinfo Services, as the sample's platform/kube/bookinfo.yaml defines
// them, with Pods for every version the samples route to.
MeshBuilder BookinfoServices() {
  MeshBuilder mesh;
  mesh.AddService("default", "productpage", {HttpPort(9080, 9080)}, {"v1"});
  mesh.AddService("default", "details", {HttpPort(9080, 9080)}, {"v1", "v2"});
  mesh.AddService("default", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2", "v3"});
  mesh.AddService("default", "ratings", {HttpPort(9080, 9080)},
                  {"v1", "v2", "v2-mysql", "v2-mysql-vm"});
  return mesh;
}

std::vector<api::ResourcePtr> DecodeFile(const std::filesystem::path& path) {
  api::DecodeOptions options;
  options.source_name = path.string();
  api::DecodeResult result = api::Decode(ReadFile(path), options);
  for (const auto& d : result.diagnostics) {
    EXPECT_NE(d.severity, api::Diagnostic::Severity::kError) << d.ToString();
  }
  return result.resources;
}

std::vector<std::filesystem::path> BookinfoFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kBookinfoDir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void ExpectNoErrors(const CompiledResources& out, const std::string& what) {
  for (const auto& d : out.diagnostics) {
    EXPECT_NE(d.severity, CompileDiagnostic::Severity::kError) << what << ": " << d.ToString();
  }
}

ProxyTarget Ingress() {
  ProxyTarget t;
  t.role = ProxyTarget::Role::kGateway;
  t.namespace_ = "istio-system";
  t.labels = {{"istio", "ingressgateway"}};
  return t;
}

TEST(Bookinfo, EveryFileCompilesWithoutErrors) {
  auto files = BookinfoFiles();
  ASSERT_GE(files.size(), 20u);
  for (const auto& file : files) {
    MeshBuilder mesh = BookinfoServices();
    // Subsets come from the destination rules; every file is compiled with them.
    for (auto& r : DecodeFile(std::filesystem::path(kBookinfoDir) / "destination-rule-all.yaml")) {
      mesh.Add(r);
    }
    for (auto& r : DecodeFile(file)) mesh.Add(r);
    auto snapshot = mesh.Build();
    auto compiled = BuildMesh(snapshot, {});
    for (const auto& target : {Sidecar("default", {{"app", "productpage"}}), Ingress()}) {
      CompiledResources out = CompileForProxy(*compiled, target);
      ExpectNoErrors(out, file.filename().string());
      if (target.role == ProxyTarget::Role::kSidecar) {
        EXPECT_TRUE(out.listeners.count("virtualOutbound")) << file;
        EXPECT_TRUE(out.routes.count("9080")) << file;
      }
    }
  }
}

TEST(Bookinfo, GatewayRoutesProductpage) {
  MeshBuilder mesh = BookinfoServices();
  for (auto& r : DecodeFile(std::filesystem::path(kBookinfoDir) / "bookinfo-gateway.yaml")) {
    mesh.Add(r);
  }
  auto out = Compile(mesh.Build(), Ingress());
  ExpectNoErrors(out, "bookinfo-gateway");
  ASSERT_EQ(out.listeners.count("0.0.0.0_8080"), 1u);
  const auto& rc = *out.routes.at("http.8080").resource;
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  EXPECT_THAT(rc.virtual_hosts(0).domains(), ::testing::ElementsAre("*"));
  ASSERT_EQ(rc.virtual_hosts(0).routes_size(), 5);
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).match().path(), "/productpage");
  EXPECT_EQ(rc.virtual_hosts(0).routes(1).match().prefix(), "/static");
  EXPECT_EQ(rc.virtual_hosts(0).routes(0).route().cluster(),
            "outbound|9080||productpage.default.svc.cluster.local");
}

TEST(Bookinfo, JasonGoesToReviewsV2) {
  MeshBuilder mesh = BookinfoServices();
  for (const char* f : {"destination-rule-all.yaml", "virtual-service-reviews-jason-v2-v3.yaml"}) {
    for (auto& r : DecodeFile(std::filesystem::path(kBookinfoDir) / f)) mesh.Add(r);
  }
  auto out = Compile(mesh.Build(), Sidecar("default"));
  const auto* vhost =
      FindVhost(*out.routes.at("9080").resource, "reviews.default.svc.cluster.local:9080");
  ASSERT_NE(vhost, nullptr);
  ASSERT_EQ(vhost->routes_size(), 2);
  ASSERT_EQ(vhost->routes(0).match().headers_size(), 1);
  EXPECT_EQ(vhost->routes(0).match().headers(0).name(), "end-user");
  EXPECT_EQ(vhost->routes(0).match().headers(0).string_match().exact(), "jason");
  EXPECT_EQ(vhost->routes(0).route().cluster(),
            "outbound|9080|v2|reviews.default.svc.cluster.local");
  EXPECT_EQ(vhost->routes(1).route().cluster(),
            "outbound|9080|v3|reviews.default.svc.cluster.local");
}

}  // namespace
}  // namespace meshgate::compiler
