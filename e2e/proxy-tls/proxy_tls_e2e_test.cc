// TLS end to end: the real meshgate-operator (file mode, with its CA) programs
// a real meshgate-proxy gateway over ADS and SDS.
//
//  * A Gateway server in TLS SIMPLE mode whose certificate is a
//    kubernetes.io/tls Secret (credentialName), delivered over SDS; curl
//    verifies it with --cacert, and a replaced Secret reaches new handshakes.
//  * The same gateway holds a CA-issued workload identity (--ca-address) and
//    calls an ISTIO_MUTUAL upstream: nginx with a certificate from the same
//    CA, requiring and verifying the gateway's client certificate.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/csr.h"
#include "ca/openssl_util.h"
#include "ca/rotator.h"
#include "e2e/support/mesh_yaml.h"
#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kGatewayToken[] = "gateway-bootstrap-token";
constexpr char kSecureToken[] = "secure-bootstrap-token";
constexpr char kGatewayId[] = "spiffe://cluster.local/ns/demo/sa/gateway";
constexpr char kSecureId[] = "spiffe://cluster.local/ns/demo/sa/secure";

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

// A self-signed CA and a server certificate for demo.example.com, made with
// the openssl binary; returns {ca_pem, cert_pem, key_pem}.
std::array<std::string, 3> MakeServingCert(const std::string& dir, const std::string& tag,
                                           const std::string& host = "demo.example.com") {
  std::string p = dir + "/" + tag;
  std::string cmd = absl::StrCat(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
      "'/CN=",
      tag, " root' -keyout ", p, "-ca.key -out ", p,
      "-ca.pem 2>/dev/null && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj /CN=",
      host, " -keyout ", p, ".key -out ", p,
      ".csr 2>/dev/null && printf 'subjectAltName=DNS:", host, "\\n",
      "extendedKeyUsage=serverAuth\\n' > ", p, ".ext && openssl x509 -req -in ", p, ".csr -CA ", p,
      "-ca.pem -CAkey ", p, "-ca.key -CAcreateserial -days 1 -extfile ", p, ".ext -out ", p,
      ".pem 2>/dev/null");
  int rc = -1;
  RunCommand(cmd, &rc);
  EXPECT_EQ(rc, 0) << cmd;
  return {ReadFile(p + "-ca.pem"), ReadFile(p + ".pem"), ReadFile(p + ".key")};
}

std::string Indent(const std::string& pem, const std::string& pad) {
  std::string out;
  size_t pos = 0;
  while (pos < pem.size()) {
    size_t nl = pem.find('\n', pos);
    if (nl == std::string::npos) nl = pem.size();
    out += pad + pem.substr(pos, nl - pos) + "\n";
    pos = nl + 1;
  }
  return out;
}

std::string TlsSecretYaml(const std::string& name, const std::string& cert,
                          const std::string& key) {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name +
         ", namespace: demo}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n" +
         Indent(cert, "    ") + "  tls.key: |\n" + Indent(key, "    ");
}

std::string MeshYaml(int gateway_port, int sni_port, int echo_port, int secure_port) {
  std::string y = ServiceYaml("demo", "echo", "http", 8080) +
                  PodYaml("demo", "echo-1", "echo", {{"version", "v1"}}) +
                  EndpointSliceYaml("demo", "echo-1", "echo", "echo-1", "http", echo_port) +
                  ServiceYaml("demo", "secure", "http", 8443) +
                  PodYaml("demo", "secure-1", "secure", {{"version", "v1"}}) +
                  EndpointSliceYaml("demo", "secure-1", "secure", "secure-1", "http", secure_port);
  y += R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: demo}
spec:
  host: secure.demo.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls-gateway, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
       std::to_string(gateway_port) + R"(, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: gw-cred}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: demo, namespace: demo}
