#include "proxy/server/active_stream.h"

#include <cstdio>

#include "proxy/http/http1_codec.h"
#include "proxy/http/utility.h"
#include "proxy/router/grpc.h"
#include "proxy/router/route_actions.h"
#include "proxy/server/http_connection_manager.h"

namespace meshgate::proxy::server {
namespace {

using std::chrono::milliseconds;

// Requests bodies up to this size are kept so a retry or a mirror can resend
// them; larger ones are streamed and not retried (as Envoy's buffer limit).
constexpr size_t kRetryBufferLimit = 64 * 1024;

milliseconds ToMillis(absl::Duration d) { return milliseconds(absl::ToInt64Milliseconds(d)); }

// grpc-message is a header value: no line breaks.
std::string TrimNewline(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  return std::string(text);
}

std::string NewRequestId(Random& random) {
  uint64_t a = random.Next();
  uint64_t b = random.Next();
  // RFC 4122 version 4, variant 1: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx.
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  size_t out = 0;
  auto put = [&](uint64_t bits, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) id[out++] = kHex[(bits >> (4 * i)) & 0xf];
  };
  put(a >> 32, 8);
  ++out;
  put(a >> 16, 4);
  ++out;
  put(a, 4);
  ++out;
  put(b >> 48, 4);
  ++out;
  put(b, 12);
  return id;
}

// Route matching wants the fields as a vector of views; the vector's storage
// is borrowed from a per-thread spare so matching allocates nothing.
class ScopedRequestView {
 public:
  ScopedRequestView(const http::RequestHeaders& headers, std::string_view source_ip) {
    view_.headers.swap(Spare());
    view_.headers.clear();
    view_.method = headers.Method();
    view_.scheme = headers.Scheme().empty() ? std::string_view("http") : headers.Scheme();
    view_.authority = headers.Authority();
    view_.path = headers.Path();
    view_.source_ip = source_ip;
    view_.headers.reserve(headers.size());
    for (http::HeaderField f : headers) {
      if (!f.name.empty() && f.name[0] != ':') view_.headers.emplace_back(f.name, f.value);
    }
  }
  ~ScopedRequestView() {
    if (view_.headers.capacity() > Spare().capacity()) view_.headers.swap(Spare());
  }
  ScopedRequestView(const ScopedRequestView&) = delete;
  ScopedRequestView& operator=(const ScopedRequestView&) = delete;
  const RequestView& view() const { return view_; }

 private:
  static std::vector<std::pair<std::string_view, std::string_view>>& Spare() {
    thread_local std::vector<std::pair<std::string_view, std::string_view>> spare;
    return spare;
  }
  RequestView view_;
};

void ApplyMutations(const HeaderMutations& mutations, http::HeaderMap& headers) {
  for (const auto& name : mutations.remove) headers.Remove(name);
  for (const auto& h : mutations.add) {
    if (h.value.empty() && !h.keep_empty_value) continue;
    switch (h.action) {
      case HeaderAppendAction::kAppendIfExistsOrAdd:
        headers.Add(h.name, h.value);
        break;
      case HeaderAppendAction::kAddIfAbsent:
        if (!headers.Has(h.name)) headers.Add(h.name, h.value);
        break;
      case HeaderAppendAction::kOverwriteIfExistsOrAdd:
        headers.Set(h.name, h.value);
        break;
      case HeaderAppendAction::kOverwriteIfExists:
        if (headers.Has(h.name)) headers.Set(h.name, h.value);
        break;
    }
  }
}

// Every level's header edits for a match, in Envoy's order: by default the
// least specific level last, so its values win; reversed when the route
// configuration says most_specific_header_mutations_wins.
template <typename Select>
void ApplyAllLevels(const RouteTable& table, const RouteMatchResult& match,
                    const WeightedClusterEntry* weighted, Select select, http::HeaderMap& headers) {
  const HeaderMutations* levels[4] = {weighted ? &select(*weighted) : nullptr,
                                      &select(*match.route), &select(*match.virtual_host),
                                      &select(table.options())};
  if (table.options().most_specific_header_mutations_wins) {
    for (int i = 3; i >= 0; --i) {
      if (levels[i]) ApplyMutations(*levels[i], headers);
    }
  } else {
    for (const auto* level : levels) {
      if (level) ApplyMutations(*level, headers);
    }
  }
}

// A fire-and-forget copy of a request to a mirror cluster. Owns itself and
// goes away when its response ends, fails, or takes too long.
class ShadowRequest : public event::DeferredDeletable, public upstream::UpstreamStreamCallbacks {
 public:
  static void Send(WorkerContext& worker, upstream::ConnectionPool& pool,
                   const http::RequestHeaders& headers, const std::string& body,
                   milliseconds timeout) {
    auto* shadow = new ShadowRequest(worker);
    shadow->stream_ = pool.NewStream(*shadow);
    shadow->stream_->EncodeHeaders(headers, body.empty());
    if (!body.empty()) shadow->stream_->EncodeData(body, true);
    shadow->timer_->Enable(timeout);
  }
  void OnUpstreamHeaders(http::ResponseHeaders, bool end_stream) override {
    if (end_stream) Finish();
  }
  void OnUpstreamData(std::string_view, bool end_stream) override {
    if (end_stream) Finish();
  }
  void OnUpstreamTrailers(http::TrailerMap) override { Finish(); }
  void OnUpstreamReset(UpstreamReset) override { Finish(); }
  void OnUpstreamWatermark(bool) override {}  // the body is sent whole, from memory

