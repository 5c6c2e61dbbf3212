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

namespace meshgate::compiler {

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

  // For sidecars: the mesh-bound VirtualService owning a service host (the
  // first by namespace/name; later ones are reported and ignored), or null.
  const api::Resource* MeshVirtualService(absl::string_view hostname) const;
  // Hosts of mesh-bound VirtualServices that name no service, with their owner.
  const std::map<std::string, const api::Resource*>& extra_mesh_hosts() const {
    return extra_mesh_hosts_;
  }

 private:
  void IndexMeshVirtualServices(std::vector<CompileDiagnostic>* diags);
  void IndexServices(const api::ConfigSnapshot& snapshot, std::vector<CompileDiagnostic>* diags);
  void IndexServiceEntries(const api::ConfigSnapshot& snapshot,
                           std::vector<CompileDiagnostic>* diags);
  // Endpoint order is part of the output: make it independent of input order.
  void SortEndpoints();
  void IndexDestinationRules(const api::ConfigSnapshot& snapshot,
                             std::vector<CompileDiagnostic>* diags);

  CompileOptions options_;
  std::map<std::string, ServiceInfo> services_;
  std::set<uint32_t> ports_;
  std::vector<const api::Resource*> virtual_services_;
  std::vector<const api::Resource*> gateways_;
  std::map<std::string, const api::Resource*> mesh_virtual_services_;
  std::map<std::string, const api::Resource*> extra_mesh_hosts_;
};

// "outbound|PORT|SUBSET|HOST".
std::string OutboundClusterName(uint32_t port, absl::string_view subset, absl::string_view host);
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

// ---- builders (one .cc each) ----

// clusters.cc: every outbound/subset cluster and its load assignment.
void BuildClusters(const MeshIndex& index, CompiledMesh* mesh);
// Cluster for an inbound port of the local workload (STATIC 127.0.0.1:PORT).
Cluster InboundCluster(uint32_t port);

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
  // Routes per (host, port) translated once per mesh; null to translate.
  const struct MeshRouteCache* cache = nullptr;
};

// The routes of every service port that do not depend on the proxy,
// translated once by BuildMesh and copied into each route configuration.
struct MeshRouteCache {
  std::map<std::pair<std::string, uint32_t>, envoy::config::route::v3::VirtualHost> routes;
};

// Routes for `service` on ctx.port from the VirtualServices bound to the mesh
// (or the default route when none applies), appended to `vhost`.
void AddServiceRoutes(const RouteContext& ctx, const ServiceInfo& service,
                      envoy::config::route::v3::VirtualHost* vhost);
// The VirtualService that owns `hostname` for sidecars (first by
// namespace/name), or null.
const api::Resource* MeshVirtualServiceFor(const RouteContext& ctx, const ServiceInfo& service);
// Appends the routes of VirtualService `vs` (root; delegates expanded) to vhost.
void AddVirtualServiceRoutes(const RouteContext& ctx, const api::Resource& vs,
                             envoy::config::route::v3::VirtualHost* vhost);

// Outbound route configuration "PORT" for a sidecar.
RouteConfiguration SidecarRouteConfig(const RouteContext& ctx, uint32_t port);

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
// CLUSTERIP_PORT for TCP services, virtualInbound (+ its inbound clusters).
void BuildSidecarListeners(const CompiledMesh& mesh, const ProxyTarget& target,
                           const std::set<uint32_t>& http_ports, CompiledResources* out);
void BuildGateway(const CompiledMesh& mesh, const ProxyTarget& target, CompiledResources* out);
envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager MakeHcm(
    absl::string_view stat_prefix, absl::string_view route_name, bool grpc);
void CollectSecrets(const Cluster& cluster, std::set<std::string>* secrets);

}  // namespace meshgate::compiler
