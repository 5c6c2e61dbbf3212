#include "proxy/server/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>

#include "proxy/http/http2_codec.h"
#include "proxy/network/tls_transport_socket.h"
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
  s.circuit_breaker = cluster.circuit_breaker;
  if (cluster.per_connection_buffer_limit_bytes) {
    s.buffer_limit_bytes = *cluster.per_connection_buffer_limit_bytes;
  }
  if (cluster.http2_max_concurrent_streams) {
    s.max_concurrent_streams = *cluster.http2_max_concurrent_streams;
  }
  return s;
}

// Empty when every TLS filter chain of `listener` has its context; else
// what it waits for.
std::string TlsNotReady(const config::ConfigSnapshot& snapshot,
                        const config::ListenerConfig& listener) {
  auto check = [&](const config::FilterChainConfig& chain) -> std::string {
    if (chain.tls == nullptr) return {};
    const config::ResolvedTls* tls = snapshot.ListenerTls(listener, chain);
    if (tls == nullptr) return "TLS context not resolved";
    if (tls->unavailable) return {};  // left out: its connections find no chain
    if (tls->context == nullptr) return std::string(tls->status.message());
    return {};
  };
  for (const auto& chain : listener.filter_chains) {
    if (std::string waiting = check(chain); !waiting.empty()) return waiting;
  }
  if (listener.default_filter_chain) return check(*listener.default_filter_chain);
  return {};
}

std::unique_ptr<http::ClientConnection> NewHttp2Codec(http::ClientCallbacks& callbacks) {
  return std::make_unique<http::Http2ClientConnection>(callbacks);
}

}  // namespace

WorkerCluster::WorkerCluster(event::Dispatcher& dispatcher,
                             std::shared_ptr<const config::ClusterConfig> config,
                             std::shared_ptr<const config::EndpointSet> endpoints, Random& random,
                             stats::ClusterStats& stats,
                             std::shared_ptr<const network::TlsContext> tls, TlsContexts match_tls)
    : dispatcher_(dispatcher),
      config_(std::move(config)),
      endpoints_(std::move(endpoints)),
      tls_(std::move(tls)),
      match_tls_(std::move(match_tls)),
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
  const TransportChoice transport = ChooseTransport(host);
  if (transport.tls && transport.context == nullptr) return nullptr;  // secrets not here yet
  auto address = network::Address::Parse(host.address, static_cast<uint16_t>(host.port));
  if (!address.ok()) return nullptr;
  upstream::PoolSettings settings = PoolSettingsFor(*config_);
  if (transport.tls) {
    settings.transport_factory = [tls = transport.context, sni = transport.sni] {
      return tls->NewTransportSocket(sni);
    };
  }
  std::unique_ptr<upstream::ConnectionPool> pool;
  if (protocol == upstream::PoolProtocol::kHttp2) {
    pool = std::make_unique<upstream::Http2ConnectionPool>(dispatcher_, *address, settings, stats_,
                                                           &NewHttp2Codec);
  } else {
    pool = std::make_unique<upstream::Http1ConnectionPool>(dispatcher_, *address, settings, stats_);
  }
  auto* raw = pool.get();
  pools_.emplace(std::move(key), std::move(pool));
  return raw;
}

WorkerCluster::TransportChoice WorkerCluster::ChooseTransport(const Host& host) const {
  if (int match = config_->TransportSocketMatchFor(host); match >= 0) {
    const size_t m = static_cast<size_t>(match);
    const config::TransportSocketMatch& chosen = config_->transport_socket_matches[m];
    return {chosen.tls != nullptr, m < match_tls_.size() ? match_tls_[m] : nullptr, chosen.sni};
  }
  return {config_->tls != nullptr, tls_, config_->sni};
}

std::unique_ptr<network::TransportSocket> WorkerCluster::NewTransportSocket(
    const Host& host) const {
  const TransportChoice transport = ChooseTransport(host);
  if (!transport.tls) return std::make_unique<network::PlaintextTransportSocket>();
  if (transport.context == nullptr) return nullptr;
  return transport.context->NewTransportSocket(transport.sni);
}

