// Http1ConnectionPool: one worker's HTTP/1.1 connections to one upstream
// host, reused across requests (keep-alive), bounded in number, closed when
// idle too long or after serving their quota of requests. The HTTP/1.1 side
// of ConnectionPool (connection_pool.h).
//
// A request asks the pool for a stream with NewStream(); the pool binds it to
// an idle connection, or connects a new one, or queues it until a connection
// frees up (bounded by the circuit breaker: beyond max_pending_requests the
// request fails with kOverflow).
// The request encodes its headers and body through the returned
// UpstreamStream, possibly before the connection exists — the stream buffers
// until it is bound. Responses arrive through UpstreamStreamCallbacks.
//
// Thread-safety: single worker thread, like everything on a Dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "proxy/event/dispatcher.h"
#include "proxy/http/codec.h"
#include "proxy/network/address.h"
#include "proxy/network/connection.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/connection_pool.h"

namespace meshgate::proxy::upstream {

class Http1ConnectionPool final : public ConnectionPool {
 public:
  Http1ConnectionPool(event::Dispatcher& dispatcher, network::Address address,
                      PoolSettings settings, stats::ClusterStats& stats);
  ~Http1ConnectionPool() override;
  Http1ConnectionPool(const Http1ConnectionPool&) = delete;
  Http1ConnectionPool& operator=(const Http1ConnectionPool&) = delete;

  // The returned stream must not outlive the pool's owner's use of it; the
  // callbacks must outlive the stream (or until Reset/OnUpstreamReset).
  std::unique_ptr<UpstreamStream> NewStream(UpstreamStreamCallbacks& callbacks) override;

  PoolProtocol protocol() const override { return PoolProtocol::kHttp1; }

  const network::Address& address() const override { return address_; }
  size_t connection_count() const override { return clients_.size(); }
  size_t idle_count() const;
  size_t pending_count() const override { return pending_.size(); }
  // Closes idle connections (draining); busy ones close after their response.
  void CloseIdle() override;

 private:
  class ActiveClient;
  class PendingStream;
  friend class ActiveClient;
  friend class PendingStream;

  void OnClientReady(ActiveClient& client);
  void OnClientClosed(ActiveClient& client);
  void Bind(PendingStream& stream, ActiveClient& client);
  // False when the circuit breaker refused a connection.
  bool ConnectOne();
  void RemovePending(PendingStream* stream);

  event::Dispatcher& dispatcher_;
  network::Address address_;
  PoolSettings settings_;
  stats::ClusterStats& stats_;
  std::list<std::unique_ptr<ActiveClient>> clients_;
  std::vector<ActiveClient*> idle_;  // connected, no stream, not closing
  std::deque<PendingStream*> pending_;
  size_t connecting_ = 0;
};

}  // namespace meshgate::proxy::upstream
