// Snapshot: the complete, immutable set of xDS resources one group of proxies
// should have, per type URL a map name -> Resource, plus a version per type.
//
// Snapshots are built once with Snapshot::Builder and then only read, shared as
// `std::shared_ptr<const Snapshot>` by the cache and every ADS stream serving
// it. A type's version is a hash over the (name, resource version) pairs of
// that type, so equal content gives an equal version in any process.
//
// Thread-safety: a built Snapshot is immutable and safe to read from any
// thread. Builder is not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "xds-server/resource.h"

namespace meshgate::xds {

class Snapshot {
 public:
  using ResourceMap = std::map<std::string, ResourcePtr, std::less<>>;

  class Builder {
   public:
    // Adds (or replaces, by type and name) a resource.
    // REQUIRES: resource != nullptr.
    Builder& Add(ResourcePtr resource);
    // Declares a type with no resources, so that proxies subscribed to it get an
    // empty response instead of waiting.
    Builder& AddEmptyType(std::string_view type_url);
    std::shared_ptr<const Snapshot> Build();

   private:
    std::map<std::string, ResourceMap, std::less<>> types_;
  };

  // Resources of one type; an empty map when the type is unknown.
  const ResourceMap& Resources(std::string_view type_url) const;
  ResourcePtr Find(std::string_view type_url, std::string_view name) const;
  // Version of one type's whole content ("" for an unknown type).
  std::string_view Version(std::string_view type_url) const;
  // Type URLs present, in push order (PushRank).
  const std::vector<std::string>& TypeUrls() const { return type_order_; }

  // OK when every resource's dependencies are present: each EDS cluster's
  // ClusterLoadAssignment and each RouteConfiguration an HttpConnectionManager
  // fetches over RDS. Otherwise FailedPrecondition naming every missing one.
  absl::Status Consistent() const;

 private:
  struct TypeEntry {
    ResourceMap resources;
    std::string version;
  };
  std::map<std::string, TypeEntry, std::less<>> types_;
  std::vector<std::string> type_order_;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace meshgate::xds
