#include "proxy/server/worker.h"

#include <unistd.h>

#include <optional>

#include "proxy/http/http2_codec.h"
#include "proxy/network/transport_socket.h"
#include "proxy/server/http_connection_manager.h"
#include "proxy/upstream/http1_connection_pool.h"
#include "proxy/upstream/http2_connection_pool.h"
#include "spdlog/spdlog.h"

namespace meshgate::proxy::server {
namespace {

constexpr std::chrono::milliseconds kHousekeepingInterval{1000};

upstream::PoolSettings PoolSettingsFor(const config::ClusterConfig& cluster) {
  upstream::PoolSettings s;
  s.connect_timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(cluster.connect_timeout));
  if (cluster.idle_timeout) {
    s.idle_timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(*cluster.idle_timeout));
  }
  if (cluster.max_requests_per_connection) {
    s.max_requests_per_connection = *cluster.max_requests_per_connection;
  }
  s.max_connections = cluster.circuit_breakers.max_connections;
  s.max_pending = cluster.circuit_breakers.max_pending_requests;
  if (cluster.http2_max_concurrent_streams) {
    s.max_concurrent_streams = *cluster.http2_max_concurrent_streams;
  }
  return s;
}

std::unique_ptr<http::ClientConnection> NewHttp2Codec(http::ClientCallbacks& callbacks) {
  return std::make_unique<http::Http2ClientConnection>(callbacks);
}

}  // namespace

WorkerCluster::WorkerCluster(event::Dispatcher& dispatcher,
                             std::shared_ptr<const config::ClusterConfig> config,
                             std::shared_ptr<const config::EndpointSet> endpoints, Random& random,
                             stats::ClusterStats& stats)
    : dispatcher_(dispatcher),
      config_(std::move(config)),
      endpoints_(std::move(endpoints)),
      stats_(stats) {
  if (endpoints_ && endpoints_->hosts && !endpoints_->hosts->empty()) {
    auto lb = CreateLoadBalancer(config_->lb, endpoints_->hosts, random);
    if (lb.ok()) {
      lb_ = std::move(*lb);
    } else {
      spdlog::error("cluster {}: {}", config_->name, std::string(lb.status().message()));
    }
  }
}

upstream::PoolProtocol WorkerCluster::UpstreamProtocolFor(upstream::PoolProtocol downstream) const {
  switch (config_->protocol) {
    case config::UpstreamProtocol::kHttp1:
      return upstream::PoolProtocol::kHttp1;
    case config::UpstreamProtocol::kHttp2:
      return upstream::PoolProtocol::kHttp2;
    case config::UpstreamProtocol::kUseDownstream:
      return downstream;
  }
  return upstream::PoolProtocol::kHttp1;
}

upstream::ConnectionPool* WorkerCluster::PoolFor(const Host& host,
                                                 upstream::PoolProtocol downstream) {
  const upstream::PoolProtocol protocol = UpstreamProtocolFor(downstream);
  auto key = std::make_pair(host.key, protocol);
  auto it = pools_.find(key);
  if (it != pools_.end()) return it->second.get();
  auto address = network::Address::Parse(host.address, static_cast<uint16_t>(host.port));
  if (!address.ok()) return nullptr;
  std::unique_ptr<upstream::ConnectionPool> pool;
  if (protocol == upstream::PoolProtocol::kHttp2) {
    pool = std::make_unique<upstream::Http2ConnectionPool>(
        dispatcher_, *address, PoolSettingsFor(*config_), stats_, &NewHttp2Codec);
  } else {
    pool = std::make_unique<upstream::Http1ConnectionPool>(dispatcher_, *address,
                                                           PoolSettingsFor(*config_), stats_);
  }
  auto* raw = pool.get();
  pools_.emplace(std::move(key), std::move(pool));
  return raw;
}

void WorkerCluster::MovePoolsTo(std::vector<std::unique_ptr<upstream::ConnectionPool>>& out) {
  for (auto& [key, pool] : pools_) {
    pool->CloseIdle();
    out.push_back(std::move(pool));
  }
  pools_.clear();
}

void WorkerCluster::AdoptPools(WorkerCluster& old) {
  if (!endpoints_ || !endpoints_->hosts) return;
  for (const Host& host : endpoints_->hosts->hosts()) {
    for (auto protocol : {upstream::PoolProtocol::kHttp1, upstream::PoolProtocol::kHttp2}) {
      auto it = old.pools_.find(std::make_pair(host.key, protocol));
      if (it != old.pools_.end()) {
        pools_.emplace(it->first, std::move(it->second));
        old.pools_.erase(it);
      }
    }
  }
}

