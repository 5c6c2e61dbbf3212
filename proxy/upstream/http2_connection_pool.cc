#include "proxy/upstream/http2_connection_pool.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proxy/network/connection.h"
#include "proxy/network/transport_socket.h"

namespace meshgate::proxy::upstream {
namespace {

constexpr size_t kFrameHeaderSize = 9;
constexpr uint8_t kFrameSettings = 0x4;
constexpr uint8_t kFrameGoAway = 0x7;
constexpr uint8_t kFlagAck = 0x1;
constexpr uint16_t kSettingsMaxConcurrentStreams = 0x3;
// A SETTINGS frame holds at most this much (the default
// SETTINGS_MAX_FRAME_SIZE); GOAWAY's interesting part is its first 8 bytes.
constexpr size_t kMaxKeptPayload = 16384;

uint32_t ReadBigEndian(std::string_view bytes, size_t offset, size_t width) {
  uint32_t v = 0;
  for (size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return v;
}

}  // namespace

void Http2PeerFrameObserver::Observe(std::string_view bytes) {
  while (!bytes.empty()) {
    if (header_.size() < kFrameHeaderSize) {
      size_t take = std::min(kFrameHeaderSize - header_.size(), bytes.size());
      header_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (header_.size() < kFrameHeaderSize) return;
      payload_remaining_ = ReadBigEndian(header_, 0, 3);
      type_ = static_cast<uint8_t>(header_[3]);
      flags_ = static_cast<uint8_t>(header_[4]);
      keep_payload_ = type_ == kFrameSettings || type_ == kFrameGoAway;
      payload_.clear();
    }
    size_t take = std::min<size_t>(payload_remaining_, bytes.size());
    if (keep_payload_ && payload_.size() < kMaxKeptPayload) {
      payload_.append(bytes.substr(0, std::min(take, kMaxKeptPayload - payload_.size())));
    }
    payload_remaining_ -= static_cast<uint32_t>(take);
    bytes.remove_prefix(take);
    if (payload_remaining_ == 0) {
      OnFrame(type_, flags_, payload_);
      header_.clear();
    }
  }
}

void Http2PeerFrameObserver::OnFrame(uint8_t type, uint8_t flags, std::string_view payload) {
  if (type == kFrameGoAway) {
    goaway_received_ = true;
    return;
  }
  if (type != kFrameSettings || (flags & kFlagAck) != 0) return;
  settings_received_ = true;
  for (size_t at = 0; at + 6 <= payload.size(); at += 6) {
    if (ReadBigEndian(payload, at, 2) == kSettingsMaxConcurrentStreams) {
      max_concurrent_streams_ = ReadBigEndian(payload, at + 2, 4);
    }
  }
}

// One HTTP/2 connection, its codec, and the streams multiplexed on it.
class Http2ConnectionPool::ActiveClient : public event::DeferredDeletable,
                                          public network::ConnectionCallbacks,
                                          public http::ClientCallbacks {
 public:
  ActiveClient(Http2ConnectionPool& pool, CircuitBreaker::Slot connection_slot)
      : pool_(pool),
        connection_slot_(std::move(connection_slot)),
        stats_(pool.stats_),
        connection_(network::Connection::Connect(
            pool.dispatcher_, pool.address_,
            pool.settings_.transport_factory
                ? pool.settings_.transport_factory()
                : std::make_unique<network::PlaintextTransportSocket>(),
            pool.settings_.connect_timeout)),
        codec_(pool.codec_factory_(*this)) {
    connection_->SetCallbacks(this);
    idle_timer_ = pool.dispatcher_.CreateTimer([this] { Close(); });
    flush_timer_ = pool.dispatcher_.CreateTimer([this] { Flush(); });
    settings_timer_ = pool.dispatcher_.CreateTimer([this] {
      // Connected, but the peer never said what it accepts: as good as a
      // failed connect.
      stats_.upstream_cx_connect_timeout.Inc();
      Close();
    });
    stats_.upstream_cx_total.Inc();
    stats_.upstream_cx_active.Inc();
  }
  // May run after the pool is gone (deferred deletion): touches only stats.
  ~ActiveClient() override { stats_.upstream_cx_active.Dec(); }

  // Ready once connected and the peer's SETTINGS arrived: only then is its
  // concurrency limit known, and streams sent earlier could be refused.
  bool ready() const { return connected_ && peer_.settings_received() && !closing_; }
  bool connecting() const { return !closing_ && !(connected_ && peer_.settings_received()); }
  size_t active_streams() const { return streams_.size(); }

  // How many more streams this connection takes now.
  uint32_t Capacity() const {
    if (!ready() || draining_) return 0;
    uint32_t limit = peer_.max_concurrent_streams();
    if (pool_.settings_.max_concurrent_streams > 0) {
      limit = std::min(limit, pool_.settings_.max_concurrent_streams);
    }
    uint32_t active = static_cast<uint32_t>(streams_.size());
    uint32_t room = limit > active ? limit - active : 0;
    const uint32_t max_requests = pool_.settings_.max_requests_per_connection;
    if (max_requests > 0) room = std::min(room, max_requests - streams_served_);
    return room;
  }

  void Attach(Stream& stream);
  // The stream's owner gave up on it: RST_STREAM, this stream only.
  void ResetStream(http::StreamId id) {
    codec_->ResetStream(id);
    streams_.erase(id);
    ScheduleFlush();
    AfterStreamEnded();
  }
  // What streams encode is written once per event-loop iteration: the
  // requests that one downstream read produced share one write.
  void ScheduleFlush() {
    if (!flush_timer_->enabled()) flush_timer_->Enable(std::chrono::milliseconds(0));
  }
  // The codec hands out its output in slices: pull until it has nothing
  // more, or the socket pushes back (the low watermark resumes).
  void Flush() {
    flush_timer_->Disable();
    while (!closing_ && !write_blocked_) {
      std::string_view out = codec_->PendingOutput();
      if (out.empty()) break;
      connection_->Write(out);
      codec_->DrainOutput(out.size());
    }
  }
  http::ClientConnection& codec() { return *codec_; }

  void Close() {
    if (closing_) return;
    closing_ = true;
    idle_timer_->Disable();
    settings_timer_->Disable();
    flush_timer_->Disable();
    connection_->Close(network::Connection::CloseType::kFlushWrite);
  }

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override;
  void OnEvent(network::ConnectionEvent event) override;
  void OnWriteBufferWatermark(bool above_high) override {
    write_blocked_ = above_high;
    if (!above_high) Flush();
  }

  // http::ClientCallbacks
  void OnHeaders(http::StreamId id, http::ResponseHeaders headers, bool end_stream) override;
  void OnData(http::StreamId id, std::string_view data, bool end_stream) override;
  void OnTrailers(http::StreamId id, http::TrailerMap trailers) override;
  void OnStreamReset(http::StreamId id, http::StreamResetReason reason) override;
  void OnProtocolError(const http::ProtocolError&) override {
    FailAll(UpstreamReset::kRemoteReset);
    Close();
  }
  void OnStreamWatermark(http::StreamId id, bool above_high) override;

 private:
  friend class Http2ConnectionPool;

  // Removes the stream from this connection and marks it finished.
  Stream* Take(http::StreamId id);
  void FailAll(UpstreamReset reason);
  // A stream ended: a draining connection closes when it was the last, an
  // idle one starts its idle clock, and the pool hands the room to a waiter.
  void AfterStreamEnded();

  Http2ConnectionPool& pool_;
  CircuitBreaker::Slot connection_slot_;  // max_connections; given back on close
  stats::ClusterStats& stats_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::ClientConnection> codec_;
  std::unique_ptr<event::Timer> idle_timer_;
  std::unique_ptr<event::Timer> settings_timer_;
  std::unique_ptr<event::Timer> flush_timer_;
  Http2PeerFrameObserver peer_;
  std::map<http::StreamId, Stream*> streams_;
  uint32_t streams_served_ = 0;
  bool connected_ = false;
  bool closing_ = false;
  bool draining_ = false;  // GOAWAY received or request quota used: no new streams
  // Bytes at the front of the read buffer the observer has already seen (the
  // codec left them unconsumed).
  size_t observed_ahead_ = 0;
  bool write_blocked_ = false;
};

// The caller's handle: buffers what it encodes until bound to a connection.
class Http2ConnectionPool::Stream : public UpstreamStream {
 public:
  Stream(Http2ConnectionPool& pool, UpstreamStreamCallbacks& callbacks)
      : pool_(pool), callbacks_(callbacks) {}
  ~Stream() override { Reset(); }

