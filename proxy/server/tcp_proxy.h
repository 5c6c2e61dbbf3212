// TcpProxy: Envoy's tcp_proxy network filter for one downstream connection —
// picks a cluster (weighted), a host (the cluster's load balancer, or the
// connection's original destination for ORIGINAL_DST clusters), connects
// with the cluster's connect timeout (up to max_connect_attempts hosts), then
// copies bytes both ways until both sides have finished.
//
// Flow control: when one side's write buffer passes its high watermark the
// other side stops reading, and resumes below the low watermark, so a slow
// reader bounds the memory a fast writer can make us hold. A peer's half-close
// (FIN) is forwarded as a half-close; the proxy closes once both directions
// have ended, or on a reset, a connect failure, the idle timeout (no byte
// either way for idle_timeout) or max_downstream_connection_duration. Each
// connection ends with one access-log line (bytes each way, duration,
// upstream host and cluster, response flags) and Envoy's envoy_tcp_* and
// cluster upstream_cx_* statistics.
//
// It speaks only to network::Connection, so it runs unchanged over any
// TransportSocket (plaintext now, TLS/mTLS downstream or upstream later).
//
// Ownership: the worker owns the TcpProxy (and the TcpProxy both
// connections); when it has finished it asks the worker to release it
// (WorkerContext::RemoveConnection, deferred). It never keeps a WorkerCluster
// pointer beyond one call: the worker replaces clusters on config updates.
// Thread-safety: single worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/config/listener_translator.h"
#include "proxy/network/connection.h"
#include "proxy/server/worker_context.h"

namespace meshgate::proxy::server {

class TcpProxy : public event::DeferredDeletable {
 public:
  // `listener` pins the listener config (and so `chain`) for the connection's
  // life. `original_destination`: where the client meant to connect before a
  // redirect, used by ORIGINAL_DST clusters. REQUIRES: chain.tcp_proxy is set.
  TcpProxy(WorkerContext& worker, std::unique_ptr<network::Connection> downstream,
           std::shared_ptr<const config::ListenerConfig> listener,
           const config::FilterChainConfig& chain,
           std::optional<network::Address> original_destination);
  ~TcpProxy() override;
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Starts the upstream connection; called once, after the worker took ownership.
  void Start();
  // Drain deadline: close both sides now.
  void CloseNow();

 private:
  // Relays one connection's events to the proxy, saying which side it is.
  class Side : public network::ConnectionCallbacks {
   public:
    Side(TcpProxy& proxy, bool upstream) : proxy_(proxy), upstream_(upstream) {}
    void OnData(network::Buffer& data, bool end_stream) override;
    void OnEvent(network::ConnectionEvent event) override;
    void OnWriteBufferWatermark(bool above_high) override;

   private:
    TcpProxy& proxy_;
    bool upstream_;
  };

  const config::TcpProxyConfig& config() const { return *chain_.tcp_proxy; }
  const std::string& PickCluster();
  void ConnectAttempt();
  void OnUpstreamConnectFailed();
  void OnDownstreamData(network::Buffer& data, bool end_stream);
  void OnUpstreamData(network::Buffer& data, bool end_stream);
  void OnDownstreamEvent(network::ConnectionEvent event);
  void OnUpstreamEvent(network::ConnectionEvent event);
  void OnUpstreamWatermark(bool above_high);
  void OnDownstreamWatermark(bool above_high);
  void OnIdleTimer();
  void MaybeFinishHalfClosed();
  // Closes both sides (flushing what is buffered when `flush`), once.
  void CloseBoth(bool flush);
  void MaybeDone();
  void LogAndRelease();

  WorkerContext& worker_;
  std::unique_ptr<network::Connection> downstream_;
  std::unique_ptr<network::Connection> upstream_;
  std::shared_ptr<const config::ListenerConfig> listener_;
  const config::FilterChainConfig& chain_;
  std::optional<network::Address> original_destination_;
  Side downstream_side_{*this, false};
  Side upstream_side_{*this, true};
  stats::TcpStats& stats_;
  stats::ClusterStats* cluster_stats_ = nullptr;  // lives as long as the worker's stats

  std::string cluster_name_;
  std::string upstream_host_;  // "ip:port" of the current attempt
  std::vector<std::string> tried_hosts_;
  std::chrono::milliseconds connect_timeout_{0};
  uint32_t attempts_ = 0;
  std::chrono::steady_clock::time_point attempt_start_;

  std::unique_ptr<event::Timer> idle_timer_;
  std::unique_ptr<event::Timer> max_duration_timer_;
  std::chrono::steady_clock::time_point last_activity_;

  std::chrono::system_clock::time_point start_time_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point upstream_connected_at_;
  uint64_t bytes_received_ = 0;  // from downstream
  uint64_t bytes_sent_ = 0;      // to downstream
  std::string response_flags_;

  bool upstream_connected_ = false;
  bool downstream_read_ended_ = false;  // downstream sent FIN (forwarded upstream)
  bool upstream_read_ended_ = false;    // upstream sent FIN (forwarded downstream)
  bool downstream_closed_ = false;
  bool upstream_closed_ = false;
  bool closing_ = false;
  bool released_ = false;
};

}  // namespace meshgate::proxy::server
