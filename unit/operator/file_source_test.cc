#include "operator/file_source.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::operator_ {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string VirtualServiceYaml(const std::string& name, const std::string& host) {
  return "apiVersion: networking.istio.io/v1\n"
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
}

std::string DestinationRuleYaml(const std::string& name) {
  return "apiVersion: networking.istio.io/v1beta1\n"
         "kind: DestinationRule\n"
         "metadata:\n"
         "  name: " +
         name +
         "\n"
         "  namespace: demo\n"
         "spec:\n"
         "  host: " +
         name +
         "\n"
         "  subsets:\n"
         "  - name: v1\n"
         "    labels:\n"
         "      version: v1\n";
}

// A VirtualService with a negative route weight: it decodes and names itself,
// but fails validation at spec.http[0].route[0].weight (line 13).
std::string InvalidVirtualServiceYaml(const std::string& name) {
  return "apiVersion: networking.istio.io/v1\n"
         "kind: VirtualService\n"
         "metadata:\n"
         "  name: " +
         name +
         "\n"
         "  namespace: demo\n"
         "spec:\n"
         "  hosts:\n"
         "  - broken\n"
         "  http:\n"
         "  - route:\n"
         "    - destination:\n"
         "        host: broken\n"
         "      weight: -5\n";
}

api::ObjectKey VsKey(const std::string& name) {
  return api::ObjectKey{api::Kind::kVirtualService, "demo", name};
}

std::string HostOf(const api::ConfigSnapshot& snapshot, const std::string& name) {
  auto r = snapshot.Find(VsKey(name));
  if (r == nullptr) return "";
  return r->As<api::VirtualService>().hosts.at(0);
}

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/meshgate-filesource-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (source_ != nullptr) source_->Stop();
    fs::remove_all(dir_);
  }

  void StartSource() {
    FileSourceOptions options;
    options.root = dir_;
    source_ = std::make_unique<FileSource>(store_, options);
    ASSERT_TRUE(source_->Start().ok());
  }

  // Writes like an editor that saves in place.
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(dir_ + "/" + rel).parent_path());
    std::ofstream(dir_ + "/" + rel, std::ios::trunc) << text;
  }
  // Writes like an editor that saves atomically: a hidden temp file renamed
  // over the target.
  void WriteAtomically(const std::string& rel, const std::string& text) {
    const std::string target = dir_ + "/" + rel;
    const std::string tmp = fs::path(target).parent_path().string() + "/.tmp-save";
    std::ofstream(tmp, std::ios::trunc) << text;
    fs::rename(tmp, target);
  }

  // Waits for the kernel to deliver inotify events and the source to apply
  // them: a bounded poll on a condition, not a sleep standing in for sync.
  bool WaitFor(const std::function<bool(const api::ConfigSnapshot&)>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition(*store_.Snapshot())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition(*store_.Snapshot());
  }

  std::string dir_;
  ConfigStore store_;
  std::unique_ptr<FileSource> source_;
};

TEST(FileNamesTest, SelectsConfigFilesAndSkipsEditorDebris) {
  EXPECT_TRUE(IsConfigFileName("a.yaml"));
  EXPECT_TRUE(IsConfigFileName("a.yml"));
  EXPECT_TRUE(IsConfigFileName("a.json"));
  EXPECT_FALSE(IsConfigFileName("a.txt"));
  EXPECT_FALSE(IsConfigFileName(".a.yaml"));
  EXPECT_FALSE(IsConfigFileName(".#a.yaml"));
  EXPECT_FALSE(IsConfigFileName("a.yaml~"));
  EXPECT_FALSE(IsConfigFileName(".a.yaml.swp"));
  EXPECT_FALSE(IsConfigFileName("#a.yaml#"));
  EXPECT_FALSE(IsConfigFileName("yaml"));
  EXPECT_TRUE(IsHiddenName(".git"));
  EXPECT_FALSE(IsHiddenName("git"));
}

TEST_F(FileSourceTest, StartFailsOnAMissingDirectory) {
  FileSourceOptions options;
  options.root = dir_ + "/missing";
  FileSource source(store_, options);
  EXPECT_FALSE(source.Start().ok());
}

