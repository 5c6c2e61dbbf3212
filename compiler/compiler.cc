#include "compiler/compiler.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "compiler/internal.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace meshgate::compiler {
namespace {

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 29;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 32;
  return h;
}

// Streaming 64-bit hash over 8-byte words; the serialization is hashed as
// it is produced, so no resource is ever materialized as one string.
class HashingStream final : public google::protobuf::io::ZeroCopyOutputStream {
 public:
  bool Next(void** data, int* size) override {
    Absorb(pending_);
    *data = buffer_;
    *size = sizeof(buffer_);
    pending_ = sizeof(buffer_);
    return true;
  }
  void BackUp(int count) override { pending_ -= count; }
  int64_t ByteCount() const override { return total_ + pending_; }

  uint64_t Finish() {
    Absorb(pending_);
    pending_ = 0;
    uint64_t tail = 0;
    std::memcpy(&tail, carry_, carry_len_);
    uint64_t h = state_ ^ Mix(tail ^ (static_cast<uint64_t>(carry_len_) << 56));
    return Mix(h ^ (static_cast<uint64_t>(total_) * 0x9e3779b97f4a7c15ULL));
  }

 private:
  void Word(uint64_t word) {
    state_ = (state_ ^ Mix(word)) * 0x9e3779b97f4a7c15ULL;
    state_ = (state_ << 27) | (state_ >> 37);
  }
  void Absorb(int length) {
    const char* p = buffer_;
    total_ += length;
    while (length > 0 && carry_len_ > 0 && carry_len_ < 8) {
      carry_[carry_len_++] = *p++;
      --length;
      if (carry_len_ == 8) {
        uint64_t word;
        std::memcpy(&word, carry_, 8);
        Word(word);
        carry_len_ = 0;
        break;
      }
    }
    for (; length >= 8; length -= 8, p += 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      Word(word);
    }
    for (; length > 0; --length) carry_[carry_len_++] = *p++;
  }

  char buffer_[8192];
  int pending_ = 0;
  int64_t total_ = 0;
  char carry_[8] = {};
  int carry_len_ = 0;
  uint64_t state_ = 0x2545f4914f6cdd1dULL;
};

void Normalize(std::vector<CompileDiagnostic>* diags) {
  std::sort(diags->begin(), diags->end());
  diags->erase(std::unique(diags->begin(), diags->end()), diags->end());
}

// Route configurations shared between the proxies of one batch.
struct SharedRoutes {
  // (namespace, Sidecar or null, port) -> route config not depending on labels.
  std::map<std::tuple<std::string, const api::Resource*, uint32_t>, Versioned<RouteConfiguration>>
      by_namespace;
};

// Drops the outbound clusters (and their load assignments) of services the
// proxy's Sidecar does not import, and adds BlackHoleCluster when its
// outbound traffic policy is REGISTRY_ONLY.
void ScopeClusters(const MeshIndex& index, const SidecarScope& sidecar,
                   absl::string_view proxy_namespace, CompiledResources* out) {
  for (auto it = out->clusters.begin(); it != out->clusters.end();) {
    uint32_t port = 0;
    absl::string_view host;
    bool keep = true;
    if (ParseOutboundClusterName(it->first, &port, &host)) {
      const ServiceInfo* service = index.FindService(host);
      keep = service != nullptr && index.ServiceVisible(*service, proxy_namespace, &sidecar, port);
    }
    if (keep) {
      ++it;
    } else {
      out->endpoints.erase(it->first);
      it = out->clusters.erase(it);
    }
  }
  if (sidecar.registry_only()) out->clusters.emplace("BlackHoleCluster", Seal(BlackHoleCluster()));
}

void AddMeshResources(const CompiledMesh& mesh, bool grpc, CompiledResources* out) {
  out->clusters = grpc ? mesh.GrpcClusters() : mesh.clusters;
  out->endpoints = mesh.endpoints;
  out->diagnostics = mesh.diagnostics;
  if (grpc) {
    out->diagnostics.insert(out->diagnostics.end(), mesh.grpc_diagnostics.begin(),
                            mesh.grpc_diagnostics.end());
  }
  if (!grpc) out->secrets = mesh.cluster_secrets;
}

