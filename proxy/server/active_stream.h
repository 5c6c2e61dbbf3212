// ActiveStream: one downstream request on an HttpConnectionManager, from its
// headers to the end of its response — routing, per-route filters, and the
// upstream attempts (with retries and timeouts) that answer it.
//
// Flow control, both ways, so a slow peer on one side makes the proxy hold
// at most about one buffer limit (1 MiB, Envoy's default
// per_connection_buffer_limit_bytes) per stream instead of the whole body:
//  - response: when the downstream cannot take more (OnDownstreamWatermark:
//    the HTTP/2 codec's stream buffer, or the connection's write buffer) the
//    upstream stream stops being read until it drains;
//  - request: when the upstream cannot take more (OnUpstreamWatermark), or
//    a body waits here for an attempt to start, the downstream stops being
//    read (HTTP/2: no WINDOW_UPDATE for this stream; HTTP/1: the socket).
//
// Thread-safety: single worker thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proxy/accesslog/access_log.h"
#include "proxy/http/codec.h"
#include "proxy/http/header_map.h"
#include "proxy/router/retry_state.h"
#include "proxy/router/route_table.h"
#include "proxy/server/worker_context.h"
#include "proxy/upstream/connection_pool.h"

namespace meshgate::proxy::server {

class HttpConnectionManager;

// Released through Dispatcher::DeferredDelete: it often completes deep in its
// own call stack.
class ActiveStream : public event::DeferredDeletable, public upstream::UpstreamStreamCallbacks {
 public:
  ActiveStream(HttpConnectionManager& hcm, http::StreamId id);
  ~ActiveStream() override;

  http::StreamId id() const { return id_; }
  bool response_complete() const { return response_complete_; }

  void DecodeHeaders(http::RequestHeaders headers, bool end_stream);
  void DecodeData(std::string_view data, bool end_stream);
  void DecodeTrailers(http::TrailerMap trailers);
  // The downstream went away (connection closed or stream reset).
  void OnDownstreamReset();
  // The downstream cannot take more of the response (true) / can again
  // (false). Calls nest: the codec's stream buffer and the connection's write
  // buffer report separately.
  void OnDownstreamWatermark(bool above_high);

  // upstream::UpstreamStreamCallbacks
  void OnUpstreamHeaders(http::ResponseHeaders headers, bool end_stream) override;
  void OnUpstreamData(std::string_view data, bool end_stream) override;
  void OnUpstreamTrailers(http::TrailerMap trailers) override;
  void OnUpstreamReset(UpstreamReset reason) override;
  void OnUpstreamWatermark(bool above_high) override;

 private:
  // Routing and filters, once the request headers are known.
  void Route();
  void ContinueAfterFilters();
  bool RunFaultFilter();
  bool HandleCorsPreflight();
  bool ApplyLocalRateLimit();

  // Upstream attempts.
  void StartAttempt();
  void ApplyForwardClientCert();
  // For clusters that speak whatever the downstream spoke.
  upstream::PoolProtocol DownstreamProtocol() const;
  void OnPerTryTimeout();
  void OnGlobalTimeout();
  void ScheduleRetry(absl::Duration backoff);
  // The cluster's max_retries: false (and counted) when the breaker is open.
  bool AcquireRetrySlot();
  // Stops or resumes reading the request body from the downstream, as
  // upload_paused_by_upstream_ / upload_paused_while_held_ ask.
  void UpdateUploadPause();
  void SendMirrors();

  // Responses.
  void SendLocalReply(int status, std::string_view body, std::string_view flag,
                      const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  void EncodeResponseHeaders(http::ResponseHeaders headers, bool end_stream);
  void EncodeResponseData(std::string_view data, bool end_stream);
  void OnResponseComplete();
  // Sends upstream response headers held back while a gRPC status that may
  // still arrive in the trailers could decide a retry.
  void ReleaseHeldResponseHeaders();
  // Ends the current upstream attempt's bookkeeping (active gauge, the
  // balancer's load count, the per-try timer); `abandon` also resets a
  // stream still in flight.
  void EndAttempt(bool abandon);
  void CleanupUpstream();
  void Log();

  HttpConnectionManager& hcm_;
  http::StreamId id_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::system_clock::time_point start_wall_;

  // Pinned configuration for this request's life.
  std::shared_ptr<const config::ConfigSnapshot> snapshot_;
  std::shared_ptr<const RouteTable> routes_;
  RouteMatchResult match_;
  const ForwardAction* forward_ = nullptr;
  const WeightedClusterEntry* weighted_ = nullptr;
  const std::string* cluster_name_ = nullptr;

  http::RequestHeaders request_headers_;
  std::string original_path_;
  std::string original_authority_;
  std::string request_body_;  // kept for retries and mirrors
  bool body_too_large_to_retry_ = false;
  std::optional<http::TrailerMap> request_trailers_;
  bool request_complete_ = false;
  bool routed_ = false;  // Route() finished and the request goes upstream
  bool paused_for_fault_ = false;
  std::unique_ptr<event::Timer> fault_delay_timer_;
  std::string cors_origin_;                              // set when the response needs CORS headers
  std::optional<RateLimitDecision> rate_limit_headers_;  // x-ratelimit-* for the response

  std::shared_ptr<WorkerCluster> cluster_;  // pinned: xDS may replace it mid-request
  std::unique_ptr<upstream::UpstreamStream> upstream_;
  const Host* upstream_host_ = nullptr;
  // The host of an ORIGINAL_DST cluster, kept alive while upstream_host_ points at it.
  std::shared_ptr<const Host> original_destination_host_;
  std::string upstream_host_key_;
  std::optional<RetryState> retry_;
  std::unique_ptr<event::Timer> per_try_timer_;
  std::unique_ptr<event::Timer> global_timer_;
  std::unique_ptr<event::Timer> backoff_timer_;
  std::chrono::steady_clock::time_point attempt_start_;
  bool upstream_headers_sent_downstream_ = false;
  bool grpc_request_ = false;
  std::optional<http::ResponseHeaders> held_response_headers_;
  bool upstream_request_active_ = false;
  upstream::CircuitBreaker::Slot retry_slot_;  // held while a retry waits out its backoff
  bool retry_overflow_ = false;                // a retry was refused by max_retries

  // Flow control (see the top of the file).
  uint32_t downstream_pressure_ = 0;  // nesting of OnDownstreamWatermark(true)
  bool upload_paused_by_upstream_ = false;
  bool upload_paused_while_held_ = false;  // request_body_ over the limit, no attempt yet
  bool upload_paused_ = false;             // what the downstream was told

  // Outcome, for stats and the access log.
  int response_code_ = 0;
  std::string response_flags_;
  uint64_t bytes_received_ = 0;
  uint64_t bytes_sent_ = 0;
  bool response_complete_ = false;
  bool logged_ = false;
  std::string request_id_;
};

}  // namespace meshgate::proxy::server
