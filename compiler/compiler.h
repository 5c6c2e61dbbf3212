// The compiler: a pure function from an immutable api::ConfigSnapshot to
// standard Envoy v3 xDS resources (listeners, route configurations, clusters,
// cluster load assignments), following Istio's naming and semantics so that
// stock Envoy, proxyless gRPC clients and meshgate-proxy consume the output.
//
// Compilation is split in two so identical resources are built once:
//   1. BuildMesh(snapshot, options) computes every mesh-wide resource once per
//      snapshot (clusters, endpoints, the outbound route configurations that
//      do not depend on a proxy's labels) into an immutable CompiledMesh.
//   2. CompileForProxy(mesh, target) picks the resources one proxy needs,
//      sharing the mesh's shared_ptrs, and builds only what depends on the
//      proxy (its listeners, gateway routes, label-dependent routes, what
//      exportTo shows its namespace, the clusters of DestinationRules whose
//      workloadSelector selects it).
// Compile() does both for one proxy. When only endpoints changed,
// RebuildEndpoints(previous_mesh, snapshot) replaces BuildMesh and rebuilds
// nothing but the cluster load assignments.
//
// Every resource carries a 64-bit hash of its deterministic serialization, so
// a cache can version resources by content. The output is deterministic: the
// same snapshot yields byte-identical resources regardless of insertion order.
//
// Anything the compiler cannot honour is reported as a CompileDiagnostic
// against the object and field that asked for it.
//
// Thread-safety: all functions are pure and may be called concurrently; a
// CompiledMesh is immutable and may be shared by any number of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/snapshot.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"

namespace meshgate::compiler {

struct CompileOptions {
  // Kubernetes cluster domain: Service hosts are NAME.NAMESPACE.svc.DOMAIN.
  std::string cluster_domain = "cluster.local";
  // SPIFFE trust domain for workload identities (spiffe://TD/ns/NS/sa/SA).
  std::string trust_domain = "cluster.local";
  // Namespace whose config applies mesh-wide (Istio's root namespace).
  std::string root_namespace = "istio-system";
  // Cluster connect timeout when no DestinationRule sets one (Istio: 10s).
  absl::Duration default_connect_timeout = absl::Seconds(10);
  uint32_t outbound_capture_port = 15001;
  uint32_t inbound_capture_port = 15006;
  // Istio's auto mTLS (enableAutoMtls): a cluster whose DestinationRule sets
  // no TLS speaks ISTIO_MUTUAL to the endpoints whose workload has a sidecar
  // (label security.istio.io/tlsMode=istio) and plaintext to the others.
  bool auto_mtls = true;
};

// The proxy resources are compiled for.
struct ProxyTarget {
  enum class Role { kSidecar, kGateway, kProxylessGrpc };
  Role role = Role::kSidecar;
  std::string namespace_;
  // Workload labels; for gateways the gateway pod's labels (Gateway.selector).
  api::Labels labels;
  std::string workload_name;
  // How traffic reaches a sidecar (Istio's node metadata INTERCEPTION_MODE):
  // kRedirect by iptables to the capture listeners; kNone without capture,
  // the inbound listeners then bind instance_ip on each workload port.
  enum class InterceptionMode { kRedirect, kNone };
  InterceptionMode interception_mode = InterceptionMode::kRedirect;
  // The workload's own address (first of Istio's INSTANCE_IPS); "" if unknown.
  std::string instance_ip;
  // The workload has an IPv6 address too (INSTANCE_IPS): its capture and
  // per-port listeners also bind [::], as Istio's dual-stack listeners.
  bool dual_stack = false;
};

struct CompileDiagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string object;      // "Kind/namespace/name"
  std::string field_path;  // "spec.http[0].fault.delay.exponentialDelay"
  std::string message;

  std::string ToString() const;
  auto operator<=>(const CompileDiagnostic&) const = default;
};

bool HasErrors(const std::vector<CompileDiagnostic>& diagnostics);

// One compiled resource and the hash of its deterministic serialization.
template <typename T>
struct Versioned {
  std::shared_ptr<const T> resource;
  uint64_t hash = 0;
};

template <typename T>
using ResourceMap = std::map<std::string, Versioned<T>>;

using Listener = envoy::config::listener::v3::Listener;
using RouteConfiguration = envoy::config::route::v3::RouteConfiguration;
using Cluster = envoy::config::cluster::v3::Cluster;
using ClusterLoadAssignment = envoy::config::endpoint::v3::ClusterLoadAssignment;