TEST_F(FileSourceTest, InitialLoadIsRecursiveAndSkipsHiddenAndTemporaryFiles) {
  Write("a.yaml", VirtualServiceYaml("a", "a.example.com"));
  Write("sub/deeper/b.yml", DestinationRuleYaml("b"));
  Write("c.json", R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",)"
                  R"("metadata":{"name":"c","namespace":"demo"},"spec":{"hosts":["c"],)"
                  R"("http":[{"route":[{"destination":{"host":"c"}}]}]}})");
  Write(".hidden.yaml", VirtualServiceYaml("hidden1", "x"));
  Write(".git/x.yaml", VirtualServiceYaml("hidden2", "x"));
  Write("a.yaml~", VirtualServiceYaml("backup", "x"));
  Write(".#a.yaml", VirtualServiceYaml("lock", "x"));
  Write("notes.txt", VirtualServiceYaml("txt", "x"));
  StartSource();
  // Start() returns once the tree is in the store.
  auto snapshot = store_.Snapshot();
  EXPECT_EQ(snapshot->resource_version, 1);
  EXPECT_THAT(snapshot->objects, SizeIs(3));
  EXPECT_EQ(HostOf(*snapshot, "a"), "a.example.com");
  EXPECT_NE(snapshot->Find({api::Kind::kDestinationRule, "demo", "b"}), nullptr);
  EXPECT_EQ(HostOf(*snapshot, "c"), "c");
  EXPECT_EQ(snapshot->Find(VsKey("a"))->source.file, dir_ + "/a.yaml");
}

TEST_F(FileSourceTest, FollowsAddEditAndDelete) {
  StartSource();
  EXPECT_THAT(store_.Snapshot()->objects, IsEmpty());
  Write("a.yaml", VirtualServiceYaml("a", "one"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "one"; }));
  Write("a.yaml", VirtualServiceYaml("a", "two") + "---\n" + VirtualServiceYaml("b", "bee"));
  ASSERT_TRUE(
      WaitFor([](const auto& s) { return HostOf(s, "a") == "two" && s.objects.size() == 2; }));
  // An edit that drops an object deletes it.
  Write("a.yaml", VirtualServiceYaml("b", "bee"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return s.Find(VsKey("a")) == nullptr; }));
  EXPECT_EQ(HostOf(*store_.Snapshot(), "b"), "bee");
  fs::remove(dir_ + "/a.yaml");
  ASSERT_TRUE(WaitFor([](const auto& s) { return s.objects.empty(); }));
}

TEST_F(FileSourceTest, EditingOneDocumentReportsOnlyThatObject) {
  Write("a.yaml", VirtualServiceYaml("a", "one") + "---\n" + VirtualServiceYaml("b", "bee"));
  StartSource();
  const api::ResourcePtr a_before = store_.Snapshot()->Find(VsKey("a"));
  std::mutex mu;
  std::vector<StoreChange> changes;
  store_.Subscribe([&](const StoreChange& c) {
    std::lock_guard lock(mu);
    changes.push_back(c);
  });
  Write("a.yaml", VirtualServiceYaml("a", "one") + "---\n" + VirtualServiceYaml("b", "bee2"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "b") == "bee2"; }));
  EXPECT_EQ(store_.Snapshot()->Find(VsKey("a")), a_before);  // the very same object
  std::lock_guard lock(mu);
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_THAT(changes[0].upserted, ElementsAre(VsKey("b")));
  EXPECT_THAT(changes[0].deleted, IsEmpty());
}