CompiledResources CompileOne(const CompiledMesh& mesh, const ProxyTarget& target,
                             SharedRoutes* shared) {
  CompiledResources out;
  switch (target.role) {
    case ProxyTarget::Role::kProxylessGrpc:
      // Listeners and routes are asked for by name: CompileProxylessListener.
      AddMeshResources(mesh, true, &out);
      break;
    case ProxyTarget::Role::kGateway:
      AddMeshResources(mesh, false, &out);
      ApplyWorkloadRules(*mesh.index, target, &out);
      BuildGateway(mesh, target, &out);
      break;
    case ProxyTarget::Role::kSidecar: {
      AddMeshResources(mesh, false, &out);
      ApplyWorkloadRules(*mesh.index, target, &out);
      std::string ns = target.namespace_.empty() ? "default" : target.namespace_;
      const api::Resource* sidecar_resource = mesh.index->SidecarFor(ns, target.labels);
      std::optional<SidecarScope> sidecar;
      if (sidecar_resource != nullptr) {
        sidecar.emplace(*sidecar_resource, *mesh.index);
        ScopeClusters(*mesh.index, *sidecar, ns, &out);
      }
      const SidecarScope* scope = sidecar ? &*sidecar : nullptr;
      std::set<uint32_t> http_ports;
      for (const auto& [host, service] : mesh.index->services()) {
        for (const auto& p : service.ports) {
          if (!IsHttp(p.protocol)) continue;
          if (scope != nullptr && !mesh.index->ServiceVisible(service, ns, scope, p.port)) continue;
          http_ports.insert(p.port);
        }
      }
      for (uint32_t port : http_ports) {
        std::string name = absl::StrCat(port);
        auto key = std::make_tuple(ns, sidecar_resource, port);
        if (shared != nullptr) {
          auto it = shared->by_namespace.find(key);
          if (it != shared->by_namespace.end()) {
            out.routes.emplace(name, it->second);
            continue;
          }
        }
        bool proxy_dependent = false;
        RouteContext ctx;
        ctx.index = mesh.index.get();
        ctx.gateway_keys = {"mesh"};
        ctx.port = port;
        ctx.proxy_namespace = ns;
        ctx.proxy_labels = &target.labels;
        ctx.diagnostics = &out.diagnostics;
        ctx.proxy_dependent = &proxy_dependent;
        ctx.sidecar = scope;
        ctx.cache = mesh.route_cache.get();
        auto rc = std::make_shared<RouteConfigOnArena>();
        SidecarRouteConfig(ctx, port, rc->message());
        auto versioned = SealOnArena(std::move(rc));
        if (shared != nullptr && !proxy_dependent) shared->by_namespace.emplace(key, versioned);
        out.routes.emplace(name, std::move(versioned));
      }
      BuildSidecarListeners(mesh, target, scope, http_ports, &out);
      break;
    }
  }
  for (const auto& [name, c] : out.clusters) {
    if (absl::StartsWith(name, "inbound|")) CollectSecrets(*c.resource, &out.secrets);
  }
  Normalize(&out.diagnostics);
  return out;
}

}  // namespace

