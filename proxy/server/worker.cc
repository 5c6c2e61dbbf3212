#include "proxy/server/worker.h"

#include <unistd.h>

#include <optional>

#include "proxy/network/transport_socket.h"
#include "proxy/server/http_connection_manager.h"
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
  return s;
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

upstream::Http1ConnectionPool* WorkerCluster::PoolFor(const Host& host) {
  auto it = pools_.find(host.key);
  if (it != pools_.end()) return it->second.get();
  auto address = network::Address::Parse(host.address, static_cast<uint16_t>(host.port));
  if (!address.ok()) return nullptr;
  auto pool = std::make_unique<upstream::Http1ConnectionPool>(dispatcher_, *address,
                                                              PoolSettingsFor(*config_), stats_);
  auto* raw = pool.get();
  pools_.emplace(host.key, std::move(pool));
  return raw;
}

void WorkerCluster::MovePoolsTo(std::vector<std::unique_ptr<upstream::Http1ConnectionPool>>& out) {
  for (auto& [key, pool] : pools_) {
    pool->CloseIdle();
    out.push_back(std::move(pool));
  }
  pools_.clear();
}

void WorkerCluster::AdoptPools(WorkerCluster& old) {
  if (!endpoints_ || !endpoints_->hosts) return;
  for (const Host& host : endpoints_->hosts->hosts()) {
    auto it = old.pools_.find(host.key);
    if (it != old.pools_.end()) {
      pools_.emplace(host.key, std::move(it->second));
      old.pools_.erase(it);
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
      rate_limits_.Sweep();
      if (access_log_) access_log_->Flush();
      housekeeping_timer_->Enable(kHousekeepingInterval);
    });
    housekeeping_timer_->Enable(kHousekeepingInterval);
    dispatcher_->Run();
    // Tear down on the loop's thread: connections and pools unregister from it.
    connections_.clear();
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
    drain_deadline_ = dispatcher_->CreateTimer([this] {
      std::vector<HttpConnectionManager*> rest;
      for (auto& [key, c] : connections_) rest.push_back(c.get());
      for (auto* c : rest) c->CloseNow();
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
  const auto& config = it->second.config;
  // The local port is only needed (one syscall per connection) when a
  // filter chain matches on it.
  std::optional<uint32_t> local_port;
  auto port_of_connection = [&] {
    if (!local_port) {
      auto local = network::LocalAddress(fd);
      local_port = local.ok() ? local->port() : 0;
    }
    return *local_port;
  };
  const config::FilterChainConfig* chain = nullptr;
  for (const auto& fc : config->filter_chains) {
    const auto& m = fc.match;
    if (m.destination_port && *m.destination_port != port_of_connection()) continue;
    if (!m.server_names.empty()) continue;  // needs TLS SNI
    if (!m.transport_protocol.empty() && m.transport_protocol != "raw_buffer") continue;
    chain = &fc;
    break;
  }
  if (chain == nullptr && config->default_filter_chain) chain = &*config->default_filter_chain;
  if (chain == nullptr) {
    ::close(fd);
    return;
  }
  auto connection = network::Connection::FromAccepted(
      *dispatcher_, fd, std::make_unique<network::PlaintextTransportSocket>());
  auto hcm = std::make_unique<HttpConnectionManager>(*this, std::move(connection), config, *chain);
  event::DeferredDeletable* key = hcm.get();
  connections_.emplace(key, std::move(hcm));
}

void Worker::RemoveConnection(event::DeferredDeletable* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  dispatcher_->DeferredDelete(std::move(it->second));
  connections_.erase(it);
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
