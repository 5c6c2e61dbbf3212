#include "operator/xds_publisher.h"

#include <google/protobuf/struct.pb.h>

#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "spdlog/spdlog.h"

namespace meshgate::operator_ {
namespace {

using compiler::ProxyTarget;

std::string StringField(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || !it->second.has_string_value()) return "";
  return it->second.string_value();
}

ProxyTarget TargetOf(const envoy::config::core::v3::Node& node) {
  ProxyTarget t;
  const auto& md = node.metadata();
  std::string role = StringField(md, "MESHGATE_ROLE");
  if (role == "gateway") {
    t.role = ProxyTarget::Role::kGateway;
  } else if (role == "sidecar") {
    t.role = ProxyTarget::Role::kSidecar;
  } else if (StringField(md, "GENERATOR") == "grpc" ||
             node.user_agent_name().find("gRPC") != std::string::npos ||
             node.user_agent_name().find("grpc") != std::string::npos) {
    t.role = ProxyTarget::Role::kProxylessGrpc;
  } else {
    t.role = ProxyTarget::Role::kSidecar;
  }
  t.namespace_ = StringField(md, "NAMESPACE");
  if (t.namespace_.empty()) t.namespace_ = "default";
  if (auto it = md.fields().find("LABELS");
      it != md.fields().end() && it->second.has_struct_value()) {
    for (const auto& [k, v] : it->second.struct_value().fields()) {
      if (v.has_string_value()) t.labels[k] = v.string_value();
    }
  }
  t.workload_name = StringField(md, "WORKLOAD_NAME");
  // Istio's names: INTERCEPTION_MODE REDIRECT|TPROXY|NONE, and INSTANCE_IPS
  // a comma-separated list whose first entry is the workload's address.
  if (StringField(md, "INTERCEPTION_MODE") == "NONE") {
    t.interception_mode = ProxyTarget::InterceptionMode::kNone;
  }
  std::string ips = StringField(md, "INSTANCE_IPS");
  t.instance_ip = ips.substr(0, ips.find(','));
  // An IPv6 address among them: a dual-stack pod, whose capture listeners
  // also take IPv6.
  t.dual_stack = ips.find(':') != std::string::npos;
  return t;
}

std::string GroupKey(const ProxyTarget& t) {
  std::string key;
  switch (t.role) {
    case ProxyTarget::Role::kGateway:
      key = "gateway";
      break;
    case ProxyTarget::Role::kSidecar:
      key = "sidecar";
      break;
    case ProxyTarget::Role::kProxylessGrpc:
      key = "grpc";
      break;
  }
  key += "/" + t.namespace_ + "/";
  bool first = true;
  for (const auto& [k, v] : t.labels) {  // std::map: sorted, so the key is canonical
    if (!first) key += ",";
    first = false;
    key += k + "=" + v;
  }
  // Bound inbound listeners depend on the instance IP, so capture-less
  // sidecars cannot share a group with one another or with captured ones.
  if (t.interception_mode == ProxyTarget::InterceptionMode::kNone) {
    key += "/none/" + t.instance_ip;
  }
  if (t.dual_stack) key += "/dual-stack";
  return key;
}

}  // namespace

XdsPublisher::XdsPublisher(ConfigStore& store, const Clock& clock, xds::MetricsRegistry& metrics,
                           XdsPublisherOptions options)
    : store_(store),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      debouncer_(clock, options_.debounce, &metrics) {
  eds_fast_path_ =
      metrics_.GetCounter("meshgate_xds_eds_only_pushes_total",
                          "Compile passes that rebuilt only endpoints (the EDS fast path)");
  full_compiles_ =
      metrics_.GetCounter("meshgate_xds_full_compiles_total", "Compile passes of the whole mesh");
}

XdsPublisher::~XdsPublisher() { Stop(); }

xds::NodeHasher XdsPublisher::GroupHasher() {
  return [this](const envoy::config::core::v3::Node& node) { return GroupFor(node); };
}

