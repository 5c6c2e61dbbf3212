// Object identity shared by every kind meshgate reads: kinds, keys, metadata
// and where an object came from.
//
// Plain value types; immutable once built and safe to share across threads.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace meshgate::api {

enum class Kind {
  kVirtualService,
  kDestinationRule,
  kGateway,
  kServiceEntry,
  kAPIProduct,
  kService,
  kEndpointSlice,
  kPod,
  kNamespace,
  kSecret,
  kConfigMap,
  kPeerAuthentication,
  kSidecar,
};

// "VirtualService", "EndpointSlice", ...
std::string_view KindName(Kind kind);
// Inverse of KindName; nullopt for kinds meshgate does not read.
std::optional<Kind> KindFromName(std::string_view name);
// True for the kinds that live in a namespace (all but Namespace).
bool IsNamespaced(Kind kind);

using Labels = std::map<std::string, std::string>;

// Where an object's text came from, for error messages ("FILE:LINE").
struct SourceLocation {
  std::string file;  // empty when the object came from the API server
  int line = 0;      // 1-based line of the document's first line; 0 if unknown
};

struct ObjectKey {
  Kind kind = Kind::kVirtualService;
  std::string namespace_;
  std::string name;

  auto operator<=>(const ObjectKey&) const = default;
  bool operator==(const ObjectKey&) const = default;
  // "Kind/namespace/name", or "Kind/name" for cluster-scoped kinds.
  std::string ToString() const;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  Labels labels;
  Labels annotations;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
};

}  // namespace meshgate::api
