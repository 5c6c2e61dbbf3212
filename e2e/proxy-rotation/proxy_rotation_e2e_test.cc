// Workload certificate renewal and CA root rotation under load, end to end:
//
//   test clients --HTTP/1.1--> gateway meshgate-proxy --ISTIO_MUTUAL-->
//   sidecar meshgate-proxy (interception mode NONE, PeerAuthentication
//   STRICT) --> nginx
//
// meshgate-operator compiles the config, serves xDS and runs the CA with
// lifetimes short enough to watch (--ca-min-ttl 10s, leaves of 12 s, so each
// proxy renews every ~6 s). While keep-alive clients and clients opening a
// connection per request run (paced at 5 ms per client), the test waits for
// renewals, and
// for a root rotation triggered with POST /debug/ca/rotate-root: the new
// bundle reaching both proxies, both renewing onto the new root, and the old
// root leaving every bundle at its drop time. The DestinationRule limits
// gateway -> sidecar connections to 3 requests each, so mTLS handshakes with
// whatever certificates the proxies hold at the moment happen all the time,
// next to long-lived client connections. Not one request may fail and no
// client connection may be closed. Retries are off in the route, so a
// failed upstream handshake would show as a failed request.
//
// What a proxy holds is read from the outside: its trust bundle from the
// admin /config_dump (SDS `ROOTCA`), its certificate from the log line each
// installation prints (serial and issuing root's fingerprint), and the
// sidecar's served chain once more through `openssl s_client`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kPodIp[] = "127.0.0.31";
constexpr char kGatewayId[] = "spiffe://cluster.local/ns/demo/sa/gateway";
constexpr char kEchoId[] = "spiffe://cluster.local/ns/demo/sa/echo";
constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Polls `condition` every 100 ms until it holds or `timeout` passes.
bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// SHA-256 fingerprints ("AB:CD:...", openssl's notation) of every
// certificate in `pem`, in order.
std::vector<std::string> Fingerprints(const std::string& pem) {
  std::vector<std::string> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    X509_digest(cert, EVP_sha256(), digest, &length);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
      absl::StrAppend(&hex, i > 0 ? ":" : "", absl::Hex(digest[i], absl::kZeroPad2));
    }
    out.push_back(absl::AsciiStrToUpper(hex));
    X509_free(cert);
  }
  BIO_free(bio);
  return out;
}

// Serial numbers (uppercase hex, as the proxy logs them) of every
// certificate in `pem`, in order.
std::vector<std::string> Serials(const std::string& pem) {
  std::vector<std::string> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(serial);
    out.push_back(hex);
    OPENSSL_free(hex);
    BN_free(serial);
    X509_free(cert);
  }
  BIO_free(bio);
  return out;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// One blocking HTTP/1.1 client connection to 127.0.0.1:port.