std::string XdsPublisher::GroupFor(const envoy::config::core::v3::Node& node) {
  ProxyTarget target = TargetOf(node);
  std::string group = GroupKey(target);
  {
    std::lock_guard lock(mu_);
    if (!targets_.emplace(group, target).second) return group;
  }
  spdlog::info("xds: new proxy group {} (node {})", group, node.id());
  // Serialised with compile passes, and reading the mesh under that lock: a
  // pass that started before the group was known cannot land after this and
  // leave the group on an older mesh (nor share the interner concurrently).
  std::lock_guard compile_lock(compile_mu_);
  compiler::CompiledMeshPtr mesh;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    mesh = mesh_;
    generation = mesh_generation_;
  }
  if (mesh) PublishGroup(group, target, *mesh, generation, clock_.Monotonic());
  return group;
}

void XdsPublisher::Start() {
  subscription_ = store_.Subscribe([this](const StoreChange& change) { OnStoreChange(change); });
  PublishAll(clock_.Monotonic());  // the state loaded before we subscribed
  thread_ = std::thread([this] { Run(); });
}

void XdsPublisher::Stop() {
  if (subscription_ != 0) store_.Unsubscribe(subscription_);
  subscription_ = 0;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void XdsPublisher::Republish() { PublishAll(clock_.Monotonic()); }

void XdsPublisher::OnStoreChange(const StoreChange& change) {
  // Endpoint-only changes (EndpointSlices, Pods) may take the EDS fast path;
  // the compiler has the last word on whether they really are.
  bool endpoints_only = true;
  auto is_endpoint_kind = [](const api::ObjectKey& k) {
    return k.kind == api::Kind::kEndpointSlice || k.kind == api::Kind::kPod;
  };
  for (const auto& k : change.upserted) endpoints_only = endpoints_only && is_endpoint_kind(k);
  for (const auto& k : change.deleted) endpoints_only = endpoints_only && is_endpoint_kind(k);
  debouncer_.Add(endpoints_only);
  cv_.notify_all();
}

void XdsPublisher::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto deadline = debouncer_.NextDeadline();
    if (!deadline) {
      cv_.wait(lock);
      continue;
    }
    // The debouncer runs on the injected clock; the wait itself is real time.
    auto wait = *deadline - clock_.Monotonic();
    if (wait > std::chrono::steady_clock::duration::zero()) {
      cv_.wait_for(lock, wait);
      continue;
    }
    auto batch = debouncer_.Poll();
    if (!batch) continue;
    lock.unlock();
    PublishAll(batch->first_event, batch->endpoints_only);
    lock.lock();
  }
}

void XdsPublisher::PublishAll(std::chrono::steady_clock::time_point change_seen,
                              bool endpoints_only) {
  std::lock_guard compile_lock(compile_mu_);
  api::ConfigSnapshotPtr snapshot = store_.Snapshot();
  compiler::CompiledMeshPtr previous;
  uint64_t previous_generation = 0;
  {
    std::lock_guard lock(mu_);
    previous = mesh_;
    previous_generation = mesh_generation_;
  }
  compiler::CompiledMeshPtr mesh;
  if (endpoints_only && previous != nullptr) {
    std::string why;
    mesh = compiler::RebuildEndpoints(*previous, snapshot, &why);
    if (mesh == nullptr) spdlog::info("xds: endpoint change needs a full compile: {}", why);
  }
  const bool fast_path = mesh != nullptr;
  if (!fast_path) mesh = compiler::BuildMesh(snapshot, options_.compile);
  (fast_path ? eds_fast_path_ : full_compiles_)->Inc();
  std::map<std::string, ProxyTarget> targets;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    mesh_ = mesh;
    generation = ++mesh_generation_;
    targets = targets_;
    diagnostics_ = mesh->diagnostics;
    published_version_ = snapshot->resource_version;
  }
  for (const auto& d : mesh->diagnostics) spdlog::warn("compile: {}", d.ToString());
  for (const auto& [group, target] : targets) {
    if (fast_path &&
        PublishGroupEndpoints(group, *mesh, previous_generation, generation, change_seen)) {
      continue;
    }
    PublishGroup(group, target, *mesh, generation, change_seen);
  }
}

