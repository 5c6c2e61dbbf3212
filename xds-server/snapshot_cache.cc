#include "xds-server/snapshot_cache.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace meshgate::xds {

NodeHasher NodeIdHasher() {
  return [](const envoy::config::core::v3::Node& node) { return node.id(); };
}

NodeHasher MetadataHasher(std::vector<std::string> fields) {
  return [fields = std::move(fields)](const envoy::config::core::v3::Node& node) {
    std::vector<std::string> parts;
    bool any = false;
    for (const std::string& f : fields) {
      auto it = node.metadata().fields().find(f);
      if (it != node.metadata().fields().end() && it->second.has_string_value()) {
        parts.push_back(it->second.string_value());
        any = true;
      } else {
        parts.emplace_back();
      }
    }
    return any ? absl::StrJoin(parts, "/") : node.id();
  };
}

SnapshotCache::SnapshotCache(NodeHasher hasher, const Clock& clock)
    : hasher_(std::move(hasher)), clock_(clock) {}

absl::Status SnapshotCache::SetSnapshot(const std::string& group, SnapshotPtr snapshot,
                                        std::chrono::steady_clock::time_point change_seen) {
  if (absl::Status s = snapshot->Consistent(); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("snapshot for group \"", group, "\" rejected: ", s.message()));
  }
  if (change_seen == std::chrono::steady_clock::time_point{}) {
    change_seen = clock_.Monotonic();
  }
  std::lock_guard set_lock(set_mu_);
  VersionedSnapshot vs;
  std::vector<std::shared_ptr<Callback>> to_notify;
  {
    std::lock_guard lock(mu_);
    vs = VersionedSnapshot{std::move(snapshot), next_generation_++, change_seen};
    snapshots_[group] = vs;
    for (const auto& [id, w] : watchers_) {
      if (w.group == group) to_notify.push_back(w.callback);
    }
  }
  for (const auto& cb : to_notify) (*cb)(vs);
  return absl::OkStatus();
}

VersionedSnapshot SnapshotCache::GetSnapshot(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto it = snapshots_.find(group);
  return it == snapshots_.end() ? VersionedSnapshot{} : it->second;
}

void SnapshotCache::ClearSnapshot(const std::string& group) {
  std::lock_guard lock(mu_);
  snapshots_.erase(group);
}

std::vector<std::string> SnapshotCache::Groups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [g, s] : snapshots_) out.push_back(g);
  return out;
}

SnapshotCache::WatchId SnapshotCache::Watch(const std::string& group, Callback callback,
                                            VersionedSnapshot* current) {
  std::lock_guard lock(mu_);
  WatchId id = next_watch_++;
  watchers_[id] = Watcher{group, std::make_shared<Callback>(std::move(callback))};
  auto it = snapshots_.find(group);
  *current = it == snapshots_.end() ? VersionedSnapshot{} : it->second;
  return id;
}

void SnapshotCache::CancelWatch(WatchId id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

}  // namespace meshgate::xds