class HttpConnection {
 public:
  explicit HttpConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~HttpConnection() { close(fd_); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends a GET and reads the whole response. Returns "" on success, else
  // what went wrong; `*closed` tells whether the connection is unusable now.
  std::string Get(const std::string& path, bool keep_alive, bool* closed) {
    *closed = true;
    if (!connected_) return "connect failed";
    // No `Connection: close` on the one-shot connections: the test closes
    // them itself (the proxy forwards that header upstream today, which
    // churns the sidecar's origin connections; a separate matter).
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: rotation.test\r\n\r\n";
    if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return "send failed";
    }
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return "connection closed before the response headers";
    }
    std::string head = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    std::string lower = absl::AsciiStrToLower(head);
    std::string body;
    if (auto cl = lower.find("\r\ncontent-length:"); cl != std::string::npos) {
      size_t length = std::stoul(lower.substr(cl + 17));
      while (buffer_.size() < length) {
        if (!Fill()) return "connection closed inside the body";
      }
      body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    } else if (absl::StrContains(lower, "transfer-encoding: chunked")) {
      while (true) {
        size_t line_end;
        while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return "connection closed inside a chunk header";
        }
        size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
        while (buffer_.size() < line_end + 2 + size + 2) {
          if (!Fill()) return "connection closed inside a chunk";
        }
        body += buffer_.substr(line_end + 2, size);
        buffer_.erase(0, line_end + 2 + size + 2);
        if (size == 0) break;
      }
    } else {
      return "response without length: " + head;
    }
    *closed = !keep_alive || absl::StrContains(lower, "connection: close");
    if (head.rfind("HTTP/1.1 200", 0) != 0) return "status: " + head.substr(0, head.find('\r'));
    // The origin echoes x-forwarded-client-cert: the sidecar saw the gateway's identity.
    if (!absl::StrContains(body, absl::StrCat("URI=", kGatewayId))) {
      return "not through mesh mTLS: " + body;
    }
    return "";
  }

 private:
  bool Fill() {
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// Client load through the gateway until Stop(): `keep_alive` threads each
// reusing one connection, and one thread opening a connection per request.
class Load {
 public:
  Load(int port, int keep_alive, int new_connections = 1) {
    for (int i = 0; i < keep_alive; ++i) {
      threads_.emplace_back([this, port] { Run(port, true); });
    }
    for (int i = 0; i < new_connections; ++i) {
      threads_.emplace_back([this, port] { Run(port, false); });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  int64_t ok() const { return ok_; }
  int64_t ok_new_connections() const { return ok_new_connections_; }
  int64_t failed() const { return failed_; }
  int64_t keep_alive_connections_lost() const { return lost_; }
  std::string Errors() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& e : errors_) out += e + "\n";
    return out;
  }

 private:
  void Run(int port, bool keep_alive) {
    auto connection = std::make_unique<HttpConnection>(port);
    while (!stop_) {
      bool closed = false;
      std::string error = connection->Get("/load", keep_alive, &closed);
      if (error.empty()) {
        ++ok_;
        if (!keep_alive) ++ok_new_connections_;
      } else {
        ++failed_;
        std::lock_guard lock(mu_);
        if (errors_.size() < 20) errors_.push_back(error);
      }
      if (closed) {
        if (keep_alive) ++lost_;
        connection = std::make_unique<HttpConnection>(port);
      }
      // Paced, not flat out: the machine runs the operator, two proxies and
      // the origin too, and renewals must not starve.
      std::this_thread::sleep_for(5ms);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0}, ok_new_connections_{0}, failed_{0}, lost_{0};
  mutable std::mutex mu_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

// A certificate a proxy installed, from its log line.
struct Installed {
  std::string serial;
  std::string root;
};

std::vector<Installed> InstalledCertificates(const Subprocess& proxy) {
  static const std::regex kLine(
      R"(workload certificate installed \(serial ([0-9A-F]+), root sha256 ([0-9A-F:]+)\))");
  std::vector<Installed> out;
  for (const std::string& line : proxy.Lines()) {
    std::smatch m;
    if (std::regex_search(line, m, kLine)) out.push_back({m[1], m[2]});
  }
  return out;
}

class RotationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = new TempDir();
    state_ = new TempDir();
    work_ = new TempDir();
    app_port_ = PickFreePort();
    gateway_port_ = PickFreePort();
    int service_port = PickFreePort();
    int xds_port = PickFreePort();
    int ca_port = PickFreePort();
    operator_admin_ = PickFreePort();
    gateway_admin_ = PickFreePort();
    sidecar_admin_ = PickFreePort();

    std::string ns = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n";
    std::string service = absl::StrCat(
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: demo}\n"
        "spec:\n  selector: {app: echo}\n  ports:\n  - {name: http, port: ",
        service_port, ", targetPort: http, appProtocol: http}\n");
    std::string pod = absl::StrCat(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: echo-1, namespace: demo, labels: {app: "
        "echo}}\nspec:\n  serviceAccountName: echo\n  containers:\n  - name: echo\n    ports: "
        "[{name: http, containerPort: ",
        app_port_, "}]\nstatus: {phase: Running, podIP: ", kPodIp, "}\n");
    std::string slice = absl::StrCat(
        "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo-1, "
        "namespace: demo, labels: {kubernetes.io/service-name: echo}}\naddressType: IPv4\n"
        "ports: [{name: http, port: ",
        app_port_, ", appProtocol: http}]\nendpoints:\n- addresses: [", kPodIp,
        "]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, namespace: demo, name: "
        "echo-1}\n");
    std::string mtls =
        "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: echo, "
        "namespace: demo}\nspec:\n  host: echo.demo.svc.cluster.local\n  trafficPolicy:\n    "
        "tls: {mode: ISTIO_MUTUAL}\n    connectionPool: {http: {maxRequestsPerConnection: 3}}\n"
        "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: "
        "default, namespace: demo}\nspec:\n  mtls: {mode: STRICT}\n";
    std::string gateway = absl::StrCat(
        "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: "
        "demo}\nspec:\n  selector: {istio: rotation-gateway}\n  servers:\n  - port: {number: ",
        gateway_port_, ", name: http, protocol: HTTP}\n    hosts: ['*']\n");
    // No retries: a request that meets a failed handshake must fail visibly.
    std::string route = absl::StrCat(
        "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: echo, "
        "namespace: demo}\nspec:\n  hosts: ['*']\n  gateways: [gw]\n  http:\n  - route:\n    - "
        "destination: {host: echo.demo.svc.cluster.local, port: {number: ",
        service_port, "}}\n    retries: {attempts: 0}\n");
    config_->WriteFile("mesh.yaml", ns + service + pod + slice + mtls + gateway + route);

    // The origin: nginx, whose keep-alive connections stay open for as long
    // as the test runs, so every failure seen is the mesh's.
    std::string nginx_dir = work_->path() + "/nginx";
    work_->WriteFile(
        "nginx/nginx.conf",
        absl::StrCat("master_process off;\nworker_processes 1;\npid ", nginx_dir,
                     "/nginx.pid;\nerror_log ", nginx_dir,
                     "/error.log;\nevents {}\nhttp {\n  access_log off;\n"
                     "  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n"
                     "  client_body_temp_path ",
                     nginx_dir, ";\n  proxy_temp_path ", nginx_dir, ";\n  fastcgi_temp_path ",
                     nginx_dir, ";\n  uwsgi_temp_path ", nginx_dir, ";\n  scgi_temp_path ",
                     nginx_dir, ";\n  server {\n    listen 127.0.0.1:", app_port_,
                     ";\n    location / {\n      default_type application/json;\n"
                     "      return 200 '{\"origin\": \"nginx\", \"version\": \"v1\", "
                     "\"xfcc\": \"$http_x_forwarded_client_cert\"}';\n    }\n  }\n}\n"));
    origin_ = new Subprocess(
        {"/usr/sbin/nginx", "-p", nginx_dir, "-c", nginx_dir + "/nginx.conf", "-g", "daemon off;"});
    ASSERT_TRUE(PollUntil(
        [] {
          return RunCommand(absl::StrCat("curl -s -m 2 http://127.0.0.1:", app_port_, "/"))
                     .find("nginx") != std::string::npos;
        },
        10s))
        << origin_->Output();

    std::string tokens = work_->path() + "/tokens";
    std::ofstream(tokens) << "gateway-token-rotation " << kGatewayId << "\necho-token-rotation "
                          << kEchoId << "\n";
    std::ofstream(work_->path() + "/gateway.token") << "gateway-token-rotation\n";
    std::ofstream(work_->path() + "/echo.token") << "echo-token-rotation\n";
    // Leaves of 12 s at most 15 s; a retired root is dropped 15 s + 1 s
    // (skew) after the rotation.
    op_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-operator",
                          "--config-dir",
                          config_->path(),
                          "--state-dir",
                          state_->path(),
                          "--xds-port",
                          std::to_string(xds_port),
                          "--admin-port",
                          std::to_string(operator_admin_),
                          "--ca-port",
                          std::to_string(ca_port),
                          "--ca-tokens",
                          tokens,
                          "--debounce",
                          "20ms",
                          "--ca-min-ttl",
                          "10s",
                          "--ca-default-ttl",
                          "12s",
                          "--ca-max-ttl",
                          "15s",
                          "--ca-clock-skew",
                          "1s"});
    ASSERT_TRUE(op_->WaitForSubstring("admin listening", 20s)) << op_->Output();

    auto proxy = [&](std::vector<std::string> role_args, const std::string& sa, int admin) {
      std::vector<std::string> argv = {MESHGATE_BINARY_DIR "/bin/meshgate-proxy",
                                       "--xds-address",
                                       "127.0.0.1:" + std::to_string(xds_port),
                                       "--namespace",
                                       "demo",
                                       "--service-account",
                                       sa,
                                       "--admin-port",
                                       std::to_string(admin),
                                       "--workers",
                                       "2",
                                       "--ca-address",
                                       "127.0.0.1:" + std::to_string(ca_port),
                                       "--ca-root-file",
                                       state_->path() + "/ca/root-cert.pem",
                                       "--token-file",
                                       work_->path() + "/" + sa + ".token",
                                       "--cert-ttl-seconds",
                                       "12",
                                       "--access-log",
                                       work_->path() + "/" + sa + ".access.log"};
      argv.insert(argv.end(), role_args.begin(), role_args.end());
      return new Subprocess(argv);
    };
    sidecar_ = proxy({"--node-id", "echo-1", "--role", "sidecar", "--labels", "app=echo",
                      "--interception-mode", "NONE", "--instance-ip", kPodIp},
                     "echo", sidecar_admin_);
    gateway_ = proxy({"--node-id", "rotation-gateway", "--role", "gateway", "--labels",
                      "istio=rotation-gateway"},
                     "gateway", gateway_admin_);
    ready_ = sidecar_->WaitForSubstring("first complete config applied", 30s) &&
             gateway_->WaitForSubstring("first complete config applied", 30s) &&
             PollUntil([] { return RequestSucceeds(); }, 20s);
    ASSERT_TRUE(ready_) << Logs();
  }

  static void TearDownTestSuite() {
    for (Subprocess* p : {gateway_, sidecar_, op_, origin_}) {
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

  static std::string Logs() {
    std::string out;
    for (auto [name, p] :
         {std::pair{"operator", op_}, {"gateway", gateway_}, {"sidecar", sidecar_}}) {
      if (p != nullptr) out += std::string("--- ") + name + ":\n" + p->Output();
    }
    // The access log's view of failed requests (response flags, timing).
    for (const char* sa : {"gateway", "echo"}) {
      int shown = 0;
      for (absl::string_view line :
           absl::StrSplit(ReadFile(work_->path() + "/" + sa + ".access.log"), '\n')) {
        if (!line.empty() && !absl::StrContains(line, "\"response_code\":200") && shown++ < 5) {
          absl::StrAppend(&out, "--- ", sa, " access log: ", line, "\n");
        }
      }
    }
    return out;
  }

  static bool RequestSucceeds() {
    HttpConnection connection(gateway_port_);
    bool closed = false;
    return connection.Get("/ready-check", false, &closed).empty();
  }

  static nlohmann::json GetJson(const std::string& url, const std::string& method = "GET") {
    std::string body = RunCommand("curl -s -m 10 -X " + method + " " + url);
    return nlohmann::json::parse(body, nullptr, false);
  }

  // Fingerprints of the roots in a proxy's SDS `ROOTCA`, as it accepted it.
  static std::set<std::string> ProxyTrustBundle(int admin_port) {
    nlohmann::json dump = GetJson(absl::StrCat("http://127.0.0.1:", admin_port, "/config_dump"));
    if (dump.is_discarded()) return {};
    const nlohmann::json* secrets = nullptr;
    if (dump.contains("resources") && dump["resources"].contains(kSecretType)) {
      secrets = &dump["resources"][kSecretType];
    }
    if (secrets == nullptr) return {};
    for (const auto& secret : *secrets) {
      if (secret.value("name", "") != "ROOTCA") continue;
      std::string encoded =
          secret["validation_context"]["trusted_ca"].value("inline_bytes", std::string());
      std::string pem;
      if (!absl::Base64Unescape(encoded, &pem)) return {};
      return AsSet(Fingerprints(pem));
    }
    return {};
  }

  // Connections the gateway has opened to the sidecar (each one an mTLS
  // handshake), from its Prometheus stats.
  static int64_t GatewayConnectionsToSidecar() {
    std::string stats = RunCommand(
        absl::StrCat("curl -s -m 10 http://127.0.0.1:", gateway_admin_, "/stats/prometheus"));
    static const std::regex kSample(
        R"re(envoy_cluster_upstream_cx_total\{envoy_cluster_name="outbound\|\d+\|\|echo\.demo\.svc\.cluster\.local"\} (\d+))re");
    std::smatch m;
    return std::regex_search(stats, m, kSample) ? std::stoll(m[1]) : -1;
  }

  // The operator's trust bundle, active root first.
  static std::vector<std::string> OperatorRoots() {
    nlohmann::json roots =
        GetJson(absl::StrCat("http://127.0.0.1:", operator_admin_, "/debug/ca/roots"));
    std::vector<std::string> out;
    if (roots.is_discarded() || !roots.contains("roots")) return out;
    for (const auto& r : roots["roots"]) out.push_back(r.value("sha256", ""));
    return out;
  }

  // The chain the sidecar's inbound port serves, seen by openssl s_client
  // (the handshake fails later for want of a client certificate; the
  // server's chain has been shown by then).
  static std::string SidecarServedChainPem() {
    return RunCommand(absl::StrCat("timeout 10 openssl s_client -connect ", kPodIp, ":", app_port_,
                                   " -showcerts </dev/null 2>/dev/null"));
  }
  static std::vector<std::string> SidecarServedChain() {
    return Fingerprints(SidecarServedChainPem());
  }

  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline TempDir* work_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* origin_ = nullptr;
  static inline Subprocess* sidecar_ = nullptr;
  static inline Subprocess* gateway_ = nullptr;
  static inline int app_port_ = 0, gateway_port_ = 0;
  static inline int operator_admin_ = 0, gateway_admin_ = 0, sidecar_admin_ = 0;
  static inline bool ready_ = false;
};

TEST_F(RotationTest, RenewalsUnderLoadFailNoRequestAndKeepConnections) {
  size_t gateway_before = InstalledCertificates(*gateway_).size();
  size_t sidecar_before = InstalledCertificates(*sidecar_).size();
  ASSERT_GE(gateway_before, 1u);
  ASSERT_GE(sidecar_before, 1u);

  int64_t handshakes_before = GatewayConnectionsToSidecar();
  Load load(gateway_port_, 3, 2);
  // Two renewals each: about 13 s at a 12 s lifetime renewed at 50-60%.
  bool renewed = PollUntil(
      [&] {
        return InstalledCertificates(*gateway_).size() >= gateway_before + 2 &&
               InstalledCertificates(*sidecar_).size() >= sidecar_before + 2;
      },
      30s);
  // Traffic after the last renewal, on the connections opened before it.
  int64_t at_renewal = load.ok();
  PollUntil([&] { return load.ok() >= at_renewal + 50; }, 10s);
  load.Stop();
  ASSERT_TRUE(renewed) << Logs();

  for (Subprocess* proxy : {gateway_, sidecar_}) {
    std::set<std::string> serials;
    for (const Installed& cert : InstalledCertificates(*proxy)) serials.insert(cert.serial);
    EXPECT_EQ(serials.size(), InstalledCertificates(*proxy).size()) << "a serial was reused";
  }
  // What the sidecar serves now is the last certificate it logged (or the
  // one before, should a renewal land between the two looks).
  Installed logged_before = InstalledCertificates(*sidecar_).back();
  std::string served = SidecarServedChainPem();
  Installed logged_after = InstalledCertificates(*sidecar_).back();
  ASSERT_FALSE(Serials(served).empty()) << served;
  const std::string served_serial = Serials(served).front();
  EXPECT_TRUE(served_serial == logged_before.serial || served_serial == logged_after.serial)
      << served_serial;
  EXPECT_EQ(Fingerprints(served).back(), logged_after.root);

  EXPECT_EQ(load.failed(), 0) << load.Errors() << Logs();
  EXPECT_EQ(load.keep_alive_connections_lost(), 0) << load.Errors();
  EXPECT_GE(load.ok(), at_renewal + 50);
  EXPECT_GT(load.ok_new_connections(), 20);
  // The mesh hop kept handshaking with the renewed certificates.
  EXPECT_GT(GatewayConnectionsToSidecar(), handshakes_before + load.ok() / 4);
}

TEST_F(RotationTest, RootRotationUnderLoadFailsNoRequest) {
  std::vector<std::string> before = OperatorRoots();
  ASSERT_EQ(before.size(), 1u);
  const std::string old_root = before[0];
  ASSERT_EQ(ProxyTrustBundle(gateway_admin_), std::set<std::string>{old_root});
  ASSERT_EQ(ProxyTrustBundle(sidecar_admin_), std::set<std::string>{old_root});

  int64_t handshakes_before = GatewayConnectionsToSidecar();
  Load load(gateway_port_, 3, 2);
  PollUntil([&] { return load.ok() >= 20; }, 10s);

  nlohmann::json rotated =
      GetJson(absl::StrCat("http://127.0.0.1:", operator_admin_, "/debug/ca/rotate-root"), "POST");
  ASSERT_FALSE(rotated.is_discarded());
  const std::string new_root = rotated.value("active_root_sha256", "");
  ASSERT_FALSE(new_root.empty()) << rotated.dump();
  ASSERT_NE(new_root, old_root);
  EXPECT_EQ(OperatorRoots(), (std::vector<std::string>{new_root, old_root}));

  // Both proxies trust both roots...
  const std::set<std::string> both = {new_root, old_root};
  bool bundles_grew = PollUntil(
      [&] {
        return ProxyTrustBundle(gateway_admin_) == both && ProxyTrustBundle(sidecar_admin_) == both;
      },
      10s);
  // ...then renew onto the new one.
  auto on_new_root = [&](const Subprocess& proxy) {
    auto certs = InstalledCertificates(proxy);
    return !certs.empty() && certs.back().root == new_root;
  };
  bool renewed = bundles_grew &&
                 PollUntil([&] { return on_new_root(*gateway_) && on_new_root(*sidecar_); }, 20s);
  std::vector<std::string> chain = renewed ? SidecarServedChain() : std::vector<std::string>{};
  // The old root leaves every bundle 16 s after the rotation.
  const std::set<std::string> only_new = {new_root};
  bool pruned = renewed && PollUntil(
                               [&] {
                                 return OperatorRoots() == std::vector<std::string>{new_root} &&
                                        ProxyTrustBundle(gateway_admin_) == only_new &&
                                        ProxyTrustBundle(sidecar_admin_) == only_new;
                               },
                               30s);
  int64_t at_prune = load.ok();
  bool flowing = pruned && PollUntil([&] { return load.ok() >= at_prune + 50; }, 10s);
  load.Stop();

  EXPECT_TRUE(bundles_grew) << Logs();
  EXPECT_TRUE(renewed) << Logs();
  EXPECT_TRUE(pruned) << Logs();
  EXPECT_TRUE(flowing);
  if (renewed) {
    ASSERT_FALSE(chain.empty());
    EXPECT_EQ(chain.back(), new_root) << "the sidecar still serves a chain to the old root";
  }
  EXPECT_EQ(load.failed(), 0) << load.Errors() << Logs();
  EXPECT_EQ(load.keep_alive_connections_lost(), 0) << load.Errors();
  EXPECT_GT(load.ok_new_connections(), 20);
  EXPECT_GT(GatewayConnectionsToSidecar(), handshakes_before + load.ok() / 4);
}

TEST_F(RotationTest, MeshgatectlShowsAndRotatesTheRoots) {
  const std::string ctl =
      absl::StrCat(MESHGATE_BINARY_DIR "/bin/meshgatectl ca --admin 127.0.0.1:", operator_admin_);
  std::vector<std::string> before = OperatorRoots();
  ASSERT_EQ(before.size(), 1u);
  int rc = -1;
  std::string roots = RunCommand(ctl + " roots 2>&1", &rc);
  EXPECT_EQ(rc, 0) << roots;
  EXPECT_TRUE(std::regex_search(roots, std::regex(before[0] + " +active +-\n"))) << roots;

  std::string rotated = RunCommand(ctl + " rotate-root 2>&1", &rc);
  EXPECT_EQ(rc, 0) << rotated;
  std::vector<std::string> after = OperatorRoots();
  ASSERT_EQ(after.size(), 2u) << rotated;
  EXPECT_EQ(after[1], before[0]);
  EXPECT_TRUE(absl::StrContains(rotated, "rotated: the new root " + after[0])) << rotated;
  EXPECT_TRUE(std::regex_search(rotated, std::regex(before[0] + " +retired +20\\d\\d-")))
      << rotated;
  // The push reaches the proxies as for the admin endpoint itself.
  const std::set<std::string> both(after.begin(), after.end());
  EXPECT_TRUE(PollUntil(
      [&] {
        return ProxyTrustBundle(gateway_admin_) == both && ProxyTrustBundle(sidecar_admin_) == both;
      },
      10s));
  // A GET is not a rotation.
  std::string get = RunCommand(absl::StrCat(
      "curl -s -w ' %{http_code}' http://127.0.0.1:", operator_admin_, "/debug/ca/rotate-root"));
  EXPECT_TRUE(absl::EndsWith(get, " 405")) << get;
  EXPECT_EQ(OperatorRoots().size(), 2u);
}

}  // namespace
}  // namespace meshgate::e2e
