#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "compiler/internal.h"

namespace meshgate::compiler {
namespace {

constexpr char kDefaultNamespace[] = "default";

std::string NamespaceOrDefault(const std::string& ns) {
  return ns.empty() ? std::string(kDefaultNamespace) : ns;
}

}  // namespace

std::string CompileDiagnostic::ToString() const {
  std::string out = severity == Severity::kError ? "error: " : "warning: ";
  if (!object.empty()) absl::StrAppend(&out, object, ": ");
  if (!field_path.empty()) absl::StrAppend(&out, field_path, ": ");
  absl::StrAppend(&out, message);
  return out;
}

bool HasErrors(const std::vector<CompileDiagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(), [](const CompileDiagnostic& d) {
    return d.severity == CompileDiagnostic::Severity::kError;
  });
}

CompileDiagnostic MakeDiagnostic(const api::Resource& resource, std::string field_path,
                                 std::string message, CompileDiagnostic::Severity severity) {
  api::ObjectKey key = resource.Key();
  key.namespace_ = NamespaceOrDefault(key.namespace_);
  return CompileDiagnostic{severity, key.ToString(), std::move(field_path), std::move(message)};
}

bool IsHttp(Protocol protocol) {
  return protocol == Protocol::kHttp || protocol == Protocol::kHttp2 ||
         protocol == Protocol::kGrpc || protocol == Protocol::kUnknown;
}

Protocol ProtocolFromName(absl::string_view raw) {
  std::string name = absl::AsciiStrToLower(raw);
  if (name == "http" || name == "http1" || name == "http/1.1") return Protocol::kHttp;
  if (name == "http2" || name == "h2c" || name == "kubernetes.io/h2c") return Protocol::kHttp2;
  if (name == "grpc" || name == "grpc-web") return Protocol::kGrpc;
  if (name == "https") return Protocol::kHttps;
  if (name == "tls") return Protocol::kTls;
  if (name == "tcp" || name == "mongo" || name == "mysql" || name == "redis") return Protocol::kTcp;
  return Protocol::kUnknown;
}

Protocol ProtocolOf(absl::string_view app_protocol, absl::string_view port_name) {
  if (!app_protocol.empty()) {
    Protocol p = ProtocolFromName(app_protocol);
    if (p != Protocol::kUnknown) return p;
  }
  // Istio: "<protocol>[-<suffix>]".
  absl::string_view prefix = port_name.substr(0, port_name.find('-'));
  return ProtocolFromName(prefix);
}

std::string OutboundClusterName(uint32_t port, absl::string_view subset, absl::string_view host) {
  return absl::StrCat("outbound|", port, "|", subset, "|", host);
}

bool ParseOutboundClusterName(absl::string_view name, uint32_t* port, absl::string_view* host) {
  if (!absl::ConsumePrefix(&name, "outbound|")) return false;
  const size_t port_end = name.find('|');
  if (port_end == absl::string_view::npos) return false;
  if (!absl::SimpleAtoi(name.substr(0, port_end), port)) return false;
  const size_t subset_end = name.find('|', port_end + 1);
  if (subset_end == absl::string_view::npos) return false;
  *host = name.substr(subset_end + 1);
  return true;
}

std::string InboundClusterName(uint32_t port) { return absl::StrCat("inbound|", port, "||"); }

