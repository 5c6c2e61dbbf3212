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
// Thread-safety: single worker thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "proxy/config/listener_translator.h"
#include "proxy/http/codec.h"
#include "proxy/network/connection.h"
#include "proxy/server/worker_context.h"

namespace meshgate::proxy::server {

class ActiveStream;

class HttpConnectionManager : public event::DeferredDeletable,
                              public network::ConnectionCallbacks,
                              public http::ServerCallbacks {
 public:
  // `listener` pins the listener config (and so `chain`) for the connection's life.
  HttpConnectionManager(WorkerContext& worker, std::unique_ptr<network::Connection> connection,
                        std::shared_ptr<const config::ListenerConfig> listener,
                        const config::FilterChainConfig& chain);
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

  // For ActiveStream.
  WorkerContext& worker() { return worker_; }
  network::Connection& connection() { return *connection_; }
  http::ServerConnection& codec() { return *codec_; }
  const config::HttpConnectionManagerConfig& config() const { return chain_.http; }
  stats::HttpStats& stats() { return stats_; }
  // The downstream peer's IP, formatted once per connection.
  const std::string& peer_ip() const { return peer_ip_; }
  // Writes what the codec serialized; closes when the codec says so.
  void FlushCodec();
  // Flushes at the latest on the next loop iteration.
  void ScheduleFlush();
  void OnStreamComplete(ActiveStream& stream);
  // Draining: close now when no request is in flight (else after it).
  void CloseIfIdle();
  // This connection's listener was removed: finish the request in flight
  // (its response says `connection: close`), then close. `drain_id` names
  // the drain, so its deadline finds the connections it concerns.
  void DrainListener(uint64_t drain_id);
  uint64_t drain_id() const { return drain_id_; }
  // True when responses should close the connection (listener or worker drain).
  bool draining() const { return drain_id_ != 0 || worker_.draining(); }
  const config::ListenerConfig& listener() const { return *listener_; }
  // Drain deadline: close regardless.
  void CloseNow();

 private:
  void CloseConnection();
  void OnIdleTimer();
  void ArmIdleTimer();

  WorkerContext& worker_;
  std::unique_ptr<network::Connection> connection_;
  std::shared_ptr<const config::ListenerConfig> listener_;
  const config::FilterChainConfig& chain_;
  std::unique_ptr<http::ServerConnection> codec_;
  stats::HttpStats& stats_;
  std::unique_ptr<ActiveStream> stream_;  // HTTP/1: one at a time
  bool dispatching_ = false;
  bool paused_ = false;  // reading stopped while a pipelined request waits
  bool closed_ = false;
  uint64_t drain_id_ = 0;  // non-zero once the listener drains
  std::string peer_ip_;
  // Armed lazily: requests only move last_activity_, and the timer re-arms
  // itself for the remainder when it fires early (no timer churn per request).
  std::unique_ptr<event::Timer> idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  std::unique_ptr<event::Timer> flush_timer_;
};

}  // namespace meshgate::proxy::server