 private:
  explicit ShadowRequest(WorkerContext& worker) : worker_(worker) {
    timer_ = worker.dispatcher().CreateTimer([this] { Finish(); });
  }
  void Finish() {
    if (finished_) return;
    finished_ = true;
    timer_->Disable();
    if (stream_) stream_->Reset();
    worker_.dispatcher().DeferredDelete(std::unique_ptr<event::DeferredDeletable>(this));
  }
  WorkerContext& worker_;
  std::unique_ptr<upstream::UpstreamStream> stream_;
  std::unique_ptr<event::Timer> timer_;
  bool finished_ = false;
};

}  // namespace

ActiveStream::ActiveStream(HttpConnectionManager& hcm, http::StreamId id)
    : hcm_(hcm),
      id_(id),
      // The loop's time of the read that brought the request: no clock read.
      start_(hcm.worker().dispatcher().ApproximateNow()) {
  // Wall time only feeds the access log.
  if (hcm_.worker().access_log() != nullptr) start_wall_ = std::chrono::system_clock::now();
  hcm_.stats().downstream_rq_total.Inc();
  hcm_.stats().downstream_rq_active.Inc();
}

ActiveStream::~ActiveStream() {
  CleanupUpstream();
  hcm_.stats().downstream_rq_active.Dec();
}

void ActiveStream::EndAttempt(bool abandon) {
  per_try_timer_.reset();
  if (upload_paused_by_upstream_) {
    // The next attempt (or nobody) reads the rest of the body.
    upload_paused_by_upstream_ = false;
    UpdateUploadPause();
  }
  if (upstream_) {
    // HTTP/1 cannot abandon one message: resetting closes its connection.
    if (abandon && upstream_request_active_) upstream_->Reset();
    upstream_.reset();
  }
  if (!upstream_request_active_) return;
  upstream_request_active_ = false;
  if (cluster_ == nullptr) return;
  cluster_->stats().upstream_rq_active.Dec();
  if (cluster_->load_balancer() && upstream_host_ && original_destination_host_ == nullptr) {
    cluster_->load_balancer()->OnRequestEnd(*upstream_host_);
  }
}

void ActiveStream::CleanupUpstream() {
  global_timer_.reset();
  backoff_timer_.reset();
  retry_slot_.Release();
  fault_delay_timer_.reset();
  EndAttempt(/*abandon=*/true);
}

void ActiveStream::DecodeHeaders(http::RequestHeaders headers, bool end_stream) {
  request_headers_ = std::move(headers);
  request_complete_ = end_stream;
  grpc_request_ = IsGrpcRequest(request_headers_);
  original_path_ = std::string(request_headers_.Path());
  original_authority_ = std::string(request_headers_.Authority());
  bytes_received_ += request_headers_.ByteSize();

  if (auto id = request_headers_.Get("x-request-id"); id && !id->empty()) {
    request_id_ = std::string(*id);
  } else {
    request_id_ = NewRequestId(hcm_.worker().random());
    request_headers_.Set("x-request-id", request_id_);
  }
  // 100-continue is answered here; the upstream gets the body without asking.
  if (auto expect = request_headers_.Get("expect");
      expect && http::ListContainsToken(*expect, "100-continue")) {
    request_headers_.Remove("expect");
    if (!end_stream) {
      http::ResponseHeaders cont;
      cont.SetStatus(100);
      (void)hcm_.codec().EncodeHeaders(id_, cont, false);
      hcm_.FlushCodec();
    }
  }
  Route();
}

