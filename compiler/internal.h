// Compiler-internal model: MeshIndex joins the snapshot's objects (Services,
// EndpointSlices, Pods, ServiceEntries, DestinationRules, VirtualServices,
// Gateways) into per-host service records the resource builders read, plus
// the helpers those builders share. Not part of the public interface.
//
// A MeshIndex is built once per snapshot and immutable afterwards; it holds
// raw pointers into the snapshot's Resources, so it must not outlive the
// snapshot (CompiledMesh keeps both alive together).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "api/snapshot.h"
#include "compiler/compiler.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "google/protobuf/arena.h"

namespace meshgate::compiler {

// The snapshot's objects of one kind, in key order, visited in place:
// ConfigSnapshot::OfKind copies every shared_ptr into a growing vector, which
// in a compile of thousands of objects costs more than the visit itself.
class ObjectsOfKind {
 public:
  using MapIterator = std::map<api::ObjectKey, api::ResourcePtr>::const_iterator;
  class Iterator {
   public:
    explicit Iterator(MapIterator it) : it_(it) {}
    const api::ResourcePtr& operator*() const { return it_->second; }
    Iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return it_ != other.it_; }

   private:
    MapIterator it_;
  };

  ObjectsOfKind(const api::ConfigSnapshot& snapshot, api::Kind kind)
      : begin_(snapshot.objects.lower_bound(api::ObjectKey{kind, "", ""})),
        end_(snapshot.objects.lower_bound(
            api::ObjectKey{static_cast<api::Kind>(static_cast<int>(kind) + 1), "", ""})) {}
  Iterator begin() const { return Iterator(begin_); }
  Iterator end() const { return Iterator(end_); }

 private:
  MapIterator begin_;
  MapIterator end_;
};

enum class Protocol { kUnknown, kHttp, kHttp2, kGrpc, kHttps, kTcp, kTls };
bool IsHttp(Protocol protocol);
// Istio's protocol selection: appProtocol, then the port name's prefix.
Protocol ProtocolOf(absl::string_view app_protocol, absl::string_view port_name);
Protocol ProtocolFromName(absl::string_view name);

struct EndpointInfo {
  std::string address;
  uint32_t port = 0;
  const api::Labels* labels = nullptr;  // the Pod's / WorkloadEntry's labels; may be null
  std::string zone;
  std::string service_account;
  uint32_t weight = 0;  // 0 = unset
};

struct ServicePortInfo {
  uint32_t port = 0;
  std::string name;
  Protocol protocol = Protocol::kUnknown;
  // Endpoints reachable for this port, in deterministic order.
  std::vector<EndpointInfo> endpoints;
};

struct ServiceInfo {
  std::string hostname;    // FQDN (Service) or ServiceEntry host
  std::string name;        // Service name; empty for ServiceEntry hosts
  std::string namespace_;  // of the Service / ServiceEntry
  const api::Resource* resource = nullptr;
  bool from_service_entry = false;
  api::ServiceEntry::Resolution resolution = api::ServiceEntry::Resolution::kNone;
  std::vector<ServicePortInfo> ports;  // ordered by port number
  std::set<std::string> service_accounts;
  const api::Resource* destination_rule = nullptr;  // the DR that applies, if any

  const ServicePortInfo* FindPort(uint32_t port) const;
};

// What a Sidecar resource (Istio's SidecarScope) leaves of the mesh for the
// proxies it applies to: the services and VirtualServices its egress
// listeners import, per port, and its outbound traffic policy. Holds a raw
// pointer into the snapshot, like MeshIndex.
class SidecarScope {
 public:
  // Egress hosts are resolved ("reviews.shop" -> FQDN) through `index`.
  SidecarScope(const api::Resource& sidecar, const class MeshIndex& index);

  const api::Resource& resource() const { return *resource_; }
  const api::Sidecar& spec() const { return resource_->As<api::Sidecar>(); }
  // Does the egress listener of `port` (else the catch-all) import `host`
  // of `namespace_`? Wildcard hosts (a VirtualService's "*.example.com")
  // are imported when the two patterns overlap.
  bool Imports(absl::string_view namespace_, absl::string_view host, uint32_t port) const;
  bool registry_only() const { return registry_only_; }

