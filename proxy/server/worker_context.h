// WorkerContext: what a connection on a worker may ask of its worker — the
// current configuration snapshot, per-worker cluster state (load balancer
// and connection pools), statistics, the access log and randomness.
//
// Thread-safety: everything here belongs to the worker's thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/accesslog/access_log.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/event/dispatcher.h"
#include "proxy/router/local_rate_limit.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/load_balancer.h"
#include "proxy/upstream/random.h"

namespace meshgate::proxy::server {

// One cluster as seen by one worker: its config, endpoints, balancer and a
// connection pool per host and upstream protocol (HTTP/1.1 or HTTP/2, as the
// cluster's protocol options say; both when it follows the downstream's).
class WorkerCluster {
 public:
  using TlsContexts = std::vector<std::shared_ptr<const network::TlsContext>>;
  // `tls`: the cluster's upstream TLS context (null for plaintext clusters,
  // and for TLS clusters whose secrets have not arrived: those get no pool).
  // `match_tls`: the same for each of its transport_socket_matches.
  WorkerCluster(event::Dispatcher& dispatcher, std::shared_ptr<const config::ClusterConfig> config,
                std::shared_ptr<const config::EndpointSet> endpoints, Random& random,
                stats::ClusterStats& stats,
                std::shared_ptr<const network::TlsContext> tls = nullptr,
                TlsContexts match_tls = {});

  const config::ClusterConfig& config() const { return *config_; }
  const std::shared_ptr<const config::ClusterConfig>& config_ptr() const { return config_; }
  const std::shared_ptr<const config::EndpointSet>& endpoints() const { return endpoints_; }
  const std::shared_ptr<const network::TlsContext>& tls() const { return tls_; }
  const TlsContexts& match_tls() const { return match_tls_; }
  // A new transport for a connection to `host` (an ORIGINAL_DST destination
  // has no metadata: pass a default Host): TLS or plaintext as the cluster's
  // transport_socket_matches and transport_socket say. Null when that is TLS
  // and its secrets have not arrived.
  std::unique_ptr<network::TransportSocket> NewTransportSocket(const Host& host) const;
  stats::ClusterStats& stats() { return stats_; }
  // nullptr when the cluster has no routable host.
  LoadBalancer* load_balancer() { return lb_.get(); }
  // The protocol spoken to this cluster's hosts for a request that arrived
  // over `downstream`.
  upstream::PoolProtocol UpstreamProtocolFor(upstream::PoolProtocol downstream) const;
  // The pool for `host` for a request that arrived over `downstream`;
  // nullptr when the host's address is not an IP literal.
  upstream::ConnectionPool* PoolFor(
      const Host& host, upstream::PoolProtocol downstream = upstream::PoolProtocol::kHttp1);
  // ORIGINAL_DST clusters: the host for where a downstream connection was
  // headed, made on first use (as Envoy does). A host is forgotten, with its
  // pools, once more than kMaxOriginalDestinations are known and it has no
  // connection; callers hold the shared_ptr while they refer to it.
  static constexpr size_t kMaxOriginalDestinations = 1024;
  std::shared_ptr<const Host> OriginalDestinationHost(const network::Address& destination);
  // Hands every pool over for draining (the cluster is being replaced).
  void MovePoolsTo(std::vector<std::unique_ptr<upstream::ConnectionPool>>& draining);
  // Takes over the pools of `old` for hosts that still exist.
  void AdoptPools(WorkerCluster& old);

 private:
  // What a connection to a host speaks: TLS (with `context`, null while its
  // secrets have not arrived) or plaintext.
  struct TransportChoice {
    bool tls = false;
    std::shared_ptr<const network::TlsContext> context;
    std::string sni;
  };
  TransportChoice ChooseTransport(const Host& host) const;

  event::Dispatcher& dispatcher_;
  std::shared_ptr<const config::ClusterConfig> config_;
  std::shared_ptr<const config::EndpointSet> endpoints_;
  std::shared_ptr<const network::TlsContext> tls_;
  TlsContexts match_tls_;
  stats::ClusterStats& stats_;
  std::unique_ptr<LoadBalancer> lb_;
  // By host key and protocol.
  std::map<std::pair<std::string, upstream::PoolProtocol>,
           std::unique_ptr<upstream::ConnectionPool>>
      pools_;
  std::map<std::string, std::shared_ptr<const Host>> original_destinations_;
};

class WorkerContext {
 public:
  virtual ~WorkerContext() = default;
  virtual event::Dispatcher& dispatcher() = 0;
  virtual const std::shared_ptr<const config::ConfigSnapshot>& snapshot() const = 0;
  // nullptr when the snapshot has no such cluster (or no endpoints yet).
  // The caller may keep the result: a request pins the cluster it was routed
  // to (its balancer, hosts and stats) while xDS replaces it.
  virtual std::shared_ptr<WorkerCluster> FindCluster(const std::string& name) = 0;
  virtual stats::WorkerStats& stats() = 0;
  virtual accesslog::AccessLogWriter* access_log() = 0;
  virtual Random& random() = 0;
  // The worker's local rate-limit buckets.
  virtual LocalRateLimitRegistry& rate_limits() = 0;
  // True while the worker drains: connections close after their current request.
  virtual bool draining() const = 0;
  // The connection is finished; the worker releases it (deferred).
  virtual void RemoveConnection(event::DeferredDeletable* connection) = 0;
};

}  // namespace meshgate::proxy::server
