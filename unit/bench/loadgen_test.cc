// meshgate-loadgen against a real HTTP/1.1 server on loopback: the binary is run as the runner
// script runs it (--json) and its counts are checked against what the server saw. No assertion
// is about time: the server's behaviour is chosen per request number, not per clock.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace meshgate::bench {
namespace {

// What the server does with request number n (1-based, counted over all connections).
enum class Action { kContentLength, kChunked, kServiceUnavailable, kDropConnection };

// A thread-per-connection HTTP/1.1 server. Requests are GETs without bodies.
class TestServer {
 public:
  explicit TestServer(std::function<Action(int)> policy) : policy_(std::move(policy)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 64);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    // The generator has exited by now, so every connection has seen its end of stream.
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread& t : connections_) t.join();
  }

  int port() const { return port_; }
  int requests() const { return requests_.load(); }
  int count(Action action) const { return counts_[static_cast<int>(action)].load(); }
  std::string first_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_request_;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string pending;
    std::array<char, 4096> buffer;
    for (;;) {
      size_t end;
      while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = read(fd, buffer.data(), buffer.size());
        if (n <= 0) {
          close(fd);
          return;
        }
        pending.append(buffer.data(), static_cast<size_t>(n));
      }
      const std::string request = pending.substr(0, end + 4);
      pending.erase(0, end + 4);
      const int number = ++requests_;
      if (number == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        first_request_ = request;
      }
      const Action action = policy_(number);
      ++counts_[static_cast<int>(action)];
      std::string response;
      switch (action) {
        case Action::kContentLength:
          response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
          break;
        case Action::kChunked:
          response =
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\n\r\n";
          break;
        case Action::kServiceUnavailable:
          response = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
          break;
        case Action::kDropConnection:
          close(fd);
          return;
      }
      if (write(fd, response.data(), response.size()) != static_cast<ssize_t>(response.size())) {
        close(fd);
        return;
      }
    }
  }

  std::function<Action(int)> policy_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
  std::string first_request_;
  std::atomic<int> requests_{0};
  std::array<std::atomic<int>, 4> counts_{};
};

struct LoadgenRun {
  int exit_code = -1;
  nlohmann::json report;
  std::string output;
};

LoadgenRun RunLoadgen(const std::string& args) {
  const std::string command =
      std::string(MESHGATE_BINARY_DIR) + "/bin/meshgate-loadgen " + args + " 2>&1";
  LoadgenRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.report = nlohmann::json::parse(run.output, nullptr, /*allow_exceptions=*/false);
  return run;
}

std::string Url(const TestServer& server) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + "/bench/path";
}

TEST(LoadgenTest, SendsEveryScheduledRequestAndParsesBothFramings) {
  TestServer server([](int n) { return n % 2 ? Action::kContentLength : Action::kChunked; });
  const LoadgenRun run = RunLoadgen("--rate 400 --duration 250ms --connections 3 --json --url " +
                                    Url(server) + " --header 'x-bench: yes'");
  ASSERT_FALSE(run.report.is_discarded()) << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["scheduled"], 100);
  EXPECT_EQ(run.report["completed"], 100);
  EXPECT_EQ(run.report["errors"]["total"], 0);
  EXPECT_EQ(run.report["status"]["2xx"], 100);
  EXPECT_EQ(run.report["latency_us"]["count"], 100);
  EXPECT_EQ(server.requests(), 100);
  EXPECT_EQ(server.count(Action::kChunked), 50);

  const std::string request = server.first_request();
  EXPECT_EQ(request.rfind("GET /bench/path HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << request;
  EXPECT_NE(request.find("x-bench: yes\r\n"), std::string::npos) << request;
}

TEST(LoadgenTest, HostHeaderFlagReplacesTheDefault) {
  TestServer server([](int) { return Action::kContentLength; });
  const LoadgenRun run = RunLoadgen("--rate 100 --duration 100ms --json --url " + Url(server) +
                                    " --header 'Host: api.example.com'");
  ASSERT_FALSE(run.report.is_discarded()) << run.output;
  const std::string request = server.first_request();
  EXPECT_NE(request.find("Host: api.example.com\r\n"), std::string::npos) << request;
  EXPECT_EQ(request.find("host: 127.0.0.1"), std::string::npos) << request;
}

TEST(LoadgenTest, CountsNon2xxAsErrorsAndLeavesThemOutOfLatency) {
  TestServer server(
      [](int n) { return n % 4 == 0 ? Action::kServiceUnavailable : Action::kContentLength; });
  const LoadgenRun run =
      RunLoadgen("--rate 400 --duration 200ms --connections 2 --json --url " + Url(server));
  ASSERT_FALSE(run.report.is_discarded()) << run.output;
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.report["completed"], 80);
  EXPECT_EQ(run.report["status"]["5xx"], 20);
  EXPECT_EQ(run.report["errors"]["non_2xx"], 20);
  EXPECT_EQ(run.report["errors"]["total"], 20);
  EXPECT_EQ(run.report["latency_us"]["count"], 60);
  EXPECT_EQ(run.report["first_error"], "HTTP status 503");
}

TEST(LoadgenTest, DroppedConnectionsAreResetErrorsAndTheRunGoesOn) {
  TestServer server(
      [](int n) { return n % 5 == 0 ? Action::kDropConnection : Action::kContentLength; });
  const LoadgenRun run =
      RunLoadgen("--rate 400 --duration 250ms --connections 2 --json --url " + Url(server));
  ASSERT_FALSE(run.report.is_discarded()) << run.output;
  EXPECT_EQ(run.exit_code, 3);
  const int dropped = server.count(Action::kDropConnection);
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(run.report["errors"]["reset"], dropped);
  EXPECT_EQ(run.report["status"]["2xx"], server.count(Action::kContentLength));
  // Every scheduled request was either answered, dropped by the server, or never sent.
  EXPECT_EQ(run.report["scheduled"].get<int>(), run.report["completed"].get<int>() + dropped +
                                                    run.report["errors"]["unsent"].get<int>());
}

TEST(LoadgenTest, UnreachableServerFailsClearly) {
  // Bind and close a socket to find a port nobody listens on.
  TestServer* probe = new TestServer([](int) { return Action::kContentLength; });
  const std::string url = Url(*probe);
  delete probe;
  const LoadgenRun run = RunLoadgen("--rate 10 --duration 100ms --timeout 1s --url " + url);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("cannot connect to " + url), std::string::npos) << run.output;
}

TEST(LoadgenTest, BadFlagsAreNamed) {
  const LoadgenRun no_url = RunLoadgen("--rate 10");
  EXPECT_EQ(no_url.exit_code, 2);
  EXPECT_NE(no_url.output.find("--url is required"), std::string::npos) << no_url.output;

  const LoadgenRun bad_rate = RunLoadgen("--rate -5 --url http://127.0.0.1:1/");
  EXPECT_EQ(bad_rate.exit_code, 2);
  EXPECT_NE(bad_rate.output.find("--rate: '-5'"), std::string::npos) << bad_rate.output;

  const LoadgenRun bad_url = RunLoadgen("--url https://127.0.0.1/");
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_NE(bad_url.output.find("must start with http://"), std::string::npos) << bad_url.output;

  const LoadgenRun bad_duration = RunLoadgen("--duration forever --url http://127.0.0.1:1/");
  EXPECT_EQ(bad_duration.exit_code, 2);
  EXPECT_NE(bad_duration.output.find("--duration: 'forever'"), std::string::npos)
      << bad_duration.output;
}

}  // namespace
}  // namespace meshgate::bench