TEST_F(FileSourceTest, AnInvalidEditKeepsTheLastValidVersion) {
  Write("a.yaml", VirtualServiceYaml("a", "good") + "---\n" + VirtualServiceYaml("b", "bee"));
  StartSource();
  const int64_t loaded = store_.Version();
  // "a" becomes invalid, "b" changes: b flows, a keeps its last valid version.
  Write("a.yaml", InvalidVirtualServiceYaml("a") + "---\n" + VirtualServiceYaml("b", "bee2"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "b") == "bee2"; }));
  EXPECT_EQ(HostOf(*store_.Snapshot(), "a"), "good");
  EXPECT_GT(store_.Version(), loaded);

  auto diagnostics = store_.Diagnostics()[dir_ + "/a.yaml"];
  ASSERT_TRUE(api::HasErrors(diagnostics));
  bool found = false;
  for (const auto& d : diagnostics) {
    if (d.severity != api::Diagnostic::Severity::kError) continue;
    found = true;
    EXPECT_THAT(
        d.ToString(),
        HasSubstr(dir_ + "/a.yaml:13: VirtualService/demo/a: spec.http[0].route[0].weight: "));
  }
  EXPECT_TRUE(found);

  // Fixing it takes effect and clears the diagnostics.
  Write("a.yaml", VirtualServiceYaml("a", "fixed") + "---\n" + VirtualServiceYaml("b", "bee2"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "fixed"; }));
  EXPECT_FALSE(store_.Diagnostics().contains(dir_ + "/a.yaml"));
}

TEST_F(FileSourceTest, RenamingAFileWithABrokenObjectKeepsItsLastValidVersion) {
  Write("a.yaml", VirtualServiceYaml("a", "good"));
  StartSource();
  Write("a.yaml", InvalidVirtualServiceYaml("a"));
  ASSERT_TRUE(
      WaitFor([&](const auto&) { return store_.Diagnostics().contains(dir_ + "/a.yaml"); }));
  fs::rename(dir_ + "/a.yaml", dir_ + "/b.yaml");
  ASSERT_TRUE(WaitFor([&](const auto&) {
    auto diagnostics = store_.Diagnostics();
    return !diagnostics.contains(dir_ + "/a.yaml") && diagnostics.contains(dir_ + "/b.yaml");
  }));
  EXPECT_EQ(HostOf(*store_.Snapshot(), "a"), "good");
  EXPECT_TRUE(api::HasErrors(store_.Diagnostics()[dir_ + "/b.yaml"]));
}

TEST_F(FileSourceTest, AFileThatDoesNotParseKeepsItsObjects) {
  Write("a.yaml", VirtualServiceYaml("a", "good"));
  Write("other.yaml", VirtualServiceYaml("other", "o"));
  StartSource();
  Write("a.yaml", "kind: [unterminated\n  : : :\n");
  Write("other.yaml", VirtualServiceYaml("other", "o2"));
  // The other file keeps flowing, and this one's objects stay.
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "other") == "o2"; }));
  ASSERT_TRUE(
      WaitFor([&](const auto&) { return store_.Diagnostics().contains(dir_ + "/a.yaml"); }));
  EXPECT_EQ(HostOf(*store_.Snapshot(), "a"), "good");
  EXPECT_TRUE(api::HasErrors(store_.Diagnostics()[dir_ + "/a.yaml"]));
}

TEST_F(FileSourceTest, FollowsRenamesAndAtomicSaves) {
  Write("a.yaml", VirtualServiceYaml("a", "one"));
  StartSource();
  fs::rename(dir_ + "/a.yaml", dir_ + "/renamed.yaml");
  ASSERT_TRUE(WaitFor([&](const auto& s) {
    auto r = s.Find(VsKey("a"));
    return r != nullptr && r->source.file == dir_ + "/renamed.yaml";
  }));
  WriteAtomically("renamed.yaml", VirtualServiceYaml("a", "two"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "two"; }));
  // Renamed to a name the source does not read: gone.
  fs::rename(dir_ + "/renamed.yaml", dir_ + "/renamed.yaml.bak");
  ASSERT_TRUE(WaitFor([](const auto& s) { return s.objects.empty(); }));
}

TEST_F(FileSourceTest, FollowsSymlinksAndHardLinksCreatedInTheTree) {
  const std::string outside = dir_ + "-outside";
  fs::create_directories(outside);
  std::ofstream(outside + "/a.yaml") << VirtualServiceYaml("a", "linked");
  std::ofstream(outside + "/b.yaml") << VirtualServiceYaml("b", "hard");
  StartSource();
  fs::create_symlink(outside + "/a.yaml", dir_ + "/a.yaml");
  fs::create_hard_link(outside + "/b.yaml", dir_ + "/b.yaml");
  const bool seen =
      WaitFor([](const auto& s) { return HostOf(s, "a") == "linked" && HostOf(s, "b") == "hard"; });
  fs::remove_all(outside);
  EXPECT_TRUE(seen);
}

