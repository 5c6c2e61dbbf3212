#include "proxy/upstream/http1_connection_pool.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "proxy/http/http1_codec.h"

namespace meshgate::proxy::upstream {

// One upstream connection and its codec. Serves one stream at a time.
class Http1ConnectionPool::ActiveClient : public event::DeferredDeletable,
                                          public network::ConnectionCallbacks,
                                          public http::ClientCallbacks {
 public:
  ActiveClient(Http1ConnectionPool& pool, CircuitBreaker::Slot connection_slot)
      : pool_(pool),
        connection_slot_(std::move(connection_slot)),
        connection_(network::Connection::Connect(
            pool.dispatcher_, pool.address_,
            pool.settings_.transport_factory
                ? pool.settings_.transport_factory()
                : std::make_unique<network::PlaintextTransportSocket>(),
            pool.settings_.connect_timeout)),
        codec_(http::NewHttp1ClientConnection(*this)) {
    connection_->SetCallbacks(this);
    connection_->SetWriteBufferLimits(pool.settings_.buffer_limit_bytes);
    idle_timer_ = pool.dispatcher_.CreateTimer([this] { OnIdleTimer(); });
    pool_.stats_.upstream_cx_total.Inc();
    pool_.stats_.upstream_cx_active.Inc();
  }
  ~ActiveClient() override { pool_.stats_.upstream_cx_active.Dec(); }

  bool ready() const { return connected_ && stream_ == nullptr && !closing_; }
  bool closing() const { return closing_; }

  void Attach(PendingStream& stream);
  void Detach(PendingStream& stream, bool response_complete);
  void Flush() {
    std::string_view out = codec_->PendingOutput();
    if (!out.empty()) {
      connection_->Write(out);
      codec_->DrainOutput(out.size());
    }
  }
  http::ClientConnection& codec() { return *codec_; }

  // The idle timer is armed lazily: a connection going idle only records
  // when, and the timer, when it fires, closes it or waits for the rest. So
  // a busy connection costs no timer operation per request.
  void MarkIdle() {
    idle_since_ = pool_.dispatcher_.ApproximateNow();
    if (!idle_timer_->enabled()) idle_timer_->Enable(pool_.settings_.idle_timeout);
  }
  void OnIdleTimer() {
    if (closing_) return;
    const auto idle_timeout = pool_.settings_.idle_timeout;
    if (stream_ != nullptr || !connected_) {
      idle_timer_->Enable(idle_timeout);
      return;
    }
    const auto idle_for = pool_.dispatcher_.ApproximateNow() - idle_since_;
    if (idle_for < idle_timeout) {
      idle_timer_->Enable(std::chrono::ceil<std::chrono::milliseconds>(idle_timeout - idle_for));
      return;
    }
    Close();
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    connection_->Close(network::Connection::CloseType::kNoFlush);
  }

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override {
    auto consumed = codec_->Dispatch(data.View());
    if (consumed.ok()) {
      data.Drain(*consumed);
    } else {
      data.Clear();
    }
    if (end_stream) codec_->DispatchEof();
    if (!closing_) Flush();
  }
  void OnEvent(network::ConnectionEvent event) override;
  // The upstream does not take the request body as fast as it comes.
  void OnWriteBufferWatermark(bool above_high) override;
  network::Connection& connection() { return *connection_; }

  // http::ClientCallbacks
  void OnHeaders(http::StreamId, http::ResponseHeaders headers, bool end_stream) override;
  void OnData(http::StreamId, std::string_view data, bool end_stream) override;
  void OnTrailers(http::StreamId, http::TrailerMap trailers) override;
  void OnStreamReset(http::StreamId, http::StreamResetReason) override {
    FailStream(UpstreamReset::kRemoteReset);
  }
  void OnProtocolError(const http::ProtocolError&) override {
    FailStream(UpstreamReset::kRemoteReset);
    Close();
  }

 private:
  void FailStream(UpstreamReset reason);
  void FinishResponse();

  Http1ConnectionPool& pool_;
  CircuitBreaker::Slot connection_slot_;  // max_connections; given back on close
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::ClientConnection> codec_;
  std::unique_ptr<event::Timer> idle_timer_;
  std::chrono::steady_clock::time_point idle_since_;
  PendingStream* stream_ = nullptr;
  bool connected_ = false;
  bool closing_ = false;
  bool request_complete_ = false;
  uint32_t requests_served_ = 0;
  friend class Http1ConnectionPool;
};

// The caller's handle: buffers what it encodes until bound to a connection.
class Http1ConnectionPool::PendingStream : public UpstreamStream {
 public:
  PendingStream(Http1ConnectionPool& pool, UpstreamStreamCallbacks& callbacks)
      : pool_(pool), callbacks_(callbacks) {}
  ~PendingStream() override { Reset(); }