 private:
  struct HostPattern {
    std::string namespace_;  // "*" any, "~" none, else a namespace name
    std::string host;        // "*", "*.suffix" or a host
  };
  struct Egress {
    std::optional<uint32_t> port;  // none: the catch-all
    std::vector<HostPattern> hosts;
  };
  const api::Resource* resource_ = nullptr;
  std::vector<Egress> egress_;
  bool registry_only_ = false;
};

struct GatewayRef {
  const api::Resource* resource = nullptr;
  std::string key;  // "namespace/name"
};

class MeshIndex {
 public:
  MeshIndex(const api::ConfigSnapshot& snapshot, const CompileOptions& options,
            std::vector<CompileDiagnostic>* diagnostics);

  const CompileOptions& options() const { return options_; }
  // Services by hostname (deterministic order).
  const std::map<std::string, ServiceInfo>& services() const { return services_; }
  const ServiceInfo* FindService(absl::string_view hostname) const;
  // Every service port number in the mesh.
  const std::set<uint32_t>& ports() const { return ports_; }

  // Resolves a host written in an object of `namespace_` to its FQDN
  // ("reviews" -> "reviews.NS.svc.DOMAIN"); hosts with a dot, and wildcards,
  // are kept (after expanding "name.ns" / "name.ns.svc" forms of a Service).
  std::string ResolveHost(absl::string_view host, absl::string_view namespace_) const;

  // VirtualServices in deterministic (namespace, name) order.
  const std::vector<const api::Resource*>& virtual_services() const { return virtual_services_; }
  const api::Resource* FindVirtualService(absl::string_view namespace_,
                                          absl::string_view name) const;
  const std::vector<const api::Resource*>& gateways() const { return gateways_; }

  std::string NamespaceOf(const api::Resource& resource) const;

  // "ns/name" for a gateway reference written in a VirtualService of
  // `vs_namespace` ("name" means the VirtualService's namespace); "mesh" stays.
  static std::string GatewayKey(absl::string_view ref, absl::string_view vs_namespace);
  // Is the VirtualService (spec.gateways; empty means mesh) bound to `key`?
  bool BoundTo(const api::Resource& vs, absl::string_view key) const;

  // For sidecars: the mesh-bound VirtualService owning a service host, or
  // null: the first by namespace/name, or with `proxy_namespace`, the first
  // exported to that namespace (Istio's exportTo).
  const api::Resource* MeshVirtualService(absl::string_view hostname) const;
  const api::Resource* MeshVirtualService(absl::string_view hostname,
                                          absl::string_view proxy_namespace) const;
  // Is the service visible to proxies in `proxy_namespace`? (The Service's
  // networking.istio.io/exportTo annotation, the ServiceEntry's exportTo.)
  bool ServiceVisible(const ServiceInfo& service, absl::string_view proxy_namespace) const;
  // ServiceVisible, and imported on `port` by the proxy's Sidecar (if any).
  bool ServiceVisible(const ServiceInfo& service, absl::string_view proxy_namespace,
                      const SidecarScope* sidecar, uint32_t port) const;
  // MeshVirtualService(hostname, proxy_namespace) among the VirtualServices
  // the proxy's Sidecar (if any) imports on `port`.
  const api::Resource* MeshVirtualService(absl::string_view hostname,
                                          absl::string_view proxy_namespace,
                                          const SidecarScope* sidecar, uint32_t port) const;
  // The Sidecar of a proxy in `proxy_namespace` with `labels`: its
  // namespace's Sidecar whose workloadSelector selects it, else the
  // namespace's Sidecar without selector, else the root namespace's; null
  // when none applies. Among several candidates the first by name wins.
  const api::Resource* SidecarFor(absl::string_view proxy_namespace,
                                  const api::Labels& labels) const;
  // Is the object exported to `proxy_namespace` by `export_to` (empty and
  // "*" mean everywhere, "." its own namespace, "~" nowhere)?
  bool ExportedTo(const api::Resource& object, const std::vector<std::string>& export_to,
                  absl::string_view proxy_namespace) const;
  // Hosts of mesh-bound VirtualServices that name no service, with their owner.
  const std::map<std::string, const api::Resource*>& extra_mesh_hosts() const {
    return extra_mesh_hosts_;
  }