uint64_t ContentHash(const google::protobuf::Message& message) {
  HashingStream stream;
  {
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return stream.Finish();
}

CompiledMeshPtr BuildMesh(api::ConfigSnapshotPtr snapshot, const CompileOptions& options) {
  auto mesh = std::make_shared<CompiledMesh>();
  mesh->options = options;
  mesh->snapshot = snapshot;
  std::vector<CompileDiagnostic> index_diagnostics;
  auto index = std::make_shared<MeshIndex>(*snapshot, options, &index_diagnostics);
  mesh->index = index;
  BuildClusters(*index, mesh.get());
  // Translate every service port's routes once, against a neutral proxy: the
  // result is shared by all proxies whose routes do not depend on them, and
  // route problems are reported even when no proxy is compiled.
  auto cache = std::make_shared<MeshRouteCache>();
  for (const auto& [host, service] : index->services()) {
    for (const auto& p : service.ports) {
      if (!IsHttp(p.protocol)) continue;
      // Cached: the translation of the host's first VirtualService, whatever
      // it is exported to (SidecarRouteConfig uses it only where it applies).
      const api::Resource* first = index->MeshVirtualService(host);
      bool proxy_dependent = false;
      api::Labels no_labels;
      RouteContext ctx;
      ctx.index = index.get();
      ctx.gateway_keys = {"mesh"};
      ctx.port = p.port;
      ctx.proxy_namespace = service.namespace_;
      ctx.proxy_labels = &no_labels;
      ctx.diagnostics = &mesh->diagnostics;
      ctx.proxy_dependent = &proxy_dependent;
      auto* vhost = google::protobuf::Arena::CreateMessage<envoy::config::route::v3::VirtualHost>(
          &cache->arena);
      AddServiceRoutesOf(ctx, service, first, vhost);
      if (!proxy_dependent) cache->routes.emplace(std::make_pair(host, p.port), vhost);
    }
  }
  mesh->route_cache = std::move(cache);
  Normalize(&mesh->diagnostics);
  mesh->resource_diagnostics = mesh->diagnostics;
  mesh->diagnostics.insert(mesh->diagnostics.end(), index_diagnostics.begin(),
                           index_diagnostics.end());
  Normalize(&mesh->diagnostics);
  Normalize(&mesh->grpc_diagnostics);
  return mesh;
}

const ResourceMap<Cluster>& CompiledMesh::GrpcClusters() const {
  std::call_once(grpc_clusters_once_, [this] {
    grpc_clusters_ = ProxylessClusters(clusters);
    grpc_clusters_made_.store(true, std::memory_order_release);
  });
  return grpc_clusters_;
}

void CompiledMesh::AdoptGrpcClusters(const CompiledMesh& previous) {
  if (!previous.grpc_clusters_made_.load(std::memory_order_acquire)) return;
  std::call_once(grpc_clusters_once_, [&] {
    grpc_clusters_ = previous.grpc_clusters_;
    grpc_clusters_made_.store(true, std::memory_order_release);
  });
}

CompiledMeshPtr RebuildEndpoints(const CompiledMesh& previous, api::ConfigSnapshotPtr snapshot,
                                 std::string* why) {
  std::vector<CompileDiagnostic> index_diagnostics;
  auto index = std::make_shared<MeshIndex>(*snapshot, previous.options, &index_diagnostics);
  if (!index->DiffersOnlyInEndpoints(*previous.index, why)) return nullptr;
  auto mesh = std::make_shared<CompiledMesh>();
  mesh->options = previous.options;
  mesh->snapshot = std::move(snapshot);
  mesh->index = index;
  mesh->route_cache = previous.route_cache;
  mesh->clusters = previous.clusters;
  mesh->AdoptGrpcClusters(previous);
  mesh->cluster_secrets = previous.cluster_secrets;
  mesh->grpc_diagnostics = previous.grpc_diagnostics;
  mesh->resource_diagnostics = previous.resource_diagnostics;
  RebuildLoadAssignments(*index, previous, mesh.get());
  mesh->diagnostics = previous.resource_diagnostics;
  mesh->diagnostics.insert(mesh->diagnostics.end(), index_diagnostics.begin(),
                           index_diagnostics.end());
  Normalize(&mesh->diagnostics);
  return mesh;
}

CompiledResources CompileForProxy(const CompiledMesh& mesh, const ProxyTarget& target) {
  return CompileOne(mesh, target, nullptr);
}

std::vector<CompiledResources> CompileForProxies(const CompiledMesh& mesh,
                                                 const std::vector<ProxyTarget>& targets) {
  SharedRoutes shared;
  std::vector<CompiledResources> out;
  out.reserve(targets.size());
  for (const auto& t : targets) out.push_back(CompileOne(mesh, t, &shared));
  return out;
}

CompiledResources Compile(api::ConfigSnapshotPtr snapshot, const ProxyTarget& target,
                          const CompileOptions& options) {
  CompiledMeshPtr mesh = BuildMesh(std::move(snapshot), options);
  return CompileForProxy(*mesh, target);
}

std::vector<std::string> ListenerNamesForProxyless(const CompiledMesh& mesh) {
  std::vector<std::string> names;
  for (const auto& [host, service] : mesh.index->services()) {
    for (const auto& p : service.ports) names.push_back(absl::StrCat(host, ":", p.port));
  }
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// gRPC's xDS client (1.51, Debian's) predates HeaderMatcher.string_match and
// NACKs it ("Invalid route header matcher specified"); it reads the older,
// now deprecated, per-kind fields. Rewrite the matchers it can express that
// way; ignore_case has no legacy form and is left for the client to refuse.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void UseLegacyHeaderMatchers(RouteConfiguration& rc) {
  for (auto& vhost : *rc.mutable_virtual_hosts()) {
    for (auto& route : *vhost.mutable_routes()) {
      for (auto& h : *route.mutable_match()->mutable_headers()) {
        if (!h.has_string_match() || h.string_match().ignore_case()) continue;
        auto sm = h.string_match();
        switch (sm.match_pattern_case()) {
          case envoy::type::matcher::v3::StringMatcher::kExact:
            h.set_exact_match(sm.exact());
            break;
          case envoy::type::matcher::v3::StringMatcher::kPrefix:
            h.set_prefix_match(sm.prefix());
            break;
          case envoy::type::matcher::v3::StringMatcher::kSuffix:
            h.set_suffix_match(sm.suffix());
            break;
          case envoy::type::matcher::v3::StringMatcher::kContains:
            h.set_contains_match(sm.contains());
            break;
          case envoy::type::matcher::v3::StringMatcher::kSafeRegex:
            *h.mutable_safe_regex_match() = sm.safe_regex();
            break;
          default:
            break;
        }
      }
    }
  }
}
#pragma GCC diagnostic pop

}  // namespace