  void EncodeHeaders(const http::RequestHeaders& headers, bool end_stream) override {
    if (client_ != nullptr) {
      (void)client_->codec().EncodeHeaders(stream_id_, headers, end_stream);
      if (end_stream) client_->request_complete_ = true;
      client_->Flush();
      return;
    }
    headers_ = headers;
    headers_end_stream_ = end_stream;
    request_complete_ = end_stream;
  }
  void EncodeData(std::string_view data, bool end_stream) override {
    if (client_ != nullptr) {
      (void)client_->codec().EncodeData(stream_id_, data, end_stream);
      if (end_stream) client_->request_complete_ = true;
      client_->Flush();
      return;
    }
    body_.append(data);
    has_body_ = true;
    request_complete_ = request_complete_ || end_stream;
    if (body_.size() > pool_.settings_.buffer_limit_bytes) SetAboveWatermark(true);
  }
  void EncodeTrailers(const http::TrailerMap& trailers) override {
    if (client_ != nullptr) {
      (void)client_->codec().EncodeTrailers(stream_id_, trailers);
      client_->request_complete_ = true;
      client_->Flush();
      return;
    }
    trailers_ = trailers;
    request_complete_ = true;
  }
  void Reset() override {
    if (done_) return;
    done_ = true;
    slots_.ReleaseAll();
    if (client_ != nullptr) {
      client_->Detach(*this, /*response_complete=*/false);
    } else {
      pool_.RemovePending(this);
    }
  }
  void ReadDisable(bool disable) override {
    if (disable) {
      if (read_disabled_++ == 0 && client_ != nullptr) client_->connection().ReadDisable(true);
      return;
    }
    if (read_disabled_ == 0 || --read_disabled_ > 0) return;
    if (client_ != nullptr) client_->connection().ReadDisable(false);
  }

  // Circuit breaking: the stream counts as a request from NewStream() to its
  // end, and as pending while it waits for a connection.
  StreamSlots& slots() { return slots_; }
  // Tells the owner when the body waiting for the upstream crosses the limit
  // (or falls back), once per change.
  void SetAboveWatermark(bool above) {
    if (above == above_watermark_ || done_) return;
    above_watermark_ = above;
    callbacks_.OnUpstreamWatermark(above);
  }

  // Called by the pool when bound: replays what was encoded so far.
  void BindTo(ActiveClient& client) {
    client_ = &client;
    stream_id_ = client.codec().NewStream();
    slots_.ReleasePending();
    if (read_disabled_ > 0) client.connection().ReadDisable(true);
    // From here on the connection's write buffer is what holds the body.
    SetAboveWatermark(false);
    if (!headers_) return;
    bool headers_only = headers_end_stream_;
    (void)client.codec().EncodeHeaders(stream_id_, *headers_, headers_only);
    if (has_body_ || (request_complete_ && !headers_only && !trailers_)) {
      (void)client.codec().EncodeData(stream_id_, body_, request_complete_ && !trailers_);
    }
    if (trailers_) (void)client.codec().EncodeTrailers(stream_id_, *trailers_);
    client.request_complete_ = request_complete_;
    headers_.reset();
    body_.clear();
    client.Flush();
  }