void ActiveStream::Route() {
  snapshot_ = hcm_.worker().snapshot();
  routes_ = snapshot_->RoutesFor(hcm_.config());
  if (!routes_) {
    SendLocalReply(404, "route configuration not found\n", "NR");
    return;
  }
  ScopedRequestView view(request_headers_, hcm_.peer_ip());
  auto match = routes_->Match(view.view());
  if (!match || match->route == nullptr) {
    SendLocalReply(404, "", "NR");
    return;
  }
  match_ = *match;

  // Per-route filters, in the order of the HCM chain as Envoy runs them.
  if (ApplyLocalRateLimit()) return;
  if (HandleCorsPreflight()) return;
  if (RunFaultFilter()) return;
  ContinueAfterFilters();
}

bool ActiveStream::ApplyLocalRateLimit() {
  const auto& limit = match_.route->filters.local_rate_limit;
  if (!limit || !limit->has_token_bucket) return false;
  Random& random = hcm_.worker().random();
  if (limit->enabled_fraction == 0 || random.Uniform(kAlways) >= limit->enabled_fraction) {
    return false;
  }
  LocalRateLimiter* bucket = hcm_.worker().rate_limits().For(routes_, *limit);
  if (bucket == nullptr) return false;
  RateLimitDecision decision = bucket->Consume();
  if (limit->x_ratelimit_headers) rate_limit_headers_ = decision;
  if (decision.allowed) return false;
  if (limit->enforced_fraction == 0 || random.Uniform(kAlways) >= limit->enforced_fraction) {
    return false;  // counted, not enforced (shadow mode)
  }
  SendLocalReply(static_cast<int>(limit->status_code), "local_rate_limited", "RL");
  return true;
}

bool ActiveStream::HandleCorsPreflight() {
  const auto& cors = match_.route->filters.cors;
  if (!cors || cors->enabled_fraction == 0) return false;
  auto origin = request_headers_.Get("origin");
  if (!origin) return false;
  bool allowed = false;
  for (const auto& m : cors->allow_origins) {
    if (m.Matches(*origin)) {
      allowed = true;
      break;
    }
  }
  if (!allowed) return false;
  cors_origin_ = std::string(*origin);
  if (request_headers_.Method() != "OPTIONS" ||
      !request_headers_.Has("access-control-request-method")) {
    return false;  // a simple request: headers added to the response later
  }
  std::vector<std::pair<std::string, std::string>> h = {
      {"access-control-allow-origin", cors_origin_}};
  if (!cors->allow_methods.empty())
    h.emplace_back("access-control-allow-methods", cors->allow_methods);
  if (!cors->allow_headers.empty())
    h.emplace_back("access-control-allow-headers", cors->allow_headers);
  if (!cors->max_age.empty()) h.emplace_back("access-control-max-age", cors->max_age);
  if (cors->allow_credentials) h.emplace_back("access-control-allow-credentials", "true");
  SendLocalReply(200, "", "", h);
  return true;
}

bool ActiveStream::RunFaultFilter() {
  const auto& fault = match_.route->filters.fault;
  if (!fault) return false;
  Random& random = hcm_.worker().random();
  if ((fault->abort_http_status || fault->abort_grpc_status) &&
      random.Uniform(kAlways) < fault->abort_fraction) {
    if (fault->abort_grpc_status) {
      SendLocalReply(200, "", "FI",
                     {{"content-type", "application/grpc"},
                      {"grpc-status", std::to_string(*fault->abort_grpc_status)},
                      {"grpc-message", "fault filter abort"}});
    } else {
      SendLocalReply(static_cast<int>(*fault->abort_http_status), "fault filter abort", "FI");
    }
    return true;
  }
  if (fault->delay && random.Uniform(kAlways) < fault->delay_fraction) {
    response_flags_ = "DI";
    paused_for_fault_ = true;
    fault_delay_timer_ = hcm_.worker().dispatcher().CreateTimer([this] {
      paused_for_fault_ = false;
      ContinueAfterFilters();
    });
    fault_delay_timer_->Enable(ToMillis(*fault->delay));
    return true;
  }
  return false;
}

