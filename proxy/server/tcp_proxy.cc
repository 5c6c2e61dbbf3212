#include "proxy/server/tcp_proxy.h"

#include <algorithm>

#include "proxy/network/transport_socket.h"

namespace meshgate::proxy::server {
namespace {

std::chrono::milliseconds Millis(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

}  // namespace

void TcpProxy::Side::OnData(network::Buffer& data, bool end_stream) {
  if (upstream_) {
    proxy_.OnUpstreamData(data, end_stream);
  } else {
    proxy_.OnDownstreamData(data, end_stream);
  }
}

void TcpProxy::Side::OnEvent(network::ConnectionEvent event) {
  if (upstream_) {
    proxy_.OnUpstreamEvent(event);
  } else {
    proxy_.OnDownstreamEvent(event);
  }
}

void TcpProxy::Side::OnWriteBufferWatermark(bool above_high) {
  if (upstream_) {
    proxy_.OnUpstreamWatermark(above_high);
  } else {
    proxy_.OnDownstreamWatermark(above_high);
  }
}

TcpProxy::TcpProxy(WorkerContext& worker, std::unique_ptr<network::Connection> downstream,
                   std::shared_ptr<const config::ListenerConfig> listener,
                   const config::FilterChainConfig& chain,
                   std::optional<network::Address> original_destination)
    : worker_(worker),
      downstream_(std::move(downstream)),
      listener_(std::move(listener)),
      chain_(chain),
      original_destination_(std::move(original_destination)),
      stats_(worker.stats().Tcp(chain.tcp_proxy->stat_prefix)),
      start_time_(std::chrono::system_clock::now()),
      start_(std::chrono::steady_clock::now()) {
  stats_.downstream_cx_total.Inc();
  stats_.downstream_cx_active.Inc();
  downstream_->SetCallbacks(&downstream_side_);
  downstream_->EnableHalfClose(true);
  // Nothing is read until there is somewhere to send it.
  downstream_->ReadDisable(true);
  last_activity_ = start_;
}

TcpProxy::~TcpProxy() {
  if (!released_) stats_.downstream_cx_active.Dec();
  if (upstream_ && !upstream_closed_ && cluster_stats_ != nullptr) {
    cluster_stats_->upstream_cx_active.Dec();
  }
}

void TcpProxy::Start() {
  if (config().max_downstream_connection_duration) {
    max_duration_timer_ = worker_.dispatcher().CreateTimer([this] {
      stats_.max_downstream_connection_duration.Inc();
      CloseBoth(/*flush=*/false);
    });
    max_duration_timer_->Enable(Millis(*config().max_downstream_connection_duration));
  }
  cluster_name_ = PickCluster();
  std::shared_ptr<const WorkerCluster> cluster = worker_.FindCluster(cluster_name_);
  if (cluster == nullptr) {
    stats_.downstream_cx_no_route.Inc();
    response_flags_ = "NR";
    CloseBoth(/*flush=*/false);
    return;
  }
  cluster_stats_ = &worker_.stats().Cluster(cluster_name_);
  connect_timeout_ = Millis(cluster->config().connect_timeout);
  ConnectAttempt();
}

const std::string& TcpProxy::PickCluster() {
  const auto& clusters = config().clusters;
  if (clusters.size() == 1 || config().total_weight == 0) return clusters.front().name;
  uint64_t draw = worker_.random().Next() % config().total_weight;
  for (const auto& c : clusters) {
    if (draw < c.weight) return c.name;
    draw -= c.weight;
  }
  return clusters.back().name;
}

void TcpProxy::ConnectAttempt() {
  ++attempts_;
  // Looked up per attempt: a config update may have replaced the cluster.
  std::shared_ptr<WorkerCluster> cluster = worker_.FindCluster(cluster_name_);
  std::optional<network::Address> address;
  std::string host_key;
  Host chosen;  // what the transport is chosen by (an original destination has no metadata)
  if (cluster != nullptr && cluster->config().type == config::DiscoveryType::kOriginalDst) {
    address = original_destination_;
  } else if (cluster != nullptr && cluster->load_balancer() != nullptr) {
    LbContext context;
    context.exclude = [this](const Host& h) {
      return std::find(tried_hosts_.begin(), tried_hosts_.end(), h.key) != tried_hosts_.end();
    };
    context.host_selection_attempts = std::max<uint32_t>(1, config().max_connect_attempts);
    if (const Host* host = cluster->load_balancer()->ChooseHost(context)) {
      auto parsed = network::Address::Parse(host->address, static_cast<uint16_t>(host->port));
      if (parsed.ok()) address = *parsed;
      host_key = host->key;
      chosen = *host;
    }
  }
  if (!address) {
    cluster_stats_->upstream_cx_none_healthy.Inc();
    response_flags_ = "UH";
    CloseBoth(/*flush=*/false);
    return;
  }
  // The cluster's transport for this host: mesh mTLS between sidecars, or
  // plaintext; null while TLS secrets have not arrived.
  std::unique_ptr<network::TransportSocket> transport = cluster->NewTransportSocket(chosen);
  if (transport == nullptr) {
    cluster_stats_->upstream_cx_none_healthy.Inc();
    response_flags_ = "UH";
    CloseBoth(/*flush=*/false);
    return;
  }
  tried_hosts_.push_back(host_key);
  upstream_host_ = address->ToString();
  cluster_stats_->upstream_cx_total.Inc();
  cluster_stats_->upstream_cx_active.Inc();
  upstream_closed_ = false;
  attempt_start_ = std::chrono::steady_clock::now();
  upstream_ = network::Connection::Connect(worker_.dispatcher(), *address, std::move(transport),
                                           connect_timeout_);
  upstream_->SetCallbacks(&upstream_side_);
  upstream_->EnableHalfClose(true);
}

void TcpProxy::OnUpstreamConnectFailed() {
  upstream_closed_ = true;
  cluster_stats_->upstream_cx_active.Dec();
  if (std::chrono::steady_clock::now() - attempt_start_ >= connect_timeout_) {
    cluster_stats_->upstream_cx_connect_timeout.Inc();
  } else {
    cluster_stats_->upstream_cx_connect_fail.Inc();
  }
  // The failed connection is inside its own callback: release it later.
  worker_.dispatcher().DeferredDelete(std::move(upstream_));
  if (!closing_ && attempts_ < config().max_connect_attempts) {
    ConnectAttempt();
    return;
  }
  response_flags_ = "UF";
  CloseBoth(/*flush=*/false);
}

void TcpProxy::OnDownstreamData(network::Buffer& data, bool end_stream) {
  const size_t n = data.size();
  bytes_received_ += n;
  stats_.downstream_cx_rx_bytes_total.Inc(n);
  last_activity_ = worker_.dispatcher().ApproximateNow();
  if (upstream_ && !upstream_closed_) {
    if (cluster_stats_ != nullptr) cluster_stats_->upstream_cx_tx_bytes_total.Inc(n);
    upstream_->Write(data, end_stream);
  } else {
    data.Clear();
  }
  if (end_stream) {
    downstream_read_ended_ = true;
    MaybeFinishHalfClosed();
  }
}

void TcpProxy::OnUpstreamData(network::Buffer& data, bool end_stream) {
  const size_t n = data.size();
  if (cluster_stats_ != nullptr) cluster_stats_->upstream_cx_rx_bytes_total.Inc(n);
  last_activity_ = worker_.dispatcher().ApproximateNow();
  if (!downstream_closed_) {
    bytes_sent_ += n;
    stats_.downstream_cx_tx_bytes_total.Inc(n);
    downstream_->Write(data, end_stream);
  } else {
    data.Clear();
  }
  if (end_stream) {
    upstream_read_ended_ = true;
    MaybeFinishHalfClosed();
  }
}

void TcpProxy::OnDownstreamEvent(network::ConnectionEvent event) {
  if (event != network::ConnectionEvent::kRemoteClose &&
      event != network::ConnectionEvent::kLocalClose) {
    return;
  }
  downstream_closed_ = true;
  if (!closing_) CloseBoth(/*flush=*/true);
  MaybeDone();
}

void TcpProxy::OnUpstreamEvent(network::ConnectionEvent event) {
  switch (event) {
    case network::ConnectionEvent::kConnected:
      upstream_connected_ = true;
      upstream_connected_at_ = std::chrono::steady_clock::now();
      last_activity_ = worker_.dispatcher().ApproximateNow();
      if (closing_) {
        upstream_->Close(network::Connection::CloseType::kNoFlush);
        return;
      }
      downstream_->ReadDisable(false);
      if (config().idle_timeout > absl::ZeroDuration()) {
        idle_timer_ = worker_.dispatcher().CreateTimer([this] { OnIdleTimer(); });
        idle_timer_->Enable(Millis(config().idle_timeout));
      }
      return;
    case network::ConnectionEvent::kConnectFailed:
      OnUpstreamConnectFailed();
      return;
    case network::ConnectionEvent::kRemoteClose:
    case network::ConnectionEvent::kLocalClose:
      upstream_closed_ = true;
      if (cluster_stats_ != nullptr) {
        cluster_stats_->upstream_cx_active.Dec();
        if (event == network::ConnectionEvent::kRemoteClose && !closing_) {
          cluster_stats_->upstream_cx_destroy_remote.Inc();
        }
        if (upstream_connected_) {
          cluster_stats_->upstream_cx_length.RecordMs(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                        upstream_connected_at_)
                  .count());
        }
      }
      if (!closing_) CloseBoth(/*flush=*/true);
      MaybeDone();
      return;
  }
}

void TcpProxy::OnUpstreamWatermark(bool above_high) {
  // The upstream is not taking bytes as fast as the downstream sends them.
  if (downstream_closed_) return;
  if (above_high) {
    stats_.downstream_flow_control_paused_reading_total.Inc();
  } else {
    stats_.downstream_flow_control_resumed_reading_total.Inc();
  }
  downstream_->ReadDisable(above_high);
}

void TcpProxy::OnDownstreamWatermark(bool above_high) {
  // The downstream is not taking bytes as fast as the upstream sends them.
  if (!upstream_ || upstream_closed_) return;
  if (cluster_stats_ != nullptr) {
    if (above_high) {
      cluster_stats_->upstream_flow_control_paused_reading_total.Inc();
    } else {
      cluster_stats_->upstream_flow_control_resumed_reading_total.Inc();
    }
  }
  upstream_->ReadDisable(above_high);
}

void TcpProxy::OnIdleTimer() {
  // Activity only records a time; the timer re-arms for what is left, so a
  // busy connection costs no timer operations per read.
  const auto idle = Millis(config().idle_timeout);
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
      worker_.dispatcher().ApproximateNow() - last_activity_);
  if (since < idle) {
    idle_timer_->Enable(idle - since);
    return;
  }
  stats_.idle_timeout.Inc();
  CloseBoth(/*flush=*/false);
}

