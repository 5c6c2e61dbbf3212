// ConfigSnapshot and ConfigStore: the proxy's whole runtime configuration as
// one immutable value, and the single writer that turns xDS updates into new
// snapshots.
//
// The xDS client hands every received update (state-of-the-world or delta) to
// the ConfigStore. The store translates all resources of the update first; if
// any fails, the update is refused as a whole (the returned status names the
// resource, field and reason — the NACK message) and the current snapshot is
// untouched. Otherwise it builds a new ConfigSnapshot that shares the
// unchanged parts with the previous one and publishes it atomically. Workers
// load the snapshot once per request (or per connection) with Current() and
// keep the shared_ptr for as long as they use it, so a request sees one whole
// configuration, never half of two.
//
// TLS: SDS secrets are one more resource type (SetSecrets / UpdateSecrets);
// a locally held secret (the sidecar's own workload certificate, from the
// CertificateRotator) is set with SetLocalSecret and takes precedence over
// one of the same name from the control plane. Every publish resolves the
// TLS context of each TLS filter chain and cluster from its config and the
// secrets it names; an unchanged user keeps its TlsContext (and the TLS
// sessions it issued), a changed one gets a new context that applies to new
// handshakes only. A user whose secret has not arrived has no context yet
// (status NOT_FOUND): its listener is not started, its cluster cannot
// connect. A TLS config that cannot be honoured with the secrets at hand
// refuses the update that caused it.
//
// Thread-safety: ConfigSnapshot is immutable. ConfigStore's update methods
// may be called from any thread (they serialise on an internal mutex);
// Current() is lock-free for readers and safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "proxy/config/cluster_translator.h"
#include "proxy/config/listener_translator.h"
#include "proxy/config/tls_translator.h"
#include "proxy/router/route_table.h"

namespace meshgate::proxy::config {

// One TLS user's context: a filter chain (server side) or a cluster (client).
struct ResolvedTls {
  std::shared_ptr<const network::TlsContext> context;  // null until resolvable
  absl::Status status;                                 // why there is no context
  // The context needs a secret that can never arrive (see
  // ConfigStore::SetUnavailableSecrets): its users are left out instead of
  // waited for.
  bool unavailable = false;
  // The inputs it was built from, so an unchanged user keeps its context.
  const void* tls_config = nullptr;
  std::vector<std::shared_ptr<const SecretConfig>> secrets;
};

// The ALPN protocols the proxy's HTTP codecs can speak, in preference order:
// a downstream TLS listener accepts no more than SupportedAlpn(); an upstream
// cluster offers no more than UpstreamAlpn(its protocol).
const std::vector<std::string>& SupportedAlpn();
const std::vector<std::string>& UpstreamAlpn(UpstreamProtocol protocol);

struct ConfigSnapshot {
  template <typename T>
  using ByName = absl::flat_hash_map<std::string, std::shared_ptr<const T>>;

  // Increases by one with every published snapshot.
  uint64_t generation = 0;
  ByName<ListenerConfig> listeners;
  ByName<RouteTable> routes;           // by RouteConfiguration name
  ByName<ClusterConfig> clusters;      // by cluster name
  ByName<EndpointSet> endpoints;       // by EDS service (cluster_name of the assignment)
  ByName<SecretConfig> secrets;        // from SDS, by name
  ByName<SecretConfig> local_secrets;  // held by the proxy itself; win over `secrets`
  ByName<ResolvedTls> tls;             // by ListenerTlsKey / ClusterTlsKey

  static std::string ListenerTlsKey(std::string_view listener, const ListenerConfig& config,
                                    const FilterChainConfig& chain);
  static std::string ClusterTlsKey(std::string_view cluster);
  // The TLS context of the cluster's transport_socket_matches[match].
  static std::string ClusterMatchTlsKey(std::string_view cluster, size_t match);
  std::shared_ptr<const SecretConfig> FindSecret(const std::string& name) const;
  // Null when the chain / cluster has no TLS, or its secrets have not arrived.
  const ResolvedTls* ListenerTls(const ListenerConfig& listener,
                                 const FilterChainConfig& chain) const;
  const ResolvedTls* ClusterTls(std::string_view cluster) const;
  // Null when that match is plaintext or not resolved.
  const ResolvedTls* ClusterMatchTls(std::string_view cluster, size_t match) const;