void ActiveStream::ContinueAfterFilters() {
  const auto& route = *match_.route;
  if (const auto* direct = std::get_if<DirectResponseAction>(&route.action)) {
    grpc_request_ = false;  // the configured answer goes out as written
    SendLocalReply(static_cast<int>(direct->status), direct->body, "");
    return;
  }
  if (const auto* redirect = std::get_if<RedirectAction>(&route.action)) {
    ScopedRequestView view(request_headers_, hcm_.peer_ip());
    std::string location = ComposeRedirectLocation(route, *redirect, view.view());
    SendLocalReply(static_cast<int>(redirect->response_code), "", "", {{"location", location}});
    return;
  }
  forward_ = &std::get<ForwardAction>(route.action);
  ClusterChoice choice = SelectCluster(*forward_, hcm_.worker().random().Next());
  cluster_name_ = choice.cluster;
  weighted_ = choice.weighted;
  if (cluster_name_ == nullptr) {
    SendLocalReply(503, "no cluster\n", "NC");
    return;
  }
  cluster_ = hcm_.worker().FindCluster(*cluster_name_);
  if (cluster_ == nullptr) {
    SendLocalReply(static_cast<int>(forward_->cluster_not_found_status), "", "NC");
    return;
  }

  // The upstream request: rewrites, then header edits from the most general
  // level to the most specific (route config, virtual host, route, cluster).
  if (auto path = RewritePath(route, *forward_, original_path_))
    request_headers_.Set(http::kPath, *path);
  if (auto host = RewriteHost(*forward_, weighted_)) request_headers_.Set(http::kAuthority, *host);
  http::RemoveHopByHopFields(request_headers_);
  ApplyAllLevels(
      *routes_, match_, weighted_,
      [](const auto& level) -> const HeaderMutations& { return level.request_headers; },
      request_headers_);
  const std::string& peer = hcm_.peer_ip();
  if (auto xff = request_headers_.Get("x-forwarded-for")) {
    request_headers_.Set("x-forwarded-for", std::string(*xff) + ", " + peer);
  } else {
    request_headers_.Set("x-forwarded-for", peer);
  }
  if (!request_headers_.Has("x-forwarded-proto")) {
    request_headers_.Set("x-forwarded-proto", request_headers_.Scheme().empty()
                                                  ? std::string_view("http")
                                                  : request_headers_.Scheme());
  }
  ApplyForwardClientCert();

  if (forward_->retry) retry_.emplace(*forward_->retry, hcm_.worker().random());
  // A gRPC client's deadline (grpc-timeout) bounds the request as the
  // route's timeout does; the smaller wins. A route timeout of 0 is none.
  std::optional<absl::Duration> timeout;
  if (forward_->timeout > absl::ZeroDuration()) timeout = forward_->timeout;
  if (grpc_request_) {
    if (auto deadline = GrpcTimeoutOf(request_headers_)) {
      timeout = timeout ? std::min(*timeout, *deadline) : *deadline;
    }
  }
  if (timeout) {
    global_timer_ = hcm_.worker().dispatcher().CreateTimer([this] { OnGlobalTimeout(); });
    global_timer_->Enable(ToMillis(*timeout));
  }
  routed_ = true;
  StartAttempt();
  if (request_complete_) SendMirrors();
}

void ActiveStream::ApplyForwardClientCert() {
  // Envoy's forward_client_cert_details: what a client says about earlier
  // hops is only believed over mTLS, and only when the listener says so.
  using Fcc = config::HttpConnectionManagerConfig::ForwardClientCert;
  constexpr std::string_view kXfcc = "x-forwarded-client-cert";
  const network::TransportSocket& transport = hcm_.connection().transport();
  const std::string peer_hash = transport.PeerCertificateSha256();
  const bool mtls = !peer_hash.empty();
  const Fcc mode = hcm_.config().forward_client_cert;
  if (mode == Fcc::kAlwaysForwardOnly) return;
  if (!mtls || mode == Fcc::kSanitize) {
    request_headers_.Remove(kXfcc);
    return;
  }
  if (mode == Fcc::kForwardOnly) return;
  std::string element;
  if (std::string by = transport.LocalIdentity(); !by.empty()) element = "By=" + by + ";";
  element += "Hash=" + peer_hash;
  if (std::string uri = transport.PeerIdentity(); hcm_.config().client_cert_uri && !uri.empty()) {
    element += ";URI=" + uri;
  }
  auto existing = request_headers_.Get(kXfcc);
  if (mode == Fcc::kAppendForward && existing && !existing->empty()) {
    request_headers_.Set(kXfcc, std::string(*existing) + "," + element);
  } else {
    request_headers_.Set(kXfcc, element);
  }
}