void TcpProxy::MaybeFinishHalfClosed() {
  // Both peers have said all they will say; each FIN has been forwarded (it
  // leaves after the buffered bytes), so close once the buffers are out.
  if (downstream_read_ended_ && upstream_read_ended_ && !closing_) CloseBoth(/*flush=*/true);
}

void TcpProxy::CloseBoth(bool flush) {
  closing_ = true;
  const auto type = flush ? network::Connection::CloseType::kFlushWrite
                          : network::Connection::CloseType::kNoFlush;
  // Each Close may report back synchronously (OnEvent), so re-check between.
  if (upstream_ && !upstream_closed_) upstream_->Close(type);
  if (downstream_ && !downstream_closed_) downstream_->Close(type);
  MaybeDone();
}

void TcpProxy::MaybeDone() {
  if (released_ || !downstream_closed_ || (upstream_ && !upstream_closed_)) return;
  LogAndRelease();
}

void TcpProxy::LogAndRelease() {
  released_ = true;
  idle_timer_.reset();
  max_duration_timer_.reset();
  stats_.downstream_cx_active.Dec();
  if (auto* log = worker_.access_log()) {
    accesslog::AccessLogEntry e;
    e.start_time = start_time_;
    e.response_flags = response_flags_;
    e.bytes_received = bytes_received_;
    e.bytes_sent = bytes_sent_;
    e.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start_);
    e.upstream_host = upstream_host_;
    e.upstream_cluster = cluster_name_;
    e.downstream_remote_address = downstream_->peer_address().ToString();
    e.downstream_peer_identity = downstream_->transport().PeerIdentity();
    e.route_name = chain_.name;
    log->Log(e);
  }
  worker_.RemoveConnection(this);
}

void TcpProxy::CloseNow() { CloseBoth(/*flush=*/false); }

}  // namespace meshgate::proxy::server
