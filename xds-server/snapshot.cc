#include "xds-server/snapshot.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace meshgate::xds {

Snapshot::Builder& Snapshot::Builder::Add(ResourcePtr resource) {
  types_[resource->type_url][resource->name] = std::move(resource);
  return *this;
}

Snapshot::Builder& Snapshot::Builder::AddEmptyType(std::string_view type_url) {
  types_.try_emplace(std::string(type_url));
  return *this;
}

std::shared_ptr<const Snapshot> Snapshot::Builder::Build() {
  auto snapshot = std::shared_ptr<Snapshot>(new Snapshot());
  for (auto& [type_url, resources] : types_) {
    TypeEntry entry;
    uint64_t h = StableHash64(type_url);
    for (const auto& [name, r] : resources) {
      h = StableHash64(name, h);
      h = StableHash64(r->version, h);
    }
    entry.version = HashToVersion(h);
    entry.resources = std::move(resources);
    snapshot->type_order_.push_back(type_url);
    snapshot->types_.emplace(type_url, std::move(entry));
  }
  std::stable_sort(
      snapshot->type_order_.begin(), snapshot->type_order_.end(),
      [](const std::string& a, const std::string& b) { return PushRank(a) < PushRank(b); });
  types_.clear();
  return snapshot;
}

const Snapshot::ResourceMap& Snapshot::Resources(std::string_view type_url) const {
  static const ResourceMap kEmpty;
  auto it = types_.find(type_url);
  return it == types_.end() ? kEmpty : it->second.resources;
}

ResourcePtr Snapshot::Find(std::string_view type_url, std::string_view name) const {
  const ResourceMap& m = Resources(type_url);
  auto it = m.find(name);
  return it == m.end() ? nullptr : it->second;
}

std::string_view Snapshot::Version(std::string_view type_url) const {
  auto it = types_.find(type_url);
  return it == types_.end() ? std::string_view() : std::string_view(it->second.version);
}

absl::Status Snapshot::Consistent() const {
  std::vector<std::string> missing;
  for (const auto& [type_url, entry] : types_) {
    for (const auto& [name, r] : entry.resources) {
      for (const std::string& dep : r->dependencies) {
        if (Find(r->dependency_type, dep) == nullptr) {
          const char* kind =
              r->dependency_type == kEndpointType ? "ClusterLoadAssignment" : "RouteConfiguration";
          const char* owner = type_url == kClusterType ? "cluster" : "listener";
          missing.push_back(absl::StrCat(owner, " \"", name, "\" needs ", kind, " \"", dep, "\""));
        }
      }
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("inconsistent snapshot: ", absl::StrJoin(missing, "; ")));
}

}  // namespace meshgate::xds