std::shared_ptr<const Host> WorkerCluster::OriginalDestinationHost(
    const network::Address& destination) {
  std::string key = destination.ToString();
  if (auto it = original_destinations_.find(key); it != original_destinations_.end()) {
    return it->second;
  }
  if (original_destinations_.size() >= kMaxOriginalDestinations) {
    for (auto it = original_destinations_.begin(); it != original_destinations_.end();) {
      bool in_use = false;
      for (auto protocol : {upstream::PoolProtocol::kHttp1, upstream::PoolProtocol::kHttp2}) {
        auto pool = pools_.find(std::make_pair(it->first, protocol));
        if (pool != pools_.end() &&
            (pool->second->connection_count() > 0 || pool->second->pending_count() > 0)) {
          in_use = true;
        }
      }
      if (in_use) {
        ++it;
        continue;
      }
      pools_.erase(std::make_pair(it->first, upstream::PoolProtocol::kHttp1));
      pools_.erase(std::make_pair(it->first, upstream::PoolProtocol::kHttp2));
      it = original_destinations_.erase(it);
    }
  }
  auto host = std::make_shared<Host>();
  host->address = destination.ip();
  host->port = destination.port();
  host->key = key;
  original_destinations_.emplace(std::move(key), host);
  return host;
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
      rate_limits_.Sweep();
      if (access_log_) access_log_->Flush();
      housekeeping_timer_->Enable(kHousekeepingInterval);
    });
    housekeeping_timer_->Enable(kHousekeepingInterval);
    dispatcher_->Run();
    // Tear down on the loop's thread: connections and pools unregister from it.
    connections_.clear();
    tcp_connections_.clear();
    drain_deadline_.reset();
    listener_drains_.clear();
    dns_resolver_.reset();  // joins the resolver thread: no more posts
    dns_clusters_.clear();
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
  std::map<std::string, std::shared_ptr<WorkerCluster>> next;
  for (const auto& [name, cluster] : snapshot_->clusters) {
    const bool dns = cluster->type == config::DiscoveryType::kStrictDns ||
                     cluster->type == config::DiscoveryType::kLogicalDns;
    auto endpoints = dns ? DnsEndpointsFor(name, cluster) : snapshot_->EndpointsFor(*cluster);
    const config::ResolvedTls* resolved = snapshot_->ClusterTls(name);
    std::shared_ptr<const network::TlsContext> tls = resolved ? resolved->context : nullptr;
    WorkerCluster::TlsContexts match_tls;
    for (size_t i = 0; i < cluster->transport_socket_matches.size(); ++i) {
      const config::ResolvedTls* m = snapshot_->ClusterMatchTls(name, i);
      match_tls.push_back(m ? m->context : nullptr);
    }
    auto it = clusters_.find(name);
    // A new TLS context (rotated certificate or trust) replaces the pools:
    // requests in flight finish on their connections, new ones handshake
    // with the new context.
    const bool same_tls = it != clusters_.end() && it->second->config_ptr() == cluster &&
                          it->second->tls() == tls && it->second->match_tls() == match_tls;
    if (same_tls && it->second->endpoints() == endpoints) {
      next.emplace(name, std::move(it->second));
      clusters_.erase(it);
      continue;
    }
    auto fresh = std::make_shared<WorkerCluster>(*dispatcher_, cluster, endpoints, random_,
                                                 stats_.Cluster(name), tls, match_tls);
    if (same_tls) {
      fresh->AdoptPools(*it->second);  // same cluster, new endpoints: keep live connections
    }
    next.emplace(name, std::move(fresh));
  }
  // What is left is gone or replaced: its pools drain (requests in flight hold them).
  for (auto& [name, old] : clusters_) old->MovePoolsTo(draining_pools_);
  clusters_ = std::move(next);
  std::erase_if(dns_clusters_, [this](const auto& entry) {
    auto cluster = snapshot_->FindCluster(entry.first);
    return cluster == nullptr || cluster != entry.second.config;
  });
}

std::shared_ptr<const config::EndpointSet> Worker::DnsEndpointsFor(
    const std::string& name, const std::shared_ptr<const config::ClusterConfig>& cluster) {
  if (!cluster->static_endpoints) return nullptr;
  DnsCluster& state = dns_clusters_[name];
  if (state.config != cluster) {
    // New or changed cluster: resolve its names afresh.
    state.config = cluster;
    state.resolved.reset();
    state.refresh.reset();
    StartDnsResolution(name);
  }
  // Until the first answer, hostnames have no pool: requests get 503 (UH),
  // as Envoy's DNS clusters have no hosts before their first resolution.
  return state.resolved ? state.resolved : cluster->static_endpoints;
}