absl::StatusOr<xds::ResourcePtr> XdsPublisher::Intern(const std::string& name,
                                                      const google::protobuf::Message& message,
                                                      uint64_t content_hash) {
  auto resource = interner_.Intern(name, message, content_hash);
  if (!resource.ok()) {
    spdlog::error("xds: {}: {}", name, std::string(resource.status().message()));
  }
  return resource;
}

bool XdsPublisher::PublishGroupEndpoints(const std::string& group,
                                         const compiler::CompiledMesh& mesh,
                                         uint64_t previous_generation, uint64_t mesh_generation,
                                         std::chrono::steady_clock::time_point change_seen) {
  if (cache_ == nullptr) return true;
  auto published = group_generation_.find(group);
  if (published == group_generation_.end() || published->second != previous_generation) {
    return false;
  }
  xds::SnapshotPtr current = cache_->GetSnapshot(group).snapshot;
  if (current == nullptr) return false;
  xds::Snapshot::Builder builder;
  for (const std::string& type : current->TypeUrls()) {
    builder.AddEmptyType(type);
    if (type == xds::kEndpointType) continue;
    for (const auto& [name, resource] : current->Resources(type)) builder.Add(resource);
  }
  for (const auto& [name, v] : mesh.endpoints) {
    auto resource = Intern(name, *v.resource, v.hash);
    if (resource.ok()) builder.Add(*resource);
  }
  if (absl::Status s = cache_->SetSnapshot(group, builder.Build(), change_seen); !s.ok()) {
    spdlog::error("xds: snapshot for {} rejected: {}", group, std::string(s.message()));
    return false;
  }
  published->second = mesh_generation;
  return true;
}

namespace {

const std::string* SecretValue(const api::Secret& secret, const std::string& key) {
  auto it = secret.data.find(key);
  return it == secret.data.end() || it->second.empty() ? nullptr : &it->second;
}

}  // namespace

std::optional<envoy::extensions::transport_sockets::tls::v3::Secret> CredentialSecret(
    const api::ConfigSnapshot& snapshot, const compiler::ProxyTarget& target,
    const std::string& name) {
  const std::string ns = target.namespace_.empty() ? "default" : target.namespace_;
  auto find = [&](const std::string& object) -> const api::Secret* {
    api::ResourcePtr r = snapshot.Find(api::ObjectKey{api::Kind::kSecret, ns, object});
    return r == nullptr ? nullptr : &r->As<api::Secret>();
  };
  envoy::extensions::transport_sockets::tls::v3::Secret out;
  out.set_name(name);
  constexpr std::string_view kCaSuffix = "-cacert";
  if (name.size() > kCaSuffix.size() &&
      name.compare(name.size() - kCaSuffix.size(), kCaSuffix.size(), kCaSuffix) == 0) {
    const std::string base = name.substr(0, name.size() - kCaSuffix.size());
    const std::string* ca = nullptr;
    if (const api::Secret* s = find(base)) ca = SecretValue(*s, "ca.crt");
    if (ca == nullptr) {
      if (const api::Secret* s = find(name)) {
        ca = SecretValue(*s, "ca.crt");
        if (ca == nullptr) ca = SecretValue(*s, "cacert");
      }
    }
    if (ca == nullptr) return std::nullopt;
    out.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(*ca);
    return out;
  }
  const api::Secret* s = find(name);
  if (s == nullptr) return std::nullopt;
  const std::string* cert = SecretValue(*s, "tls.crt");
  const std::string* key = SecretValue(*s, "tls.key");
  if (cert == nullptr || key == nullptr) {
    spdlog::warn("Secret/{}/{}: credentialName needs tls.crt and tls.key", ns, name);
    return std::nullopt;
  }
  auto* tls = out.mutable_tls_certificate();
  tls->mutable_certificate_chain()->set_inline_bytes(*cert);
  tls->mutable_private_key()->set_inline_bytes(*key);
  return out;
}

