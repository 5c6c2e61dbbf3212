// Tests of `proxy-status` and `proxy-config` as commands: flags, exit codes and
// messages, against a real HTTP server on loopback that answers with recorded
// admin documents, errors, or bytes that are not HTTP at all.
#include "ctl/admin_commands.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "ctl/admin_client.h"
#include "ctl/output.h"
#include "ctl/proxy_config.h"
#include "ctl/proxy_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/ctl/test_util.h"

namespace meshgate::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadTestdata;
using ::testing::StartsWith;

// A one-request-at-a-time HTTP/1.1 server on 127.0.0.1: reads each request's
// head, records its request line, writes whatever bytes `respond` returns for
// it and closes the connection.
class CannedServer {
 public:
  using Responder = std::function<std::string(const std::string& request_line)>;

  explicit CannedServer(Responder respond) : respond_(std::move(respond)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~CannedServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (true) {
      int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      std::string head;
      char buffer[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(conn, buffer, sizeof(buffer));
        if (n <= 0) break;
        head.append(buffer, n);
      }
      std::string request_line = head.substr(0, head.find("\r\n"));
      {
        std::lock_guard lock(mu_);
        requests_.push_back(request_line);
      }
      std::string response = respond_(request_line);
      size_t written = 0;
      while (written < response.size()) {
        ssize_t n = write(conn, response.data() + written, response.size() - written);
        if (n <= 0) break;
        written += n;
      }
      shutdown(conn, SHUT_WR);
      // Let the client read everything before the close.
      while (read(conn, buffer, sizeof(buffer)) > 0) {
      }
      close(conn);
    }
  }

  Responder respond_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
};

std::string Http(int status, const std::string& body,
                 const std::string& content_type = "application/json") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

struct CommandResult {
  int exit_code;
  std::string out;
  std::string err;
};

CommandResult Status(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = RunProxyStatus(args, out, err);
  return {code, out.str(), err.str()};
}

CommandResult Config(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = RunProxyConfig(args, out, err);
  return {code, out.str(), err.str()};
}

// A port nothing listens on: bound, read, closed.
std::string ClosedAddress() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

TEST(ProxyStatusCommandTest, RendersTheSynczOfTheAdminEndpoint) {
  const std::string syncz = ReadTestdata("syncz_mixed.json");
  CannedServer server([&](const std::string&) { return Http(200, syncz); });
  CommandResult run = Status({"--admin", server.address()});
  EXPECT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(run.err, IsEmpty());
  EXPECT_EQ(run.out, *RenderProxyStatus(syncz, OutputFormat::kTable));
  EXPECT_THAT(server.requests(), ::testing::ElementsAre("GET /debug/syncz HTTP/1.1"));
}

TEST(ProxyStatusCommandTest, OutputFlagSpellings) {
  const std::string syncz = ReadTestdata("syncz_no_secrets.json");
  CannedServer server([&](const std::string&) { return Http(200, syncz); });
  const std::string json = *RenderProxyStatus(syncz, OutputFormat::kJson);
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"-o", "json"}, {"-ojson"}, {"-o=json"}, {"--output", "json"}, {"--output=json"}}) {
    std::vector<std::string> args = flags;
    args.push_back("--admin=http://" + server.address() + "/");
    CommandResult run = Status(args);
    EXPECT_EQ(run.exit_code, kExitOk) << flags[0] << ": " << run.err;
    EXPECT_EQ(run.out, json) << flags[0];
  }
}

TEST(ProxyStatusCommandTest, UnreachableAdminEndpointFails) {
  const std::string address = ClosedAddress();
  CommandResult run = Status({"--admin", address});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(run.err, StartsWith("meshgatectl proxy-status: cannot reach the control plane "
                                  "admin endpoint at http://" +
                                  address + "/debug/syncz: "));
}

TEST(ProxyStatusCommandTest, AnswerThatIsNotHttpFails) {
  CannedServer server([](const std::string&) { return std::string("SSH-2.0-OpenSSH_9.2\r\n"); });
  CommandResult run = Status({"--admin", server.address()});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(run.err, HasSubstr("cannot reach the control plane admin endpoint at http://" +
                                 server.address()));
}

TEST(ProxyStatusCommandTest, HttpThatIsNotASynczFails) {
  CannedServer server(
      [](const std::string&) { return Http(200, "<html>hello</html>", "text/html"); });
  CommandResult run = Status({"--admin", server.address()});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_THAT(run.err, HasSubstr("/debug/syncz did not answer a sync status (syncz: not a JSON "
                                 "document); is this a meshgate control plane's admin port?"));
}

TEST(ProxyStatusCommandTest, HttpErrorStatusFails) {
  CannedServer server([](const std::string&) { return Http(503, "compiling\n", "text/plain"); });
  CommandResult run = Status({"--admin", server.address()});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.err, HasSubstr("/debug/syncz answered HTTP 503: compiling"));
}