// The layout the kubelet gives a mounted ConfigMap: visible names are
// symlinks through "..data", which is swapped atomically by rename.
TEST_F(FileSourceTest, FollowsAConfigMapVolumeUpdate) {
  fs::create_directories(dir_ + "/..2024_01");
  std::ofstream(dir_ + "/..2024_01/a.yaml") << VirtualServiceYaml("a", "first");
  fs::create_directory_symlink("..2024_01", dir_ + "/..data");
  fs::create_symlink("..data/a.yaml", dir_ + "/a.yaml");
  StartSource();
  EXPECT_EQ(HostOf(*store_.Snapshot(), "a"), "first");

  fs::create_directories(dir_ + "/..2024_02");
  std::ofstream(dir_ + "/..2024_02/a.yaml") << VirtualServiceYaml("a", "second");
  fs::create_directory_symlink("..2024_02", dir_ + "/..data_tmp");
  fs::rename(dir_ + "/..data_tmp", dir_ + "/..data");
  fs::remove_all(dir_ + "/..2024_01");
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "second"; }));
}

TEST_F(FileSourceTest, FollowsNewAndMovedDirectories) {
  fs::create_directories(dir_ + "/outside-parent");
  StartSource();
  fs::create_directories(dir_ + "/new/nested");
  Write("new/nested/a.yaml", VirtualServiceYaml("a", "one"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "one"; }));
  // An edit in a directory created after start is seen: it is watched.
  Write("new/nested/a.yaml", VirtualServiceYaml("a", "two"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "two"; }));

  // Moving the tree out deletes its objects; moving it back restores them.
  const std::string outside = dir_ + "-moved";
  fs::rename(dir_ + "/new", outside);
  ASSERT_TRUE(WaitFor([](const auto& s) { return s.objects.empty(); }));
  fs::rename(outside, dir_ + "/back");
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "two"; }));
  Write("back/nested/a.yaml", VirtualServiceYaml("a", "three"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "three"; }));
  fs::remove_all(dir_ + "/back");
  ASSERT_TRUE(WaitFor([](const auto& s) { return s.objects.empty(); }));
}

TEST_F(FileSourceTest, DuplicateAcrossFilesKeepsTheOlderUntilItGoes) {
  Write("first.yaml", VirtualServiceYaml("a", "first"));
  StartSource();
  Write("second.yaml", VirtualServiceYaml("a", "second") + "---\n" + VirtualServiceYaml("b", "b"));
  ASSERT_TRUE(WaitFor([](const auto& s) { return s.Find(VsKey("b")) != nullptr; }));
  EXPECT_EQ(HostOf(*store_.Snapshot(), "a"), "first");
  auto diagnostics = store_.Diagnostics()[dir_ + "/second.yaml"];
  ASSERT_THAT(diagnostics, SizeIs(1));
  EXPECT_THAT(diagnostics[0].ToString(), HasSubstr(dir_ + "/second.yaml:1: VirtualService/demo/a"));
  EXPECT_THAT(diagnostics[0].ToString(), HasSubstr(dir_ + "/first.yaml:1"));

  fs::remove(dir_ + "/first.yaml");
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "second"; }));
  EXPECT_THAT(store_.Diagnostics(), IsEmpty());
}

TEST_F(FileSourceTest, ABurstOfWritesEndsInTheLastContent) {
  StartSource();
  for (int i = 0; i < 50; ++i) Write("a.yaml", VirtualServiceYaml("a", "h" + std::to_string(i)));
  ASSERT_TRUE(WaitFor([](const auto& s) { return HostOf(s, "a") == "h49"; }));
}

TEST_F(FileSourceTest, StopEndsFollowingButKeepsObjects) {
  Write("a.yaml", VirtualServiceYaml("a", "one"));
  StartSource();
  source_->Stop();
  source_->Stop();  // idempotent
  EXPECT_EQ(HostOf(*store_.Snapshot(), "a"), "one");
}

}  // namespace
}  // namespace meshgate::operator_