spec:
  hosts: [demo.example.com]
  gateways: [tls-gateway]
  http:
  - name: secure
    match: [{uri: {prefix: /secure}}]
    route: [{destination: {host: secure.demo.svc.cluster.local}}]
  - name: echo
    route: [{destination: {host: echo.demo.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: sni-gateway, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
       std::to_string(sni_port) + R"(, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: a-cred}
  - port: {number: )" +
       std::to_string(sni_port) + R"(, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: b-cred}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sni, namespace: demo}
spec:
  hosts: [a.example.com, b.example.com]
  gateways: [sni-gateway]
  http:
  - route: [{destination: {host: echo.demo.svc.cluster.local}}]
)";
  return y;
}

class ProxyTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new TempDir();
    state_ = new TempDir();
    work_ = new TempDir();
    gateway_port_ = PickFreePort();
    admin_port_ = PickFreePort();
    xds_port_ = PickFreePort();
    ca_port_ = PickFreePort();
    int echo_port = PickFreePort();
    secure_port_ = PickFreePort();

    echo_ = new Subprocess(
        {MESHGATE_BINARY_DIR "/bin/meshgate-echo", "--port", std::to_string(echo_port)});
    ASSERT_TRUE(echo_->WaitForSubstring("listening", 10s)) << echo_->Output();

    std::string tokens = work_->path() + "/tokens";
    WriteFile(tokens, absl::StrCat(kGatewayToken, " ", kGatewayId, "\n", kSecureToken, " ",
                                   kSecureId, "\n"));
    first_cert_ = MakeServingCert(work_->path(), "first");
    sni_port_ = PickFreePort();
    config_->WriteFile("mesh.yaml", MeshYaml(gateway_port_, sni_port_, echo_port, secure_port_));
    auto a = MakeServingCert(work_->path(), "a", "a.example.com");
    auto b = MakeServingCert(work_->path(), "b", "b.example.com");
    config_->WriteFile("sni-secrets.yaml", TlsSecretYaml("a-cred", a[1], a[2]) + "---\n" +
                                               TlsSecretYaml("b-cred", b[1], b[2]));
    config_->WriteFile("secret.yaml", TlsSecretYaml("gw-cred", first_cert_[1], first_cert_[2]));
    op_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir",
                          config_->path(), "--state-dir", state_->path(), "--xds-port",
                          std::to_string(xds_port_), "--admin-port", "0", "--ca-port",
                          std::to_string(ca_port_), "--ca-tokens", tokens, "--debounce", "20ms"});
    root_file_ = state_->path() + "/ca/root-cert.pem";
    ASSERT_TRUE(op_->WaitForSubstring("CA serving", 20s)) << op_->Output();
    ASSERT_TRUE(std::filesystem::exists(root_file_));

    // The upstream: nginx with a certificate from the mesh CA, requiring a
    // client certificate from the same CA.
    StartSecureUpstream();

    WriteFile(work_->path() + "/gateway.token", kGatewayToken);
    proxy_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-proxy",
                             "--xds-address",
                             "127.0.0.1:" + std::to_string(xds_port_),
                             "--node-id",
                             "tls-gateway-1",
                             "--role",
                             "gateway",
                             "--namespace",
                             "demo",
                             "--service-account",
                             "gateway",
                             "--labels",
                             "istio=ingressgateway",
                             "--admin-port",
                             std::to_string(admin_port_),
                             "--workers",
                             "2",
                             "--access-log",
                             work_->path() + "/access.log",
                             "--ca-address",
                             "127.0.0.1:" + std::to_string(ca_port_),
                             "--token-file",
                             work_->path() + "/gateway.token",
                             "--ca-root-file",
                             root_file_});
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (RunCommand("curl -s -m 2 http://127.0.0.1:" + std::to_string(admin_port_) + "/ready") ==
          "LIVE\n") {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(100ms);  // polling another process's readiness
    }
    ASSERT_TRUE(ready_) << "proxy never became ready\nproxy:\n"
                        << proxy_->Output() << "\noperator:\n"
                        << op_->Output();
  }

  static void StartSecureUpstream() {
    ca::GrpcCsrClient::Options options;
    options.target = "127.0.0.1:" + std::to_string(ca_port_);
    options.root_pem = ReadFile(root_file_);
    options.bearer_token = kSecureToken;
    ca::GrpcCsrClient client(options);
    auto key = ca::GenerateKey(ca::KeyAlgorithm::kEcdsaP256);
    ASSERT_TRUE(key.ok());
    auto csr = ca::BuildWorkloadCsrPem(key->get(), *ca::SpiffeId::Parse(kSecureId));
    ASSERT_TRUE(csr.ok());
    auto chain = client.CreateCertificate(*csr, absl::Hours(1), nullptr);
    ASSERT_TRUE(chain.ok()) << chain.status();
    std::string chain_pem;
    for (const auto& c : *chain) chain_pem += c;
    std::string dir = work_->path() + "/nginx";
    std::filesystem::create_directories(dir);
    WriteFile(dir + "/cert.pem", chain_pem);
    WriteFile(dir + "/key.pem", *ca::PrivateKeyToPem(key->get()));
    WriteFile(
        dir + "/nginx.conf",
        absl::StrCat("master_process off;\nworker_processes 1;\npid ", dir,
                     "/nginx.pid;\nerror_log ", dir,
                     "/error.log;\nevents {}\nhttp {\n  access_log off;\n"
                     "  client_body_temp_path ",
                     dir, ";\n  proxy_temp_path ", dir, ";\n  fastcgi_temp_path ", dir,
                     ";\n  uwsgi_temp_path ", dir, ";\n  scgi_temp_path ", dir,
                     ";\n  server {\n    listen 127.0.0.1:", secure_port_,
                     " ssl;\n    ssl_certificate ", dir, "/cert.pem;\n    ssl_certificate_key ",
                     dir, "/key.pem;\n    ssl_client_certificate ", root_file_,
                     ";\n    ssl_verify_client on;\n    location / {\n"
                     "      return 200 \"verify=$ssl_client_verify\\n"
                     "$ssl_client_escaped_cert\\n\";\n    }\n  }\n}\n"));
    nginx_ = new Subprocess(
        {"/usr/sbin/nginx", "-p", dir, "-c", dir + "/nginx.conf", "-g", "daemon off;"});
  }

  static void TearDownTestSuite() {
    // Orderly stops: a killed process leaves no children holding its output.
    for (Subprocess* p : {proxy_, nginx_, op_, echo_}) {
      if (p != nullptr) p->Stop(SIGTERM, 10s);
      delete p;
    }
    delete config_;
    delete state_;
    delete work_;
  }

  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "setup failed";
  }

  static std::string Https(const std::string& ca_file, const std::string& path,
                           int* exit_code = nullptr) {
    return RunCommand(
        absl::StrCat("curl -s -m 10 --cacert ", ca_file,
                     " --resolve demo.example.com:", gateway_port_,
                     ":127.0.0.1 https://demo.example.com:", gateway_port_, path, " 2>&1"),
        exit_code);
  }

  template <typename Probe>
  static bool Eventually(Probe probe, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return probe();
  }

  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline TempDir* work_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* proxy_ = nullptr;
  static inline Subprocess* echo_ = nullptr;
  static inline Subprocess* nginx_ = nullptr;
  static inline int sni_port_ = 0;
  static inline int gateway_port_ = 0, admin_port_ = 0, xds_port_ = 0, ca_port_ = 0,
                    secure_port_ = 0;
  static inline std::string root_file_;
  static inline std::array<std::string, 3> first_cert_;
  static inline bool ready_ = false;
};

