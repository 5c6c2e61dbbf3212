// ConfigSnapshot: an immutable, consistent view of every object the control
// plane holds at one resource version. The compiler is a pure function of it.
//
// Built once by the config store and shared as
// std::shared_ptr<const ConfigSnapshot>; safe for concurrent readers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "api/resource.h"

namespace meshgate::api {

struct ConfigSnapshot {
  // Monotonically increasing across the store's lifetime.
  int64_t resource_version = 0;
  // Every object, ordered by key (kind, namespace, name): iteration order is
  // deterministic, so everything derived from a snapshot is too.
  std::map<ObjectKey, ResourcePtr> objects;

  // All objects of one kind, in key order.
  std::vector<ResourcePtr> OfKind(Kind kind) const;
  // nullptr when absent.
  ResourcePtr Find(const ObjectKey& key) const;
};

using ConfigSnapshotPtr = std::shared_ptr<const ConfigSnapshot>;

}  // namespace meshgate::api
