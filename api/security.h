// Istio-compatible security kinds: PeerAuthentication (security.istio.io),
// which decides whether a workload's sidecar accepts plaintext, mutual TLS or
// both on its inbound ports.
//
// Plain value types, immutable once decoded; safe to share across threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "api/networking.h"

namespace meshgate::api {

// Istio's PeerAuthentication.MutualTLS.Mode. kUnset inherits from the
// enclosing scope (port → workload → namespace → mesh); the mesh default is
// PERMISSIVE, as in Istio.
enum class MtlsMode { kUnset, kDisable, kPermissive, kStrict };

struct MutualTls {
  MtlsMode mode = MtlsMode::kUnset;
};

struct PeerAuthentication {
  // Empty: the policy applies to every workload of its namespace (or of the
  // mesh when the namespace is the root namespace).
  WorkloadSelector selector;
  std::optional<MutualTls> mtls;
  // Keyed by the workload's (container) port number as written ("8080").
  // Istio allows it only together with a selector.
  std::map<std::string, MutualTls> port_level_mtls;
};

}  // namespace meshgate::api