void Worker::StartDnsResolution(const std::string& name) {
  auto it = dns_clusters_.find(name);
  if (it == dns_clusters_.end()) return;
  std::shared_ptr<const config::ClusterConfig> cluster = it->second.config;
  std::vector<std::string> hostnames = upstream::HostnamesOf(*cluster->static_endpoints);
  if (hostnames.empty()) return;  // IP literals only: nothing to resolve
  if (!dns_resolver_) dns_resolver_ = std::make_unique<upstream::DnsResolver>();
  dns_resolver_->Resolve(
      std::move(hostnames), cluster->dns_lookup_family,
      [this, name, cluster](absl::StatusOr<upstream::DnsResults> result) {
        // On the resolver thread: hand the answer to the loop.
        dispatcher_->Post([this, name, cluster, r = std::move(result)]() mutable {
          OnDnsResolved(name, cluster, std::move(r));
        });
      });
}

void Worker::OnDnsResolved(const std::string& name,
                           const std::shared_ptr<const config::ClusterConfig>& cluster,
                           absl::StatusOr<upstream::DnsResults> result) {
  auto it = dns_clusters_.find(name);
  if (it == dns_clusters_.end() || it->second.config != cluster) return;  // superseded
  DnsCluster& state = it->second;
  if (result.ok()) {
    auto endpoints = upstream::ResolvedEndpointSet(
        *cluster->static_endpoints, *result, cluster->type == config::DiscoveryType::kLogicalDns);
    auto keys = [](const config::EndpointSet& set) {
      std::vector<std::string> k;
      for (const Host& h : set.hosts->hosts()) k.push_back(h.key + "/" + std::to_string(h.weight));
      return k;
    };
    if (!state.resolved || keys(*state.resolved) != keys(*endpoints)) {
      state.resolved = endpoints;
      // A new endpoint set: the cluster is rebuilt, keeping the pools of
      // addresses that remain.
      auto current = clusters_.find(name);
      if (current != clusters_.end()) {
        auto fresh = std::make_shared<WorkerCluster>(*dispatcher_, cluster, endpoints, random_,
                                                     stats_.Cluster(name), current->second->tls(),
                                                     current->second->match_tls());
        fresh->AdoptPools(*current->second);
        current->second->MovePoolsTo(draining_pools_);
        current->second = std::move(fresh);
      }
    }
  } else {
    // Keep the last good answer; try again at the refresh rate.
    spdlog::warn("cluster {}: {}", name, std::string(result.status().message()));
  }
  if (!state.refresh)
    state.refresh = dispatcher_->CreateTimer([this, name] { StartDnsResolution(name); });
  state.refresh->Enable(std::chrono::milliseconds(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(cluster->dns_refresh_rate))));
}