// Everything one proxy needs, keyed by resource name (deterministic order).
struct CompiledResources {
  ResourceMap<Listener> listeners;
  ResourceMap<RouteConfiguration> routes;
  ResourceMap<Cluster> clusters;
  ResourceMap<ClusterLoadAssignment> endpoints;
  // SDS secret names the resources reference ("default", "ROOTCA",
  // credentialName, "file-cert:CERT~KEY", ...); served by the secret source.
  std::set<std::string> secrets;
  std::vector<CompileDiagnostic> diagnostics;
};

// 64-bit hash of the message's deterministic serialization.
uint64_t ContentHash(const google::protobuf::Message& message);

class MeshIndex;  // compiler-internal view of the snapshot (compiler/internal.h)

// Mesh-wide compiled state of one snapshot. Immutable once built, except
// for what GrpcClusters() makes on first use (thread-safe).
struct CompiledMesh {
  CompileOptions options;
  api::ConfigSnapshotPtr snapshot;
  std::shared_ptr<const MeshIndex> index;
  std::shared_ptr<const struct MeshRouteCache> route_cache;  // compiler/internal.h

  ResourceMap<Cluster> clusters;
  ResourceMap<ClusterLoadAssignment> endpoints;
  // Clusters as proxyless gRPC clients accept them: same pointer as in
  // `clusters` when nothing had to change. Made on first use, since most
  // meshes have no proxyless client.
  const ResourceMap<Cluster>& GrpcClusters() const;
  // RebuildEndpoints keeps every cluster: the previous mesh's gRPC clusters
  // (if it made them) stay valid.
  void AdoptGrpcClusters(const CompiledMesh& previous);
  // SDS secret names the clusters reference (grpc_clusters reference none).
  std::set<std::string> cluster_secrets;
  // Diagnostics about mesh-wide objects (services, destination rules, ...).
  std::vector<CompileDiagnostic> diagnostics;
  std::vector<CompileDiagnostic> grpc_diagnostics;
  // The part of `diagnostics` found building clusters and routes (not
  // reading endpoints), which RebuildEndpoints carries over.
  std::vector<CompileDiagnostic> resource_diagnostics;

 private:
  mutable std::once_flag grpc_clusters_once_;
  mutable std::atomic<bool> grpc_clusters_made_{false};
  mutable ResourceMap<Cluster> grpc_clusters_;
};

using CompiledMeshPtr = std::shared_ptr<const CompiledMesh>;

// REQUIRES: snapshot != nullptr.
CompiledMeshPtr BuildMesh(api::ConfigSnapshotPtr snapshot, const CompileOptions& options);

// The EDS fast path: the mesh of `snapshot` when it differs from the one
// `previous` was built from only in the endpoints of Kubernetes Services
// (EndpointSlices; Pods' addresses, labels and readiness). Only the cluster
// load assignments are rebuilt; every other resource (clusters, the shared
// route translations) is previous's own shared_ptr, and so is every load
// assignment whose content did not change, so a cache comparing versions
// pushes nothing but the changed endpoints. Per-proxy resources compiled
// from the result are byte-identical to those compiled from `previous`.
//
// Returns nullptr when the change is more than that (a Service, a
// DestinationRule, a VirtualService or Gateway changed, a service's service
// accounts or ServiceEntry endpoints changed, ...): call BuildMesh. The
// reason is put in `why` when given.
// REQUIRES: snapshot != nullptr.
CompiledMeshPtr RebuildEndpoints(const CompiledMesh& previous, api::ConfigSnapshotPtr snapshot,
                                 std::string* why = nullptr);

// Resources for one proxy; shares the mesh's resources.
CompiledResources CompileForProxy(const CompiledMesh& mesh, const ProxyTarget& target);

// Resources for many proxies at once: route configurations that do not
// depend on a proxy's labels are built once per (role, namespace) and shared
// by every proxy of the batch. Result i belongs to targets[i].
std::vector<CompiledResources> CompileForProxies(const CompiledMesh& mesh,
                                                 const std::vector<ProxyTarget>& targets);

// BuildMesh + CompileForProxy.
CompiledResources Compile(api::ConfigSnapshotPtr snapshot, const ProxyTarget& target,
                          const CompileOptions& options = {});

// Listener names ("HOST:PORT") a proxyless gRPC client may ask for: one per
// service port in the mesh.
std::vector<std::string> ListenerNamesForProxyless(const CompiledMesh& mesh);

// The api_listener Listener and its RouteConfiguration for a proxyless gRPC
// client asking for `listener_name` ("HOST:PORT"); NotFound when no service
// has that host and port.
struct ProxylessListener {
  Versioned<Listener> listener;
  Versioned<RouteConfiguration> route;
  std::vector<CompileDiagnostic> diagnostics;
};
absl::StatusOr<ProxylessListener> CompileProxylessListener(const CompiledMesh& mesh,
                                                           const ProxyTarget& target,
                                                           std::string_view listener_name);

}  // namespace meshgate::compiler