void XdsPublisher::PublishGroup(const std::string& group, const ProxyTarget& target,
                                const compiler::CompiledMesh& mesh, uint64_t mesh_generation,
                                std::chrono::steady_clock::time_point change_seen) {
  if (cache_ == nullptr) return;
  compiler::CompiledResources resources = compiler::CompileForProxy(mesh, target);
  xds::Snapshot::Builder builder;
  auto add_hashed = [&](const std::string& name, const google::protobuf::Message& message,
                        uint64_t content_hash) {
    auto resource = Intern(name, message, content_hash);
    if (resource.ok()) builder.Add(*resource);
  };
  auto add = [&](const std::string& name, const google::protobuf::Message& message) {
    auto resource = interner_.Intern(name, message);
    if (resource.ok()) {
      builder.Add(*resource);
    } else {
      spdlog::error("xds: {}: {}", name, std::string(resource.status().message()));
    }
  };
  if (target.role == ProxyTarget::Role::kProxylessGrpc) {
    // gRPC clients ask for listeners by name (HOST:PORT) and accept only
    // api_listeners; give them one per service port.
    resources.listeners.clear();
    resources.routes.clear();
    resources.clusters = mesh.GrpcClusters();
    for (const std::string& name : compiler::ListenerNamesForProxyless(mesh)) {
      auto pl = compiler::CompileProxylessListener(mesh, target, name);
      if (!pl.ok()) continue;
      resources.listeners[name] = pl->listener;
      resources.routes[pl->route.resource->name()] = pl->route;
    }
  }
  for (const auto& [name, v] : resources.listeners) add_hashed(name, *v.resource, v.hash);
  for (const auto& [name, v] : resources.routes) add_hashed(name, *v.resource, v.hash);
  for (const auto& [name, v] : resources.clusters) add_hashed(name, *v.resource, v.hash);
  for (const auto& [name, v] : resources.endpoints) add_hashed(name, *v.resource, v.hash);
  // Gateway credentials (credentialName) come from kubernetes.io/tls Secrets
  // in the gateway's namespace, as Istio's gateways read them: tls.crt and
  // tls.key make the certificate; ca.crt (or a "<name>-cacert" Secret) the
  // roots for MUTUAL mode, served as "<name>-cacert".
  for (const std::string& name : resources.secrets) {
    if (name == "default" || name == "ROOTCA" || name.rfind("file-", 0) == 0) continue;
    if (auto secret = CredentialSecret(*mesh.snapshot, target, name)) add(name, *secret);
  }
  if (options_.trust_bundle_pem) {
    envoy::extensions::transport_sockets::tls::v3::Secret root;
    root.set_name("ROOTCA");
    root.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(
        options_.trust_bundle_pem());
    add("ROOTCA", root);
  }
  builder.AddEmptyType(xds::kListenerType);
  builder.AddEmptyType(xds::kClusterType);
  builder.AddEmptyType(xds::kRouteType);
  builder.AddEmptyType(xds::kEndpointType);
  auto snapshot = builder.Build();
  for (const auto& d : resources.diagnostics) spdlog::warn("compile {}: {}", group, d.ToString());
  if (absl::Status s = cache_->SetSnapshot(group, snapshot, change_seen); !s.ok()) {
    spdlog::error("xds: snapshot for {} rejected: {}", group, std::string(s.message()));
    group_generation_.erase(group);
    return;
  }
  group_generation_[group] = mesh_generation;
}

std::vector<compiler::CompileDiagnostic> XdsPublisher::LastDiagnostics() const {
  std::lock_guard lock(mu_);
  return diagnostics_;
}

int64_t XdsPublisher::PublishedVersion() const {
  std::lock_guard lock(mu_);
  return published_version_;
}

}  // namespace meshgate::operator_
