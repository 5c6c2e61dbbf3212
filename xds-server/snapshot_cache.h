// SnapshotCache: the current Snapshot of each proxy group, and the watchers
// (ADS streams) that want to hear when it changes.
//
// Proxies are grouped by a NodeHasher (node id + metadata -> group key); all
// proxies of a group are served the same snapshot, so the compiler builds one
// snapshot per group, not per proxy. The default groups by node id.
//
// Thread-safety: all methods are thread-safe. Watch callbacks run on the thread
// calling SetSnapshot, one SetSnapshot at a time, in order; they must be quick
// and must not call SetSnapshot/ClearSnapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "envoy/config/core/v3/base.pb.h"
#include "xds-server/snapshot.h"

namespace meshgate::xds {

using NodeHasher = std::function<std::string(const envoy::config::core::v3::Node&)>;

// Group key = node id.
NodeHasher NodeIdHasher();
// Group key = the values of the given node metadata fields joined with "/"
// (e.g. {"role", "namespace", "workload"} -> "sidecar/shop/cart"); a missing
// field contributes "". Falls back to the node id when all fields are missing.
NodeHasher MetadataHasher(std::vector<std::string> fields);

// A snapshot as delivered to watchers: `generation` increases with every
// SetSnapshot of the group; `change_seen` is when the change that led to it was
// first observed (for push-latency and convergence measurements).
struct VersionedSnapshot {
  SnapshotPtr snapshot;
  uint64_t generation = 0;
  std::chrono::steady_clock::time_point change_seen;
};

class SnapshotCache {
 public:
  using WatchId = uint64_t;
  using Callback = std::function<void(const VersionedSnapshot&)>;

  // `clock` (borrowed, must outlive the cache) stamps changes when SetSnapshot
  // is not told when they were seen.
  explicit SnapshotCache(NodeHasher hasher = NodeIdHasher(),
                         const Clock& clock = SystemClock::Get());

  std::string GroupOf(const envoy::config::core::v3::Node& node) const { return hasher_(node); }

  // Rejects (FailedPrecondition) a snapshot that is not Consistent(), keeping the
  // previous one. `change_seen` (Clock::Monotonic) defaults to now.
  // REQUIRES: snapshot != nullptr.
  absl::Status SetSnapshot(const std::string& group, SnapshotPtr snapshot,
                           std::chrono::steady_clock::time_point change_seen = {});
  // The group's current snapshot (snapshot == nullptr when none).
  VersionedSnapshot GetSnapshot(const std::string& group) const;
  void ClearSnapshot(const std::string& group);
  std::vector<std::string> Groups() const;

  // Registers `callback` for future SetSnapshot calls of `group` and returns the
  // current snapshot through `current` (snapshot == nullptr when none).
  WatchId Watch(const std::string& group, Callback callback, VersionedSnapshot* current);
  // The callback is not called for SetSnapshot calls that start after
  // CancelWatch returns (one already notifying may still call it once).
  void CancelWatch(WatchId id);

 private:
  struct Watcher {
    std::string group;
    std::shared_ptr<Callback> callback;
  };

  NodeHasher hasher_;
  const Clock& clock_;
  std::mutex set_mu_;  // serializes SetSnapshot (and with it, notifications)
  mutable std::mutex mu_;
  std::map<std::string, VersionedSnapshot> snapshots_;
  std::map<WatchId, Watcher> watchers_;
  WatchId next_watch_ = 1;
  uint64_t next_generation_ = 1;
};

}  // namespace meshgate::xds
