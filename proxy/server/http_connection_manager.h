// HttpConnectionManager: one downstream connection speaking HTTP — the codec
// on its bytes, and for each request an ActiveStream that routes it (on the
// worker's snapshot of the moment the request arrived), runs the per-route
// filters (fault injection, CORS, local rate limit) and forwards it upstream
// with the route's rewrites, header edits, timeouts and retries.
//
// A request sees one whole configuration: the snapshot and route table are
// pinned by the stream (shared_ptr) until it ends, whatever xDS does
// meanwhile.
//
// Protocol: HTTP/1.1 or HTTP/2, chosen by the listener's codec_type; with
// AUTO, HTTP/2 when the transport negotiated "h2" (ALPN) or the first bytes
// are the prior-knowledge preface, else HTTP/1.1. HTTP/1 keeps one stream at
// a time (pipelined requests wait in the read buffer); HTTP/2 multiplexes,
// one ActiveStream per stream id. On drain an HTTP/2 connection sends GOAWAY
// and closes once its open streams finished.
//
// Thread-safety: single worker thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/config/listener_translator.h"
#include "proxy/http/codec.h"
#include "proxy/network/address.h"
#include "proxy/network/connection.h"
#include "proxy/server/worker_context.h"

namespace meshgate::proxy::server {

class ActiveStream;

class HttpConnectionManager : public event::DeferredDeletable,
                              public network::ConnectionCallbacks,
                              public http::ServerCallbacks {
 public:
  // `listener` pins the listener config (and so `chain`) for the connection's life.
  // `original_destination`: where a captured client meant to connect (what
  // ORIGINAL_DST clusters connect to).
  HttpConnectionManager(WorkerContext& worker, std::unique_ptr<network::Connection> connection,
                        std::shared_ptr<const config::ListenerConfig> listener,
                        const config::FilterChainConfig& chain,
                        std::optional<network::Address> original_destination = std::nullopt);
  ~HttpConnectionManager() override;

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override;
  void OnEvent(network::ConnectionEvent event) override;
  void OnWriteBufferWatermark(bool above_high) override;

  // http::ServerCallbacks
  void OnHeaders(http::StreamId stream, http::RequestHeaders headers, bool end_stream) override;
  void OnData(http::StreamId stream, std::string_view data, bool end_stream) override;
  void OnTrailers(http::StreamId stream, http::TrailerMap trailers) override;
  void OnStreamReset(http::StreamId stream, http::StreamResetReason reason) override;
  void OnProtocolError(const http::ProtocolError& error) override;
  // The HTTP/2 codec holds more of `stream`'s response than the peer's window
  // lets out (or drained again): that stream's upstream pauses (resumes).
  void OnStreamWatermark(http::StreamId stream, bool above_high) override;

  // For ActiveStream.
  WorkerContext& worker() { return worker_; }
  network::Connection& connection() { return *connection_; }
  // REQUIRES: a request was announced (the codec exists by then).
  http::ServerConnection& codec() { return *codec_; }
  bool http2() const { return http2_; }
  std::string_view protocol() const { return http2_ ? "HTTP/2" : "HTTP/1.1"; }
  const config::HttpConnectionManagerConfig& config() const { return chain_.http; }
  stats::HttpStats& stats() { return stats_; }
  // The downstream peer's IP, formatted once per connection.
  const std::string& peer_ip() const { return peer_ip_; }
  const std::optional<network::Address>& original_destination() const {
    return original_destination_;
  }
  // Writes what the codec serialized; closes when the codec says so.
  void FlushCodec();
  // Flushes at the latest on the next loop iteration.
  void ScheduleFlush();
  void OnStreamComplete(ActiveStream& stream);
  // Draining: HTTP/1 closes now when no request is in flight (else after
  // it); HTTP/2 sends GOAWAY and closes when its open streams are done.
  void CloseIfIdle();
  // Drain deadline: close regardless.
  void CloseNow();
  // This connection's listener was removed: finish the requests in flight
  // (their responses say `connection: close`), then close. `drain_id` names
  // the drain, so its deadline finds the connections it concerns.
  void DrainListener(uint64_t drain_id);
  uint64_t drain_id() const { return drain_id_; }
  // True when responses should close the connection (listener or worker drain).
  bool draining() const { return drain_id_ != 0 || worker_.draining(); }
  const config::ListenerConfig& listener() const { return *listener_; }

 private:
  void CloseConnection();
  // Notes activity now (bytes read, a response done) for the idle timeout.
  void TouchIdleTimer();
  void OnIdleTimer();
  // Picks the codec from the config, ALPN or the first bytes; false while
  // the bytes seen so far cannot tell.
  bool ChooseCodec(std::string_view first_bytes);
  void CreateCodec(bool http2);
  // Ends every stream still in flight (the connection is going away).
  void ResetAllStreams();
  ActiveStream* FindStream(http::StreamId id);

  WorkerContext& worker_;
  std::unique_ptr<network::Connection> connection_;
  std::shared_ptr<const config::ListenerConfig> listener_;
  const config::FilterChainConfig& chain_;
  std::unique_ptr<http::ServerConnection> codec_;
  stats::HttpStats& stats_;
  bool http2_ = false;
  // HTTP/1: at most one at a time; HTTP/2: one per open stream id.
  std::map<http::StreamId, std::unique_ptr<ActiveStream>> streams_;
  bool dispatching_ = false;
  bool paused_ = false;  // reading stopped while a pipelined request waits
  bool closed_ = false;
  bool write_blocked_ = false;  // the connection's write buffer is above its high watermark
  uint64_t drain_id_ = 0;       // non-zero once the listener drains
  std::string peer_ip_;
  const std::optional<network::Address> original_destination_;
  std::unique_ptr<event::Timer> idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  std::unique_ptr<event::Timer> flush_timer_;
};

}  // namespace meshgate::proxy::server
