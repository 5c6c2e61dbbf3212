#include "operator/config_store.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::operator_ {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

api::ResourcePtr VirtualService(const std::string& ns, const std::string& name,
                                const std::string& file, int line, const std::string& host) {
  auto r = std::make_shared<api::Resource>();
  r->kind = api::Kind::kVirtualService;
  r->api_version = "networking.istio.io/v1";
  r->metadata.namespace_ = ns;
  r->metadata.name = name;
  r->source = {file, line};
  api::VirtualService vs;
  vs.hosts = {host};
  r->spec = vs;
  return r;
}

api::ObjectKey VsKey(const std::string& ns, const std::string& name) {
  return api::ObjectKey{api::Kind::kVirtualService, ns, name};
}

OriginUpdate Upsert(const std::string& origin, std::vector<api::ResourcePtr> resources) {
  OriginUpdate u;
  u.origin = origin;
  u.upserts = std::move(resources);
  return u;
}

OriginUpdate Delete(const std::string& origin, std::vector<api::ObjectKey> keys) {
  OriginUpdate u;
  u.origin = origin;
  u.deletes = std::move(keys);
  return u;
}

std::string HostOf(const api::ResourcePtr& r) { return r->As<api::VirtualService>().hosts.at(0); }

TEST(ConfigStoreTest, EmptyStoreHasVersionZeroAndEmptySnapshot) {
  ConfigStore store;
  EXPECT_EQ(store.Version(), 0);
  auto snapshot = store.Snapshot();
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->resource_version, 0);
  EXPECT_THAT(snapshot->objects, IsEmpty());
}

TEST(ConfigStoreTest, EveryEffectiveChangeBumpsTheVersionOnce) {
  ConfigStore store;
  EXPECT_EQ(store.Apply({Upsert("a.yaml", {VirtualService("ns", "a", "a.yaml", 1, "a"),
                                           VirtualService("ns", "b", "a.yaml", 9, "b")})}),
            1);
  EXPECT_EQ(store.Apply({Upsert("a.yaml", {VirtualService("ns", "a", "a.yaml", 1, "a2")})}), 2);
  EXPECT_EQ(store.Apply({Delete("a.yaml", {VsKey("ns", "b")})}), 3);
  auto snapshot = store.Snapshot();
  EXPECT_EQ(snapshot->resource_version, 3);
  ASSERT_THAT(snapshot->objects, SizeIs(1));
  EXPECT_EQ(HostOf(snapshot->Find(VsKey("ns", "a"))), "a2");
}

TEST(ConfigStoreTest, NoOpUpdatesKeepTheVersion) {
  ConfigStore store;
  auto a = VirtualService("ns", "a", "a.yaml", 1, "a");
  store.Apply({Upsert("a.yaml", {a})});
  EXPECT_EQ(store.Apply({Upsert("a.yaml", {a})}), 1);  // same object again
  EXPECT_EQ(store.Apply({Delete("a.yaml", {VsKey("ns", "missing")})}), 1);
  EXPECT_EQ(store.Apply({}), 1);
}

TEST(ConfigStoreTest, SnapshotIsCachedUntilTheVersionMoves) {
  ConfigStore store;
  store.Apply({Upsert("a.yaml", {VirtualService("ns", "a", "a.yaml", 1, "a")})});
  auto first = store.Snapshot();
  EXPECT_EQ(store.Snapshot(), first);  // same object, not a copy
  store.Apply({Upsert("a.yaml", {VirtualService("ns", "b", "a.yaml", 5, "b")})});
  auto second = store.Snapshot();
  EXPECT_NE(second, first);
  // The old snapshot is immutable: it still shows the old state.
  EXPECT_THAT(first->objects, SizeIs(1));
  EXPECT_THAT(second->objects, SizeIs(2));
}

TEST(ConfigStoreTest, SubscribersGetChangedKeysAndVersionInOrder) {
  ConfigStore store;
  std::vector<StoreChange> changes;
  store.Subscribe([&](const StoreChange& c) {
    // The callback runs outside the lock: reading the store must not deadlock,
    // and the snapshot shows exactly the notified version.
    EXPECT_EQ(store.Snapshot()->resource_version, c.version);
    changes.push_back(c);
  });
  store.Apply({Upsert("a.yaml", {VirtualService("ns", "a", "a.yaml", 1, "a"),
                                 VirtualService("ns", "b", "a.yaml", 5, "b")})});
  store.Apply({Upsert("a.yaml", {VirtualService("ns", "b", "a.yaml", 5, "b2")}),
               Delete("a.yaml", {VsKey("ns", "a")})});
  store.Apply({});  // nothing changed: no notification
  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_EQ(changes[0].version, 1);
  EXPECT_THAT(changes[0].upserted, ElementsAre(VsKey("ns", "a"), VsKey("ns", "b")));
  EXPECT_THAT(changes[0].deleted, IsEmpty());
  EXPECT_EQ(changes[1].version, 2);
  EXPECT_THAT(changes[1].upserted, ElementsAre(VsKey("ns", "b")));
  EXPECT_THAT(changes[1].deleted, ElementsAre(VsKey("ns", "a")));
}

TEST(ConfigStoreTest, UnsubscribedCallbacksAreNotCalled) {
  ConfigStore store;
  int calls = 0;
  auto id = store.Subscribe([&](const StoreChange&) { ++calls; });
  store.Apply({Upsert("a.yaml", {VirtualService("ns", "a", "a.yaml", 1, "a")})});
  store.Unsubscribe(id);
  store.Apply({Upsert("a.yaml", {VirtualService("ns", "b", "a.yaml", 1, "b")})});
  EXPECT_EQ(calls, 1);
}