bool LabelsMatch(const api::Labels& selector, const api::Labels& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

bool HostMatches(absl::string_view pattern, absl::string_view host) {
  if (pattern == "*") return true;
  if (absl::StartsWith(pattern, "*")) {
    absl::string_view suffix = pattern.substr(1);  // ".example.com"
    if (absl::StartsWith(host, "*")) return absl::EndsWith(host.substr(1), suffix);
    return host.size() > suffix.size() && absl::EndsWith(host, suffix);
  }
  return pattern == host;
}

const ServicePortInfo* ServiceInfo::FindPort(uint32_t port) const {
  for (const auto& p : ports) {
    if (p.port == port) return &p;
  }
  return nullptr;
}

const api::Subset* FindSubset(const api::DestinationRule& rule, absl::string_view subset) {
  for (const auto& s : rule.subsets) {
    if (s.name == subset) return &s;
  }
  return nullptr;
}

namespace {

void Overlay(const api::TrafficPolicy& policy, uint32_t port, EffectivePolicy* out) {
  if (policy.load_balancer) out->load_balancer = policy.load_balancer;
  if (policy.connection_pool) out->connection_pool = policy.connection_pool;
  if (policy.outlier_detection) out->outlier_detection = policy.outlier_detection;
  if (policy.tls) out->tls = policy.tls;
  for (const auto& pl : policy.port_level_settings) {
    if (!pl.port || pl.port->number != port) continue;
    if (pl.load_balancer) out->load_balancer = pl.load_balancer;
    if (pl.connection_pool) out->connection_pool = pl.connection_pool;
    if (pl.outlier_detection) out->outlier_detection = pl.outlier_detection;
    if (pl.tls) out->tls = pl.tls;
  }
}

}  // namespace

EffectivePolicy ResolvePolicy(const api::DestinationRule* rule, uint32_t port,
                              absl::string_view subset) {
  EffectivePolicy out;
  if (rule == nullptr) return out;
  if (rule->traffic_policy) Overlay(*rule->traffic_policy, port, &out);
  if (!subset.empty()) {
    const api::Subset* s = FindSubset(*rule, subset);
    if (s != nullptr && s->traffic_policy) Overlay(*s->traffic_policy, port, &out);
  }
  return out;
}

MeshIndex::MeshIndex(const api::ConfigSnapshot& snapshot, const CompileOptions& options,
                     std::vector<CompileDiagnostic>* diagnostics)
    : options_(options), snapshot_(&snapshot) {
  IndexServices(snapshot, diagnostics);
  IndexServiceEntries(snapshot, diagnostics);
  SortEndpoints();
  IndexDestinationRules(snapshot, diagnostics);
  IndexSidecars(snapshot, diagnostics);
  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kVirtualService)) {
    virtual_services_.push_back(r.get());
  }
  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kGateway)) gateways_.push_back(r.get());
  // Objects without a namespace sort first in the snapshot; order by the
  // namespace they are defaulted to so "" and "default" interleave stably.
  auto ns_of = [](const api::Resource* r) -> absl::string_view {
    return r->metadata.namespace_.empty() ? kDefaultNamespace
                                          : absl::string_view(r->metadata.namespace_);
  };
  auto by_key = [&ns_of](const api::Resource* a, const api::Resource* b) {
    absl::string_view na = ns_of(a), nb = ns_of(b);
    if (na != nb) return na < nb;
    return a->metadata.name < b->metadata.name;
  };
  std::stable_sort(virtual_services_.begin(), virtual_services_.end(), by_key);
  std::stable_sort(gateways_.begin(), gateways_.end(), by_key);
  for (const auto& [host, service] : services_) {
    for (const auto& p : service.ports) ports_.insert(p.port);
  }
  IndexMeshVirtualServices(diagnostics);
}

std::string MeshIndex::GatewayKey(absl::string_view ref, absl::string_view vs_namespace) {
  if (ref == "mesh" || absl::StrContains(ref, '/')) return std::string(ref);
  return absl::StrCat(vs_namespace, "/", ref);
}

bool MeshIndex::BoundTo(const api::Resource& vs, absl::string_view key) const {
  const auto& spec = vs.As<api::VirtualService>();
  if (spec.gateways.empty()) return key == "mesh";
  std::string ns = NamespaceOf(vs);
  for (const auto& g : spec.gateways) {
    if (GatewayKey(g, ns) == key) return true;
  }
  return false;
}

const api::Resource* MeshIndex::MeshVirtualService(absl::string_view hostname) const {
  auto it = mesh_virtual_services_.find(std::string(hostname));
  return it == mesh_virtual_services_.end() ? nullptr : it->second.front();
}

const api::Resource* MeshIndex::MeshVirtualService(absl::string_view hostname,
                                                   absl::string_view proxy_namespace) const {
  return MeshVirtualService(hostname, proxy_namespace, /*sidecar=*/nullptr, /*port=*/0);
}

bool MeshIndex::ServiceVisible(const ServiceInfo& service, absl::string_view proxy_namespace,
                               const SidecarScope* sidecar, uint32_t port) const {
  if (sidecar != nullptr && !sidecar->Imports(service.namespace_, service.hostname, port)) {
    return false;
  }
  return ServiceVisible(service, proxy_namespace);
}