void Worker::UpdateListeners() {
  // Every address a listener owns: hand-offs from the original-destination
  // listener find it by any of them.
  auto addresses_of = [](const config::ListenerConfig& config) {
    std::vector<config::ListenerAddress> all = {{config.address, config.port}};
    all.insert(all.end(), config.additional_addresses.begin(), config.additional_addresses.end());
    return all;
  };
  listeners_by_address_.clear();
  for (const auto& [name, config] : snapshot_->listeners) {
    for (const auto& a : addresses_of(*config)) {
      auto address = network::Address::Parse(a.address, static_cast<uint16_t>(a.port));
      if (address.ok()) listeners_by_address_.emplace(address->ToString(), config);
    }
  }
  std::map<std::string, ActiveListener> next;
  for (const auto& [name, config] : snapshot_->listeners) {
    if (!config->bind_to_port) continue;
    if (std::string waiting = TlsNotReady(*snapshot_, *config); !waiting.empty()) {
      // Envoy's warming: a listener starts once its certificates are here.
      spdlog::info("listener {}: not started, {}", name, waiting);
      continue;
    }
    auto it = listeners_.find(name);
    if (it != listeners_.end() && addresses_of(*it->second.config) == addresses_of(*config)) {
      // Same sockets; new connections get the new config.
      it->second.config = config;
      next.emplace(name, std::move(it->second));
      listeners_.erase(it);
      continue;
    }
    ActiveListener active{config, {}};
    for (const auto& a : addresses_of(*config)) {
      auto address = network::Address::Parse(a.address, static_cast<uint16_t>(a.port));
      if (!address.ok()) {
        spdlog::error("listener {}: {}", name, std::string(address.status().message()));
        break;
      }
      std::string listener_name = name;
      auto socket = network::TcpListener::Create(
          *dispatcher_, *address, /*reuse_port=*/true,
          [this, listener_name](int fd) { OnAccept(listener_name, fd); });
      if (!socket.ok()) {
        spdlog::error("listener {}: {}", name, std::string(socket.status().message()));
        break;
      }
      active.sockets.push_back(std::move(*socket));
    }
    // A listener serves on all its addresses or not at all.
    if (active.sockets.size() == addresses_of(*config).size()) {
      next.emplace(name, std::move(active));
    }
  }
  // Removed (or moved) listeners stop accepting; their connections finish
  // the request in flight and close, within the drain timeout.
  std::vector<std::string> removed;
  for (const auto& [name, old] : listeners_) removed.push_back(name);
  listeners_ = std::move(next);
  for (const auto& name : removed) DrainRemovedListener(name);
  std::lock_guard lock(ports_mu_);
  ports_.clear();
  for (const auto& [name, l] : listeners_) ports_[name] = l.sockets.front()->address().port();
}

