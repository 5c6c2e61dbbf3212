// Every Istio networking object in Istio's own sample and test corpus decodes
// and validates cleanly; other kinds in those files are skipped with a notice.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "unit/api/test_util.h"

namespace meshgate::api {
namespace {

TEST(CompatTest, IstioCorpusDecodesWithoutErrors) {
  const std::filesystem::path root = MESHGATE_SOURCE_DIR "/../shared/compat/istio";
  ASSERT_TRUE(std::filesystem::exists(root)) << root;
  int files = 0;
  int networking = 0;
  int sidecars = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".yaml" && entry.path().extension() != ".yml") continue;
    ++files;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    DecodeOptions options;
    options.source_name = entry.path().string();
    const DecodeResult result = Decode(text.str(), options);
    EXPECT_FALSE(HasErrors(result.diagnostics)) << testing::Dump(result);
    for (const Diagnostic& d : result.diagnostics) {
      // Istio's corpus still carries `websocketUpgrade`, long removed from the
      // API (upgrades are always allowed): an unknown field, so a warning.
      if (d.severity == Diagnostic::Severity::kWarning) {
        EXPECT_EQ(d.message, "unknown field \"websocketUpgrade\"") << d.ToString();
        continue;
      }
      EXPECT_EQ(d.severity, Diagnostic::Severity::kNotice) << d.ToString();
      EXPECT_THAT(d.message, ::testing::HasSubstr("unsupported kind")) << d.ToString();
    }
    for (const ResourcePtr& r : result.resources) {
      if (r->kind == Kind::kVirtualService || r->kind == Kind::kDestinationRule ||
          r->kind == Kind::kGateway || r->kind == Kind::kServiceEntry) {
        ++networking;
      }
      if (r->kind == Kind::kSidecar) ++sidecars;
    }
  }
  EXPECT_GT(files, 40);
  EXPECT_GT(networking, 60);
  EXPECT_EQ(sidecars, 3);  // testdata-config: none.yaml, se-example.yaml, se-example-gw.yaml
}

}  // namespace
}  // namespace meshgate::api