const api::Resource* MeshIndex::MeshVirtualService(absl::string_view hostname,
                                                   absl::string_view proxy_namespace,
                                                   const SidecarScope* sidecar,
                                                   uint32_t port) const {
  auto it = mesh_virtual_services_.find(std::string(hostname));
  if (it == mesh_virtual_services_.end()) return nullptr;
  for (const api::Resource* vs : it->second) {
    if (ExportedTo(*vs, vs->As<api::VirtualService>().export_to, proxy_namespace) &&
        (sidecar == nullptr || sidecar->Imports(NamespaceOf(*vs), hostname, port))) {
      return vs;
    }
  }
  return nullptr;
}

void MeshIndex::IndexSidecars(const api::ConfigSnapshot& snapshot,
                              std::vector<CompileDiagnostic>* diags) {
  // Objects of a kind come in (namespace, name) order, so "first by name"
  // needs no sort. Istio picks the oldest; names are what a file has.
  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kSidecar)) {
    NamespaceSidecars& in_namespace = sidecars_[NamespaceOf(*r)];
    if (r->As<api::Sidecar>().workload_selector) {
      in_namespace.with_selector.push_back(r.get());
    } else if (in_namespace.without_selector == nullptr) {
      in_namespace.without_selector = r.get();
    } else {
      diags->push_back(MakeDiagnostic(*r, "spec.workloadSelector",
                                      "namespace " + NamespaceOf(*r) + " already has Sidecar " +
                                          in_namespace.without_selector->metadata.name +
                                          " without workloadSelector; this one is ignored",
                                      CompileDiagnostic::Severity::kWarning));
    }
  }
}

const api::Resource* MeshIndex::SidecarFor(absl::string_view proxy_namespace,
                                           const api::Labels& labels) const {
  if (auto it = sidecars_.find(proxy_namespace); it != sidecars_.end()) {
    for (const api::Resource* r : it->second.with_selector) {
      if (LabelsMatch(r->As<api::Sidecar>().workload_selector->match_labels, labels)) return r;
    }
    if (it->second.without_selector != nullptr) return it->second.without_selector;
  }
  auto root = sidecars_.find(options_.root_namespace);
  return root == sidecars_.end() ? nullptr : root->second.without_selector;
}

SidecarScope::SidecarScope(const api::Resource& sidecar, const MeshIndex& index)
    : resource_(&sidecar) {
  const api::Sidecar& spec = sidecar.As<api::Sidecar>();
  const std::string own_namespace = index.NamespaceOf(sidecar);
  for (const auto& listener : spec.egress) {
    Egress egress;
    if (listener.port) egress.port = listener.port->number;
    for (const auto& entry : listener.hosts) {
      const size_t slash = entry.find('/');
      if (slash == std::string::npos) continue;  // rejected by validation
      HostPattern pattern;
      pattern.namespace_ = entry.substr(0, slash);
      if (pattern.namespace_ == ".") pattern.namespace_ = own_namespace;
      const std::string resolve_in = pattern.namespace_ == "*" || pattern.namespace_ == "~"
                                         ? own_namespace
                                         : pattern.namespace_;
      pattern.host = index.ResolveHost(entry.substr(slash + 1), resolve_in);
      egress.hosts.push_back(std::move(pattern));
    }
    egress_.push_back(std::move(egress));
  }
  registry_only_ =
      spec.outbound_traffic_policy &&
      spec.outbound_traffic_policy->mode == api::OutboundTrafficPolicy::Mode::kRegistryOnly;
}

bool SidecarScope::Imports(absl::string_view namespace_, absl::string_view host,
                           uint32_t port) const {
  // The listener naming the port wins over the catch-all (Istio).
  const Egress* chosen = nullptr;
  for (const Egress& e : egress_) {
    if (e.port && *e.port == port) {
      chosen = &e;
      break;
    }
    if (!e.port && chosen == nullptr) chosen = &e;
  }
  if (chosen == nullptr) return false;
  for (const HostPattern& p : chosen->hosts) {
    if (p.namespace_ == "~") continue;
    if (p.namespace_ != "*" && p.namespace_ != namespace_) continue;
    if (HostMatches(p.host, host) || HostMatches(host, p.host)) return true;
  }
  return false;
}