// Envoy's tls_inspector: the connection's first bytes are peeked at (never
// consumed) until the ClientHello is complete, then the worker chooses the
// filter chain by SNI, ALPN and transport protocol. A client that sends
// nothing for 15 s (Envoy's listener_filters_timeout) is dropped.
class Worker::TlsInspection final : public event::DeferredDeletable {
 public:
  TlsInspection(Worker& worker, AcceptedConnection accepted)
      : worker_(worker), accepted_(std::move(accepted)), fd_(accepted_.fd) {
    event_ = worker_.dispatcher_->CreateFileEvent(fd_, [this](uint32_t) { OnReadable(); });
    timer_ = worker_.dispatcher_->CreateTimer([this] { Finish(std::nullopt); });
    timer_->Enable(std::chrono::seconds(15));
  }
  ~TlsInspection() override {
    event_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  void OnReadable() {
    thread_local std::string buffer(network::kMaxClientHelloPeek, '\0');
    ssize_t n;
    do {
      n = ::recv(fd_, buffer.data(), buffer.size(), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      Finish(std::nullopt);
      return;
    }
    network::ClientHelloInfo info =
        network::InspectClientHello(std::string_view(buffer.data(), static_cast<size_t>(n)));
    if (info.result == network::ClientHelloInfo::Result::kNeedMoreData &&
        static_cast<size_t>(n) < buffer.size()) {
      return;  // the rest of the hello makes a new edge
    }
    Finish(info);
  }

  void Finish(std::optional<network::ClientHelloInfo> info) {
    event_.reset();
    timer_.reset();
    int fd = fd_;
    fd_ = -1;  // handed on (or closed below)
    Worker& worker = worker_;
    AcceptedConnection accepted = std::move(accepted_);
    auto self = worker.inspecting_.find(fd);
    if (self != worker.inspecting_.end()) {
      worker.dispatcher_->DeferredDelete(std::move(self->second));
      worker.inspecting_.erase(self);
    }
    if (!info) {
      ::close(fd);
      return;
    }
    worker.ServeAccepted(std::move(accepted), &*info);
  }

  Worker& worker_;
  AcceptedConnection accepted_;
  int fd_;
  std::unique_ptr<event::FileEvent> event_;
  std::unique_ptr<event::Timer> timer_;
};

void Worker::OnAccept(const std::string& listener_name, int fd) {
  auto it = listeners_.find(listener_name);
  if (it == listeners_.end() || draining_) {
    ::close(fd);
    return;
  }
  AcceptedConnection accepted;
  accepted.fd = fd;
  accepted.listener = it->second.config;
  const bool capture =
      accepted.listener->use_original_dst || accepted.listener->restores_original_dst();
  // The addresses cost syscalls: only taken when something depends on them.
  if (capture || accepted.listener->matches_on_destination()) {
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
      if (od.ok() && od->ToString() != local->ToString()) accepted.original_destination = *od;
    }
    if (accepted.listener->use_original_dst && accepted.original_destination) {
      if (auto target = HandOffTarget(*accepted.original_destination)) {
        accepted.listener = std::move(target);
      }
    }
    const network::Address& destination =
        accepted.original_destination ? *accepted.original_destination : *local;
    accepted.match.destination_ip = destination.ip();
    accepted.match.destination_port = destination.port();
  }
  // Chains told apart by TLS, SNI or ALPN need a look at the ClientHello
  // first (Envoy's tls_inspector), on the listener that serves the connection.
  if (accepted.listener->inspects_client_hello()) {
    inspecting_[fd] = std::make_unique<TlsInspection>(*this, std::move(accepted));
    return;
  }
  ServeAccepted(std::move(accepted), nullptr);
}

void Worker::ServeAccepted(AcceptedConnection accepted, const network::ClientHelloInfo* hello) {
  const int fd = accepted.fd;
  if (draining_) {
    ::close(fd);
    return;
  }
  if (hello != nullptr && hello->result == network::ClientHelloInfo::Result::kTls) {
    accepted.match.transport_protocol = "tls";
    accepted.match.server_name = hello->server_name;
    accepted.match.application_protocols = hello->alpn;
  }
  std::shared_ptr<const config::ListenerConfig> listener = std::move(accepted.listener);
  const config::FilterChainConfig* chain = config::SelectFilterChain(*listener, accepted.match);
  if (chain == nullptr) {
    ::close(fd);
    return;
  }
  std::unique_ptr<network::TransportSocket> transport;
  if (chain->tls != nullptr) {
    const config::ResolvedTls* tls = snapshot_->ListenerTls(*listener, *chain);
    if (tls == nullptr || tls->context == nullptr) {
      ::close(fd);
      return;
    }
    transport = tls->context->NewTransportSocket();
  } else {
    transport = std::make_unique<network::PlaintextTransportSocket>();
  }
  auto connection = network::Connection::FromAccepted(*dispatcher_, fd, std::move(transport));
  connection->SetWriteBufferLimits(listener->per_connection_buffer_limit_bytes);
  if (chain->tcp_proxy) {
    auto proxy = std::make_unique<TcpProxy>(*this, std::move(connection), std::move(listener),
                                            *chain, accepted.original_destination);
    TcpProxy* raw = proxy.get();
    tcp_connections_.emplace(raw, std::move(proxy));
    raw->Start();
    return;
  }
  auto hcm = std::make_unique<HttpConnectionManager>(
      *this, std::move(connection), std::move(listener), *chain, accepted.original_destination);
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

std::shared_ptr<WorkerCluster> Worker::FindCluster(const std::string& name) {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second;
}

void Worker::DrainRemovedListener(const std::string& name) {
  const uint64_t drain_id = ++last_drain_id_;
  // Closing removes from connections_: collect first.
  std::vector<HttpConnectionManager*> affected;
  for (auto& [key, c] : connections_) {
    if (c->drain_id() == 0 && c->listener().name == name) affected.push_back(c.get());
  }
  if (affected.empty()) return;
  spdlog::info("listener {} removed: draining {} connection(s)", name, affected.size());
  for (auto* c : affected) c->DrainListener(drain_id);
  auto deadline = dispatcher_->CreateTimer([this, drain_id] {
    std::vector<HttpConnectionManager*> rest;
    for (auto& [key, c] : connections_) {
      if (c->drain_id() == drain_id) rest.push_back(c.get());
    }
    for (auto* c : rest) c->CloseNow();
    listener_drains_.erase(drain_id);  // destroys this timer: the loop runs a copy
  });
  deadline->Enable(listener_drain_timeout_);
  listener_drains_.emplace(drain_id, std::move(deadline));
}

void Worker::SweepDrainingPools() {
  std::erase_if(draining_pools_, [](const auto& pool) {
    pool->CloseIdle();
    return pool->connection_count() == 0 && pool->pending_count() == 0;
  });
}

}  // namespace meshgate::proxy::server
