#include "proxy/server/http_connection_manager.h"

#include "proxy/http/http1_codec.h"
#include "proxy/server/active_stream.h"

namespace meshgate::proxy::server {
namespace {

// Idle downstream connections are closed after this long (Envoy's
// idle_timeout default is 1 h; proxies at the edge use minutes).
constexpr std::chrono::milliseconds kDownstreamIdleTimeout{300'000};

}  // namespace

HttpConnectionManager::HttpConnectionManager(WorkerContext& worker,
                                             std::unique_ptr<network::Connection> connection,
                                             std::shared_ptr<const config::ListenerConfig> listener,
                                             const config::FilterChainConfig& chain)
    : worker_(worker),
      connection_(std::move(connection)),
      listener_(std::move(listener)),
      chain_(chain),
      stats_(worker.stats().Http(chain.http.stat_prefix)) {
  http::Http1Settings settings;
  if (chain_.http.max_request_headers_kb) {
    settings.max_header_bytes = static_cast<size_t>(*chain_.http.max_request_headers_kb) * 1024;
  }
  codec_ = http::NewHttp1ServerConnection(*this, settings);
  connection_->SetCallbacks(this);
  stats_.downstream_cx_total.Inc();
  stats_.downstream_cx_active.Inc();
  peer_ip_ = connection_->peer_address().ip();
  idle_timer_ = worker_.dispatcher().CreateTimer([this] { OnIdleTimer(); });
  ArmIdleTimer();
}

void HttpConnectionManager::ArmIdleTimer() {
  last_activity_ = worker_.dispatcher().ApproximateNow();
  if (!idle_timer_->enabled()) idle_timer_->Enable(kDownstreamIdleTimeout);
}

void HttpConnectionManager::OnIdleTimer() {
  const auto idle_for = worker_.dispatcher().ApproximateNow() - last_activity_;
  if (stream_ || idle_for < kDownstreamIdleTimeout) {
    // Busy, or active since the timer was armed: wait for the rest.
    auto rest = std::chrono::ceil<std::chrono::milliseconds>(
        stream_ ? kDownstreamIdleTimeout : kDownstreamIdleTimeout - idle_for);
    idle_timer_->Enable(rest);
    return;
  }
  CloseConnection();
}

HttpConnectionManager::~HttpConnectionManager() {
  flush_timer_.reset();
  stream_.reset();
  stats_.downstream_cx_active.Dec();
}

void HttpConnectionManager::OnData(network::Buffer& data, bool end_stream) {
  dispatching_ = true;
  auto consumed = codec_->Dispatch(data.View());
  dispatching_ = false;
  if (closed_) return;
  if (!consumed.ok()) {
    // OnProtocolError already answered; the connection closes once written.
    data.Clear();
    FlushCodec();
    return;
  }
  data.Drain(*consumed);
  if (!data.empty()) {
    // The codec paused on a complete request (pipelining): stop reading
    // until its response is out, so a client cannot make us buffer without
    // bound.
    connection_->ReadDisable(true);
    paused_ = true;
  }
  if (end_stream) {
    codec_->DispatchEof();
    if (stream_ && !stream_->response_complete()) stream_->OnDownstreamReset();
    CloseConnection();
    return;
  }
  FlushCodec();
  if (!stream_ && !closed_) ArmIdleTimer();
}

void HttpConnectionManager::FlushCodec() {
  if (flush_timer_) flush_timer_->Disable();  // flushed now: no extra loop iteration
  if (closed_) return;
  std::string_view out = codec_->PendingOutput();
  if (!out.empty()) {
    connection_->Write(out);
    codec_->DrainOutput(out.size());
  }
  if (codec_->ShouldClose() && !stream_) {
    closed_ = true;
    connection_->Close(network::Connection::CloseType::kFlushWrite);
  }
}

void HttpConnectionManager::ScheduleFlush() {
  if (!flush_timer_) flush_timer_ = worker_.dispatcher().CreateTimer([this] { FlushCodec(); });
  if (!flush_timer_->enabled()) flush_timer_->Enable(std::chrono::milliseconds(0));
}

void HttpConnectionManager::OnStreamComplete(ActiveStream& stream) {
  if (stream_.get() != &stream) return;
  // The stream may be deep in its own call stack: release it from the loop.
  worker_.dispatcher().DeferredDelete(std::move(stream_));
  if (closed_) return;
  if (codec_->ShouldClose() || draining()) {
    closed_ = true;
    connection_->Close(network::Connection::CloseType::kFlushWrite);
    return;
  }
  if (paused_) {
    paused_ = false;
    // Re-delivers what is buffered (the next pipelined request).
    if (!dispatching_) connection_->ReadDisable(false);
  }
  if (!dispatching_) ArmIdleTimer();
}

void HttpConnectionManager::OnEvent(network::ConnectionEvent event) {
  if (event == network::ConnectionEvent::kRemoteClose ||
      event == network::ConnectionEvent::kLocalClose) {
    closed_ = true;
    if (stream_ && !stream_->response_complete()) stream_->OnDownstreamReset();
    idle_timer_.reset();
    worker_.RemoveConnection(this);
  }
}

void HttpConnectionManager::OnWriteBufferWatermark(bool above_high) {
  // A slow client: stop reading its next requests until it catches up.
  connection_->ReadDisable(above_high);
}

void HttpConnectionManager::OnHeaders(http::StreamId stream, http::RequestHeaders headers,
                                      bool end_stream) {
  stream_ = std::make_unique<ActiveStream>(*this, stream);
  stream_->DecodeHeaders(std::move(headers), end_stream);
}

void HttpConnectionManager::OnData(http::StreamId stream, std::string_view data, bool end_stream) {
  if (stream_ && stream_->id() == stream) stream_->DecodeData(data, end_stream);
}

void HttpConnectionManager::OnTrailers(http::StreamId stream, http::TrailerMap trailers) {
  if (stream_ && stream_->id() == stream) stream_->DecodeTrailers(std::move(trailers));
}

void HttpConnectionManager::OnStreamReset(http::StreamId stream, http::StreamResetReason) {
  if (stream_ && stream_->id() == stream) stream_->OnDownstreamReset();
}

void HttpConnectionManager::OnProtocolError(const http::ProtocolError& error) {
  stats_.downstream_cx_protocol_error.Inc();
  if (stream_ && !stream_->response_complete()) {
    stream_->OnDownstreamReset();
    stream_.reset();
  }
  // The codec is unusable: answer with the status it chose and close.
  connection_->Write(http::MinimalErrorResponse(error.http_status));
  closed_ = true;
  connection_->Close(network::Connection::CloseType::kFlushWrite);
}

void HttpConnectionManager::CloseIfIdle() {
  if (!stream_) CloseConnection();
}

void HttpConnectionManager::DrainListener(uint64_t drain_id) {
  drain_id_ = drain_id;
  CloseIfIdle();
}

void HttpConnectionManager::CloseNow() {
  if (stream_ && !stream_->response_complete()) stream_->OnDownstreamReset();
  closed_ = true;
  connection_->Close(network::Connection::CloseType::kNoFlush);
}

void HttpConnectionManager::CloseConnection() {
  if (closed_) return;
  closed_ = true;
  connection_->Close(network::Connection::CloseType::kFlushWrite);
}

}  // namespace meshgate::proxy::server