bool MeshIndex::ExportedTo(const api::Resource& object, const std::vector<std::string>& export_to,
                           absl::string_view proxy_namespace) const {
  if (export_to.empty()) return true;
  for (const auto& to : export_to) {
    if (to == "*" || to == proxy_namespace) return true;
    if (to == "." && NamespaceOf(object) == proxy_namespace) return true;
  }
  return false;
}

bool MeshIndex::ServiceVisible(const ServiceInfo& service,
                               absl::string_view proxy_namespace) const {
  if (service.from_service_entry) {
    return ExportedTo(*service.resource, service.resource->As<api::ServiceEntry>().export_to,
                      proxy_namespace);
  }
  const auto& annotations = service.resource->metadata.annotations;
  auto it = annotations.find("networking.istio.io/exportTo");
  if (it == annotations.end()) return true;
  std::vector<std::string> export_to;
  for (absl::string_view part : absl::StrSplit(it->second, ',', absl::SkipWhitespace())) {
    export_to.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return ExportedTo(*service.resource, export_to, proxy_namespace);
}

void MeshIndex::IndexMeshVirtualServices(std::vector<CompileDiagnostic>* diags) {
  for (const api::Resource* vs : virtual_services_) {
    const auto& spec = vs->As<api::VirtualService>();
    if (!BoundTo(*vs, "mesh")) continue;
    std::string ns = NamespaceOf(*vs);
    for (size_t i = 0; i < spec.hosts.size(); ++i) {
      std::string host = ResolveHost(spec.hosts[i], ns);
      std::string field = absl::StrCat("spec.hosts[", i, "]");
      std::vector<std::string> owned;
      if (absl::StrContains(host, '*')) {
        for (const auto& [hostname, info] : services_) {
          if (HostMatches(host, hostname)) owned.push_back(hostname);
        }
        if (owned.empty() || host == "*") {
          diags->push_back(MakeDiagnostic(*vs, field,
                                          "wildcard host " + host +
                                              " is not programmed for sidecars beyond the "
                                              "services it matches",
                                          CompileDiagnostic::Severity::kWarning));
        }
      } else if (services_.count(host) > 0) {
        owned.push_back(host);
      } else {
        auto [it, inserted] = extra_mesh_hosts_.try_emplace(host, vs);
        if (!inserted && it->second != vs) {
          diags->push_back(MakeDiagnostic(*vs, field,
                                          "host " + host + " is already routed by " +
                                              it->second->Key().ToString() + "; ignored",
                                          CompileDiagnostic::Severity::kWarning));
        }
        continue;
      }
      for (const auto& hostname : owned) {
        auto& owners = mesh_virtual_services_[hostname];
        if (std::find(owners.begin(), owners.end(), vs) != owners.end()) continue;
        // An earlier owner exported everywhere leaves this one no namespace.
        for (const api::Resource* earlier : owners) {
          const auto& to = earlier->As<api::VirtualService>().export_to;
          if (to.empty() || std::find(to.begin(), to.end(), "*") != to.end()) {
            diags->push_back(MakeDiagnostic(*vs, field,
                                            "host " + hostname + " is already routed by " +
                                                earlier->Key().ToString() +
                                                " for sidecars; ignored",
                                            CompileDiagnostic::Severity::kWarning));
            break;
          }
        }
        owners.push_back(vs);
      }
    }
  }
}

std::string MeshIndex::NamespaceOf(const api::Resource& resource) const {
  return NamespaceOrDefault(resource.metadata.namespace_);
}

const ServiceInfo* MeshIndex::FindService(absl::string_view hostname) const {
  auto it = services_.find(std::string(hostname));
  return it == services_.end() ? nullptr : &it->second;
}

const api::Resource* MeshIndex::FindVirtualService(absl::string_view namespace_,
                                                   absl::string_view name) const {
  for (const api::Resource* vs : virtual_services_) {
    if (vs->metadata.name == name && NamespaceOf(*vs) == namespace_) return vs;
  }
  return nullptr;
}

std::string MeshIndex::ResolveHost(absl::string_view host, absl::string_view namespace_) const {
  if (host.empty() || absl::StrContains(host, '*')) return std::string(host);
  if (!absl::StrContains(host, '.')) {
    return absl::StrCat(host, ".", namespace_, ".svc.", options_.cluster_domain);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() == 2 || (parts.size() == 3 && parts[2] == "svc")) {
    std::string fqdn = absl::StrCat(parts[0], ".", parts[1], ".svc.", options_.cluster_domain);
    if (services_.count(fqdn) > 0) return fqdn;
  }
  return std::string(host);
}

void MeshIndex::IndexServices(const api::ConfigSnapshot& snapshot,
                              std::vector<CompileDiagnostic>* diags) {
  // Pods for EndpointSlice targetRefs, looked up by key in the snapshot (a
  // Pod without a namespace is in "default").
  auto find_pod = [&snapshot](const std::string& ns, const std::string& name) {
    api::ObjectKey key{api::Kind::kPod, ns, name};
    auto it = snapshot.objects.find(key);
    if (it == snapshot.objects.end() && ns == kDefaultNamespace) {
      key.namespace_.clear();
      it = snapshot.objects.find(key);
    }
    return it == snapshot.objects.end() ? nullptr : it->second.get();
  };
  std::map<std::pair<std::string, std::string>, std::string> host_of_service;
  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kService)) {
    const auto& svc = r->As<api::Service>();
    ServiceInfo info;
    info.namespace_ = NamespaceOf(*r);
    info.name = r->metadata.name;
    info.hostname = absl::StrCat(info.name, ".", info.namespace_, ".svc.", options_.cluster_domain);
    info.resource = r.get();
    for (size_t i = 0; i < svc.ports.size(); ++i) {
      const auto& sp = svc.ports[i];
      if (sp.protocol == "UDP" || sp.protocol == "SCTP") {
        diags->push_back(MakeDiagnostic(*r, absl::StrCat("spec.ports[", i, "].protocol"),
                                        sp.protocol + " ports are not proxied",
                                        CompileDiagnostic::Severity::kWarning));
        continue;
      }
      ServicePortInfo port;
      port.port = sp.port;
      port.name = sp.name;
      port.protocol = ProtocolOf(sp.app_protocol, sp.name);
      info.ports.push_back(std::move(port));
    }
    std::sort(info.ports.begin(), info.ports.end(),
              [](const auto& a, const auto& b) { return a.port < b.port; });
    host_of_service[{info.namespace_, info.name}] = info.hostname;
    services_.emplace(info.hostname, std::move(info));
  }

  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kEndpointSlice)) {
    const auto& slice = r->As<api::EndpointSlice>();
    std::string ns = NamespaceOf(*r);
    auto host_it = host_of_service.find({ns, slice.service_name});
    if (host_it == host_of_service.end()) continue;  // not a Service we route to
    ServiceInfo& info = services_.at(host_it->second);
    const auto& svc = info.resource->As<api::Service>();
    if (slice.address_type == "FQDN") {
      diags->push_back(MakeDiagnostic(*r, "addressType",
                                      "FQDN EndpointSlices are not supported; slice ignored",
                                      CompileDiagnostic::Severity::kWarning));
      continue;
    }
    for (const auto& sp : svc.ports) {
      ServicePortInfo* port = nullptr;
      for (auto& p : info.ports) {
        if (p.port == sp.port) port = &p;
      }
      if (port == nullptr) continue;
      // The slice port carries the resolved targetPort; it is matched by name.
      const api::EndpointPort* slice_port = nullptr;
      for (const auto& ep : slice.ports) {
        if (ep.name == sp.name) slice_port = &ep;
      }
      if (slice_port == nullptr) continue;
      for (const auto& endpoint : slice.endpoints) {
        if (endpoint.conditions.ready.has_value() && !*endpoint.conditions.ready) continue;
        if (endpoint.conditions.terminating.value_or(false)) continue;
        const api::Resource* pod = nullptr;
        if (endpoint.target_ref && endpoint.target_ref->kind == "Pod") {
          std::string pod_ns =
              endpoint.target_ref->namespace_.empty() ? ns : endpoint.target_ref->namespace_;
          pod = find_pod(pod_ns, endpoint.target_ref->name);
        }
        uint32_t target = 0;
        if (slice_port->port) {
          target = *slice_port->port;
        } else if (sp.target_port_number) {
          target = *sp.target_port_number;
        } else if (!sp.target_port_name.empty() && pod != nullptr) {
          for (const auto& cp : pod->As<api::Pod>().container_ports) {
            if (cp.name == sp.target_port_name) target = cp.container_port;
          }
        } else {
          target = sp.port;
        }
        if (target == 0) continue;
        for (const auto& address : endpoint.addresses) {
          EndpointInfo e;
          e.address = address;
          e.port = target;
          e.zone = endpoint.zone;
          if (pod != nullptr) {
            e.labels = &pod->metadata.labels;
            e.service_account = pod->As<api::Pod>().service_account_name;
            if (e.service_account.empty()) e.service_account = "default";
            info.service_accounts.insert(e.service_account);
          }
          port->endpoints.push_back(std::move(e));
        }
      }
    }
  }
}