  // The route table an HTTP connection manager uses: its inline table, or the
  // RDS one (nullptr until that RouteConfiguration has arrived).
  std::shared_ptr<const RouteTable> RoutesFor(const HttpConnectionManagerConfig& http) const;
  std::shared_ptr<const ClusterConfig> FindCluster(std::string_view name) const;
  // The cluster's endpoints: its static load assignment, or the EDS one
  // (nullptr until it has arrived).
  std::shared_ptr<const EndpointSet> EndpointsFor(const ClusterConfig& cluster) const;
};

class ConfigStore {
 public:
  // `clock` judges certificate validity in the TLS contexts it builds.
  // REQUIRES: `clock` outlives the store and every snapshot it publishes.
  explicit ConfigStore(const Clock& clock = SystemClock::Get());

  // State of the world: the given resources replace every resource of the type.
  absl::Status SetListeners(const std::vector<envoy::config::listener::v3::Listener>& resources);
  absl::Status SetRouteConfigurations(
      const std::vector<envoy::config::route::v3::RouteConfiguration>& resources);
  absl::Status SetClusters(const std::vector<envoy::config::cluster::v3::Cluster>& resources);
  absl::Status SetClusterLoadAssignments(
      const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& resources);

  // Delta: upsert `updated`, drop `removed` (unknown names are ignored).
  absl::Status UpdateListeners(const std::vector<envoy::config::listener::v3::Listener>& updated,
                               const std::vector<std::string>& removed);
  absl::Status UpdateRouteConfigurations(
      const std::vector<envoy::config::route::v3::RouteConfiguration>& updated,
      const std::vector<std::string>& removed);
  absl::Status UpdateClusters(const std::vector<envoy::config::cluster::v3::Cluster>& updated,
                              const std::vector<std::string>& removed);
  absl::Status UpdateClusterLoadAssignments(
      const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& updated,
      const std::vector<std::string>& removed);

  absl::Status SetSecrets(
      const std::vector<envoy::extensions::transport_sockets::tls::v3::Secret>& resources);
  absl::Status UpdateSecrets(
      const std::vector<envoy::extensions::transport_sockets::tls::v3::Secret>& updated,
      const std::vector<std::string>& removed);
  // Installs (or replaces) a secret the proxy holds itself. REQUIRES: non-null.
  absl::Status SetLocalSecret(std::shared_ptr<const SecretConfig> secret);

  // Secrets this proxy can never have, with the reason: a proxy started
  // without a workload identity has no `default`. Filter chains and clusters
  // that need one are left out (their ResolvedTls is `unavailable`) rather
  // than holding back the rest of the config. Set before the first update.
  void SetUnavailableSecrets(std::map<std::string, std::string> reasons) {
    unavailable_secrets_ = std::move(reasons);
  }
  bool SecretUnavailable(const std::string& name) const {
    return unavailable_secrets_.count(name) > 0;
  }

  // Never null; an empty snapshot (generation 0) before the first update.
  std::shared_ptr<const ConfigSnapshot> Current() const { return current_.load(); }

 private:
  template <typename Proto, typename Runtime, typename Translate, typename Name, typename Member>
  absl::Status Apply(const std::vector<Proto>& updated, const std::vector<std::string>* removed,
                     bool replace_all, Translate translate, Name name, Member member);

  // Rebuilds next.tls, reusing `previous` contexts whose inputs are unchanged.
  // Fails (nothing published) when a TLS config is wrong for its secrets.
  absl::Status ResolveTls(ConfigSnapshot& next, const ConfigSnapshot& previous) const;
  std::shared_ptr<const SecretConfig> FileSecret(const std::string& name) const;

  const Clock& clock_;
  std::map<std::string, std::string> unavailable_secrets_;
  // File-mounted credentials by name, re-read at each resolution; an
  // unchanged file keeps its SecretConfig (and so its TlsContext).
  mutable ConfigSnapshot::ByName<SecretConfig> file_secrets_;  // under writer_mu_
  std::mutex writer_mu_;
  std::atomic<std::shared_ptr<const ConfigSnapshot>> current_;
};

}  // namespace meshgate::proxy::config
