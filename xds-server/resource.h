// Resource: one named, typed xDS resource as served to proxies.
//
// A Resource is immutable once made: the packed message, its content hash and
// the version string derived from that hash never change. Resources are handed
// around as `ResourcePtr` (shared_ptr<const Resource>), so the same cluster or
// route configuration built for many proxies is one object in memory.
// `ResourceInterner` makes that sharing automatic: two resources with the same
// type, name and content hash come back as the same pointer.
//
// Versions are derived from a deterministic 64-bit hash of the deterministic
// serialization, so they are stable across control-plane restarts and replicas:
// a reconnecting proxy that already has a resource is not sent it again.
//
// Thread-safety: Resource is immutable and safe to share. ResourceInterner is
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"

namespace meshgate::xds {

// Type URLs of the resource types meshgate serves.
inline constexpr std::string_view kClusterType =
    "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr std::string_view kEndpointType =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr std::string_view kListenerType =
    "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr std::string_view kRouteType =
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr std::string_view kSecretType =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// The order in which a change spanning several types is pushed (make before
// break): secrets first (clusters and listeners name them), then clusters, their
// endpoints, listeners, their routes; unknown types after, by type URL.
int PushRank(std::string_view type_url);

// Stable 64-bit hash (FNV-1a with a final avalanche); not seeded per process.
uint64_t StableHash64(std::string_view bytes, uint64_t seed = 0);
// 16 lowercase hex digits.
std::string HashToVersion(uint64_t hash);

struct Resource {
  std::string name;
  std::string type_url;
  std::shared_ptr<const google::protobuf::Any> body;
  uint64_t hash = 0;
  std::string version;
  // Names this resource needs served in another type before it can be used:
  // an EDS cluster -> its ClusterLoadAssignment name, a listener -> the
  // RouteConfiguration names its HttpConnectionManagers fetch over RDS.
  std::string dependency_type;
  std::vector<std::string> dependencies;
};
using ResourcePtr = std::shared_ptr<const Resource>;

// Packs `message` and computes hash, version and dependencies.
// Fails if the message cannot be serialized or an embedded
// HttpConnectionManager cannot be parsed (the error names the resource).
absl::StatusOr<ResourcePtr> MakeResource(std::string name,
                                         const google::protobuf::Message& message);

// Deduplicates resources by (type, name, content hash). Holds weak references,
// so resources no snapshot uses any more are freed.
class ResourceInterner {
 public:
  // Returns the already known resource with the same identity and content as
  // `message`, or makes and remembers a new one.
  absl::StatusOr<ResourcePtr> Intern(std::string name, const google::protobuf::Message& message);
  // Same, when the caller already has a 64-bit hash of `message`'s content
  // (the compiler's ContentHash): a resource interned before with the same
  // type, name and content hash is returned without serializing the message
  // again, which is what makes republishing an unchanged resource cheap.
  absl::StatusOr<ResourcePtr> Intern(std::string name, const google::protobuf::Message& message,
                                     uint64_t content_hash);
  // Number of live distinct resources remembered (for tests and stats).
  size_t LiveCount();

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<const Resource>> by_key_;
  // (message type, name, caller's content hash) -> resource.
  std::unordered_map<std::string, std::weak_ptr<const Resource>> by_content_hash_;
  size_t interns_since_sweep_ = 0;
};

}  // namespace meshgate::xds