  // DestinationRules with a workloadSelector (exact hosts of known
  // services), in (namespace, name) order: they apply, instead of the
  // mesh-wide rule, to the proxies in their namespace whose labels they select.
  struct WorkloadRule {
    const api::Resource* rule = nullptr;
    std::string host;
  };
  const std::vector<WorkloadRule>& workload_rules() const { return workload_rules_; }

  // Would every resource but the cluster load assignments compile the same
  // from this index as from `previous`? True when the two differ at most in
  // the endpoints of Kubernetes Services (addresses, ports, zones, labels,
  // readiness), which only the load assignments read. Objects are compared
  // by identity (the store keeps unchanged objects' pointers), so an
  // unchanged object re-decoded counts as a change. Otherwise false, with
  // the first difference in `why`.
  bool DiffersOnlyInEndpoints(const MeshIndex& previous, std::string* why) const;

 private:
  void IndexMeshVirtualServices(std::vector<CompileDiagnostic>* diags);
  void IndexServices(const api::ConfigSnapshot& snapshot, std::vector<CompileDiagnostic>* diags);
  void IndexServiceEntries(const api::ConfigSnapshot& snapshot,
                           std::vector<CompileDiagnostic>* diags);
  // Endpoint order is part of the output: make it independent of input order.
  void SortEndpoints();
  void IndexDestinationRules(const api::ConfigSnapshot& snapshot,
                             std::vector<CompileDiagnostic>* diags);
  void IndexSidecars(const api::ConfigSnapshot& snapshot, std::vector<CompileDiagnostic>* diags);

  CompileOptions options_;
  const api::ConfigSnapshot* snapshot_ = nullptr;
  std::map<std::string, ServiceInfo> services_;
  std::set<uint32_t> ports_;
  std::vector<const api::Resource*> virtual_services_;
  std::vector<const api::Resource*> gateways_;
  // Every mesh-bound VirtualService naming a host, by namespace/name.
  std::map<std::string, std::vector<const api::Resource*>> mesh_virtual_services_;
  std::map<std::string, const api::Resource*> extra_mesh_hosts_;
  std::vector<WorkloadRule> workload_rules_;
  // Per namespace: its Sidecar without workloadSelector, and those with one.
  struct NamespaceSidecars {
    const api::Resource* without_selector = nullptr;
    std::vector<const api::Resource*> with_selector;
  };
  std::map<std::string, NamespaceSidecars, std::less<>> sidecars_;
};

// "outbound|PORT|SUBSET|HOST".
std::string OutboundClusterName(uint32_t port, absl::string_view subset, absl::string_view host);
// The inverse: (PORT, HOST) of an outbound cluster name; false for other names.
// `host` points into `name`.
bool ParseOutboundClusterName(absl::string_view name, uint32_t* port, absl::string_view* host);
std::string InboundClusterName(uint32_t port);

// Does `labels` contain every pair of `selector`?
bool LabelsMatch(const api::Labels& selector, const api::Labels& labels);

// Istio host matching with wildcards: "*.example.com" matches "a.example.com".
bool HostMatches(absl::string_view pattern, absl::string_view host);

// Effective policy of one cluster after Istio's precedence
// (subset > port-level > top-level), field group by field group.
struct EffectivePolicy {
  std::optional<api::LoadBalancerSettings> load_balancer;
  std::optional<api::ConnectionPoolSettings> connection_pool;
  std::optional<api::OutlierDetection> outlier_detection;
  std::optional<api::ClientTLSSettings> tls;
};
EffectivePolicy ResolvePolicy(const api::DestinationRule* rule, uint32_t port,
                              absl::string_view subset);

const api::Subset* FindSubset(const api::DestinationRule& rule, absl::string_view subset);

CompileDiagnostic MakeDiagnostic(
    const api::Resource& resource, std::string field_path, std::string message,
    CompileDiagnostic::Severity severity = CompileDiagnostic::Severity::kError);

template <typename T>
Versioned<T> Seal(T message) {
  Versioned<T> out;
  out.hash = ContentHash(message);
  out.resource = std::make_shared<const T>(std::move(message));
  return out;
}

