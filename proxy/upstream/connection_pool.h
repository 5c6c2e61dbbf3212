// ConnectionPool: the protocol-neutral face of one worker's connections to one
// upstream host. The router asks a pool for an UpstreamStream and talks to it
// through UpstreamStream / UpstreamStreamCallbacks, whether the pool behind it
// speaks HTTP/1.1 (one request per connection at a time) or HTTP/2 (many
// streams multiplexed on few connections).
//
// Ownership: the worker owns its pools; a stream handed out by NewStream() is
// owned by the caller and must be released (or Reset()) before the pool is
// destroyed. The callbacks object must outlive the stream, or until Reset() /
// OnUpstreamReset().
//
// Flow control: both directions are bounded by `buffer_limit_bytes` (Envoy's
// per_connection_buffer_limit_bytes). Request body the pool or its codec
// holds beyond the limit raises OnUpstreamWatermark(true) — the owner stops
// reading its downstream — and falling to half of it lowers it again.
// ReadDisable() is the other direction: the owner's downstream cannot take
// more response, so the pool stops reading this stream's response (HTTP/1:
// the connection's socket; HTTP/2: no WINDOW_UPDATE for the stream).
//
// Circuit breaking: connections, queued streams and streams in flight count
// against the cluster's CircuitBreaker (a pool given none makes its own with
// Envoy's default limits); a stream over max_requests or
// max_pending_requests fails with kOverflow (counted in
// upstream_rq_pending_overflow), a connection over max_connections is not
// opened (upstream_cx_overflow) unless the pool has none at all.
//
// Thread-safety: single worker thread, like everything on a Dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "proxy/http/header_map.h"
#include "proxy/network/address.h"
#include "proxy/network/transport_socket.h"
#include "proxy/router/retry_state.h"
#include "proxy/upstream/circuit_breaker.h"

namespace meshgate::proxy::upstream {

class UpstreamStreamCallbacks {
 public:
  virtual ~UpstreamStreamCallbacks() = default;
  virtual void OnUpstreamHeaders(http::ResponseHeaders headers, bool end_stream) = 0;
  virtual void OnUpstreamData(std::string_view data, bool end_stream) = 0;
  virtual void OnUpstreamTrailers(http::TrailerMap trailers) = 0;
  // The stream failed before its response ended; `reason` says how (connect
  // failure, reset, refused, overflow). No further callbacks follow.
  virtual void OnUpstreamReset(UpstreamReset reason) = 0;
  // The request body waiting to reach the upstream crossed buffer_limit_bytes
  // (true) or fell back to half of it (false): stop / resume feeding it.
  virtual void OnUpstreamWatermark(bool /*above_high*/) {}
};

class UpstreamStream {
 public:
  virtual ~UpstreamStream() = default;
  virtual void EncodeHeaders(const http::RequestHeaders& headers, bool end_stream) = 0;
  virtual void EncodeData(std::string_view data, bool end_stream) = 0;
  virtual void EncodeTrailers(const http::TrailerMap& trailers) = 0;
  // Abandons the stream (timeout, downstream went away). No callbacks follow.
  // HTTP/1 closes the connection (it cannot abort one message); HTTP/2 sends
  // RST_STREAM for this stream only.
  virtual void Reset() = 0;
  // Stops (true) or resumes (false) reading this stream's response; calls
  // nest. Bytes already in flight may still arrive (at most one read, or one
  // HTTP/2 stream window).
  virtual void ReadDisable(bool disable) = 0;
};

enum class PoolProtocol { kHttp1, kHttp2 };

struct PoolSettings {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{
      60'000};  // Envoy's default upstream idle timeout is 1h; keep it tighter
  uint32_t max_requests_per_connection = 0;  // 0: unlimited
  // HTTP/2: our own cap on streams per connection (the peer's SETTINGS may
  // lower it further); 0 takes the peer's value alone.
  uint32_t max_concurrent_streams = 0;
  // Request body held per stream before the owner is told to stop sending
  // (OnUpstreamWatermark); the HTTP/2 codec's per-stream output limit.
  size_t buffer_limit_bytes = 1024 * 1024;
  // The cluster's limits (connections, queued and active requests), shared
  // with its other pools and workers; unset: the pool's own, at Envoy's
  // defaults.
  std::shared_ptr<CircuitBreaker> circuit_breaker;
  // Makes each new connection's transport (TLS to the upstream); plaintext
  // when unset.
  std::function<std::unique_ptr<network::TransportSocket>()> transport_factory;
};

class ConnectionPool {
 public:
  virtual ~ConnectionPool() = default;

  // A stream bound to a connection now or later (queued, bounded by the
  // breaker's max_pending_requests; beyond it the stream fails with
  // kOverflow from the event loop, never from inside this call).
  virtual std::unique_ptr<UpstreamStream> NewStream(UpstreamStreamCallbacks& callbacks) = 0;

  virtual PoolProtocol protocol() const = 0;
  virtual const network::Address& address() const = 0;
  virtual size_t connection_count() const = 0;
  virtual size_t pending_count() const = 0;
  // Closes connections with nothing in flight (draining); busy ones close
  // once their streams end.
  virtual void CloseIdle() = 0;
};

}  // namespace meshgate::proxy::upstream