absl::StatusOr<ProxylessListener> CompileProxylessListener(const CompiledMesh& mesh,
                                                           const ProxyTarget& target,
                                                           std::string_view listener_name_std) {
  absl::string_view listener_name(listener_name_std.data(), listener_name_std.size());
  auto colon = listener_name.rfind(':');
  uint32_t port = 0;
  if (colon == std::string_view::npos ||
      !absl::SimpleAtoi(listener_name.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("listener name \"", listener_name, "\" is not HOST:PORT"));
  }
  absl::string_view host = listener_name.substr(0, colon);
  std::string ns = target.namespace_.empty() ? "default" : target.namespace_;
  const ServiceInfo* service = mesh.index->FindService(mesh.index->ResolveHost(host, ns));
  if (service == nullptr || service->FindPort(port) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no service port for \"", listener_name, "\""));
  }
  ProxylessListener out;
  std::string name(listener_name);

  RouteConfiguration rc;
  rc.set_name(name);
  auto* vhost = rc.add_virtual_hosts();
  vhost->set_name(name);
  std::set<std::string> domains = {name, std::string(host), service->hostname,
                                   absl::StrCat(service->hostname, ":", port)};
  for (const auto& d : domains) vhost->add_domains(d);
  RouteContext ctx;
  ctx.index = mesh.index.get();
  ctx.gateway_keys = {"mesh"};
  ctx.grpc = true;
  ctx.port = port;
  ctx.proxy_namespace = ns;
  ctx.proxy_labels = &target.labels;
  ctx.diagnostics = &out.diagnostics;
  AddServiceRoutes(ctx, *service, vhost);
  UseLegacyHeaderMatchers(rc);
  out.route = Seal(std::move(rc));

  Listener l;
  l.set_name(name);
  l.mutable_api_listener()->mutable_api_listener()->PackFrom(MakeHcm(name, name, true));
  out.listener = Seal(std::move(l));
  Normalize(&out.diagnostics);
  return out;
}

}  // namespace meshgate::compiler