// A resource message built on its own protobuf Arena whose first block is
// inline: a cluster or load assignment then costs one allocation to build and
// one free to drop, instead of one per sub-message and string (which was most
// of a mesh compile's time, and most of its teardown). Larger resources grow
// the arena in blocks of up to kMaxBlockBytes.
//
// Owned through a shared_ptr (std::make_shared); SealOnArena hands
// out the message as a shared_ptr<const T> that keeps the whole arena alive.
// Not thread-safe while being built; immutable once sealed.
template <typename T, size_t kInlineBytes>
class OnArena {
 public:
  static constexpr size_t kMaxBlockBytes = 64 * 1024;

  OnArena()
      : arena_(Options(block_)), message_(google::protobuf::Arena::CreateMessage<T>(&arena_)) {}
  OnArena(const OnArena&) = delete;
  OnArena& operator=(const OnArena&) = delete;

  T* message() { return message_; }
  google::protobuf::Arena* arena() { return &arena_; }

 private:
  static google::protobuf::ArenaOptions Options(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = kInlineBytes;
    options.start_block_size = kInlineBytes * 2;
    options.max_block_size = kMaxBlockBytes;
    return options;
  }

  alignas(16) char block_[kInlineBytes];  // declared before arena_, which uses it
  google::protobuf::Arena arena_;
  T* message_;
};

template <typename T, size_t kInlineBytes>
Versioned<T> SealOnArena(std::shared_ptr<OnArena<T, kInlineBytes>> owned) {
  Versioned<T> out;
  T* message = owned->message();
  out.hash = ContentHash(*message);
  out.resource = std::shared_ptr<const T>(std::move(owned), message);
  return out;
}

// Inline arena blocks sized to hold a typical resource of each kind whole.
using ClusterOnArena = OnArena<Cluster, 4096>;
using LoadAssignmentOnArena = OnArena<ClusterLoadAssignment, 1024>;
using RouteConfigOnArena = OnArena<RouteConfiguration, 16 * 1024>;

// ---- builders (one .cc each) ----

// clusters.cc: every outbound/subset cluster and its load assignment.
void BuildClusters(const MeshIndex& index, CompiledMesh* mesh);
// `clusters` as proxyless gRPC clients accept them (see CompiledMesh).
ResourceMap<Cluster> ProxylessClusters(const ResourceMap<Cluster>& clusters);
// The load assignments of `previous`'s EDS clusters, from `index`'s
// endpoints; one whose content did not change keeps previous's pointer.
// REQUIRES: index.DiffersOnlyInEndpoints(*previous.index).
void RebuildLoadAssignments(const MeshIndex& index, const CompiledMesh& previous,
                            CompiledMesh* mesh);
// The DestinationRules with a workloadSelector that select `target` (same
// namespace, labels matching; the first per host wins) replace the mesh-wide
// rule of their host in `out`: that host's clusters and load assignments are
// rebuilt under the selecting rule.
void ApplyWorkloadRules(const MeshIndex& index, const ProxyTarget& target, CompiledResources* out);
// Where an inbound port hands traffic to the application: 127.0.0.1:PORT
// unless a Sidecar ingress listener's defaultEndpoint says otherwise.
struct InboundEndpoint {
  std::string address = "127.0.0.1";
  uint32_t port = 0;  // the workload's port; callers always set it
  std::string pipe;   // unix socket path; address and port unused when set
};
// Cluster for an inbound port of the local workload (STATIC, one endpoint).
Cluster InboundCluster(uint32_t port, const InboundEndpoint& endpoint);
// Where REGISTRY_ONLY sends what the mesh does not know: no endpoints.
Cluster BlackHoleCluster();

// routes.cc
struct RouteContext {
  const MeshIndex* index = nullptr;
  // "mesh" for sidecars and proxyless clients, "ns/name" of the gateway otherwise.
  std::set<std::string> gateway_keys;
  bool is_gateway = false;
  bool grpc = false;  // emit only what gRPC's xDS client accepts
  uint32_t port = 0;  // the listener port the routes serve
  std::string proxy_namespace;
  const api::Labels* proxy_labels = nullptr;
  std::vector<CompileDiagnostic>* diagnostics = nullptr;
  // Set once a match depending on the proxy (sourceLabels, sourceNamespace)
  // was seen: such routes are not shared between proxies.
  bool* proxy_dependent = nullptr;
  // The Sidecar applying to the proxy; null: the whole mesh, as exportTo allows.
  const SidecarScope* sidecar = nullptr;
  // Routes per (host, port) translated once per mesh; null to translate.
  const struct MeshRouteCache* cache = nullptr;
};