void ActiveStream::StartAttempt() {
  LoadBalancer* lb = cluster_->load_balancer();
  const Host* host = nullptr;
  if (cluster_->config().type == config::DiscoveryType::kOriginalDst) {
    // Where the captured client was going (Istio's PassthroughCluster).
    const auto& destination = hcm_.original_destination();
    if (!destination) {
      SendLocalReply(503, "no original destination", "UH");
      return;
    }
    original_destination_host_ = cluster_->OriginalDestinationHost(*destination);
    host = original_destination_host_.get();
    lb = nullptr;
  } else {
    if (lb == nullptr) {
      SendLocalReply(503, "no healthy upstream", "UH");
      return;
    }
    LbContext ctx;
    if (!forward_->hash_policies.empty()) {
      ScopedRequestView view(request_headers_, hcm_.peer_ip());
      ctx.hash = ComputeRequestHash(forward_->hash_policies, view.view());
    }
    if (retry_) ctx.exclude = retry_->ExcludePredicate();
    host = lb->ChooseHost(ctx);
  }
  upstream::ConnectionPool* pool = host ? cluster_->PoolFor(*host, DownstreamProtocol()) : nullptr;
  if (pool == nullptr) {
    SendLocalReply(503, "no healthy upstream", "UH");
    return;
  }
  upstream_host_ = host;
  upstream_host_key_ = host->key;
  if (lb != nullptr) lb->OnRequestStart(*host);
  cluster_->stats().upstream_rq_total.Inc();
  cluster_->stats().upstream_rq_active.Inc();
  upstream_request_active_ = true;
  held_response_headers_.reset();
  attempt_start_ = std::chrono::steady_clock::now();
  upstream_ = pool->NewStream(*this);
  if (downstream_pressure_ > 0) upstream_->ReadDisable(true);
  bool headers_only = request_complete_ && request_body_.empty() && !request_trailers_;
  upstream_->EncodeHeaders(request_headers_, headers_only);
  if (!request_body_.empty() || (request_complete_ && !headers_only && !request_trailers_)) {
    upstream_->EncodeData(request_body_, request_complete_ && !request_trailers_);
  }
  if (request_complete_ && request_trailers_) upstream_->EncodeTrailers(*request_trailers_);
  if (upload_paused_while_held_) {
    // What was held is the upstream's now (its own watermark takes over).
    upload_paused_while_held_ = false;
    UpdateUploadPause();
  }
  if (retry_ && retry_->policy().per_try_timeout > absl::ZeroDuration()) {
    per_try_timer_ = hcm_.worker().dispatcher().CreateTimer([this] { OnPerTryTimeout(); });
    per_try_timer_->Enable(ToMillis(retry_->policy().per_try_timeout));
  }
}

upstream::PoolProtocol ActiveStream::DownstreamProtocol() const {
  return hcm_.http2() ? upstream::PoolProtocol::kHttp2 : upstream::PoolProtocol::kHttp1;
}

void ActiveStream::DecodeData(std::string_view data, bool end_stream) {
  bytes_received_ += data.size();
  request_complete_ = end_stream;
  const bool streaming = routed_ && upstream_ && upstream_request_active_;
  if (!body_too_large_to_retry_ && request_body_.size() + data.size() > kRetryBufferLimit) {
    body_too_large_to_retry_ = true;
    if (streaming) {
      // The copy kept for retries is already upstream: drop it, stream on.
      request_body_.clear();
      request_body_.shrink_to_fit();
    }
  }
  // Kept for a retry or a mirror, or held until an attempt starts (which
  // sends what is held).
  if (!streaming || !body_too_large_to_retry_) request_body_.append(data);
  if (streaming) upstream_->EncodeData(data, end_stream);
  // Body held here before the client is paused: the listener's buffer limit.
  if (!streaming && !end_stream &&
      request_body_.size() > hcm_.listener().per_connection_buffer_limit_bytes &&
      !upload_paused_while_held_) {
    // No attempt to hand the body to yet (fault delay, retry backoff).
    upload_paused_while_held_ = true;
    UpdateUploadPause();
  }
  if (end_stream && routed_) SendMirrors();
}

void ActiveStream::DecodeTrailers(http::TrailerMap trailers) {
  request_complete_ = true;
  if (routed_ && upstream_ && upstream_request_active_) {
    upstream_->EncodeTrailers(trailers);
  }
  request_trailers_ = std::move(trailers);
  if (routed_) SendMirrors();
}