Worker::Worker(size_t index, stats::WorkerStats& stats,
               std::shared_ptr<accesslog::AccessLogFile> access_log, uint64_t seed)
    : index_(index),
      stats_(stats),
      random_(seed),
      snapshot_(std::make_shared<const config::ConfigSnapshot>()) {
  if (access_log) access_log_ = std::make_unique<accesslog::AccessLogWriter>(std::move(access_log));
  auto d = event::Dispatcher::Create();
  if (!d.ok()) {
    spdlog::critical("worker {}: {}", index, std::string(d.status().message()));
    std::abort();  // no event loop: nothing can work, and it is not input-dependent
  }
  dispatcher_ = std::move(*d);
}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  thread_ = std::thread([this] {
    housekeeping_timer_ = dispatcher_->CreateTimer([this] {
      SweepDrainingPools();
      if (access_log_) access_log_->Flush();
      housekeeping_timer_->Enable(kHousekeepingInterval);
    });
    housekeeping_timer_->Enable(kHousekeepingInterval);
    dispatcher_->Run();
    // Tear down on the loop's thread: connections and pools unregister from it.
    connections_.clear();
    tcp_connections_.clear();
    drain_deadline_.reset();
    listeners_.clear();
    clusters_.clear();
    draining_pools_.clear();
    housekeeping_timer_.reset();
    if (access_log_) access_log_->Flush();
  });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  dispatcher_->Exit();
  thread_.join();
}

void Worker::SetSnapshot(std::shared_ptr<const config::ConfigSnapshot> snapshot) {
  dispatcher_->Post([this, s = std::move(snapshot)]() mutable { ApplySnapshot(std::move(s)); });
}

void Worker::Drain(std::chrono::milliseconds timeout) {
  dispatcher_->Post([this, timeout] {
    draining_ = true;
    listeners_.clear();
    {
      std::lock_guard lock(ports_mu_);
      ports_.clear();
    }
    // Closing removes from connections_: collect first.
    std::vector<HttpConnectionManager*> all;
    for (auto& [key, c] : connections_) all.push_back(c.get());
    for (auto* c : all) c->CloseIfIdle();
    // A TCP connection has no request boundary to stop at: it keeps going
    // until it ends or the deadline comes.
    drain_deadline_ = dispatcher_->CreateTimer([this] {
      std::vector<HttpConnectionManager*> rest;
      for (auto& [key, c] : connections_) rest.push_back(c.get());
      for (auto* c : rest) c->CloseNow();
      std::vector<TcpProxy*> tcp_rest;
      for (auto& [key, c] : tcp_connections_) tcp_rest.push_back(c.get());
      for (auto* c : tcp_rest) c->CloseNow();
    });
    drain_deadline_->Enable(timeout);
  });
}

std::map<std::string, uint16_t> Worker::ListeningPorts() const {
  std::lock_guard lock(ports_mu_);
  return ports_;
}

void Worker::ApplySnapshot(std::shared_ptr<const config::ConfigSnapshot> snapshot) {
  snapshot_ = std::move(snapshot);
  UpdateClusters();
  if (!draining_) UpdateListeners();
}

void Worker::UpdateClusters() {
  std::map<std::string, std::unique_ptr<WorkerCluster>> next;
  for (const auto& [name, cluster] : snapshot_->clusters) {
    auto endpoints = snapshot_->EndpointsFor(*cluster);
    auto it = clusters_.find(name);
    if (it != clusters_.end() && it->second->config_ptr() == cluster &&
        it->second->endpoints() == endpoints) {
      next.emplace(name, std::move(it->second));
      clusters_.erase(it);
      continue;
    }
    auto fresh = std::make_unique<WorkerCluster>(*dispatcher_, cluster, endpoints, random_,
                                                 stats_.Cluster(name));
    if (it != clusters_.end() && it->second->config_ptr() == cluster) {
      fresh->AdoptPools(*it->second);  // same cluster, new endpoints: keep live connections
    }
    next.emplace(name, std::move(fresh));
  }
  // What is left is gone or replaced: its pools drain (requests in flight hold them).
  for (auto& [name, old] : clusters_) old->MovePoolsTo(draining_pools_);
  clusters_ = std::move(next);
}