TEST_F(ProxyTlsTest, GatewayServesTheCertificateItGotOverSds) {
  std::string ca = work_->path() + "/first-ca.pem";
  int rc = -1;
  std::string body = Https(ca, "/hello", &rc);
  EXPECT_EQ(rc, 0) << body;
  EXPECT_TRUE(absl::StrContains(body, "/hello")) << body;

  // Another CA's bundle does not verify it: curl really checked.
  MakeServingCert(work_->path(), "stranger");
  RunCommand(absl::StrCat("curl -s -m 10 --cacert ", work_->path(), "/stranger-ca.pem",
                          " --resolve demo.example.com:", gateway_port_,
                          ":127.0.0.1 https://demo.example.com:", gateway_port_, "/ >/dev/null"),
             &rc);
  EXPECT_NE(rc, 0);
}

TEST_F(ProxyTlsTest, CurlNegotiatesHttp2OverTlsWithAlpn) {
  std::string ca = work_->path() + "/first-ca.pem";
  int rc = -1;
  std::string out =
      RunCommand(absl::StrCat("curl -s -m 10 --http2 --cacert ", ca, " --resolve demo.example.com:",
                              gateway_port_, ":127.0.0.1 -w '\\n%{http_version} %{http_code}' ",
                              "https://demo.example.com:", gateway_port_, "/over-h2 2>&1"),
                 &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "/over-h2")) << out;
  EXPECT_TRUE(absl::EndsWith(out, "\n2 200")) << out;
  // A client that offers only HTTP/1.1 still gets it.
  out = RunCommand(absl::StrCat("curl -s -m 10 --http1.1 --cacert ", ca,
                                " --resolve demo.example.com:", gateway_port_,
                                ":127.0.0.1 -w '\\n%{http_version} %{http_code}' ",
                                "https://demo.example.com:", gateway_port_, "/over-h1 2>&1"),
                   &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::EndsWith(out, "\n1.1 200")) << out;
}