void ActiveStream::SendMirrors() {
  if (forward_ == nullptr || forward_->mirrors.empty() || body_too_large_to_retry_) return;
  for (const auto& mirror : forward_->mirrors) {
    if (!ShouldMirror(mirror, hcm_.worker().random().Next())) continue;
    std::shared_ptr<WorkerCluster> cluster = hcm_.worker().FindCluster(mirror.cluster);
    if (cluster == nullptr || cluster->load_balancer() == nullptr) continue;
    const Host* host = cluster->load_balancer()->ChooseHost(LbContext{});
    upstream::ConnectionPool* pool = host ? cluster->PoolFor(*host, DownstreamProtocol()) : nullptr;
    if (pool == nullptr) continue;
    http::RequestHeaders shadow = request_headers_;
    // Envoy marks shadow traffic by suffixing the authority.
    shadow.Set(http::kAuthority, std::string(request_headers_.Authority()) + "-shadow");
    ShadowRequest::Send(hcm_.worker(), *pool, shadow, request_body_, milliseconds(15'000));
  }
}

void ActiveStream::OnUpstreamHeaders(http::ResponseHeaders headers, bool end_stream) {
  int status = headers.Status();
  if (status >= 100 && status < 200 && status != 101) return;  // interim: not forwarded
  AttemptOutcome outcome;
  outcome.http_status = static_cast<uint32_t>(status);
  outcome.grpc_status = GrpcStatusOf(headers);
  if (retry_ && !upstream_headers_sent_downstream_ && retry_->IsRetriable(outcome)) {
    auto decision = retry_->OnAttemptComplete(outcome, upstream_host_);
    if (decision.retry && !body_too_large_to_retry_ && request_complete_ && AcquireRetrySlot()) {
      ScheduleRetry(decision.backoff);
      return;
    }
    response_flags_ = retry_overflow_ ? "UO" : "URX";
  }
  per_try_timer_.reset();
  auto& cs = cluster_->stats();
  if (status >= 100 && status < 600) cs.upstream_rq_xx[status / 100].Inc();
  if (end_stream) {
    cs.upstream_rq_time.RecordMs(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - attempt_start_)
            .count());
    if (retry_ && retry_->attempts() > 1) cs.upstream_rq_retry_success.Inc();
  }
  ApplyAllLevels(
      *routes_, match_, weighted_,
      [](const auto& level) -> const HeaderMutations& { return level.response_headers; }, headers);
  if (end_stream) EndAttempt(/*abandon=*/false);
  if (!end_stream && grpc_request_ && retry_ && retry_->RetriesOnGrpcStatus() &&
      !outcome.grpc_status && request_complete_ && !body_too_large_to_retry_) {
    // The status is still to come, in the trailers: a retriable one there
    // can only be retried if nothing was sent downstream yet.
    held_response_headers_ = std::move(headers);
    return;
  }
  upstream_headers_sent_downstream_ = true;
  EncodeResponseHeaders(std::move(headers), end_stream);
}

void ActiveStream::ReleaseHeldResponseHeaders() {
  if (!held_response_headers_) return;
  http::ResponseHeaders headers = std::move(*held_response_headers_);
  held_response_headers_.reset();
  upstream_headers_sent_downstream_ = true;
  EncodeResponseHeaders(std::move(headers), /*end_stream=*/false);
}

void ActiveStream::OnUpstreamData(std::string_view data, bool end_stream) {
  ReleaseHeldResponseHeaders();
  if (end_stream) {
    cluster_->stats().upstream_rq_time.RecordMs(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - attempt_start_)
            .count());
    if (retry_ && retry_->attempts() > 1) cluster_->stats().upstream_rq_retry_success.Inc();
    // `data` lives in the upstream connection's buffer, not in the stream.
    EndAttempt(/*abandon=*/false);
  }
  EncodeResponseData(data, end_stream);
}

void ActiveStream::OnUpstreamTrailers(http::TrailerMap trailers) {
  if (held_response_headers_) {
    // Headers then trailers, no message: the status decides a retry.
    AttemptOutcome outcome;
    outcome.http_status = static_cast<uint32_t>(held_response_headers_->Status());
    outcome.grpc_status = GrpcStatusOf(trailers);
    if (retry_->IsRetriable(outcome)) {
      auto decision = retry_->OnAttemptComplete(outcome, upstream_host_);
      if (decision.retry && AcquireRetrySlot()) {
        held_response_headers_.reset();
        ScheduleRetry(decision.backoff);
        return;
      }
      response_flags_ = retry_overflow_ ? "UO" : "URX";
    }
    ReleaseHeldResponseHeaders();
  }
  EndAttempt(/*abandon=*/false);
  bytes_sent_ += trailers.ByteSize();
  (void)hcm_.codec().EncodeTrailers(id_, trailers);
  hcm_.FlushCodec();
  OnResponseComplete();
}

