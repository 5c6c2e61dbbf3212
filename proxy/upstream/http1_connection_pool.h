// Http1ConnectionPool: one worker's HTTP/1.1 connections to one upstream
// host, reused across requests (keep-alive), bounded in number, closed when
// idle too long or after serving their quota of requests.
//
// A request asks the pool for a stream with NewStream(); the pool binds it to
// an idle connection, or connects a new one, or queues it until a connection
// frees up (bounded: beyond max_pending the request fails with kOverflow).
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
#include "proxy/router/retry_state.h"
#include "proxy/stats/stats.h"

namespace meshgate::proxy::upstream {

class UpstreamStreamCallbacks {
 public:
  virtual ~UpstreamStreamCallbacks() = default;
  virtual void OnUpstreamHeaders(http::ResponseHeaders headers, bool end_stream) = 0;
  virtual void OnUpstreamData(std::string_view data, bool end_stream) = 0;
  virtual void OnUpstreamTrailers(http::TrailerMap trailers) = 0;
  // The stream failed before its response ended; `reason` says how (connect
  // failure, reset, overflow). No further callbacks follow.
  virtual void OnUpstreamReset(UpstreamReset reason) = 0;
};

class UpstreamStream {
 public:
  virtual ~UpstreamStream() = default;
  virtual void EncodeHeaders(const http::RequestHeaders& headers, bool end_stream) = 0;
  virtual void EncodeData(std::string_view data, bool end_stream) = 0;
  virtual void EncodeTrailers(const http::TrailerMap& trailers) = 0;
  // Abandons the stream (timeout, downstream went away). No callbacks follow;
  // the connection it used is closed, as HTTP/1 cannot abort one message.
  virtual void Reset() = 0;
};

struct PoolSettings {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{
      60'000};  // Envoy's default upstream idle timeout is 1h; keep it tighter
  uint32_t max_requests_per_connection = 0;  // 0: unlimited
  uint32_t max_connections = 1024;
  uint32_t max_pending = 1024;
  // Makes each new connection's transport (TLS to the upstream); plaintext
  // when unset.
  std::function<std::unique_ptr<network::TransportSocket>()> transport_factory;
};

class Http1ConnectionPool {
 public:
  Http1ConnectionPool(event::Dispatcher& dispatcher, network::Address address,
                      PoolSettings settings, stats::ClusterStats& stats);
  ~Http1ConnectionPool();
  Http1ConnectionPool(const Http1ConnectionPool&) = delete;
  Http1ConnectionPool& operator=(const Http1ConnectionPool&) = delete;

  // The returned stream must not outlive the pool's owner's use of it; the
  // callbacks must outlive the stream (or until Reset/OnUpstreamReset).
  std::unique_ptr<UpstreamStream> NewStream(UpstreamStreamCallbacks& callbacks);

  const network::Address& address() const { return address_; }
  size_t connection_count() const { return clients_.size(); }
  size_t idle_count() const;
  size_t pending_count() const { return pending_.size(); }
  // Closes idle connections (draining); busy ones close after their response.
  void CloseIdle();

 private:
  class ActiveClient;
  class PendingStream;
  friend class ActiveClient;
  friend class PendingStream;

  void OnClientReady(ActiveClient& client);
  void OnClientClosed(ActiveClient& client);
  void Bind(PendingStream& stream, ActiveClient& client);
  void ConnectOne();
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
