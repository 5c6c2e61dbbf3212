// XdsPublisher: the control plane's reconcile loop from config to proxies.
//
// It watches the ConfigStore, coalesces changes with the Debouncer (100 ms
// quiet, 10 s at most), compiles the new ConfigSnapshot once into a
// CompiledMesh, and for every proxy group that is connected or has been seen
// builds that group's xDS snapshot and installs it in the SnapshotCache,
// where the ADS server picks it up. Proxy groups are derived from the node
// that opens a stream (GroupHasher): role, namespace and labels, from the
// node metadata meshgate-proxy sends (MESHGATE_ROLE, NAMESPACE, LABELS) or
// that gRPC's proxyless clients send (GENERATOR=grpc or a gRPC user agent);
// for sidecars in Istio's interception mode NONE (INTERCEPTION_MODE), also
// the instance IP (first of INSTANCE_IPS) their inbound listeners bind, and
// whether the pod is dual-stack (an IPv6 address in INSTANCE_IPS: its
// capture listeners bind [::] too).
// A group seen for the first time is compiled on the spot, so its first
// request is answered without waiting for a config change.
//
// Level-based: every pass recompiles from the store's current state. The one
// use made of what woke it is the EDS fast path: when the debouncer releases
// a batch of endpoint-only changes (EndpointSlices, Pods), the mesh is
// rebuilt with compiler::RebuildEndpoints, and every group's snapshot keeps
// its previous non-EDS resources (the very same objects) with new
// ClusterLoadAssignments, so proxies are sent EDS alone. Whenever the
// compiler finds the change is more than endpoints, or a group's snapshot is
// not from the previous mesh, the pass compiles in full. Resources identical
// across groups are shared through the ResourceInterner.
//
// Thread-safety: Start/Stop from one thread; the hasher may be called from
// any thread (gRPC's).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "compiler/compiler.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "operator/config_store.h"
#include "xds-server/debouncer.h"
#include "xds-server/metrics.h"
#include "xds-server/resource.h"
#include "xds-server/snapshot_cache.h"

namespace meshgate::operator_ {

struct XdsPublisherOptions {
  compiler::CompileOptions compile;
  xds::Debouncer::Options debounce;
  // The CA's trust bundle (every trusted root, PEM). When set, every group's
  // snapshot carries it as the SDS Secret `ROOTCA` (Istio's name), so proxies
  // get root rotations by push.
  std::function<std::string()> trust_bundle_pem;
};

// The SDS Secret for a gateway credential `name` (credentialName, or
// "<credentialName>-cacert" for its roots) from the kubernetes.io/tls Secret
// in the proxy group's namespace; nullopt when it is not there (the proxy
// keeps the listener waiting).
std::optional<envoy::extensions::transport_sockets::tls::v3::Secret> CredentialSecret(
    const api::ConfigSnapshot& snapshot, const compiler::ProxyTarget& target,
    const std::string& name);

class XdsPublisher {
 public:
  XdsPublisher(ConfigStore& store, const Clock& clock, xds::MetricsRegistry& metrics,
               XdsPublisherOptions options);
  ~XdsPublisher();

  // The node -> group function for the SnapshotCache. Remembers each group's
  // target and compiles a new group at once.
  xds::NodeHasher GroupHasher();
  // REQUIRES: called once, before any stream can arrive.
  void AttachCache(xds::SnapshotCache* cache) { cache_ = cache; }

  void Start();
  void Stop();
  // Recompiles and republishes now (e.g. after a root rotation).
  void Republish();

  // What the compiler reported in the last pass (object, field path, message).
  std::vector<compiler::CompileDiagnostic> LastDiagnostics() const;
  int64_t PublishedVersion() const;

 private:
  std::string GroupFor(const envoy::config::core::v3::Node& node);
  void OnStoreChange(const StoreChange& change);
  void Run();
  void PublishAll(std::chrono::steady_clock::time_point change_seen, bool endpoints_only = false);
  void PublishGroup(const std::string& group, const compiler::ProxyTarget& target,
                    const compiler::CompiledMesh& mesh, uint64_t mesh_generation,
                    std::chrono::steady_clock::time_point change_seen);
  // The fast path for one group: its current snapshot with the mesh's load
  // assignments. False (nothing published) when the group's snapshot is not
  // from mesh `previous_generation`.
  bool PublishGroupEndpoints(const std::string& group, const compiler::CompiledMesh& mesh,
                             uint64_t previous_generation, uint64_t mesh_generation,
                             std::chrono::steady_clock::time_point change_seen);
  absl::StatusOr<xds::ResourcePtr> Intern(const std::string& name,
                                          const google::protobuf::Message& message,
                                          uint64_t content_hash);

  ConfigStore& store_;
  const Clock& clock_;
  xds::MetricsRegistry& metrics_;
  XdsPublisherOptions options_;
  xds::SnapshotCache* cache_ = nullptr;
  xds::Debouncer debouncer_;
  xds::ResourceInterner interner_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, compiler::ProxyTarget> targets_;
  compiler::CompiledMeshPtr mesh_;
  uint64_t mesh_generation_ = 0;  // of mesh_; increases with every compile pass
  // Per group, the generation of the mesh its cached snapshot was built from
  // (guarded by compile_mu_).
  std::map<std::string, uint64_t> group_generation_;
  xds::Counter* eds_fast_path_ = nullptr;
  xds::Counter* full_compiles_ = nullptr;
  std::vector<compiler::CompileDiagnostic> diagnostics_;
  int64_t published_version_ = -1;
  std::mutex compile_mu_;  // one compile pass or new-group publish at a time; taken before mu_
  ConfigStore::SubscriptionId subscription_ = 0;
  std::thread thread_;
};

}  // namespace meshgate::operator_