void ActiveStream::OnUpstreamReset(UpstreamReset reason) {
  EndAttempt(/*abandon=*/false);
  held_response_headers_.reset();
  if (reason == UpstreamReset::kRemoteReset) cluster_->stats().upstream_rq_rx_reset.Inc();
  if (upstream_headers_sent_downstream_) {
    // Mid-response: nothing sensible to tell the client but to cut it off.
    response_flags_ = "UC";
    hcm_.codec().ResetStream(id_);
    hcm_.FlushCodec();
    OnResponseComplete();
    return;
  }
  AttemptOutcome outcome;
  outcome.reset = reason;
  const char* flag = "UF";
  int status = 503;
  std::string_view message = "upstream connect error or disconnect/reset before headers";
  if (reason == UpstreamReset::kOverflow) {
    flag = "UO";
    message = "upstream overflow";
  } else if (reason == UpstreamReset::kRemoteReset || reason == UpstreamReset::kRefusedStream) {
    flag = "UC";
  }
  if (retry_) {
    auto decision = retry_->OnAttemptComplete(outcome, upstream_host_);
    if (decision.retry && !body_too_large_to_retry_ && request_complete_ && AcquireRetrySlot()) {
      ScheduleRetry(decision.backoff);
      return;
    }
    if (retry_overflow_) {
      flag = "UO";
    } else if (retry_->attempts() > 1) {
      flag = "URX";
    }
  }
  SendLocalReply(status, message, flag);
}

bool ActiveStream::AcquireRetrySlot() {
  const auto& breaker = cluster_->config().circuit_breaker;
  if (breaker == nullptr) return true;
  retry_slot_ = breaker->TryAcquire(upstream::CircuitBreaker::Resource::kRetries);
  if (retry_slot_.held()) return true;
  // As Envoy: the attempt's own outcome is the answer, flagged UO.
  cluster_->stats().upstream_rq_retry_overflow.Inc();
  retry_overflow_ = true;
  return false;
}

void ActiveStream::UpdateUploadPause() {
  const bool pause = upload_paused_by_upstream_ || upload_paused_while_held_;
  if (pause == upload_paused_) return;
  upload_paused_ = pause;
  if (hcm_.http2()) {
    hcm_.codec().ReadDisableStream(id_, pause);
    // Resuming queued the WINDOW_UPDATE the peer waits for.
    if (!pause) hcm_.ScheduleFlush();
  } else {
    hcm_.connection().ReadDisable(pause);
  }
}

void ActiveStream::OnUpstreamWatermark(bool above_high) {
  if (above_high == upload_paused_by_upstream_) return;
  upload_paused_by_upstream_ = above_high;
  UpdateUploadPause();
}

void ActiveStream::OnDownstreamWatermark(bool above_high) {
  if (above_high) {
    if (downstream_pressure_++ == 0 && upstream_) upstream_->ReadDisable(true);
    return;
  }
  if (downstream_pressure_ == 0 || --downstream_pressure_ > 0) return;
  if (upstream_) upstream_->ReadDisable(false);
}

void ActiveStream::ScheduleRetry(absl::Duration backoff) {
  // REQUIRES: the retry decision said yes and AcquireRetrySlot() succeeded.
  // Abandon the attempt, wait out the backoff, try again (on another host
  // if the policy says so).
  EndAttempt(/*abandon=*/true);
  cluster_->stats().upstream_rq_retry.Inc();
  backoff_timer_ = hcm_.worker().dispatcher().CreateTimer([this] {
    retry_slot_.Release();  // Envoy counts retries waiting out their backoff
    cluster_ = hcm_.worker().FindCluster(*cluster_name_);
    if (cluster_ == nullptr) {
      SendLocalReply(503, "", "NC");
      return;
    }
    StartAttempt();
  });
  backoff_timer_->Enable(ToMillis(backoff));
}

void ActiveStream::OnPerTryTimeout() {
  cluster_->stats().upstream_rq_per_try_timeout.Inc();
  AttemptOutcome outcome;
  outcome.reset = UpstreamReset::kPerTryTimeout;
  EndAttempt(/*abandon=*/true);
  auto decision = retry_->OnAttemptComplete(outcome, upstream_host_);
  if (decision.retry && !body_too_large_to_retry_ && request_complete_ && AcquireRetrySlot()) {
    ScheduleRetry(decision.backoff);
    return;
  }
  SendLocalReply(504, "upstream request timeout", "UT");
}

void ActiveStream::OnGlobalTimeout() {
  if (cluster_ != nullptr) cluster_->stats().upstream_rq_timeout.Inc();
  if (upstream_headers_sent_downstream_) {
    response_flags_ = "UT";
    hcm_.codec().ResetStream(id_);
    hcm_.FlushCodec();
    OnResponseComplete();
    return;
  }
  SendLocalReply(504, "upstream request timeout", "UT");
}

