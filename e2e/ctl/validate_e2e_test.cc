// Black-box tests of the real `meshgatectl validate` binary: exit codes, the
// exact problem-line format, and Istio's own configuration corpus.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kCtl = MESHGATE_BINARY_DIR "/bin/meshgatectl";

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs meshgatectl with `args`, feeding `input` on stdin, and collects both
// output streams to the end.
Result RunCtl(const std::vector<std::string>& args, const std::string& input = "") {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  EXPECT_EQ(pipe2(in_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(out_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err_pipe, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv_storage = {kCtl};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  Result result;
  int rc = posix_spawn(&pid, kCtl.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  EXPECT_EQ(rc, 0) << "cannot start " << kCtl;
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }
  // Small inputs fit the pipe buffer; the child reads stdin only for "-f -".
  if (!input.empty()) {
    EXPECT_EQ(write(in_pipe[1], input.data(), input.size()), ssize_t(input.size()));
  }
  close(in_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, 30000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

class ValidateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/meshgate-ctl-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& rel, const std::string& text) {
    const std::string path = dir_ + "/" + rel;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

constexpr char kGood[] =
    "apiVersion: networking.istio.io/v1beta1\n"
    "kind: DestinationRule\n"
    "metadata:\n"
    "  name: reviews\n"
    "  namespace: demo\n"
    "spec:\n"
    "  host: reviews\n"
    "  subsets:\n"
    "  - name: v1\n"
    "    labels:\n"
    "      version: v1\n";

TEST(ValidateIstioCorpusTest, EveryIstioFileValidates) {
  const fs::path corpus = fs::path(MESHGATE_SOURCE_DIR) / ".." / "shared" / "compat" / "istio";
  ASSERT_TRUE(fs::is_directory(corpus)) << corpus;
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 40u);
  // One run per file: the bookinfo variants define the same objects on
  // purpose (alternative routings), which one run would call duplicates.
  for (const std::string& file : files) {
    Result r = RunCtl({"validate", "-f", file});
    EXPECT_EQ(r.exit_code, 0) << file << "\n" << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(" 0 invalid in 1 files")) << file;
    // Whatever is not an error is a warning or a notice.
    for (const std::string& line : Lines(r.out)) {
      EXPECT_TRUE(line.find("notice: ") != std::string::npos ||
                  line.find("warning: ") != std::string::npos)
          << line;
    }
  }
}

TEST_F(ValidateE2eTest, BrokenFilesExitOneWithFileLineObjectAndField) {
  Write("good.yaml", kGood);
  const std::string bad = Write("nested/bad.yaml", std::string(kGood) +
                                                       "---\n"
                                                       "apiVersion: networking.istio.io/v1\n"
                                                       "kind: VirtualService\n"
                                                       "metadata:\n"
                                                       "  name: broken\n"
                                                       "  namespace: demo\n"
                                                       "spec:\n"
                                                       "  hosts:\n"
                                                       "  - broken\n"
                                                       "  http:\n"
                                                       "  - route:\n"
                                                       "    - destination:\n"
                                                       "        host: broken\n"
                                                       "      weight: heavy\n");
  const std::string unparsable = Write("unparsable.yaml", "apiVersion: v1\nkind: [unterminated\n");
  Result r = RunCtl({"validate", "-f", dir_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // good.yaml and bad.yaml both define DestinationRule/demo/reviews.
  const std::vector<std::string> lines = Lines(r.out);
  const std::regex weight_line(
      "^" + bad + R"(:25: VirtualService/demo/broken: spec\.http\[0\]\.route\[0\]\.weight: .+$)");
  const std::regex duplicate_line(
      "^" + bad + ":1: DestinationRule/demo/reviews: already defined at " + dir_ + "/good.yaml:1$");
  const std::regex parse_line("^" + unparsable + R"(:\d+: .+$)");
  int weight = 0, duplicate = 0, parse = 0;
  for (const std::string& line : lines) {
    weight += std::regex_match(line, weight_line);
    duplicate += std::regex_match(line, duplicate_line);
    parse += std::regex_match(line, parse_line);
  }
  EXPECT_EQ(weight, 1) << r.out;
  EXPECT_EQ(duplicate, 1) << r.out;
  EXPECT_GE(parse, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("1 objects valid, 3 invalid in 3 files"));
}

TEST_F(ValidateE2eTest, MissingPathExitsTwo) {
  Result r = RunCtl({"validate", "-f", dir_ + "/does-not-exist.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(dir_ + "/does-not-exist.yaml: no such file or directory"));
}

TEST_F(ValidateE2eTest, NoArgumentsExitTwo) {
  Result r = RunCtl({"validate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("Usage: meshgatectl validate"));
  r = RunCtl({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("Usage: meshgatectl COMMAND"));
  r = RunCtl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
}

TEST_F(ValidateE2eTest, HelpExitsZero) {
  Result r = RunCtl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("validate"));
  r = RunCtl({"validate", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--strict"));
}

TEST_F(ValidateE2eTest, UnknownFieldWarnsAndFailsOnlyWhenStrict) {
  const std::string path = Write("unknown.yaml", std::string(kGood) + "  frobnicate: 1\n");
  Result lax = RunCtl({"validate", "-f", path});
  EXPECT_EQ(lax.exit_code, 0) << lax.out << lax.err;
  EXPECT_THAT(lax.out,
              HasSubstr(path + ":12: warning: DestinationRule/demo/reviews: spec.frobnicate: "));
  EXPECT_THAT(lax.out, HasSubstr("frobnicate"));
  Result strict = RunCtl({"validate", "--strict", "-f", path});
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_THAT(strict.out, HasSubstr(path + ":12: DestinationRule/demo/reviews: spec.frobnicate: "));
  EXPECT_THAT(strict.out, HasSubstr("frobnicate"));
}

TEST_F(ValidateE2eTest, ReadsStdin) {
  Result r = RunCtl({"validate", "-f", "-"}, kGood);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, HasSubstr("1 objects valid, 0 invalid in 1 files"));
}

TEST_F(ValidateE2eTest, DemoConfigValidatesClean) {
  Result r = RunCtl({"validate", "-f", MESHGATE_SOURCE_DIR "/examples/demo"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, HasSubstr(" 0 invalid in "));
}

}  // namespace
