// Sidecar traffic capture end to end, on two "pods": network namespaces
// joined by a veth pair. Each pod runs its app as an ordinary user and a
// meshgate-proxy sidecar as the proxy user (uid 1337), with the capture
// installed by `meshgate-proxy iptables`; the real meshgate-operator (file
// mode, running in pod A's namespace like a control plane next door)
// programs both sidecars from Services, EndpointSlices, Pods and a
// VirtualService.
//
//   pod A (10.77.0.1)                              pod B (10.77.0.2)
//   curl / python (uid 1000)                       meshgate-echo :8080, TCP echo :9000
//     │ OUTPUT → MESHGATE_OUTPUT → :15001            ▲ 127.0.0.1
//   sidecar A: virtualOutbound → hand-off ──veth──► PREROUTING → :15006 sidecar B:
//     (0.0.0.0_8080 HTTP | 10.96.0.21_9000 TCP |     virtualInbound (chain by original port)
//      PassthroughCluster to the original dst)
//
// Each sidecar gets its SPIFFE certificate from the operator's built-in CA
// (bootstrap token, CSR for a key of its own) and the trust bundle over SDS.
// The pods carry the sidecar injector's label (security.istio.io/tlsMode):
// echo-b's DestinationRule asks for ISTIO_MUTUAL, tcp-b has none and gets
// it from auto mTLS; pod B's PeerAuthentication makes its TCP port STRICT.
//
// Checked through the sidecars' own stats and access logs, and on the wire:
// HTTP to a Service's cluster IP goes through both sidecars over mTLS (pod
// B's app sees pod A's SPIFFE ID in x-forwarded-client-cert; a packet
// capture on pod B's interface holds TLS records and none of the request's
// bytes) and a VirtualService rule (header-matched fault, response header)
// applies; a plain TCP Service goes through tcp_proxy on both sides over
// mTLS, and a client without a certificate is refused on it; an address
// outside the mesh passes through on the original destination.
//
// Needs root (network namespaces, iptables); skips with the reason when it
// cannot create them.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kSetpriv[] = "/usr/bin/setpriv";
constexpr char kProxyUid[] = "1337";
constexpr char kAppUid[] = "1000";
constexpr int kXdsPort = 15010;
constexpr int kCaPort = 15012;
constexpr char kIdA[] = "spiffe://cluster.local/ns/demo/sa/a";
constexpr char kIdB[] = "spiffe://cluster.local/ns/demo/sa/b";

// Commands here report their failures on stderr: keep it with the output.
std::string RunCommandWithStderr(const std::string& cmd, int* exit_code = nullptr) {
  return RunCommand(cmd + " 2>&1", exit_code);
}

// argv prefix running a command inside `netns` as `uid` (gid alike).
std::vector<std::string> InPod(const std::string& netns, const std::string& uid,
                               std::vector<std::string> command) {
  std::vector<std::string> argv = {kIp,      "netns",          "exec",           netns,
                                   kSetpriv, "--reuid=" + uid, "--regid=" + uid, "--clear-groups"};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::string Shell(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  return cmd;
}

// A TCP server answering each connection with `prefix` + what it received,
// until the client's FIN; and the matching client.
constexpr char kTcpServer[] = R"(import socket, sys, threading
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 and IPv6
s.bind(("::", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
def serve(c):
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.sendall(sys.argv[2].encode() + data)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
)";

constexpr char kTcpClient[] = R"(import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(sys.argv[3].encode())
c.shutdown(socket.SHUT_WR)
out = b""
while True:
    chunk = c.recv(65536)
    if not chunk:
        break
    out += chunk
print(out.decode(), end="")
)";

// Records the TCP payloads to and from argv[2] (a port) seen on interface
// argv[1] until the file argv[3] exists, then prints one line: how many
// payloads, how many start a TLS record (content type 20..23, version 3.x),
// and whether argv[4] appeared in any of them.
constexpr char kSniffer[] = R"(import os, socket, struct, sys
iface, port, stop, needle = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((iface, 0))
s.settimeout(0.05)
print("listening", flush=True)
payloads = tls = 0
seen = False
while not os.path.exists(stop):
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        continue
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    sport, dport = struct.unpack("!HH", tcp[:4])
    if port not in (sport, dport):
        continue
    data = tcp[(tcp[12] >> 4) * 4:]
    if not data:
        continue
    payloads += 1
    if 20 <= data[0] <= 23 and data[1] == 3:
        tls += 1
    seen = seen or needle in data
print("payloads=%d tls=%d needle=%s" % (payloads, tls, "yes" if seen else "no"), flush=True)
)";