void MeshIndex::SortEndpoints() {
  for (auto& [host, info] : services_) {
    for (auto& p : info.ports) {
      std::sort(p.endpoints.begin(), p.endpoints.end(), [](const auto& a, const auto& b) {
        return std::tie(a.zone, a.address, a.port) < std::tie(b.zone, b.address, b.port);
      });
      p.endpoints.erase(std::unique(p.endpoints.begin(), p.endpoints.end(),
                                    [](const auto& a, const auto& b) {
                                      return a.address == b.address && a.port == b.port;
                                    }),
                        p.endpoints.end());
    }
  }
}

void MeshIndex::IndexServiceEntries(const api::ConfigSnapshot& snapshot,
                                    std::vector<CompileDiagnostic>* diags) {
  ObjectsOfKind pods(snapshot, api::Kind::kPod);
  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kServiceEntry)) {
    const auto& se = r->As<api::ServiceEntry>();
    std::string ns = NamespaceOf(*r);
    for (size_t h = 0; h < se.hosts.size(); ++h) {
      const std::string& host = se.hosts[h];
      if (absl::StrContains(host, '*')) {
        diags->push_back(MakeDiagnostic(*r, absl::StrCat("spec.hosts[", h, "]"),
                                        "wildcard ServiceEntry hosts get no cluster",
                                        CompileDiagnostic::Severity::kWarning));
        continue;
      }
      if (services_.count(host) > 0) {
        diags->push_back(MakeDiagnostic(*r, absl::StrCat("spec.hosts[", h, "]"),
                                        "host " + host + " is already defined; ignored",
                                        CompileDiagnostic::Severity::kWarning));
        continue;
      }
      ServiceInfo info;
      info.hostname = host;
      info.namespace_ = ns;
      info.resource = r.get();
      info.from_service_entry = true;
      info.resolution = se.resolution;
      for (const auto& p : se.ports) {
        ServicePortInfo port;
        port.port = p.number;
        port.name = p.name;
        port.protocol = ProtocolFromName(p.protocol);
        uint32_t target = p.target_port.value_or(p.number);
        for (const auto& we : se.endpoints) {
          EndpointInfo e;
          e.address = we.address;
          auto it = we.ports.find(p.name);
          e.port = it != we.ports.end() ? it->second : target;
          e.labels = &we.labels;
          e.zone = we.locality;
          e.weight = we.weight.value_or(0);
          e.service_account = we.service_account;
          if (!e.service_account.empty()) info.service_accounts.insert(e.service_account);
          port.endpoints.push_back(std::move(e));
        }
        if (se.workload_selector) {
          for (const auto& pod : pods) {
            if (NamespaceOf(*pod) != ns) continue;
            if (!LabelsMatch(se.workload_selector->match_labels, pod->metadata.labels)) continue;
            const auto& spec = pod->As<api::Pod>();
            if (spec.pod_ip.empty()) continue;
            EndpointInfo e;
            e.address = spec.pod_ip;
            e.port = target;
            e.labels = &pod->metadata.labels;
            e.service_account = spec.service_account_name;
            port.endpoints.push_back(std::move(e));
          }
        }
        info.ports.push_back(std::move(port));
      }
      std::sort(info.ports.begin(), info.ports.end(),
                [](const auto& a, const auto& b) { return a.port < b.port; });
      services_.emplace(host, std::move(info));
    }
  }
}