TEST_F(ProxyTlsTest, ReplacedSecretReachesNewHandshakes) {
  auto second = MakeServingCert(work_->path(), "second");
  config_->WriteFile("secret.yaml", TlsSecretYaml("gw-cred", second[1], second[2]));
  std::string second_ca = work_->path() + "/second-ca.pem";
  EXPECT_TRUE(Eventually([&] {
    int rc = -1;
    Https(second_ca, "/", &rc);
    return rc == 0;
  })) << proxy_->Output();
  int rc = -1;
  Https(work_->path() + "/first-ca.pem", "/", &rc);
  EXPECT_NE(rc, 0);  // the old certificate is no longer presented
  // Put the first one back for the other tests.
  config_->WriteFile("secret.yaml", TlsSecretYaml("gw-cred", first_cert_[1], first_cert_[2]));
  EXPECT_TRUE(Eventually([&] {
    int code = -1;
    Https(work_->path() + "/first-ca.pem", "/", &code);
    return code == 0;
  }));
}

TEST_F(ProxyTlsTest, IstioMutualUpstreamWithCaIssuedIdentities) {
  std::string body = Https(work_->path() + "/first-ca.pem", "/secure");
  ASSERT_TRUE(absl::StrContains(body, "verify=SUCCESS")) << body << "\n" << proxy_->Output();
  // nginx saw the gateway's CA-issued certificate: its URI SAN is the
  // gateway's SPIFFE ID.
  size_t begin = body.find("-----BEGIN");
  ASSERT_NE(begin, std::string::npos) << body;
  std::string escaped = body.substr(begin);
  std::string pem;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '%' && i + 2 < escaped.size()) {
      pem += static_cast<char>(std::stoi(escaped.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      pem += escaped[i];
    }
  }
  auto cert = ca::CertificateFromPem(pem);
  ASSERT_TRUE(cert.ok()) << cert.status() << pem;
  EXPECT_EQ(ca::UriSans(cert->get()), std::vector<std::string>{kGatewayId});
}

TEST_F(ProxyTlsTest, FilterChainAndCertificateAreChosenBySni) {
  auto https = [&](const std::string& host, const std::string& ca) {
    int rc = -1;
    std::string out = RunCommand(
        absl::StrCat("curl -s -m 10 --cacert ", work_->path(), "/", ca, "-ca.pem --resolve ", host,
                     ":", sni_port_, ":127.0.0.1 https://", host, ":", sni_port_, "/sni 2>&1"),
        &rc);
    return std::make_pair(rc, out);
  };
  auto a = https("a.example.com", "a");
  EXPECT_EQ(a.first, 0) << a.second;
  EXPECT_TRUE(absl::StrContains(a.second, "/sni")) << a.second;
  auto b = https("b.example.com", "b");
  EXPECT_EQ(b.first, 0) << b.second;
  // b.example.com is answered with b's certificate, which a's CA does not sign.
  EXPECT_NE(https("b.example.com", "a").first, 0);
}

TEST_F(ProxyTlsTest, ClientWithoutTrustingTheGatewayCannotTalkPlaintextEither) {
  // The TLS listener speaks only TLS: a plaintext request gets no HTTP reply.
  std::string out = RunCommand(absl::StrCat("curl -s -m 5 -o /dev/null -w '%{http_code}' ",
                                            "http://127.0.0.1:", gateway_port_, "/"));
  EXPECT_EQ(out, "000");
}

}  // namespace
}  // namespace meshgate::e2e