std::string MeshYaml() {
  return R"(---
apiVersion: v1
kind: Service
metadata: {name: echo-a, namespace: demo}
spec:
  clusterIP: 10.96.0.10
  selector: {app: a}
  ports:
  - {name: http, port: 8080, targetPort: 8080}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: demo, labels: {app: a, security.istio.io/tlsMode: istio}}
spec: {serviceAccountName: a}
status: {podIP: 10.77.0.1}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-a, namespace: demo, labels: {kubernetes.io/service-name: echo-a}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.77.0.1]
  conditions: {ready: true}
  targetRef: {kind: Pod, namespace: demo, name: a}
---
apiVersion: v1
kind: Service
metadata: {name: echo-b, namespace: demo}
spec:
  clusterIP: 10.96.0.20
  selector: {app: b}
  ports:
  - {name: http, port: 8080, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: tcp-b, namespace: demo}
spec:
  clusterIP: 10.96.0.21
  selector: {app: b}
  ports:
  - {name: tcp, port: 9000, targetPort: 9000}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: demo, labels: {app: b, security.istio.io/tlsMode: istio}}
spec: {serviceAccountName: b}
status: {podIP: 10.77.0.2}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-b, namespace: demo, labels: {kubernetes.io/service-name: echo-b}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.77.0.2]
  conditions: {ready: true}
  targetRef: {kind: Pod, namespace: demo, name: b}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: tcp-b, namespace: demo, labels: {kubernetes.io/service-name: tcp-b}}
addressType: IPv4
ports: [{name: tcp, port: 9000}]
endpoints:
- addresses: [10.77.0.2]
  conditions: {ready: true}
  targetRef: {kind: Pod, namespace: demo, name: b}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo-b, namespace: demo}
spec:
  hosts: [echo-b.demo.svc.cluster.local]
  http:
  - name: teapot
    match: [{headers: {x-fault: {exact: abort}}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: echo-b.demo.svc.cluster.local}}]
  - name: default
    headers:
      response:
        set: {x-mesh-route: default}
    route: [{destination: {host: echo-b.demo.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo-b, namespace: demo}
spec:
  host: echo-b.demo.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b, namespace: demo}
spec:
  selector: {matchLabels: {app: b}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    9000: {mode: STRICT}
)";
}

class ProxyCaptureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_reason_ = "needs root to create network namespaces and iptables rules";
      return;
    }
    if (access("/usr/sbin/iptables-restore", X_OK) != 0) {
      skip_reason_ = "iptables-restore is not installed (Debian package iptables)";
      return;
    }
    if (access(kSetpriv, X_OK) != 0) {
      skip_reason_ = "setpriv (util-linux) is not installed";
      return;
    }
    const std::string id = std::to_string(getpid());
    ns_a_ = "mgcap-a-" + id;
    ns_b_ = "mgcap-b-" + id;
    const std::string veth = "mgv" + id;
    veth_b_ = veth + "b";
    int rc = 0;
    std::string out = RunCommandWithStderr(Shell({kIp, "netns", "add", ns_a_}), &rc);
    if (rc != 0) {
      skip_reason_ = "cannot create a network namespace here: " + out;
      ns_a_.clear();
      return;
    }
    out = RunCommandWithStderr(Shell({kIp, "netns", "add", ns_b_}), &rc);
    if (rc != 0) {
      skip_reason_ = "cannot create a second network namespace: " + out;
      ns_b_.clear();
      return;
    }
    const std::vector<std::vector<std::string>> setup = {
        {kIp, "link", "add", veth + "a", "netns", ns_a_, "type", "veth", "peer", "name", veth + "b",
         "netns", ns_b_},
        {kIp, "-n", ns_a_, "link", "set", "lo", "up"},
        {kIp, "-n", ns_b_, "link", "set", "lo", "up"},
        {kIp, "-n", ns_a_, "addr", "add", "10.77.0.1/24", "dev", veth + "a"},
        {kIp, "-n", ns_b_, "addr", "add", "10.77.0.2/24", "dev", veth + "b"},
        {kIp, "-n", ns_a_, "link", "set", veth + "a", "up"},
        {kIp, "-n", ns_b_, "link", "set", veth + "b", "up"},
        // Cluster IPs are virtual: a route lets the connect start, and the
        // capture redirects it before it leaves.
        {kIp, "-n", ns_a_, "route", "add", "default", "via", "10.77.0.2"},
        {kIp, "-n", ns_b_, "route", "add", "default", "via", "10.77.0.1"},
    };
    for (const auto& cmd : setup) {
      out = RunCommandWithStderr(Shell(cmd), &rc);
      if (rc != 0) {
        skip_reason_ = "cannot set up the veth pair (" + Shell(cmd) + "): " + out;
        return;
      }
    }
    // Dual stack: IPv6 addresses too (nodad: usable at once). Without IPv6
    // in the kernel only the IPv6 tests skip.
    ipv6_ready_ = true;
    for (const auto& cmd : std::vector<std::vector<std::string>>{
             {kIp, "-n", ns_a_, "addr", "add", "fd00:77::1/64", "dev", veth + "a", "nodad"},
             {kIp, "-n", ns_b_, "addr", "add", "fd00:77::2/64", "dev", veth + "b", "nodad"}}) {
      out = RunCommandWithStderr(Shell(cmd), &rc);
      if (rc != 0) {
        ipv6_ready_ = false;
        ipv6_skip_reason_ = "cannot add an IPv6 address (" + Shell(cmd) + "): " + out;
      }
    }

    dir_ = new TempDir();
    chmod(dir_->path().c_str(), 0755);  // the sidecars (uid 1337) write their logs here
    logs_ = dir_->path() + "/logs";
    mkdir(logs_.c_str(), 0777);
    chmod(logs_.c_str(), 0777);
    dir_->WriteFile("config/mesh.yaml", MeshYaml());
    dir_->WriteFile("tcp_server.py", kTcpServer);
    dir_->WriteFile("tcp_client.py", kTcpClient);
    dir_->WriteFile("sniffer.py", kSniffer);
    // Bootstrap tokens: each sidecar proves its identity to the CA with one.
    dir_->WriteFile("ca-tokens", std::string("bootstrap-token-pod-a ") + kIdA +
                                     "\nbootstrap-token-pod-b " + kIdB + "\n");
    dir_->WriteFile("a.token", "bootstrap-token-pod-a\n");
    dir_->WriteFile("b.token", "bootstrap-token-pod-b\n");
    for (const char* file :
         {"tcp_server.py", "tcp_client.py", "sniffer.py", "a.token", "b.token"}) {
      chmod((dir_->path() + "/" + file).c_str(), 0644);
    }
    mkdir((dir_->path() + "/state").c_str(), 0700);

    // Capture first, as an init container would: the proxy's uid, and in pod
    // A the control plane's ports (xDS, CA), are left alone; pod B leaves
    // 7777 (a server outside the mesh) uncaptured.
    const std::string proxy = MESHGATE_BINARY_DIR "/bin/meshgate-proxy";
    for (const auto& [ns, exclude] : std::vector<std::pair<std::string, std::string>>{
             {ns_a_, std::to_string(kXdsPort) + "," + std::to_string(kCaPort)}, {ns_b_, "7777"}}) {
      std::vector<std::string> command = {kIp,
                                          "netns",
                                          "exec",
                                          ns,
                                          proxy,
                                          "iptables",
                                          "--proxy-uid",
                                          kProxyUid,
                                          "--exclude-inbound-ports",
                                          exclude};
      if (ipv6_ready_) command.push_back("--ipv6");
      out = RunCommandWithStderr(Shell(command), &rc);
      ASSERT_EQ(rc, 0) << "iptables in " << ns << ": " << out;
    }

    op_ = new Subprocess({kIp,
                          "netns",
                          "exec",
                          ns_a_,
                          MESHGATE_BINARY_DIR "/bin/meshgate-operator",
                          "--config-dir",
                          dir_->path() + "/config",
                          "--state-dir",
                          dir_->path() + "/state",
                          "--listen-address",
                          "0.0.0.0",
                          "--xds-port",
                          std::to_string(kXdsPort),
                          "--admin-port",
                          "15014",
                          "--ca-port",
                          std::to_string(kCaPort),
                          "--ca-names",
                          "10.77.0.1",
                          "--ca-tokens",
                          dir_->path() + "/ca-tokens",
                          "--debounce",
                          "20ms"});
    // The sidecars (uid 1337) trust the CA's root from a copy they can read.
    const std::string root = dir_->path() + "/state/ca/root-cert.pem";
    auto root_deadline = std::chrono::steady_clock::now() + 20s;
    while (access(root.c_str(), R_OK) != 0 && std::chrono::steady_clock::now() < root_deadline) {
      std::this_thread::sleep_for(50ms);  // another process writes it
    }
    ASSERT_EQ(access(root.c_str(), R_OK), 0) << "the operator's CA wrote no root\n"
                                             << op_->Output();
    std::filesystem::copy_file(root, dir_->path() + "/root-cert.pem",
                               std::filesystem::copy_options::overwrite_existing);
    chmod((dir_->path() + "/root-cert.pem").c_str(), 0644);

    const std::string echo = MESHGATE_BINARY_DIR "/bin/meshgate-echo";
    apps_.push_back(
        new Subprocess(InPod(ns_a_, kAppUid, {echo, "--port", "8080", "--version", "pod-a"})));
    apps_.push_back(
        new Subprocess(InPod(ns_b_, kAppUid, {echo, "--port", "8080", "--version", "pod-b"})));
    apps_.push_back(new Subprocess(InPod(
        ns_b_, kAppUid, {"/usr/bin/python3", dir_->path() + "/tcp_server.py", "9000", "tcp-b:"})));
    apps_.push_back(new Subprocess(
        InPod(ns_b_, kAppUid,
              {"/usr/bin/python3", dir_->path() + "/tcp_server.py", "7777", "outside-mesh:"})));
    for (auto* app : apps_) {
      ASSERT_TRUE(app->WaitForSubstring("listening", 10s)) << app->Output();
    }

    sidecar_a_ = StartSidecar(ns_a_, "127.0.0.1", "app=a", "a", "10.77.0.1,fd00:77::1");
    sidecar_b_ = StartSidecar(ns_b_, "10.77.0.1", "app=b", "b", "10.77.0.2,fd00:77::2");
    for (const auto& ns : {ns_a_, ns_b_}) {
      bool live = false;
      auto deadline = std::chrono::steady_clock::now() + 30s;
      while (!live && std::chrono::steady_clock::now() < deadline) {
        live = Admin(ns, "/ready") == "LIVE\n";
        if (!live) std::this_thread::sleep_for(100ms);  // another process's readiness
      }
      ASSERT_TRUE(live) << ns << " sidecar never became ready\nA:\n"
                        << sidecar_a_->Output() << "\nB:\n"
                        << sidecar_b_->Output() << "\noperator:\n"
                        << op_->Output();
    }
    ready_ = true;
  }

  // Sidecar `name` runs as service account `name` and reaches the control
  // plane (xDS and CA) at `control_plane`.
  // `pod_ips`: the pod's addresses (INSTANCE_IPS); with an IPv6 one its
  // capture listeners also bind [::].
  static Subprocess* StartSidecar(const std::string& ns, const std::string& control_plane,
                                  const std::string& labels, const std::string& name,
                                  const std::string& pod_ips) {
    return new Subprocess(InPod(ns, kProxyUid,
                                {MESHGATE_BINARY_DIR "/bin/meshgate-proxy",
                                 "--xds-address",
                                 control_plane + ":" + std::to_string(kXdsPort),
                                 "--node-id",
                                 "sidecar~" + name + ".demo",
                                 "--role",
                                 "sidecar",
                                 "--namespace",
                                 "demo",
                                 "--service-account",
                                 name,
                                 "--labels",
                                 labels,
                                 "--workers",
                                 "1",
                                 "--ca-address",
                                 control_plane + ":" + std::to_string(kCaPort),
                                 "--token-file",
                                 dir_->path() + "/" + name + ".token",
                                 "--ca-root-file",
                                 dir_->path() + "/root-cert.pem",
                                 "--instance-ip",
                                 ipv6_ready_ ? pod_ips : pod_ips.substr(0, pod_ips.find(',')),
                                 "--access-log",
                                 logs_ + "/" + name + ".log"}));
  }

  static void TearDownTestSuite() {
    delete sidecar_a_;
    delete sidecar_b_;
    for (auto* app : apps_) delete app;
    apps_.clear();
    delete op_;
    for (const auto& ns : {ns_a_, ns_b_}) {
      if (!ns.empty()) RunCommandWithStderr(Shell({kIp, "netns", "del", ns}));
    }
    delete dir_;
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    if (!ready_) GTEST_SKIP() << "setup failed";
  }

  static std::string Admin(const std::string& ns, const std::string& path) {
    return RunCommandWithStderr(Shell({kIp, "netns", "exec", ns, "/usr/bin/curl", "-s", "-m", "2",
                                       "http://127.0.0.1:15000" + path}));
  }

  // One Prometheus sample of a sidecar; 0 when absent.
  static double Stat(const std::string& ns, const std::string& sample) {
    std::istringstream in(Admin(ns, "/stats/prometheus"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
    }
    return 0;
  }

  // curl from pod A's app to the echo-b Service, resolved to its cluster IP
  // as cluster DNS would; returns "STATUS\nheaders+body".
  static std::string CurlFromA(const std::vector<std::string>& headers) {
    std::vector<std::string> cmd = {"/usr/bin/curl",
                                    "-s",
                                    "-m",
                                    "5",
                                    "-i",
                                    "--resolve",
                                    "echo-b.demo.svc.cluster.local:8080:10.96.0.20"};
    for (const auto& h : headers) {
      cmd.push_back("-H");
      cmd.push_back(h);
    }
    cmd.push_back("http://echo-b.demo.svc.cluster.local:8080/hello");
    return RunCommandWithStderr(Shell(InPod(ns_a_, kAppUid, cmd)));
  }

  static std::string TcpFromA(const std::string& ip, int port, const std::string& message) {
    return RunCommandWithStderr(Shell(InPod(
        ns_a_, kAppUid,
        {"/usr/bin/python3", dir_->path() + "/tcp_client.py", ip, std::to_string(port), message})));
  }

  static std::string AccessLog(const std::string& name) {
    std::ifstream in(logs_ + "/" + name + ".log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  template <typename Probe>
  static bool Eventually(Probe probe, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return probe();
  }

  static inline std::string skip_reason_;
  static inline bool ipv6_ready_ = false;
  static inline std::string ipv6_skip_reason_;
  static inline std::string ns_a_, ns_b_, veth_b_, logs_;
  static inline TempDir* dir_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* sidecar_a_ = nullptr;
  static inline Subprocess* sidecar_b_ = nullptr;
  static inline std::vector<Subprocess*> apps_;
  static inline bool ready_ = false;
};

constexpr char kOutboundHttp[] =
    "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"outbound|8080||echo-b.demo.svc.cluster."
    "local\"}";
constexpr char kInboundHttp[] =
    "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"inbound|8080||\"}";

TEST_F(ProxyCaptureTest, HttpToAServiceGoesThroughBothSidecars) {
  const double outbound_before = Stat(ns_a_, kOutboundHttp);
  const double inbound_before = Stat(ns_b_, kInboundHttp);
  std::string response;
  ASSERT_TRUE(Eventually([&] {
    response = CurlFromA({});
    return response.rfind("HTTP/1.1 200", 0) == 0;
  })) << response
      << "\nsidecar A:\n"
      << sidecar_a_->Output() << "\nsidecar B:\n"
      << sidecar_b_->Output();
  EXPECT_NE(response.find("pod-b"), std::string::npos) << response;  // answered by B's app
  // The VirtualService's default route set this header at sidecar A.
  EXPECT_NE(response.find("x-mesh-route: default"), std::string::npos) << response;
  // Sidecar B verified sidecar A's certificate and vouched for it.
  EXPECT_NE(response.find(std::string("URI=") + kIdA), std::string::npos) << response;
  EXPECT_GE(Stat(ns_a_, kOutboundHttp), outbound_before + 1);
  EXPECT_GE(Stat(ns_b_, kInboundHttp), inbound_before + 1);
  EXPECT_TRUE(Eventually([] {
    return AccessLog("a").find(
               "\"upstream_cluster\":\"outbound|8080||echo-b.demo.svc.cluster."
               "local\"") != std::string::npos &&
           AccessLog("b").find("\"upstream_cluster\":\"inbound|8080||\"") != std::string::npos &&
           AccessLog("b").find(std::string("\"downstream_peer_identity\":\"") + kIdA) !=
               std::string::npos;
  })) << "A:\n"
      << AccessLog("a") << "\nB:\n"
      << AccessLog("b");
}

TEST_F(ProxyCaptureTest, WhatTheSidecarsSendEachOtherIsTlsOnTheWire) {
  // A packet capture on pod B's interface while pod A's app sends a request
  // with a marker: the sidecars' connection carries TLS records only, and
  // the marker, which pod B's app echoes, is nowhere in them.
  const std::string marker = "meshgate-marker-" + std::to_string(getpid());
  const std::string stop = dir_->path() + "/sniffer.stop";
  Subprocess sniffer({kIp, "netns", "exec", ns_b_, "/usr/bin/python3", dir_->path() + "/sniffer.py",
                      veth_b_, "8080", stop, marker});
  ASSERT_TRUE(sniffer.WaitForSubstring("listening", 10s)) << sniffer.Output();
  std::string response;
  ASSERT_TRUE(Eventually([&] {
    response = CurlFromA({"x-marker: " + marker});
    return response.rfind("HTTP/1.1 200", 0) == 0;
  })) << response;
  EXPECT_NE(response.find(marker), std::string::npos) << response;  // B's app saw it
  std::ofstream(stop) << "stop\n";
  ASSERT_TRUE(sniffer.WaitForSubstring("payloads=", 10s)) << sniffer.Output();
  const std::string seen = sniffer.Output();
  int payloads = 0, tls = 0;
  ASSERT_EQ(std::sscanf(seen.substr(seen.find("payloads=")).c_str(), "payloads=%d tls=%d",
                        &payloads, &tls),
            2)
      << seen;
  EXPECT_GE(payloads, 2) << seen;  // the request and the response, at least
  EXPECT_GE(tls, 2) << seen;
  EXPECT_NE(seen.find("needle=no"), std::string::npos) << "plaintext on the wire: " << seen;
}

TEST_F(ProxyCaptureTest, HeaderMatchedFaultIsAppliedAtTheCallersSidecar) {
  const double inbound_before = Stat(ns_b_, kInboundHttp);
  std::string response;
  ASSERT_TRUE(Eventually([&] {
    response = CurlFromA({"x-fault: abort"});
    return response.rfind("HTTP/1.1 418", 0) == 0;
  })) << response;
  // Aborted at sidecar A: pod B never saw it.
  EXPECT_EQ(Stat(ns_b_, kInboundHttp), inbound_before);
  EXPECT_EQ(response.find("pod-b"), std::string::npos) << response;
}

TEST_F(ProxyCaptureTest, PlainTcpServicePassesThroughTcpProxyOnBothSides) {
  std::string reply;
  ASSERT_TRUE(Eventually([&] {
    reply = TcpFromA("10.96.0.21", 9000, "hello over tcp");
    return reply == "tcp-b:hello over tcp";
  })) << reply;
  EXPECT_GE(Stat(ns_a_,
                 "envoy_tcp_downstream_cx_total{envoy_tcp_prefix=\"outbound|9000||tcp-b.demo.svc."
                 "cluster.local\"}"),
            1);
  EXPECT_GE(Stat(ns_b_, "envoy_tcp_downstream_cx_total{envoy_tcp_prefix=\"inbound|9000||\"}"), 1);
  EXPECT_GE(Stat(ns_b_,
                 "envoy_cluster_upstream_cx_rx_bytes_total{envoy_cluster_name=\"inbound|9000||\"}"),
            std::string("tcp-b:hello over tcp").size());
  EXPECT_TRUE(Eventually([] {
    return AccessLog("b").find("\"upstream_host\":\"127.0.0.1:9000\"") != std::string::npos;
  })) << AccessLog("b");
}

TEST_F(ProxyCaptureTest, StrictPortRefusesAClientWithoutCertificate) {
  // Pod B's PeerAuthentication makes port 9000 STRICT. A client in pod A
  // running as the proxy's uid is not captured: it connects to pod B
  // directly in plaintext, and sidecar B refuses it; through sidecar A the
  // same port answers: auto mTLS, no DestinationRule.
  std::string reply;
  ASSERT_TRUE(Eventually([&] {
    reply = TcpFromA("10.96.0.21", 9000, "with a certificate");
    return reply == "tcp-b:with a certificate";
  })) << reply;
  reply = RunCommandWithStderr(Shell(InPod(ns_a_, kProxyUid,
                                           {"/usr/bin/python3", dir_->path() + "/tcp_client.py",
                                            "10.77.0.2", "9000", "without a certificate"})));
  EXPECT_EQ(reply.find("tcp-b:"), std::string::npos) << reply;
}

TEST_F(ProxyCaptureTest, UnknownDestinationPassesThroughToTheOriginalDestination) {
  // 10.77.0.2:7777 is no Service: sidecar A's virtualOutbound keeps it and
  // PassthroughCluster connects to the address the app asked for.
  std::string reply;
  ASSERT_TRUE(Eventually([&] {
    reply = TcpFromA("10.77.0.2", 7777, "hi");
    return reply == "outside-mesh:hi";
  })) << reply;
  EXPECT_GE(Stat(ns_a_, "envoy_tcp_downstream_cx_total{envoy_tcp_prefix=\"PassthroughCluster\"}"),
            1);
  EXPECT_TRUE(Eventually([] {
    return AccessLog("a").find("\"upstream_host\":\"10.77.0.2:7777\"") != std::string::npos;
  })) << AccessLog("a");
}

TEST_F(ProxyCaptureTest, HttpToAnUnknownHostPassesThroughToTheOriginalDestination) {
  // Port 8080 is a mesh HTTP port, so sidecar A parses the request; the host
  // is no Service, so the allow_any route sends it to PassthroughCluster,
  // which connects to the address the app dialled (pod B, whose own sidecar
  // hands it to its app).
  constexpr char kPassthrough[] =
      "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"PassthroughCluster\"}";
  const double before = Stat(ns_a_, kPassthrough);
  std::string response;
  ASSERT_TRUE(Eventually([&] {
    response = RunCommandWithStderr(
        Shell(InPod(ns_a_, kAppUid,
                    {"/usr/bin/curl", "-s", "-m", "5", "-i", "--resolve",
                     "unknown.example:8080:10.77.0.2", "http://unknown.example:8080/outside"})));
    return response.rfind("HTTP/1.1 200", 0) == 0;
  })) << response
      << "\nsidecar A:\n"
      << sidecar_a_->Output();
  EXPECT_NE(response.find("pod-b"), std::string::npos) << response;
  EXPECT_GE(Stat(ns_a_, kPassthrough), before + 1);
  EXPECT_TRUE(Eventually([] {
    return AccessLog("a").find("\"upstream_cluster\":\"PassthroughCluster\"") != std::string::npos;
  })) << AccessLog("a");
}

TEST_F(ProxyCaptureTest, RegistryOnlySidecarRefusesWhatTheMeshDoesNotKnow) {
  // A Sidecar for pod A's workload: its own namespace only, REGISTRY_ONLY.
  dir_->WriteFile("config/sidecar.yaml", R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: a, namespace: demo}
spec:
  workloadSelector: {labels: {app: a}}
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
)");
  constexpr char kBlackholed[] =
      "envoy_tcp_downstream_cx_total{envoy_tcp_prefix=\"BlackHoleCluster\"}";
  // TCP to an address outside the mesh: closed instead of passed through,
  // once the new listeners are in.
  std::string reply;
  ASSERT_TRUE(Eventually([&] {
    reply = TcpFromA("10.77.0.2", 7777, "hi");
    return Stat(ns_a_, kBlackholed) >= 1;
  })) << reply
      << "\nsidecar A:\n"
      << sidecar_a_->Output() << "\noperator:\n"
      << op_->Output();
  const double blackholed = Stat(ns_a_, kBlackholed);
  reply = TcpFromA("10.77.0.2", 7777, "hi");  // closed or reset: nothing from the app
  EXPECT_EQ(reply.find("outside-mesh"), std::string::npos) << reply;
  EXPECT_EQ(Stat(ns_a_, kBlackholed), blackholed + 1);
  // HTTP to a host the mesh does not know: 502 from the sidecar.
  std::string unknown;
  EXPECT_TRUE(Eventually([&] {
    unknown = RunCommandWithStderr(Shell(
        InPod(ns_a_, kAppUid,
              {"/usr/bin/curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
               "--resolve", "unknown.example:8080:10.77.0.2", "http://unknown.example:8080/"})));
    return unknown == "502";
  })) << unknown;
  // A Service of its own namespace is imported and still served.
  EXPECT_EQ(CurlFromA({}).rfind("HTTP/1.1 200", 0), 0u);

  // Without the Sidecar, unknown destinations pass through again.
  std::filesystem::remove(dir_->path() + "/config/sidecar.yaml");
  EXPECT_TRUE(Eventually([&] {
    reply = TcpFromA("10.77.0.2", 7777, "hi");
    return reply == "outside-mesh:hi";
  })) << reply;
}

TEST_F(ProxyCaptureTest, Ipv6TrafficOfADualStackPodIsCapturedToo) {
  if (!ipv6_ready_) GTEST_SKIP() << ipv6_skip_reason_;
  // HTTP from pod A's app to pod B's IPv6 address on a mesh port: ip6tables
  // sends it to sidecar A's [::]:15001, which hands it to 0.0.0.0_8080 (its
  // [::]:8080 address) and passes it through to the original destination;
  // there ip6tables sends it to sidecar B's [::]:15006, and on to B's app.
  std::string response;
  ASSERT_TRUE(Eventually([&] {
    response = RunCommandWithStderr(Shell(InPod(
        ns_a_, kAppUid, {"/usr/bin/curl", "-s", "-m", "5", "-i", "http://[fd00:77::2]:8080/v6"})));
    return response.rfind("HTTP/1.1 200", 0) == 0;
  })) << response
      << "\nsidecar A:\n"
      << sidecar_a_->Output() << "\nsidecar B:\n"
      << sidecar_b_->Output();
  EXPECT_NE(response.find("pod-b"), std::string::npos) << response;
  EXPECT_TRUE(Eventually([] {
    return AccessLog("a").find("\"upstream_host\":\"[fd00:77::2]:8080\"") != std::string::npos &&
           AccessLog("b").find("\"path\":\"/v6\"") != std::string::npos;
  })) << "A:\n"
      << AccessLog("a") << "\nB:\n"
      << AccessLog("b");
  // Plain TCP over IPv6 to a port pod B leaves uncaptured: sidecar A still
  // carries it (PassthroughCluster), B's app answers directly.
  std::string reply;
  ASSERT_TRUE(Eventually([&] {
    reply = TcpFromA("fd00:77::2", 7777, "hi6");
    return reply == "outside-mesh:hi6";
  })) << reply;
  EXPECT_TRUE(Eventually([] {
    return AccessLog("a").find("\"upstream_host\":\"[fd00:77::2]:7777\"") != std::string::npos;
  })) << AccessLog("a");
}

TEST_F(ProxyCaptureTest, CleanupRemovesTheCapture) {
  // Last: pod B's capture goes away, and a direct connection to B's app port
  // no longer reaches sidecar B.
  const std::string proxy = MESHGATE_BINARY_DIR "/bin/meshgate-proxy";
  int rc = 0;
  std::string out = RunCommandWithStderr(
      Shell({kIp, "netns", "exec", ns_b_, proxy, "iptables", "--cleanup"}), &rc);
  ASSERT_EQ(rc, 0) << out;
  out = RunCommandWithStderr(
      Shell({kIp, "netns", "exec", ns_b_, "/usr/sbin/iptables-save", "-t", "nat"}));
  EXPECT_EQ(out.find("MESHGATE"), std::string::npos) << out;
}

}  // namespace
}  // namespace meshgate::e2e