TEST(ProxyStatusCommandTest, UsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-o", "yaml"},
           {"-o"},
           {"--admin"},
           {"--admin", "localhost"},
           {"--admin", "127.0.0.1:99999"},
           {"--admin", "127.0.0.1:http"},
           {"--admin", ":15014"},
           {"--admin", "::1:15014"},
           {"--verbose"},
           {"some-proxy"},
       }) {
    CommandResult run = Status(args);
    EXPECT_EQ(run.exit_code, kExitUsage) << args[0];
    EXPECT_THAT(run.out, IsEmpty());
    EXPECT_THAT(run.err, StartsWith("meshgatectl proxy-status: ")) << args[0];
  }
  CommandResult help = Status({"--help"});
  EXPECT_EQ(help.exit_code, kExitOk);
  EXPECT_EQ(help.out, ProxyStatusUsage());
}

TEST(AdminClientTest, AddressForms) {
  EXPECT_EQ(AdminClient::Create("127.0.0.1:15014")->base_url(), "http://127.0.0.1:15014");
  EXPECT_EQ(AdminClient::Create("http://istiod.local:8080/")->base_url(),
            "http://istiod.local:8080");
  EXPECT_EQ(AdminClient::Create("[::1]:15014")->base_url(), "http://[::1]:15014");
  EXPECT_FALSE(AdminClient::Create("[::1]").ok());
  EXPECT_FALSE(AdminClient::Create("host:0").ok());
  EXPECT_FALSE(AdminClient::Create("a b:80").ok());
  EXPECT_FALSE(AdminClient::Create("").ok());
}

TEST(ProxyConfigCommandTest, RendersTheProxysDumpAndEncodesItsId) {
  const std::string dump = ReadTestdata("config_dump_gateway.json");
  CannedServer server([&](const std::string&) { return Http(200, dump); });
  CommandResult run =
      Config({"clusters", "sidecar~10.0.0.1~a b&c=d.ns", "--admin", server.address()});
  EXPECT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, *RenderProxyConfig(ConfigSection::kClusters, dump, OutputFormat::kTable));
  ASSERT_EQ(server.requests().size(), 1u);
  // The operator decodes the query, so every node id reaches it intact.
  EXPECT_EQ(server.requests()[0],
            "GET /debug/config_dump?proxy=sidecar~10.0.0.1~a%20b%26c%3Dd.ns HTTP/1.1");

  CommandResult json = Config({"-o", "json", "--admin", server.address(), "routes", "gw-1"});
  EXPECT_EQ(json.exit_code, kExitOk) << json.err;
  EXPECT_EQ(json.out, *RenderProxyConfig(ConfigSection::kRoutes, dump, OutputFormat::kJson));
}

TEST(ProxyConfigCommandTest, UnknownProxyFails) {
  CannedServer server([](const std::string&) {
    return Http(404, R"({"error": "no connected proxy with node id \"ghost\""})");
  });
  CommandResult run = Config({"listeners", "ghost", "--admin", server.address()});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(run.err,
            "meshgatectl proxy-config: proxy \"ghost\" is not connected to the control "
            "plane at http://" +
                server.address() + " (meshgatectl proxy-status lists the connected proxies)\n");
}

TEST(ProxyConfigCommandTest, GarbageAndUnreachableFail) {
  CannedServer garbage([](const std::string&) { return Http(200, "{\"nodes\": 3}"); });
  CommandResult run = Config({"endpoints", "p", "--admin", garbage.address()});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.err, HasSubstr("did not answer a config dump (config dump.resources: want an "
                                 "object keyed by type URL)"));

  CommandResult unreachable = Config({"endpoints", "p", "--admin", ClosedAddress()});
  EXPECT_EQ(unreachable.exit_code, kExitFailure);
  EXPECT_THAT(unreachable.err, HasSubstr("cannot reach the control plane admin endpoint"));
}

TEST(ProxyConfigCommandTest, UsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"clusters"},
           {"clusters", "a", "b"},
           {"secrets", "a"},
           {"clusters", "a", "-o", "yaml"},
           {"clusters", "a", "--admin", "nowhere"},
       }) {
    CommandResult run = Config(args);
    EXPECT_EQ(run.exit_code, kExitUsage) << ::testing::PrintToString(args);
    EXPECT_THAT(run.out, IsEmpty());
    EXPECT_THAT(run.err, StartsWith("meshgatectl proxy-config: "));
  }
  CommandResult help = Config({"clusters", "-h"});
  EXPECT_EQ(help.exit_code, kExitOk);
  EXPECT_EQ(help.out, ProxyConfigUsage());
}

TEST(CaCommandTest, RootsTableNamesEachRootsState) {
  // A bundle mid-rotation: the signer, the staged next root and a retired one
  // still trusted until its certificates expire.
  CannedServer server([](const std::string&) {
    return Http(200, R"({"roots": [
        {"sha256": "AA:01", "active": true},
        {"sha256": "BB:02", "active": false, "staged": true},
        {"sha256": "CC:03", "active": false, "drop_after": "2026-12-01T00:00:00Z"}]})");
  });
  std::ostringstream out, err;
  int code = RunCa({"roots", "--admin", server.address()}, out, err);
  ASSERT_EQ(code, kExitOk) << err.str();
  EXPECT_THAT(server.requests(), ::testing::ElementsAre(StartsWith("GET /debug/ca/roots ")));
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << out.str();
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("AA:01 +active +-"));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex("BB:02 +staged +-"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex("CC:03 +retired +2026-12-01T00:00:00Z"));
}

}  // namespace
}  // namespace meshgate::ctl