  UpstreamStreamCallbacks& callbacks() { return callbacks_; }
  void MarkDone() {
    done_ = true;
    slots_.ReleaseAll();
  }
  // Reports `reason` from the event loop, never from inside NewStream(). The
  // timer dies with the stream, so a caller that gives up first is safe.
  void FailSoon(UpstreamReset reason) {
    done_ = true;
    slots_.ReleaseAll();
    failure_timer_ =
        pool_.dispatcher_.CreateTimer([this, reason] { callbacks_.OnUpstreamReset(reason); });
    failure_timer_->Enable(std::chrono::milliseconds(0));
  }
  void Unbind() {
    // The connection may serve another request: it reads again.
    if (client_ != nullptr && read_disabled_ > 0) client_->connection().ReadDisable(false);
    client_ = nullptr;
  }

 private:
  Http1ConnectionPool& pool_;
  UpstreamStreamCallbacks& callbacks_;
  ActiveClient* client_ = nullptr;
  http::StreamId stream_id_ = 0;
  bool done_ = false;
  std::optional<http::RequestHeaders> headers_;
  bool headers_end_stream_ = false;
  std::string body_;
  bool has_body_ = false;
  std::optional<http::TrailerMap> trailers_;
  bool request_complete_ = false;
  std::unique_ptr<event::Timer> failure_timer_;
  StreamSlots slots_;
  uint32_t read_disabled_ = 0;
  bool above_watermark_ = false;
};

void Http1ConnectionPool::ActiveClient::OnWriteBufferWatermark(bool above_high) {
  if (stream_ != nullptr) stream_->SetAboveWatermark(above_high);
}

void Http1ConnectionPool::ActiveClient::Attach(PendingStream& stream) {
  stream_ = &stream;
  request_complete_ = false;
  ++requests_served_;
  stream.BindTo(*this);
}

void Http1ConnectionPool::ActiveClient::Detach(PendingStream& stream, bool response_complete) {
  if (stream_ != &stream) return;
  stream_ = nullptr;
  stream.Unbind();
  // HTTP/1 cannot abandon a message half-way, nor reuse a connection whose
  // request was not fully sent.
  if (!response_complete || !request_complete_) {
    Close();
    return;
  }
  uint32_t max = pool_.settings_.max_requests_per_connection;
  if (codec_->ShouldClose() || (max > 0 && requests_served_ >= max)) {
    Close();
    return;
  }
  pool_.OnClientReady(*this);
}

void Http1ConnectionPool::ActiveClient::FinishResponse() {
  PendingStream* stream = stream_;
  stream->MarkDone();
  Detach(*stream, /*response_complete=*/true);
}

void Http1ConnectionPool::ActiveClient::FailStream(UpstreamReset reason) {
  PendingStream* stream = stream_;
  if (stream == nullptr) return;
  stream_ = nullptr;
  stream->Unbind();
  stream->MarkDone();
  Close();
  stream->callbacks().OnUpstreamReset(reason);
}

void Http1ConnectionPool::ActiveClient::OnHeaders(http::StreamId, http::ResponseHeaders headers,
                                                  bool end_stream) {
  if (stream_ == nullptr) return;
  PendingStream* stream = stream_;
  if (end_stream) FinishResponse();
  stream->callbacks().OnUpstreamHeaders(std::move(headers), end_stream);
}

void Http1ConnectionPool::ActiveClient::OnData(http::StreamId, std::string_view data,
                                               bool end_stream) {
  if (stream_ == nullptr) return;
  PendingStream* stream = stream_;
  if (end_stream) FinishResponse();
  stream->callbacks().OnUpstreamData(data, end_stream);
}

void Http1ConnectionPool::ActiveClient::OnTrailers(http::StreamId, http::TrailerMap trailers) {
  if (stream_ == nullptr) return;
  PendingStream* stream = stream_;
  FinishResponse();
  stream->callbacks().OnUpstreamTrailers(std::move(trailers));
}

void Http1ConnectionPool::ActiveClient::OnEvent(network::ConnectionEvent event) {
  switch (event) {
    case network::ConnectionEvent::kConnected:
      connected_ = true;
      --pool_.connecting_;
      pool_.OnClientReady(*this);
      return;
    case network::ConnectionEvent::kConnectFailed:
      --pool_.connecting_;
      pool_.stats_.upstream_cx_connect_fail.Inc();
      closing_ = true;
      pool_.OnClientClosed(*this);
      return;
    case network::ConnectionEvent::kRemoteClose:
      pool_.stats_.upstream_cx_destroy_remote.Inc();
      [[fallthrough]];
    case network::ConnectionEvent::kLocalClose:
      closing_ = true;
      FailStream(UpstreamReset::kRemoteReset);
      pool_.OnClientClosed(*this);
      return;
  }
}

Http1ConnectionPool::Http1ConnectionPool(event::Dispatcher& dispatcher, network::Address address,
                                         PoolSettings settings, stats::ClusterStats& stats)
    : dispatcher_(dispatcher), address_(address), settings_(settings), stats_(stats) {
  if (settings_.circuit_breaker == nullptr) {
    settings_.circuit_breaker = std::make_shared<CircuitBreaker>(CircuitBreakerLimits{});
  }
}

Http1ConnectionPool::~Http1ConnectionPool() {
  for (auto* pending : pending_) pending->MarkDone();
  pending_.clear();
  for (auto& client : clients_) {
    if (client->stream_ != nullptr) {
      client->stream_->Unbind();
      client->stream_->MarkDone();
      client->stream_ = nullptr;
    }
  }
  idle_.clear();
  clients_.clear();
}

size_t Http1ConnectionPool::idle_count() const { return idle_.size(); }

std::unique_ptr<UpstreamStream> Http1ConnectionPool::NewStream(UpstreamStreamCallbacks& callbacks) {
  auto stream = std::make_unique<PendingStream>(*this, callbacks);
  CircuitBreaker& breaker = *settings_.circuit_breaker;
  if (!stream->slots().AcquireRequest(breaker)) {
    stats_.upstream_rq_pending_overflow.Inc();
    stream->FailSoon(UpstreamReset::kOverflow);
    return stream;
  }
  // Most recently used first: its connection is the least likely to have
  // been closed by the upstream's own idle timeout.
  while (!idle_.empty()) {
    ActiveClient* client = idle_.back();
    idle_.pop_back();
    if (!client->ready()) continue;
    client->Attach(*stream);
    return stream;
  }
  if (!stream->slots().AcquirePending(breaker)) {
    stats_.upstream_rq_pending_overflow.Inc();
    stream->FailSoon(UpstreamReset::kOverflow);
    return stream;
  }
  pending_.push_back(stream.get());
  // One connection per waiting request, up to the limit.
  if (connecting_ < pending_.size()) ConnectOne();
  return stream;
}

bool Http1ConnectionPool::ConnectOne() {
  bool overflowed = false;
  CircuitBreaker::Slot slot =
      settings_.circuit_breaker->AcquireConnection(!clients_.empty(), &overflowed);
  if (overflowed) stats_.upstream_cx_overflow.Inc();
  if (!slot.held()) return false;
  ++connecting_;
  clients_.push_back(std::make_unique<ActiveClient>(*this, std::move(slot)));
  return true;
}

void Http1ConnectionPool::OnClientReady(ActiveClient& client) {
  if (!pending_.empty()) {
    PendingStream* next = pending_.front();
    pending_.pop_front();
    client.Attach(*next);
    return;
  }
  idle_.push_back(&client);
  client.MarkIdle();
}

void Http1ConnectionPool::OnClientClosed(ActiveClient& client) {
  client.connection_slot_.Release();
  std::erase(idle_, &client);
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->get() == &client) {
      dispatcher_.DeferredDelete(std::move(*it));
      clients_.erase(it);
      break;
    }
  }
  // Connect failures fail the waiting requests, one per failed connection,
  // oldest first; a remote close just makes room for a new connection.
  if (!client.connected_ && !pending_.empty()) {
    PendingStream* failed = pending_.front();
    pending_.pop_front();
    failed->MarkDone();
    failed->callbacks().OnUpstreamReset(UpstreamReset::kConnectFailure);
  }
  if (connecting_ < pending_.size()) ConnectOne();
}

void Http1ConnectionPool::RemovePending(PendingStream* stream) {
  auto it = std::find(pending_.begin(), pending_.end(), stream);
  if (it != pending_.end()) pending_.erase(it);
}

void Http1ConnectionPool::CloseIdle() {
  // Closing removes the client from idle_: work on a copy.
  std::vector<ActiveClient*> idle = idle_;
  for (auto* client : idle) client->Close();
}

}  // namespace meshgate::proxy::upstream