TEST(ConfigStoreTest, ConflictKeepsTheFirstSeenAndNamesBothFiles) {
  ConfigStore store;
  store.Apply({Upsert("old.yaml", {VirtualService("ns", "a", "old.yaml", 3, "old")})});
  std::vector<StoreChange> changes;
  store.Subscribe([&](const StoreChange& c) { changes.push_back(c); });
  EXPECT_EQ(store.Apply({Upsert("new.yaml", {VirtualService("ns", "a", "new.yaml", 7, "new")})}),
            1);
  EXPECT_THAT(changes, IsEmpty());  // nothing in effect changed
  EXPECT_EQ(HostOf(store.Snapshot()->Find(VsKey("ns", "a"))), "old");

  auto diagnostics = store.Diagnostics();
  ASSERT_TRUE(diagnostics.contains("new.yaml"));
  EXPECT_FALSE(diagnostics.contains("old.yaml"));
  ASSERT_THAT(diagnostics["new.yaml"], SizeIs(1));
  const std::string line = diagnostics["new.yaml"][0].ToString();
  EXPECT_THAT(line, HasSubstr("new.yaml:7: VirtualService/ns/a: "));
  EXPECT_THAT(line, HasSubstr("old.yaml:3"));
  EXPECT_THAT(store.KeysOf("new.yaml"), ElementsAre(VsKey("ns", "a")));
}

TEST(ConfigStoreTest, WhenTheOlderDefinitionGoesTheNextTakesOver) {
  ConfigStore store;
  store.Apply({Upsert("old.yaml", {VirtualService("ns", "a", "old.yaml", 1, "old")})});
  store.Apply({Upsert("mid.yaml", {VirtualService("ns", "a", "mid.yaml", 1, "mid")})});
  store.Apply({Upsert("new.yaml", {VirtualService("ns", "a", "new.yaml", 1, "new")})});
  // Edits of a shadowed definition change nothing in effect.
  EXPECT_EQ(store.Apply({Upsert("mid.yaml", {VirtualService("ns", "a", "mid.yaml", 1, "mid2")})}),
            1);

  EXPECT_EQ(store.Apply({Delete("old.yaml", {VsKey("ns", "a")})}), 2);
  EXPECT_EQ(HostOf(store.Snapshot()->Find(VsKey("ns", "a"))), "mid2");
  auto diagnostics = store.Diagnostics();
  EXPECT_FALSE(diagnostics.contains("mid.yaml"));
  ASSERT_TRUE(diagnostics.contains("new.yaml"));
  EXPECT_THAT(diagnostics["new.yaml"][0].ToString(), HasSubstr("mid.yaml:1"));

  EXPECT_EQ(store.Apply({Delete("mid.yaml", {VsKey("ns", "a")})}), 3);
  EXPECT_EQ(HostOf(store.Snapshot()->Find(VsKey("ns", "a"))), "new");
  EXPECT_THAT(store.Diagnostics(), IsEmpty());

  EXPECT_EQ(store.Apply({Delete("new.yaml", {VsKey("ns", "a")})}), 4);
  EXPECT_THAT(store.Snapshot()->objects, IsEmpty());
}

TEST(ConfigStoreTest, DeletingAShadowedDefinitionClearsTheConflict) {
  ConfigStore store;
  store.Apply({Upsert("old.yaml", {VirtualService("ns", "a", "old.yaml", 1, "old")}),
               Upsert("new.yaml", {VirtualService("ns", "a", "new.yaml", 1, "new")})});
  EXPECT_THAT(store.Diagnostics(), SizeIs(1));
  EXPECT_EQ(store.Apply({Delete("new.yaml", {VsKey("ns", "a")})}), 1);
  EXPECT_THAT(store.Diagnostics(), IsEmpty());
  EXPECT_EQ(HostOf(store.Snapshot()->Find(VsKey("ns", "a"))), "old");
}

TEST(ConfigStoreTest, OriginDiagnosticsAreReplacedAndCleared) {
  ConfigStore store;
  api::Diagnostic d;
  d.location = {"a.yaml", 4};
  d.message = "bad";
  OriginUpdate u;
  u.origin = "a.yaml";
  u.diagnostics = api::Diagnostics{d};
  store.Apply({u});
  EXPECT_EQ(store.Version(), 0);  // diagnostics alone change nothing in effect
  ASSERT_THAT(store.Diagnostics()["a.yaml"], SizeIs(1));
  u.diagnostics = api::Diagnostics{};
  store.Apply({u});
  EXPECT_THAT(store.Diagnostics(), IsEmpty());
}

TEST(ConfigStoreTest, ConcurrentAppliesAndReadersSeeConsistentVersions) {
  ConfigStore store;
  std::vector<int64_t> notified;
  store.Subscribe([&](const StoreChange& c) { notified.push_back(c.version); });
  constexpr int kWriters = 4, kPerWriter = 200;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string origin = "w" + std::to_string(w);
        store.Apply({Upsert(
            origin, {VirtualService("ns", origin + "-" + std::to_string(i), origin, i, "h")})});
      }
    });
  }
  std::thread reader([&] {
    int64_t last = 0;
    for (int i = 0; i < 1000; ++i) {
      auto s = store.Snapshot();
      EXPECT_GE(s->resource_version, last);
      last = s->resource_version;
    }
  });
  for (auto& t : threads) t.join();
  reader.join();
  EXPECT_EQ(store.Version(), kWriters * kPerWriter);
  EXPECT_THAT(store.Snapshot()->objects, SizeIs(kWriters * kPerWriter));
  ASSERT_THAT(notified, SizeIs(kWriters * kPerWriter));
  for (size_t i = 0; i < notified.size(); ++i) EXPECT_EQ(notified[i], static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace meshgate::operator_
