// ConfigStore: the control plane's one set of typed, validated objects, fed by
// config sources (files, later the Kubernetes API) and read by the compiler as
// immutable ConfigSnapshots.
//
// Every object is claimed by an *origin*: an opaque string a source chooses
// (a file path for the file source). Several origins may claim the same key;
// the first one seen stays in effect and the others are reported as conflicts
// until it goes away, when the next oldest claimant takes over. The store bumps
// its resource version once per Apply() that changes what is in effect, and
// tells subscribers which keys changed.
//
// Ownership: the store owns its objects as shared immutable Resources and hands
// out ConfigSnapshotPtrs that stay valid after later changes.
//
// Thread-safety: all methods are safe to call from any thread. Apply() calls
// are serialised; subscriber callbacks run after the state lock is released, in
// version order, on the thread that called Apply(). REQUIRES: a callback does
// not call Apply() (Apply() calls are serialised, so it would deadlock); every
// other method is fine, and Snapshot() then shows exactly the notified version.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/diagnostic.h"
#include "api/resource.h"
#include "api/snapshot.h"

namespace meshgate::operator_ {

// What one origin reports in one Apply(): objects it now defines (new or
// edited), keys it no longer defines, and optionally its complete current set
// of diagnostics (replacing the previous set).
struct OriginUpdate {
  std::string origin;
  std::vector<api::ResourcePtr> upserts;
  std::vector<api::ObjectKey> deletes;
  std::optional<api::Diagnostics> diagnostics;
};

// What one Apply() changed in effect, delivered to subscribers.
struct StoreChange {
  int64_t version = 0;
  std::vector<api::ObjectKey> upserted;  // now in effect with new content, key order
  std::vector<api::ObjectKey> deleted;   // no longer in effect, key order
};

class ConfigStore {
 public:
  using Callback = std::function<void(const StoreChange&)>;
  using SubscriptionId = int64_t;

  ConfigStore();
  ConfigStore(const ConfigStore&) = delete;
  ConfigStore& operator=(const ConfigStore&) = delete;

  // Applies every update as one step. Returns the resource version after it;
  // the version is bumped (once) only when something in effect changed.
  // Conflicts are logged and recorded as diagnostics of the losing origin.
  int64_t Apply(const std::vector<OriginUpdate>& updates);

  // The current state. Cheap when nothing changed since the last call: the
  // same snapshot is returned until the version moves.
  api::ConfigSnapshotPtr Snapshot() const;

  int64_t Version() const;

  // Every origin's diagnostics (decode, validation and conflicts), by origin.
  // Origins with nothing to report are absent.
  std::map<std::string, api::Diagnostics> Diagnostics() const;

  // Keys claimed by `origin`, whether in effect or shadowed by a conflict.
  std::vector<api::ObjectKey> KeysOf(const std::string& origin) const;

  SubscriptionId Subscribe(Callback callback);
  void Unsubscribe(SubscriptionId id);

 private:
  struct Claim {
    std::string origin;
    api::ResourcePtr resource;
    int64_t first_seen = 0;  // order in which the origin first claimed the key
  };
  // Claims for one key, oldest first; front() is in effect.
  using Claims = std::vector<Claim>;

  void RecomputeConflict(const api::ObjectKey& key);

  // Held by Apply() for its whole run so notifications go out in version
  // order; taken before mu_.
  std::mutex apply_mu_;

  mutable std::mutex mu_;
  int64_t version_ = 0;
  int64_t next_claim_seq_ = 0;
  std::map<api::ObjectKey, Claims> claims_;
  std::map<std::string, api::Diagnostics> origin_diagnostics_;
  // Conflict diagnostics, by losing origin and key.
  std::map<std::string, std::map<api::ObjectKey, api::Diagnostic>> conflicts_;
  mutable api::ConfigSnapshotPtr cached_snapshot_;

  std::mutex subscribers_mu_;
  SubscriptionId next_subscription_ = 1;
  std::map<SubscriptionId, std::shared_ptr<Callback>> subscribers_;
};

}  // namespace meshgate::operator_