// The routes of every service port that do not depend on the proxy,
// translated once by BuildMesh and copied into each route configuration.
// The virtual hosts live on the cache's arena.
struct MeshRouteCache {
  google::protobuf::Arena arena;
  std::map<std::pair<std::string, uint32_t>, const envoy::config::route::v3::VirtualHost*> routes;
};

// Routes for `service` on ctx.port from the VirtualServices bound to the mesh
// (or the default route when none applies), appended to `vhost`.
void AddServiceRoutes(const RouteContext& ctx, const ServiceInfo& service,
                      envoy::config::route::v3::VirtualHost* vhost);
// The same with the VirtualService given (null: the default route).
void AddServiceRoutesOf(const RouteContext& ctx, const ServiceInfo& service,
                        const api::Resource* vs, envoy::config::route::v3::VirtualHost* vhost);
// The VirtualService that owns `hostname` for sidecars (first by
// namespace/name), or null.
const api::Resource* MeshVirtualServiceFor(const RouteContext& ctx, const ServiceInfo& service);
// Appends the routes of VirtualService `vs` (root; delegates expanded) to vhost.
void AddVirtualServiceRoutes(const RouteContext& ctx, const api::Resource& vs,
                             envoy::config::route::v3::VirtualHost* vhost);

// TCP and TLS routes (VirtualService spec.tcp / spec.tls), as Istio programs
// them: one tcp_proxy filter chain per route that applies to the proxy, the
// listener port and the gateway (ctx.gateway_keys), to its destination or
// weighted destinations. TCP matches on destinationSubnets become the chain's
// prefix ranges; TLS matches on sniHosts its server names (for gateways only
// the SNI hosts within `server_hosts`, which may hold wildcards). A chain
// whose match repeats an earlier one is shadowed and skipped, as Istio's
// first-match-wins order asks; `used` carries the matches across calls for
// one listener. Returns whether a chain matching every connection was added.
bool AddTcpRouteChains(const RouteContext& ctx, const api::Resource& vs, Listener* listener,
                       std::set<std::string>* used);
void AddTlsRouteChains(const RouteContext& ctx, const api::Resource& vs,
                       const std::vector<std::string>& server_hosts, Listener* listener,
                       std::set<std::string>* used);
// tcp_proxy to one cluster (or weighted clusters) on `chain`.
void AddTcpProxyFilter(absl::string_view stat_prefix,
                       const std::vector<std::pair<std::string, uint32_t>>& clusters,
                       envoy::config::listener::v3::FilterChain* chain);

// Outbound route configuration "PORT" for a sidecar, built into `rc`.
void SidecarRouteConfig(const RouteContext& ctx, uint32_t port, RouteConfiguration* rc);

// peer_authentication.cc
// The inbound mTLS modes of one workload: the workload policy's port-level
// mode, else the first set of workload → namespace → mesh-wide (root
// namespace) policy, else PERMISSIVE as in Istio. Never kUnset.
struct PeerAuthenticationPolicy {
  api::MtlsMode mode = api::MtlsMode::kPermissive;
  std::map<uint32_t, api::MtlsMode> port_modes;
  api::MtlsMode ModeFor(uint32_t port) const;
};
PeerAuthenticationPolicy ResolvePeerAuthentication(const CompiledMesh& mesh,
                                                   const ProxyTarget& target,
                                                   std::vector<CompileDiagnostic>* diags);

// listeners.cc
// Listeners of a sidecar: virtualOutbound, 0.0.0.0_PORT for `http_ports`,
// CLUSTERIP_PORT for TCP services, virtualInbound (+ its inbound clusters);
// scoped by `sidecar` (its egress imports, ingress ports, outbound policy)
// when not null.
void BuildSidecarListeners(const CompiledMesh& mesh, const ProxyTarget& target,
                           const SidecarScope* sidecar, const std::set<uint32_t>& http_ports,
                           CompiledResources* out);
void BuildGateway(const CompiledMesh& mesh, const ProxyTarget& target, CompiledResources* out);
envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager MakeHcm(
    absl::string_view stat_prefix, absl::string_view route_name, bool grpc);
void CollectSecrets(const Cluster& cluster, std::set<std::string>* secrets);

}  // namespace meshgate::compiler
