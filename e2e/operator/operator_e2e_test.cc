// Black-box test of the real `meshgate-operator` binary in file mode: it is
// started on a temporary config dir, the test edits files the way users and
// editors do, and reads the store reports on the process's stdout and its
// diagnostics on stderr.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kOperator = MESHGATE_BINARY_DIR "/bin/meshgate-operator";

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The operator as a child process: stdout through a pipe, stderr to a file.
class OperatorProcess {
 public:
  bool Start(const std::vector<std::string>& args, const std::string& stderr_path) {
    int out_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<std::string> storage = {kOperator};
    storage.insert(storage.end(), args.begin(), args.end());
    // These tests watch the config store only: no xDS, admin or CA port, so
    // they never collide with other tests' processes.
    for (const char* flag : {"--xds-port", "--admin-port", "--ca-port"}) {
      if (std::find(args.begin(), args.end(), flag) == args.end()) {
        storage.insert(storage.end(), {flag, "0"});
      }
    }
    std::vector<char*> argv;
    for (auto& a : storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, kOperator.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    return rc == 0;
  }

  ~OperatorProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }

  // The lines of the next report: every line up to and including the next
  // "store version=" summary. Empty if none arrives within the deadline.
  std::vector<std::string> NextReport(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::string> lines;
    while (true) {
      size_t newline;
      while ((newline = buffer_.find('\n')) != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        const bool summary = line.rfind("store version=", 0) == 0;
        lines.push_back(std::move(line));
        if (summary) return lines;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd fd = {out_fd_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) return {};
      char chunk[4096];
      ssize_t n = read(out_fd_, chunk, sizeof(chunk));
      if (n <= 0) return {};
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Sends `signal` and returns the exit status (-1 if it did not exit in time).
  int StopWith(int signal) {
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

std::string Summary(int version, int objects, int virtual_services) {
  return "store version=" + std::to_string(version) + " objects=" + std::to_string(objects) +
         " VirtualService=" + std::to_string(virtual_services) +
         " DestinationRule=0 Gateway=0 ServiceEntry=0 APIProduct=0 Service=0 EndpointSlice=0 "
         "Pod=0 Namespace=0 Secret=0 ConfigMap=0 PeerAuthentication=0 Sidecar=0";
}

std::string Vs(const std::string& name, const std::string& host, const std::string& weight = "") {
  std::string text =
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata:\n"
      "  name: " +
      name +
      "\n"
      "  namespace: demo\n"
      "spec:\n"
      "  hosts:\n"
      "  - " +
      host +
      "\n"
      "  http:\n"
      "  - route:\n"
      "    - destination:\n"
      "        host: " +
      host + "\n";
  if (!weight.empty()) text += "      weight: " + weight + "\n";
  return text;
}

class OperatorE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/meshgate-operator-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    config_ = root_ + "/config";
    fs::create_directories(config_);
    fs::create_directories(root_ + "/state");
    stderr_path_ = root_ + "/operator.log";
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(config_ + "/" + name, std::ios::trunc) << text;
  }

  // Waits until the operator's log contains `text`.
  bool LogContains(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ReadWholeFile(stderr_path_).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string root_, config_, stderr_path_;
};

TEST_F(OperatorE2eTest, FollowsTheConfigDirectoryAndShutsDownCleanly) {
  OperatorProcess op;
  ASSERT_TRUE(op.Start({"--config-dir", config_, "--state-dir", root_ + "/state", "--log-level",
                        "info", "--admin-port", "0"},
                       stderr_path_));
  ASSERT_THAT(op.NextReport(), ElementsAre(Summary(0, 0, 0)));

  // Add.
  Write("routes.yaml", Vs("a", "one"));
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a", Summary(1, 1, 1)));

  // Edit.
  Write("routes.yaml", Vs("a", "two"));
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a", Summary(2, 1, 1)));

  // Edit "a" into an invalid state while adding "b": b flows, a keeps its
  // last valid version (no delete), and the error names file, line and field.
  Write("routes.yaml", Vs("a", "two", "-5") + "---\n" + Vs("b", "bee"));
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/b", Summary(3, 2, 2)));
  EXPECT_TRUE(LogContains(config_ + "/routes.yaml:13: VirtualService/demo/a: "
                                    "spec.http[0].route[0].weight: "))
      << ReadWholeFile(stderr_path_);

  // Fix it. b's document is untouched (and stays on the same lines), so only
  // a is reported.
  Write("routes.yaml", Vs("a", "three", "100") + "---\n" + Vs("b", "bee"));
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a", Summary(4, 2, 2)));

  // Rename: the same objects, now from the new file.
  fs::rename(config_ + "/routes.yaml", config_ + "/renamed.yaml");
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a",
                                           "upsert VirtualService/demo/b", Summary(5, 2, 2)));

  // Delete.
  fs::remove(config_ + "/renamed.yaml");
  EXPECT_THAT(op.NextReport(), ElementsAre("delete VirtualService/demo/a",
                                           "delete VirtualService/demo/b", Summary(6, 0, 0)));

  // A conflicting duplicate: the first one seen stays, the conflict names
  // both files, and the other takes over when the first goes.
  Write("first.yaml", Vs("a", "first"));
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a", Summary(7, 1, 1)));
  Write("second.yaml", Vs("a", "second"));
  EXPECT_TRUE(LogContains(config_ +
                          "/second.yaml:1: VirtualService/demo/a: conflict: also "
                          "defined in " +
                          config_ + "/first.yaml:1"))
      << ReadWholeFile(stderr_path_);
  fs::remove(config_ + "/first.yaml");
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a", Summary(8, 1, 1)));

  EXPECT_EQ(op.StopWith(SIGTERM), 0);
}

TEST_F(OperatorE2eTest, LoadsAnExistingTreeAndStopsOnSigint) {
  fs::create_directories(config_ + "/team-a");
  Write("team-a/a.yaml", Vs("a", "one"));
  Write("b.yml", Vs("b", "two"));
  OperatorProcess op;
  ASSERT_TRUE(op.Start({"--config-dir", config_}, stderr_path_));
  EXPECT_THAT(op.NextReport(), ElementsAre("upsert VirtualService/demo/a",
                                           "upsert VirtualService/demo/b", Summary(1, 2, 2)));
  EXPECT_EQ(op.StopWith(SIGINT), 0);
}

TEST_F(OperatorE2eTest, BadFlagsExitTwoWithUsage) {
  OperatorProcess op;
  ASSERT_TRUE(op.Start({"--config-dir", config_, "--no-such-flag"}, stderr_path_));
  EXPECT_THAT(op.NextReport(std::chrono::seconds(2)), IsEmpty());
  EXPECT_EQ(op.StopWith(0), 2);  // signal 0: just wait for the exit
  EXPECT_THAT(ReadWholeFile(stderr_path_), HasSubstr("unknown flag '--no-such-flag'"));
  EXPECT_THAT(ReadWholeFile(stderr_path_), HasSubstr("Usage: meshgate-operator"));
}

TEST_F(OperatorE2eTest, MissingConfigDirFailsToStart) {
  OperatorProcess op;
  ASSERT_TRUE(op.Start({"--config-dir", root_ + "/nope"}, stderr_path_));
  EXPECT_EQ(op.StopWith(0), 1);
  EXPECT_THAT(ReadWholeFile(stderr_path_), HasSubstr(root_ + "/nope"));
}

}  // namespace
