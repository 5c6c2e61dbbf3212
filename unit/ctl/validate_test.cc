#include "ctl/validate.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::ctl {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kValidVs[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata:\n"
    "  name: reviews\n"
    "  namespace: demo\n"
    "spec:\n"
    "  hosts:\n"
    "  - reviews\n"
    "  http:\n"
    "  - route:\n"
    "    - destination:\n"
    "        host: reviews\n";

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

RunResult Validate(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  RunResult run;
  run.code = RunValidate(args, in, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/meshgate-validate-XXXXXX";
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

TEST_F(ValidateTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Validate({}).code, kExitUsage);
  EXPECT_THAT(Validate({}).err, HasSubstr("give at least one -f"));
  EXPECT_EQ(Validate({"-f"}).code, kExitUsage);
  EXPECT_EQ(Validate({"--bogus", "-f", "x"}).code, kExitUsage);
  EXPECT_EQ(Validate({"stray.yaml"}).code, kExitUsage);
  EXPECT_THAT(Validate({"stray.yaml"}).err, HasSubstr("use -f stray.yaml"));
}

TEST_F(ValidateTest, HelpExitsZero) {
  RunResult run = Validate({"--help"});
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_THAT(run.out, HasSubstr("Usage: meshgatectl validate"));
}

TEST_F(ValidateTest, MissingPathExitsTwoButStillValidatesTheRest) {
  const std::string good = Write("good.yaml", kValidVs);
  RunResult run = Validate({"-f", dir_ + "/missing.yaml", "-f", good});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr(dir_ + "/missing.yaml: no such file or directory"));
  EXPECT_THAT(run.err, HasSubstr("1 objects valid, 0 invalid in 1 files"));
}

TEST_F(ValidateTest, ValidFilesExitZeroWithASummary) {
  Write("a/one.yaml", kValidVs);
  RunResult run = Validate({"-f", dir_});
  EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.out, IsEmpty());
  EXPECT_EQ(run.err, "1 objects valid, 0 invalid in 1 files\n");
}

TEST_F(ValidateTest, DirectoriesSkipHiddenAndForeignFiles) {
  Write("ok.yaml", kValidVs);
  Write(".hidden.yaml", "not: [valid");
  Write(".git/config.yaml", "not: [valid");
  Write("backup.yaml~", "not: [valid");
  Write("README.md", "not: [valid");
  RunResult run = Validate({"-f", dir_});
  EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("in 1 files"));
}

TEST_F(ValidateTest, InvalidObjectIsReportedWithFileLineAndFieldPath) {
  const std::string path = Write("bad.yaml", std::string(kValidVs) +
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
                                                 "      weight: -5\n");
  RunResult run = Validate({"-f", path});
  EXPECT_EQ(run.code, kExitInvalid);
  EXPECT_THAT(run.out,
              HasSubstr(path + ":26: VirtualService/demo/broken: spec.http[0].route[0].weight: "));
  EXPECT_THAT(run.err, HasSubstr("1 objects valid, 1 invalid in 1 files"));
}

TEST_F(ValidateTest, SameKeyTwiceAcrossFilesIsAnError) {
  const std::string a = Write("a.yaml", kValidVs);
  const std::string b = Write("b.yaml", kValidVs);
  RunResult run = Validate({"-f", a, "-f", b});
  EXPECT_EQ(run.code, kExitInvalid);
  EXPECT_THAT(run.out,
              HasSubstr(b + ":1: VirtualService/demo/reviews: already defined at " + a + ":1"));
  EXPECT_THAT(run.err, HasSubstr("1 objects valid, 1 invalid in 2 files"));
}

TEST_F(ValidateTest, ReadsStdin) {
  RunResult run = Validate({"-f", "-"}, kValidVs);
  EXPECT_EQ(run.code, kExitOk) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("1 objects valid"));
  run = Validate({"-f", "-"}, "kind: [broken");
  EXPECT_EQ(run.code, kExitInvalid);
  EXPECT_THAT(run.out, HasSubstr("<stdin>"));
}

TEST_F(ValidateTest, StrictTurnsUnknownFieldWarningsIntoErrors) {
  std::string text = kValidVs;
  text += "  frobnicate: true\n";
  const std::string path = Write("unknown.yaml", text);
  RunResult lax = Validate({"-f", path});
  EXPECT_EQ(lax.code, kExitOk) << lax.out << lax.err;
  EXPECT_THAT(lax.out, HasSubstr("warning: "));
  EXPECT_THAT(lax.out, HasSubstr("frobnicate"));
  RunResult strict = Validate({"--strict", "-f", path});
  EXPECT_EQ(strict.code, kExitInvalid);
  EXPECT_THAT(strict.out, HasSubstr("frobnicate"));
  EXPECT_THAT(strict.out, Not(HasSubstr("warning: ")));
}

}  // namespace
}  // namespace meshgate::ctl