  void EncodeHeaders(const http::RequestHeaders& headers, bool end_stream) override {
    if (client_ != nullptr) {
      Check(client_->codec().EncodeHeaders(id_, headers, end_stream));
      return;
    }
    headers_ = headers;
    headers_end_stream_ = end_stream;
  }
  void EncodeData(std::string_view data, bool end_stream) override {
    if (client_ != nullptr) {
      Check(client_->codec().EncodeData(id_, data, end_stream));
      return;
    }
    body_.append(data);
    has_body_ = true;
    body_end_stream_ = end_stream;
    if (body_.size() > pool_.settings_.buffer_limit_bytes) SetAboveWatermark(true);
  }
  void EncodeTrailers(const http::TrailerMap& trailers) override {
    if (client_ != nullptr) {
      Check(client_->codec().EncodeTrailers(id_, trailers));
      return;
    }
    trailers_ = trailers;
  }
  void Reset() override {
    if (done_) return;
    done_ = true;
    slots_.ReleaseAll();
    if (client_ != nullptr) {
      ActiveClient* client = client_;
      client_ = nullptr;
      client->ResetStream(id_);
    } else {
      pool_.RemovePending(this);
    }
  }
  void ReadDisable(bool disable) override {
    if (disable) {
      if (read_disabled_++ == 0 && client_ != nullptr) {
        client_->codec().ReadDisableStream(id_, true);
      }
      return;
    }
    if (read_disabled_ == 0 || --read_disabled_ > 0 || client_ == nullptr) return;
    client_->codec().ReadDisableStream(id_, false);
    client_->ScheduleFlush();  // the WINDOW_UPDATE it owed
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

  // Called by the connection when bound: replays what was encoded so far.
  http::StreamId BindTo(ActiveClient& client) {
    client_ = &client;
    id_ = client.codec().NewStream();
    slots_.ReleasePending();
    return id_;
  }
  void Replay() {
    // From here on the codec watches the body it holds, starting afresh.
    SetAboveWatermark(false);
    if (!headers_) return;
    absl::Status status = client_->codec().EncodeHeaders(id_, *headers_, headers_end_stream_);
    if (status.ok() && read_disabled_ > 0) client_->codec().ReadDisableStream(id_, true);
    if (status.ok() && has_body_) {
      status = client_->codec().EncodeData(id_, body_, body_end_stream_ && !trailers_);
    }
    if (status.ok() && trailers_) status = client_->codec().EncodeTrailers(id_, *trailers_);
    headers_.reset();
    body_.clear();
    trailers_.reset();
    Check(status);
  }

  UpstreamStreamCallbacks& callbacks() { return callbacks_; }
  http::StreamId id() const { return id_; }
  void MarkDone() {
    done_ = true;
    client_ = nullptr;
    slots_.ReleaseAll();
  }
  // Reports `reason` from the event loop, never from inside the caller's own
  // call. The timer dies with the stream, so a caller that gives up first is safe.
  void FailSoon(UpstreamReset reason) {
    done_ = true;
    slots_.ReleaseAll();
    failure_timer_ =
        pool_.dispatcher_.CreateTimer([this, reason] { callbacks_.OnUpstreamReset(reason); });
    failure_timer_->Enable(std::chrono::milliseconds(0));
  }

 private:
  // The codec refused what we asked it to send (e.g. a header it cannot
  // carry): this stream is lost, the connection is not.
  void Check(const absl::Status& status) {
    if (client_ == nullptr) return;
    if (status.ok()) {
      client_->ScheduleFlush();
      return;
    }
    ActiveClient* client = client_;
    client_ = nullptr;
    client->ResetStream(id_);
    // Unavailable: the connection takes no new stream (GOAWAY raced us), so
    // nothing reached the peer.
    FailSoon(status.code() == absl::StatusCode::kUnavailable ? UpstreamReset::kRefusedStream
                                                             : UpstreamReset::kRemoteReset);
  }

  Http2ConnectionPool& pool_;
  UpstreamStreamCallbacks& callbacks_;
  ActiveClient* client_ = nullptr;
  http::StreamId id_ = 0;
  bool done_ = false;
  std::optional<http::RequestHeaders> headers_;
  bool headers_end_stream_ = false;
  std::string body_;
  bool has_body_ = false;
  bool body_end_stream_ = false;
  std::optional<http::TrailerMap> trailers_;
  std::unique_ptr<event::Timer> failure_timer_;
  StreamSlots slots_;
  uint32_t read_disabled_ = 0;
  bool above_watermark_ = false;
};

void Http2ConnectionPool::ActiveClient::OnStreamWatermark(http::StreamId id, bool above_high) {
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second->SetAboveWatermark(above_high);
}

void Http2ConnectionPool::ActiveClient::Attach(Stream& stream) {
  idle_timer_->Disable();
  ++streams_served_;
  const uint32_t max_requests = pool_.settings_.max_requests_per_connection;
  if (max_requests > 0 && streams_served_ >= max_requests) draining_ = true;
  streams_[stream.BindTo(*this)] = &stream;
  stream.Replay();
}

Http2ConnectionPool::Stream* Http2ConnectionPool::ActiveClient::Take(http::StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return nullptr;
  Stream* stream = it->second;
  streams_.erase(it);
  stream->MarkDone();
  return stream;
}

void Http2ConnectionPool::ActiveClient::FailAll(UpstreamReset reason) {
  // Callbacks may reset or create other streams: detach everything first.
  std::map<http::StreamId, Stream*> streams;
  streams.swap(streams_);
  for (auto& [id, stream] : streams) stream->MarkDone();
  for (auto& [id, stream] : streams) stream->callbacks().OnUpstreamReset(reason);
}

void Http2ConnectionPool::ActiveClient::AfterStreamEnded() {
  if (closing_) return;
  if (streams_.empty()) {
    if (draining_) {
      Close();
      return;
    }
    idle_timer_->Enable(pool_.settings_.idle_timeout);
  }
  pool_.Assign();
}

void Http2ConnectionPool::ActiveClient::OnHeaders(http::StreamId id, http::ResponseHeaders headers,
                                                  bool end_stream) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream* stream = end_stream ? Take(id) : it->second;
  stream->callbacks().OnUpstreamHeaders(std::move(headers), end_stream);
  if (end_stream) AfterStreamEnded();
}

void Http2ConnectionPool::ActiveClient::OnData(http::StreamId id, std::string_view data,
                                               bool end_stream) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream* stream = end_stream ? Take(id) : it->second;
  stream->callbacks().OnUpstreamData(data, end_stream);
  if (end_stream) AfterStreamEnded();
}

void Http2ConnectionPool::ActiveClient::OnTrailers(http::StreamId id, http::TrailerMap trailers) {
  Stream* stream = Take(id);
  if (stream == nullptr) return;
  stream->callbacks().OnUpstreamTrailers(std::move(trailers));
  AfterStreamEnded();
}

void Http2ConnectionPool::ActiveClient::OnStreamReset(http::StreamId id,
                                                      http::StreamResetReason reason) {
  Stream* stream = Take(id);
  if (stream == nullptr) return;
  // Refused (REFUSED_STREAM, or above the peer's GOAWAY): never processed,
  // so the router may retry it under "refused-stream".
  stream->callbacks().OnUpstreamReset(reason == http::StreamResetReason::kRefused
                                          ? UpstreamReset::kRefusedStream
                                          : UpstreamReset::kRemoteReset);
  AfterStreamEnded();
}

void Http2ConnectionPool::ActiveClient::OnData(network::Buffer& data, bool end_stream) {
  std::string_view bytes = data.View();
  // Read the peer's SETTINGS and GOAWAY before the codec runs: streams that
  // end during Dispatch() must not hand their room on this connection to a
  // waiter when the peer has just said it takes no new streams.
  const uint32_t limit_before = peer_.max_concurrent_streams();
  const bool was_ready = ready();
  peer_.Observe(bytes.substr(observed_ahead_));
  observed_ahead_ = bytes.size();
  if (peer_.goaway_received()) draining_ = true;
  auto consumed = codec_->Dispatch(bytes);
  if (!consumed.ok()) {
    data.Clear();
    observed_ahead_ = 0;
    FailAll(UpstreamReset::kRemoteReset);
    Close();
    return;
  }
  observed_ahead_ -= *consumed;
  data.Drain(*consumed);
  if (end_stream) codec_->DispatchEof();
  if (closing_) return;
  Flush();
  if (end_stream) {
    FailAll(UpstreamReset::kRemoteReset);
    Close();
    pool_.Assign();
    return;
  }
  if (draining_ && streams_.empty()) {
    Close();
    pool_.Assign();
    return;
  }
  if (!was_ready && ready()) {
    settings_timer_->Disable();
    if (streams_.empty()) idle_timer_->Enable(pool_.settings_.idle_timeout);
  }
  if (draining_ || was_ready != ready() || peer_.max_concurrent_streams() != limit_before) {
    pool_.Assign();
  }
}

void Http2ConnectionPool::ActiveClient::OnEvent(network::ConnectionEvent event) {
  switch (event) {
    case network::ConnectionEvent::kConnected:
      connected_ = true;
      Flush();  // the connection preface
      settings_timer_->Enable(pool_.settings_.connect_timeout);
      return;
    case network::ConnectionEvent::kConnectFailed:
      stats_.upstream_cx_connect_fail.Inc();
      closing_ = true;
      settings_timer_->Disable();
      pool_.OnClientClosed(*this, /*never_ready=*/true);
      return;
    case network::ConnectionEvent::kRemoteClose:
      stats_.upstream_cx_destroy_remote.Inc();
      [[fallthrough]];
    case network::ConnectionEvent::kLocalClose: {
      const bool never_ready = !(connected_ && peer_.settings_received());
      closing_ = true;
      idle_timer_->Disable();
      settings_timer_->Disable();
      FailAll(UpstreamReset::kRemoteReset);
      pool_.OnClientClosed(*this, never_ready);
      return;
    }
  }
}

Http2ConnectionPool::Http2ConnectionPool(event::Dispatcher& dispatcher, network::Address address,
                                         PoolSettings settings, stats::ClusterStats& stats,
                                         Http2CodecFactory codec_factory)
    : dispatcher_(dispatcher),
      address_(address),
      settings_(settings),
      stats_(stats),
      codec_factory_(std::move(codec_factory)) {
  if (settings_.circuit_breaker == nullptr) {
    settings_.circuit_breaker = std::make_shared<CircuitBreaker>(CircuitBreakerLimits{});
  }
}

Http2ConnectionPool::~Http2ConnectionPool() {
  for (auto* pending : pending_) pending->MarkDone();
  pending_.clear();
  for (auto& client : clients_) {
    for (auto& [id, stream] : client->streams_) stream->MarkDone();
    client->streams_.clear();
  }
  clients_.clear();
}

size_t Http2ConnectionPool::active_stream_count() const {
  size_t n = 0;
  for (const auto& client : clients_) n += client->active_streams();
  return n;
}

uint32_t Http2ConnectionPool::AssumedCapacity() const {
  uint32_t capacity = Http2PeerFrameObserver::kInitialMaxConcurrentStreams;
  if (settings_.max_concurrent_streams > 0) {
    capacity = std::min(capacity, settings_.max_concurrent_streams);
  }
  if (settings_.max_requests_per_connection > 0) {
    capacity = std::min(capacity, settings_.max_requests_per_connection);
  }
  return capacity;
}

std::unique_ptr<UpstreamStream> Http2ConnectionPool::NewStream(UpstreamStreamCallbacks& callbacks) {
  auto stream = std::make_unique<Stream>(*this, callbacks);
  CircuitBreaker& breaker = *settings_.circuit_breaker;
  if (!stream->slots().AcquireRequest(breaker)) {
    stats_.upstream_rq_pending_overflow.Inc();
    stream->FailSoon(UpstreamReset::kOverflow);
    return stream;
  }
  if (pending_.empty()) {
    for (auto& client : clients_) {
      if (client->Capacity() > 0) {
        client->Attach(*stream);
        return stream;
      }
    }
  }
  if (!stream->slots().AcquirePending(breaker)) {
    stats_.upstream_rq_pending_overflow.Inc();
    stream->FailSoon(UpstreamReset::kOverflow);
    return stream;
  }
  pending_.push_back(stream.get());
  Assign();
  return stream;
}

void Http2ConnectionPool::Assign() {
  // Binding replays encoded requests into codecs, which may call back: one
  // pass at a time.
  if (assigning_) return;
  assigning_ = true;
  while (!pending_.empty()) {
    ActiveClient* target = nullptr;
    for (auto& client : clients_) {
      if (client->Capacity() > 0) {
        target = client.get();
        break;
      }
    }
    if (target == nullptr) break;
    Stream* next = pending_.front();
    pending_.pop_front();
    target->Attach(*next);
  }
  size_t expected = 0;
  for (const auto& client : clients_) {
    if (client->connecting()) expected += AssumedCapacity();
  }
  while (pending_.size() > expected) {
    if (!ConnectOne()) break;
    expected += AssumedCapacity();
  }
  assigning_ = false;
}

bool Http2ConnectionPool::ConnectOne() {
  bool overflowed = false;
  CircuitBreaker::Slot slot =
      settings_.circuit_breaker->AcquireConnection(!clients_.empty(), &overflowed);
  if (overflowed) stats_.upstream_cx_overflow.Inc();
  if (!slot.held()) return false;
  clients_.push_back(std::make_unique<ActiveClient>(*this, std::move(slot)));
  return true;
}

void Http2ConnectionPool::OnClientClosed(ActiveClient& client, bool never_ready) {
  client.connection_slot_.Release();
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->get() == &client) {
      dispatcher_.DeferredDelete(std::move(*it));
      clients_.erase(it);
      break;
    }
  }
  if (never_ready) {
    // The waiters this connection was meant for fail, oldest first; those
    // another connection in progress can take keep waiting.
    size_t expected = 0;
    for (const auto& other : clients_) {
      if (other->connecting()) expected += AssumedCapacity();
    }
    std::vector<Stream*> failed;
    while (pending_.size() > expected) {
      failed.push_back(pending_.front());
      pending_.pop_front();
    }
    for (auto* stream : failed) stream->MarkDone();
    for (auto* stream : failed) stream->callbacks().OnUpstreamReset(UpstreamReset::kConnectFailure);
    return;
  }
  Assign();
}

void Http2ConnectionPool::RemovePending(Stream* stream) {
  auto it = std::find(pending_.begin(), pending_.end(), stream);
  if (it != pending_.end()) pending_.erase(it);
}

void Http2ConnectionPool::CloseIdle() {
  std::vector<ActiveClient*> idle;
  for (auto& client : clients_) {
    if (client->active_streams() == 0 && !client->connecting()) idle.push_back(client.get());
  }
  for (auto* client : idle) client->Close();
}

}  // namespace meshgate::proxy::upstream