void ActiveStream::SendLocalReply(int status, std::string_view body, std::string_view flag,
                                  const std::vector<std::pair<std::string, std::string>>& extra) {
  CleanupUpstream();
  held_response_headers_.reset();
  if (!flag.empty()) response_flags_ = std::string(flag);
  http::ResponseHeaders headers;
  if (grpc_request_ && status >= 400) {
    // What a gRPC client understands: a trailers-only response, HTTP 200
    // with the status in its only header block (as Envoy answers).
    headers.SetStatus(200);
    headers.Set("content-type", "application/grpc");
    headers.Set("grpc-status",
                std::to_string(static_cast<uint32_t>(GrpcStatusForHttpStatus(status))));
    headers.Set("grpc-message", body.empty() ? std::to_string(status) : TrimNewline(body));
    for (const auto& [name, value] : extra) headers.Set(name, value);
    EncodeResponseHeaders(std::move(headers), /*end_stream=*/true);
    return;
  }
  headers.SetStatus(status);
  for (const auto& [name, value] : extra) headers.Set(name, value);
  if (!body.empty() && !headers.Has("content-type")) headers.Set("content-type", "text/plain");
  headers.Set("content-length", std::to_string(body.size()));
  EncodeResponseHeaders(std::move(headers), body.empty());
  if (!body.empty() && !response_complete_) EncodeResponseData(body, true);
}

void ActiveStream::EncodeResponseHeaders(http::ResponseHeaders headers, bool end_stream) {
  response_code_ = headers.Status();
  if (!cors_origin_.empty()) {
    const auto& cors = match_.route->filters.cors;
    headers.Set("access-control-allow-origin", cors_origin_);
    if (cors && cors->allow_credentials) headers.Set("access-control-allow-credentials", "true");
    if (cors && !cors->expose_headers.empty()) {
      headers.Set("access-control-expose-headers", cors->expose_headers);
    }
  }
  if (rate_limit_headers_) {
    headers.Set("x-ratelimit-limit", std::to_string(rate_limit_headers_->limit));
    headers.Set("x-ratelimit-remaining", std::to_string(rate_limit_headers_->remaining));
    headers.Set("x-ratelimit-reset", std::to_string(rate_limit_headers_->reset_seconds));
  }
  if (hcm_.draining()) headers.Set("connection", "close");
  if (!request_id_.empty() && !headers.Has("x-request-id"))
    headers.Set("x-request-id", request_id_);
  bytes_sent_ += headers.ByteSize();
  (void)hcm_.codec().EncodeHeaders(id_, headers, end_stream);
  if (end_stream) {
    hcm_.FlushCodec();
    OnResponseComplete();
  } else {
    // The body usually follows within the same upstream read: write headers
    // and body with one send, and only flush the headers alone if it does not.
    hcm_.ScheduleFlush();
  }
}

void ActiveStream::EncodeResponseData(std::string_view data, bool end_stream) {
  bytes_sent_ += data.size();
  (void)hcm_.codec().EncodeData(id_, data, end_stream);
  hcm_.FlushCodec();
  if (end_stream) OnResponseComplete();
}

void ActiveStream::OnDownstreamReset() {
  if (response_complete_) return;
  response_flags_ = "DC";
  hcm_.stats().downstream_rq_rx_reset.Inc();
  CleanupUpstream();
  response_complete_ = true;
  Log();
}

void ActiveStream::OnResponseComplete() {
  if (response_complete_) return;
  response_complete_ = true;
  CleanupUpstream();
  auto& hs = hcm_.stats();
  if (response_code_ >= 100 && response_code_ < 600)
    hs.downstream_rq_xx[response_code_ / 100].Inc();
  hs.downstream_rq_time.RecordMs(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
  Log();
  hcm_.OnStreamComplete(*this);
}

void ActiveStream::Log() {
  if (logged_) return;
  logged_ = true;
  accesslog::AccessLogWriter* log = hcm_.worker().access_log();
  if (log == nullptr) return;
  accesslog::AccessLogEntry e;
  e.start_time = start_wall_;
  e.method = std::string(request_headers_.Method());
  e.path = original_path_;
  e.authority = original_authority_;
  e.protocol = std::string(hcm_.protocol());
  e.response_code = response_code_;
  e.response_flags = response_flags_;
  e.bytes_received = bytes_received_;
  e.bytes_sent = bytes_sent_;
  e.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
  e.upstream_host = upstream_host_key_;
  if (cluster_name_ != nullptr) e.upstream_cluster = *cluster_name_;
  e.request_id = request_id_;
  if (auto ua = request_headers_.Get("user-agent")) e.user_agent = std::string(*ua);
  e.downstream_remote_address = hcm_.connection().peer_address().ToString();
  e.downstream_peer_identity = hcm_.connection().transport().PeerIdentity();
  if (match_.route != nullptr) e.route_name = match_.route->name;
  log->Log(e);
}

}  // namespace meshgate::proxy::server