void MeshIndex::IndexDestinationRules(const api::ConfigSnapshot& snapshot,
                                      std::vector<CompileDiagnostic>* diags) {
  // Istio's precedence: a rule in the service's own namespace, then one in the
  // root namespace, then any other; an exact host beats a wildcard. Among
  // equals the first by (namespace, name) wins.
  struct Candidate {
    int rank = 0;
    const api::Resource* rule = nullptr;
  };
  std::map<std::string, Candidate> chosen;
  for (const auto& r : ObjectsOfKind(snapshot, api::Kind::kDestinationRule)) {
    const auto& dr = r->As<api::DestinationRule>();
    std::string ns = NamespaceOf(*r);
    std::string host = ResolveHost(dr.host, ns);
    if (dr.workload_selector) {
      // Applied per proxy (CompileForProxy), to the workloads it selects.
      if (absl::StrContains(host, '*')) {
        diags->push_back(MakeDiagnostic(*r, "spec.host",
                                        "a DestinationRule with a workloadSelector needs an exact "
                                        "host; rule ignored"));
      } else if (services_.count(host) == 0) {
        diags->push_back(MakeDiagnostic(*r, "spec.host", "no service for host " + host,
                                        CompileDiagnostic::Severity::kWarning));
      } else {
        workload_rules_.push_back(WorkloadRule{r.get(), host});
      }
      continue;
    }
    bool wildcard = absl::StrContains(host, '*');
    bool matched = false;
    std::vector<ServiceInfo*> targets;
    if (wildcard) {
      for (auto& [hostname, info] : services_) {
        if (HostMatches(host, hostname)) targets.push_back(&info);
      }
    } else if (auto it = services_.find(host); it != services_.end()) {
      targets.push_back(&it->second);
    }
    for (ServiceInfo* target : targets) {
      const std::string& hostname = target->hostname;
      const ServiceInfo& info = *target;
      matched = true;
      int rank = (info.namespace_ == ns           ? 0
                  : ns == options_.root_namespace ? 2
                                                  : 4) +
                 (wildcard ? 1 : 0);
      auto [it, inserted] = chosen.try_emplace(hostname, Candidate{rank, r.get()});
      if (!inserted) {
        if (rank < it->second.rank) {
          it->second = Candidate{rank, r.get()};
        } else if (rank == it->second.rank && !wildcard) {
          diags->push_back(MakeDiagnostic(*r, "spec.host",
                                          "host " + hostname + " already has DestinationRule " +
                                              it->second.rule->Key().ToString() + "; ignored",
                                          CompileDiagnostic::Severity::kWarning));
        }
      }
    }
    if (!matched) {
      diags->push_back(MakeDiagnostic(*r, "spec.host", "no service for host " + host,
                                      CompileDiagnostic::Severity::kWarning));
    }
  }
  for (auto& [hostname, candidate] : chosen) {
    services_.at(hostname).destination_rule = candidate.rule;
  }
}

}  // namespace meshgate::compiler