void Worker::UpdateListeners() {
  listeners_by_address_.clear();
  for (const auto& [name, config] : snapshot_->listeners) {
    auto address = network::Address::Parse(config->address, static_cast<uint16_t>(config->port));
    if (address.ok()) listeners_by_address_[address->ToString()] = config;
  }
  std::map<std::string, ActiveListener> next;
  for (const auto& [name, config] : snapshot_->listeners) {
    if (!config->bind_to_port) continue;
    auto it = listeners_.find(name);
    if (it != listeners_.end() && it->second.config->address == config->address &&
        it->second.config->port == config->port) {
      // Same socket; new connections get the new config.
      it->second.config = config;
      next.emplace(name, std::move(it->second));
      listeners_.erase(it);
      continue;
    }
    auto address = network::Address::Parse(config->address, static_cast<uint16_t>(config->port));
    if (!address.ok()) {
      spdlog::error("listener {}: {}", name, std::string(address.status().message()));
      continue;
    }
    std::string listener_name = name;
    auto socket = network::TcpListener::Create(
        *dispatcher_, *address, /*reuse_port=*/true,
        [this, listener_name](int fd) { OnAccept(listener_name, fd); });
    if (!socket.ok()) {
      spdlog::error("listener {}: {}", name, std::string(socket.status().message()));
      continue;
    }
    next.emplace(name, ActiveListener{config, std::move(*socket)});
  }
  // Removed listeners stop accepting; their connections carry on until done.
  listeners_ = std::move(next);
  std::lock_guard lock(ports_mu_);
  ports_.clear();
  for (const auto& [name, l] : listeners_) ports_[name] = l.socket->address().port();
}

void Worker::OnAccept(const std::string& listener_name, int fd) {
  auto it = listeners_.find(listener_name);
  if (it == listeners_.end() || draining_) {
    ::close(fd);
    return;
  }
  std::shared_ptr<const config::ListenerConfig> listener = it->second.config;
  const bool capture = listener->use_original_dst || listener->restores_original_dst();
  config::ConnectionMatchInfo match;
  std::optional<network::Address> original_destination;
  // The addresses cost syscalls: only taken when something depends on them.
  if (capture || listener->matches_on_destination()) {
    auto local = network::LocalAddress(fd);
    if (!local.ok()) {
      ::close(fd);
      return;
    }
    // Where the client meant to go. Only a destination that differs from our
    // own socket counts as restored: a connection made straight to a capture
    // port must not be proxied back to that port (a loop).
    if (capture) {
      auto od = network::OriginalDestination(fd);
      if (od.ok() && od->ToString() != local->ToString()) original_destination = *od;
    }
    if (listener->use_original_dst && original_destination) {
      if (auto target = HandOffTarget(*original_destination)) listener = std::move(target);
    }
    const network::Address& destination = original_destination ? *original_destination : *local;
    match.destination_ip = destination.ip();
    match.destination_port = destination.port();
  }
  const config::FilterChainConfig* chain = config::SelectFilterChain(*listener, match);
  if (chain == nullptr) {
    ::close(fd);
    return;
  }
  auto connection = network::Connection::FromAccepted(
      *dispatcher_, fd, std::make_unique<network::PlaintextTransportSocket>());
  if (chain->tcp_proxy) {
    auto proxy = std::make_unique<TcpProxy>(*this, std::move(connection), std::move(listener),
                                            *chain, original_destination);
    TcpProxy* raw = proxy.get();
    tcp_connections_.emplace(raw, std::move(proxy));
    raw->Start();
    return;
  }
  auto hcm = std::make_unique<HttpConnectionManager>(*this, std::move(connection),
                                                     std::move(listener), *chain);
  event::DeferredDeletable* key = hcm.get();
  connections_.emplace(key, std::move(hcm));
}

std::shared_ptr<const config::ListenerConfig> Worker::HandOffTarget(
    const network::Address& destination) {
  auto exact = listeners_by_address_.find(destination.ToString());
  if (exact != listeners_by_address_.end()) return exact->second;
  auto any = network::Address::Parse(destination.family() == AF_INET6 ? "::" : "0.0.0.0",
                                     destination.port());
  if (!any.ok()) return nullptr;
  auto wildcard = listeners_by_address_.find(any->ToString());
  return wildcard == listeners_by_address_.end() ? nullptr : wildcard->second;
}

void Worker::RemoveConnection(event::DeferredDeletable* connection) {
  if (auto it = connections_.find(connection); it != connections_.end()) {
    dispatcher_->DeferredDelete(std::move(it->second));
    connections_.erase(it);
    return;
  }
  if (auto it = tcp_connections_.find(connection); it != tcp_connections_.end()) {
    dispatcher_->DeferredDelete(std::move(it->second));
    tcp_connections_.erase(it);
  }
}

WorkerCluster* Worker::FindCluster(const std::string& name) {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second.get();
}

void Worker::SweepDrainingPools() {
  std::erase_if(draining_pools_, [](const auto& pool) {
    pool->CloseIdle();
    return pool->connection_count() == 0 && pool->pending_count() == 0;
  });
}

}  // namespace meshgate::proxy::server
