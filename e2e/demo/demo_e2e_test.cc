// The embedded demo as a user runs it: scripts/run-demo.sh with this build's
// binaries, driven by curl and meshgate-grpc-echo, then stopped with SIGINT
// (Ctrl-C). The demo uses fixed ports and loopback addresses; when any of
// them is taken the test skips rather than fight whatever holds it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kGatewayId[] = "spiffe://cluster.local/ns/demo/sa/gateway";
constexpr char kGrpcAuthority[] = "grpc-echo.demo.svc.cluster.local";

struct Address {
  const char* ip;
  int port;
};
// Everything run-demo.sh binds.
constexpr Address kDemoAddresses[] = {
    {"127.0.0.1", 8080},  {"127.0.0.1", 9101},  {"127.0.0.1", 9102},  {"127.0.0.1", 9103},
    {"127.0.0.11", 9101}, {"127.0.0.12", 9102}, {"127.0.0.13", 9103}, {"127.0.0.1", 15000},
    {"127.0.0.1", 15010}, {"127.0.0.1", 15012}, {"127.0.0.1", 15014}, {"127.0.0.1", 15101},
    {"127.0.0.1", 15102}, {"127.0.0.1", 15103},
};

int Connect(const Address& a) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(a.port));
  inet_pton(AF_INET, a.ip, &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool InUse(const Address& a) {
  int fd = Connect(a);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::string Curl(const std::string& args) { return RunCommand("curl -sS -m 5 " + args + " 2>&1"); }

class DemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string busy;
    for (const auto& a : kDemoAddresses) {
      if (InUse(a)) absl::StrAppend(&busy, " ", a.ip, ":", a.port);
    }
    if (!busy.empty()) GTEST_SKIP() << "the demo's fixed addresses are in use:" << busy;
    demo_ = std::make_unique<Subprocess>(std::vector<std::string>{
        "/bin/bash", MESHGATE_SOURCE_DIR "/scripts/run-demo.sh", MESHGATE_BINARY_DIR});
    ASSERT_TRUE(demo_->WaitForSubstring("meshgate demo is running", 60s)) << demo_->Output();
  }

  void TearDown() override {
    // Whatever happened, nothing of the demo outlives the test.
    if (demo_ != nullptr && demo_->pid() > 0) kill(-demo_->pid(), SIGKILL);
  }

  std::unique_ptr<Subprocess> demo_;
};

TEST_F(DemoTest, GatewaySidecarsMutualTlsGrpcAndCtrlC) {
  // The 90/10 split: both versions answer through the gateway. Retries hide
  // v1's deliberate failures, so every answer is a 200 with a version.
  int v1 = 0, v2 = 0;
  for (int i = 0; i < 60 && (v1 == 0 || v2 == 0 || i < 20); ++i) {
    std::string body = Curl("-w ' status=%{http_code}' http://127.0.0.1:8080/");
    ASSERT_TRUE(absl::StrContains(body, "status=200")) << body;
    if (absl::StrContains(body, "\"version\":\"v1\"")) ++v1;
    if (absl::StrContains(body, "\"version\":\"v2\"")) ++v2;
  }
  EXPECT_GT(v1, 0);
  EXPECT_GT(v2, 0);
  EXPECT_GT(v1, v2) << "90/10 split: v1 " << v1 << " v2 " << v2;

  // The header route: always v2.
  for (int i = 0; i < 5; ++i) {
    std::string body = Curl("-H 'x-canary: true' http://127.0.0.1:8080/");
    EXPECT_TRUE(absl::StrContains(body, "\"version\":\"v2\"")) << body;
  }

  // The rewrite: /api/hello reaches the backend as /hello.
  EXPECT_TRUE(absl::StrContains(Curl("http://127.0.0.1:8080/api/hello"), "\"path\":\"/hello\""));

  // Mesh mTLS: the sidecar forwards the gateway's identity in XFCC.
  std::string body = Curl("http://127.0.0.1:8080/");
  EXPECT_TRUE(absl::StrContains(body, absl::StrCat("URI=", kGatewayId))) << body;

  // gRPC through the gateway by authority; the peer is the gateway.
  int code = -1;
  std::string reply =
      RunCommand(absl::StrCat(MESHGATE_BINARY_DIR "/bin/meshgate-grpc-echo --call Say ",
                              "--target 127.0.0.1:8080 --authority ", kGrpcAuthority, " 2>&1"),
                 &code);
  EXPECT_EQ(code, 0) << reply;
  EXPECT_TRUE(absl::StrContains(reply, absl::StrCat("peer=", kGatewayId))) << reply;

  // PeerAuthentication STRICT: a plaintext request to a sidecar's port is
  // closed without an HTTP answer.
  int fd = Connect({"127.0.0.11", 9101});
  ASSERT_GE(fd, 0) << "the echo-v1 sidecar does not listen on 127.0.0.11:9101";
  const std::string request = "GET / HTTP/1.1\r\nHost: echo\r\n\r\n";
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  bool closed = false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;  // neither data nor close: fails below
    char buf[1024];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed = true;
      break;
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_TRUE(closed) << "the sidecar kept a plaintext connection open";
  EXPECT_EQ(answer, "") << "the sidecar answered plaintext";

  // Ctrl-C, as a terminal sends it: SIGINT to the whole process group. The
  // script stops every process it started, and they let go of the demo's
  // addresses.
  const pid_t group = demo_->pid();
  ASSERT_EQ(kill(-group, SIGINT), 0);
  const int status = demo_->Stop(0, 20s);
  EXPECT_NE(status, -1) << "the demo did not stop on SIGINT; left running:\n"
                        << RunCommand(absl::StrCat("ps -o pid,stat,wchan:20,cmd -g ", group))
                        << demo_->Output();
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = kill(-group, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "processes of the demo outlived Ctrl-C:\n"
                    << RunCommand(absl::StrCat("ps -o pid,stat,wchan:20,cmd -g ", group));
  for (const auto& a : kDemoAddresses) EXPECT_FALSE(InUse(a)) << a.ip << ":" << a.port;
}

}  // namespace
}  // namespace meshgate::e2e
