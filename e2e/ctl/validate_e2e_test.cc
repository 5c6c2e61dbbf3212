// Black-box tests of the real `meshgatectl validate` binary: exit codes, the
// exact problem-line format, and Istio's own configuration corpus.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "e2e/ctl/run_ctl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using ::meshgate::e2e::Result;
using ::meshgate::e2e::RunCtl;

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
