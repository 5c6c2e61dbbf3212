// XdsPublisher: the control plane's reconcile loop from config to proxies.
//
// It watches the ConfigStore, coalesces changes with the Debouncer (100 ms
// quiet, 10 s at most), compiles the new ConfigSnapshot once into a
// CompiledMesh, and for every proxy group that is connected or has been seen
// builds that group's xDS snapshot and installs it in the SnapshotCache,
// where the ADS server picks it up. Proxy groups are derived from the node
// that opens a stream (GroupHasher): role, namespace and labels, from the
// node metadata meshgate-proxy sends (MESHGATE_ROLE, NAMESPACE, LABELS) or
// that gRPC's proxyless clients send (GENERATOR=grpc or a gRPC user agent).
// A group seen for the first time is compiled on the spot, so its first
// request is answered without waiting for a config change.
//
// Level-based: every pass recompiles from the store's current state; which
// change woke it does not matter. Resources identical across groups are
// shared through the ResourceInterner.
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
  void PublishAll(std::chrono::steady_clock::time_point change_seen);
  void PublishGroup(const std::string& group, const compiler::ProxyTarget& target,
                    const compiler::CompiledMesh& mesh,
                    std::chrono::steady_clock::time_point change_seen);

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
  std::vector<compiler::CompileDiagnostic> diagnostics_;
  int64_t published_version_ = -1;
  std::mutex compile_mu_;  // one compile pass or new-group publish at a time; taken before mu_
  ConfigStore::SubscriptionId subscription_ = 0;
  std::thread thread_;
};

}  // namespace meshgate::operator_
