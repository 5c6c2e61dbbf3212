// Worker: one thread, one event loop, and everything it owns — listening
// sockets (SO_REUSEPORT, one per worker per listener), downstream
// connections, per-cluster load balancers and connection pools, statistics
// and an access-log batch. Workers share nothing but the immutable config
// snapshot they are handed.
//
// An accepted connection gets the filter chain its destination selects: the
// original destination (SO_ORIGINAL_DST) when the listener restores it, as
// the sidecar's capture listeners do. A use_original_dst listener hands the
// connection to the listener bound to that destination (IP:port, else
// 0.0.0.0:port), bound to a socket or not — Envoy's virtual-outbound
// hand-off. The chain runs an HTTP connection manager or a TCP proxy.
//
// Config changes arrive with SetSnapshot(), posted to the worker's loop and
// applied between events: listeners are opened, kept, or drained (stop
// accepting; established connections finish their requests), clusters are
// rebuilt when their config or endpoints changed, keeping the connection
// pools of hosts that remain.
//
// Thread-safety: Start/Stop/SetSnapshot/Drain may be called from any thread;
// everything else runs on the worker's own thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/network/listener.h"
#include "proxy/network/tls_inspector.h"
#include "proxy/server/http_connection_manager.h"
#include "proxy/server/tcp_proxy.h"
#include "proxy/server/worker_context.h"
#include "proxy/upstream/dns_resolver.h"

namespace meshgate::proxy::server {

class Worker final : public WorkerContext {
 public:
  Worker(size_t index, stats::WorkerStats& stats,
         std::shared_ptr<accesslog::AccessLogFile> access_log, uint64_t seed);
  ~Worker() override;

  // How long connections of a listener removed from the config may take to
  // finish their request before they are closed. REQUIRES: before Start().
  void SetListenerDrainTimeout(std::chrono::milliseconds timeout) {
    listener_drain_timeout_ = timeout;
  }

  void Start();
  void Stop();
  void SetSnapshot(std::shared_ptr<const config::ConfigSnapshot> snapshot);
  // Stop accepting everywhere; connections close after their current
  // request, idle ones at once, and whatever remains after `timeout`.
  void Drain(std::chrono::milliseconds timeout);
  // Ports of the listeners this worker has open, by listener name (for tests
  // and the admin page). Thread-safe snapshot.
  std::map<std::string, uint16_t> ListeningPorts() const;
  size_t index() const { return index_; }

  // WorkerContext
  event::Dispatcher& dispatcher() override { return *dispatcher_; }
  const std::shared_ptr<const config::ConfigSnapshot>& snapshot() const override {
    return snapshot_;
  }
  std::shared_ptr<WorkerCluster> FindCluster(const std::string& name) override;
  stats::WorkerStats& stats() override { return stats_; }
  accesslog::AccessLogWriter* access_log() override { return access_log_.get(); }
  Random& random() override { return random_; }
  LocalRateLimitRegistry& rate_limits() override { return rate_limits_; }
  bool draining() const override { return draining_; }
  void RemoveConnection(event::DeferredDeletable* connection) override;

 private:
  struct ActiveListener {
    std::shared_ptr<const config::ListenerConfig> config;
    // The address's socket first, then one per additional address.
    std::vector<std::unique_ptr<network::TcpListener>> sockets;
  };

  void ApplySnapshot(std::shared_ptr<const config::ConfigSnapshot> snapshot);
  void UpdateListeners();
  void UpdateClusters();
  // Peeks at a ClientHello (SNI, ALPN) before a filter chain is chosen.
  class TlsInspection;
  void OnAccept(const std::string& listener_name, int fd);
  // The listener a use_original_dst listener hands a connection for
  // `destination` to; nullptr when none (the listener keeps it).
  std::shared_ptr<const config::ListenerConfig> HandOffTarget(const network::Address& destination);
  // A connection between accept and its filter chain: the listener that
  // serves it (after any original-destination hand-off) and what its chain
  // is matched on.
  struct AcceptedConnection {
    int fd = -1;
    std::shared_ptr<const config::ListenerConfig> listener;
    config::ConnectionMatchInfo match;
    std::optional<network::Address> original_destination;
  };
  // `hello`: what inspection learned, null when the listener needs none.
  void ServeAccepted(AcceptedConnection accepted, const network::ClientHelloInfo* hello);
  void SweepDrainingPools();
  // STRICT_DNS / LOGICAL_DNS clusters: the endpoints to use now (the last
  // resolution, or the configured ones until the first one arrives), and the
  // periodic re-resolution on the resolver thread.
  std::shared_ptr<const config::EndpointSet> DnsEndpointsFor(
      const std::string& name, const std::shared_ptr<const config::ClusterConfig>& cluster);
  void StartDnsResolution(const std::string& name);
  void OnDnsResolved(const std::string& name,
                     const std::shared_ptr<const config::ClusterConfig>& cluster,
                     absl::StatusOr<upstream::DnsResults> result);
  // Connections of the removed listener `name` finish and close; the rest
  // are closed when the drain timeout passes.
  void DrainRemovedListener(const std::string& name);

  size_t index_;
  stats::WorkerStats& stats_;
  std::unique_ptr<accesslog::AccessLogWriter> access_log_;
  SeededRandom random_;
  LocalRateLimitRegistry rate_limits_{SystemClock::Get()};
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::thread thread_;
  std::shared_ptr<const config::ConfigSnapshot> snapshot_;
  std::map<std::string, ActiveListener> listeners_;
  std::map<std::string, std::shared_ptr<WorkerCluster>> clusters_;
  std::vector<std::unique_ptr<upstream::ConnectionPool>> draining_pools_;
  std::map<event::DeferredDeletable*, std::unique_ptr<HttpConnectionManager>> connections_;
  std::map<event::DeferredDeletable*, std::unique_ptr<TcpProxy>> tcp_connections_;
  // Every listener of the snapshot (bound or not) by "ip:port", for hand-off.
  std::map<std::string, std::shared_ptr<const config::ListenerConfig>> listeners_by_address_;
  std::map<int, std::unique_ptr<TlsInspection>> inspecting_;  // by fd
  std::unique_ptr<event::Timer> housekeeping_timer_;
  std::unique_ptr<event::Timer> drain_deadline_;
  bool draining_ = false;
  std::chrono::milliseconds listener_drain_timeout_{5000};
  struct DnsCluster {
    std::shared_ptr<const config::ClusterConfig> config;
    std::shared_ptr<const config::EndpointSet> resolved;  // null until the first result
    std::unique_ptr<event::Timer> refresh;
  };
  std::map<std::string, DnsCluster> dns_clusters_;
  std::unique_ptr<upstream::DnsResolver> dns_resolver_;  // started with the first DNS cluster
  uint64_t last_drain_id_ = 0;
  std::map<uint64_t, std::unique_ptr<event::Timer>> listener_drains_;  // by drain id

  mutable std::mutex ports_mu_;
  std::map<std::string, uint16_t> ports_;
};

}  // namespace meshgate::proxy::server