namespace meshgate::compiler {
namespace {

bool SameEndpoint(const EndpointInfo& a, const EndpointInfo& b) {
  bool same_labels = a.labels == b.labels ||
                     (a.labels != nullptr && b.labels != nullptr && *a.labels == *b.labels);
  return a.address == b.address && a.port == b.port && a.zone == b.zone && a.weight == b.weight &&
         a.service_account == b.service_account && same_labels;
}

bool SameContainerPorts(const api::Pod& x, const api::Pod& y) {
  if (x.container_ports.size() != y.container_ports.size()) return false;
  for (size_t i = 0; i < x.container_ports.size(); ++i) {
    const auto& p = x.container_ports[i];
    const auto& q = y.container_ports[i];
    if (p.name != q.name || p.container_port != q.container_port || p.protocol != q.protocol) {
      return false;
    }
  }
  return true;
}

// Do the service's Istio-mutual clusters verify the service accounts behind
// its endpoints (no subjectAltNames of their own)?
bool VerifiesServiceAccounts(const ServiceInfo& service) {
  if (service.destination_rule == nullptr) return false;
  const auto& rule = service.destination_rule->As<api::DestinationRule>();
  std::vector<std::string> subsets = {""};
  for (const auto& s : rule.subsets) subsets.push_back(s.name);
  for (const auto& port : service.ports) {
    for (const auto& subset : subsets) {
      EffectivePolicy policy = ResolvePolicy(&rule, port.port, subset);
      if (policy.tls && policy.tls->mode == api::ClientTLSSettings::Mode::kIstioMutual &&
          policy.tls->subject_alt_names.empty()) {
        return true;
      }
    }
  }
  return false;
}

// Pods whose container ports differ between the snapshots (added and removed
// pods count when they declare ports): named target ports resolve through them.
bool ContainerPortsChanged(const api::ConfigSnapshot& before, const api::ConfigSnapshot& after) {
  std::map<api::ObjectKey, const api::Pod*> remaining;
  for (const auto& r : ObjectsOfKind(before, api::Kind::kPod)) {
    remaining[r->Key()] = &r->As<api::Pod>();
  }
  for (const auto& r : ObjectsOfKind(after, api::Kind::kPod)) {
    const api::Pod& pod = r->As<api::Pod>();
    auto it = remaining.find(r->Key());
    if (it == remaining.end()) {
      if (!pod.container_ports.empty()) return true;
      continue;
    }
    if (it->second != &pod && !SameContainerPorts(*it->second, pod)) return true;
    remaining.erase(it);
  }
  for (const auto& [key, pod] : remaining) {
    if (!pod->container_ports.empty()) return true;
  }
  return false;
}

}  // namespace

bool MeshIndex::DiffersOnlyInEndpoints(const MeshIndex& previous, std::string* why) const {
  auto differ = [why](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  if (options_.cluster_domain != previous.options_.cluster_domain ||
      options_.trust_domain != previous.options_.trust_domain ||
      options_.root_namespace != previous.options_.root_namespace ||
      options_.default_connect_timeout != previous.options_.default_connect_timeout ||
      options_.outbound_capture_port != previous.options_.outbound_capture_port ||
      options_.inbound_capture_port != previous.options_.inbound_capture_port) {
    return differ("compile options changed");
  }
  if (virtual_services_ != previous.virtual_services_) return differ("VirtualServices changed");
  if (gateways_ != previous.gateways_) return differ("Gateways changed");
  auto same_sidecars = [](const NamespaceSidecars& a, const NamespaceSidecars& b) {
    return a.without_selector == b.without_selector && a.with_selector == b.with_selector;
  };
  if (!std::equal(sidecars_.begin(), sidecars_.end(), previous.sidecars_.begin(),
                  previous.sidecars_.end(), [&](const auto& a, const auto& b) {
                    return a.first == b.first && same_sidecars(a.second, b.second);
                  })) {
    return differ("Sidecars changed");
  }
  if (workload_rules_.size() != previous.workload_rules_.size() ||
      !std::equal(
          workload_rules_.begin(), workload_rules_.end(), previous.workload_rules_.begin(),
          [](const auto& a, const auto& b) { return a.rule == b.rule && a.host == b.host; })) {
    return differ("DestinationRules with a workloadSelector changed");
  }
  if (services_.size() != previous.services_.size()) return differ("the set of services changed");
  bool named_target_ports = false;
  auto old_it = previous.services_.begin();
  for (const auto& [host, info] : services_) {
    const auto& [old_host, old] = *old_it++;
    if (host != old_host) return differ("the set of services changed");
    if (info.resource != old.resource)
      return differ(host + ": its Service or ServiceEntry changed");
    if (info.destination_rule != old.destination_rule) {
      return differ(host + ": its DestinationRule changed");
    }
    if (info.service_accounts != old.service_accounts && VerifiesServiceAccounts(info)) {
      return differ(host + ": its service accounts changed");
    }
    if (info.ports.size() != old.ports.size()) return differ(host + ": its ports changed");
    for (size_t i = 0; i < info.ports.size(); ++i) {
      const auto& p = info.ports[i];
      const auto& q = old.ports[i];
      if (p.port != q.port || p.name != q.name || p.protocol != q.protocol) {
        return differ(host + ": its ports changed");
      }
      // ServiceEntry endpoints are written into the clusters themselves.
      if (info.from_service_entry &&
          !std::equal(p.endpoints.begin(), p.endpoints.end(), q.endpoints.begin(),
                      q.endpoints.end(), SameEndpoint)) {
        return differ(host + ": its ServiceEntry endpoints changed");
      }
    }
    if (!info.from_service_entry) {
      for (const auto& sp : info.resource->As<api::Service>().ports) {
        if (!sp.target_port_name.empty()) named_target_ports = true;
      }
    }
  }
  // Sidecars' inbound listeners resolve named target ports on their pods.
  if (named_target_ports && ContainerPortsChanged(*previous.snapshot_, *snapshot_)) {
    return differ("container ports of pods changed");
  }
  return true;
}

}  // namespace meshgate::compiler
