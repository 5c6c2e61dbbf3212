// Http2ConnectionPool: one worker's HTTP/2 connections to one upstream host,
// the HTTP/2 side of ConnectionPool (connection_pool.h).
//
// Requests are multiplexed as streams on as few connections as the peer
// allows: a connection takes streams once the peer's first SETTINGS arrived
// (servers send it at once; waiting costs the first streams of a new
// connection about one round trip, and in exchange no stream is refused for
// exceeding a limit we did not know yet), and while it has fewer active than
// the smaller of the peer's SETTINGS_MAX_CONCURRENT_STREAMS and our own
// max_concurrent_streams. A peer that connects but sends no SETTINGS within
// connect_timeout counts as a failed connection.
//
// When every connection is full, has received GOAWAY, or has served
// max_requests_per_connection streams, a new connection is opened (up to
// the circuit breaker's max_connections); streams beyond that wait in a
// queue bounded by max_pending_requests (overflow fails the stream with
// kOverflow). A stream that is Reset() sends
// RST_STREAM and leaves the other streams of its connection alone. A
// connection with no streams closes after idle_timeout; one that drains
// (GOAWAY or request quota) closes when its last stream ends.
//
// The HTTP/2 codec itself is pluggable (a factory of http::ClientConnection),
// so the pool does not depend on which codec implementation frames the
// bytes; the connection-level facts the pool needs (whether the peer's
// SETTINGS arrived, its concurrency limit, GOAWAY) are read from the
// server's frames as they pass by (Http2PeerFrameObserver).
//
// Ownership: the worker owns the pool; the pool owns its connections and
// their codecs. Streams are owned by the caller (see connection_pool.h).
// Thread-safety: single worker thread, like everything on a Dispatcher.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>

#include "proxy/event/dispatcher.h"
#include "proxy/http/codec.h"
#include "proxy/network/address.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/connection_pool.h"

namespace meshgate::proxy::upstream {

// Builds the client side of an HTTP/2 codec reporting to `callbacks`. The
// codec's first output must be the connection preface.
using Http2CodecFactory =
    std::function<std::unique_ptr<http::ClientConnection>(http::ClientCallbacks& callbacks)>;

// What an upstream peer has told us about an HTTP/2 connection, learnt from
// the frames it sent (SETTINGS, GOAWAY). Feed it every byte the server sends,
// in order, split anywhere. Pure: no I/O, and no judgement: whether the bytes
// are valid HTTP/2 is the codec's call (it reports errors; this only reads
// the frame headers to stay in step, and the two frame types it needs).
class Http2PeerFrameObserver {
 public:
  // The limit while the peer's SETTINGS name none. RFC 9113 says unlimited;
  // like nghttp2 (which assumes 100 before SETTINGS) we stay at 100 so one
  // connection does not grow without bound.
  static constexpr uint32_t kInitialMaxConcurrentStreams = 100;

  void Observe(std::string_view bytes);

  uint32_t max_concurrent_streams() const { return max_concurrent_streams_; }
  bool settings_received() const { return settings_received_; }
  bool goaway_received() const { return goaway_received_; }

 private:
  void OnFrame(uint8_t type, uint8_t flags, std::string_view payload);

  // The frame being read: its 9-byte header, then its payload (kept only for
  // the frame types we read; others are skipped by length).
  std::string header_;
  std::string payload_;
  uint32_t payload_remaining_ = 0;
  bool keep_payload_ = false;
  uint8_t type_ = 0;
  uint8_t flags_ = 0;
  uint32_t max_concurrent_streams_ = kInitialMaxConcurrentStreams;
  bool settings_received_ = false;
  bool goaway_received_ = false;
};

class Http2ConnectionPool final : public ConnectionPool {
 public:
  Http2ConnectionPool(event::Dispatcher& dispatcher, network::Address address,
                      PoolSettings settings, stats::ClusterStats& stats,
                      Http2CodecFactory codec_factory);
  ~Http2ConnectionPool() override;
  Http2ConnectionPool(const Http2ConnectionPool&) = delete;
  Http2ConnectionPool& operator=(const Http2ConnectionPool&) = delete;

  std::unique_ptr<UpstreamStream> NewStream(UpstreamStreamCallbacks& callbacks) override;
  PoolProtocol protocol() const override { return PoolProtocol::kHttp2; }
  const network::Address& address() const override { return address_; }
  size_t connection_count() const override { return clients_.size(); }
  size_t pending_count() const override { return pending_.size(); }
  void CloseIdle() override;

  // Streams bound to connections, across all of them (for tests and /clusters).
  size_t active_stream_count() const;

 private:
  class ActiveClient;
  class Stream;
  friend class ActiveClient;
  friend class Stream;

  // Binds waiting streams to connections with room, then opens connections
  // for those still waiting.
  void Assign();
  // False when the circuit breaker refused a connection.
  bool ConnectOne();
  // `never_ready`: the connection failed before it could carry a stream, so
  // the waiters it was opened for fail with kConnectFailure.
  void OnClientClosed(ActiveClient& client, bool never_ready);
  void RemovePending(Stream* stream);
  // What a connecting client is expected to take before its SETTINGS arrive.
  uint32_t AssumedCapacity() const;

  event::Dispatcher& dispatcher_;
  network::Address address_;
  PoolSettings settings_;
  stats::ClusterStats& stats_;
  Http2CodecFactory codec_factory_;
  std::list<std::unique_ptr<ActiveClient>> clients_;
  std::deque<Stream*> pending_;
  bool assigning_ = false;
};

}  // namespace meshgate::proxy::upstream
