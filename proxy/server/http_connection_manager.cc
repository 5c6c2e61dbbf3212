#include "proxy/server/http_connection_manager.h"

#include <algorithm>
#include <vector>

#include "proxy/http/http1_codec.h"
#include "proxy/http/http2_codec.h"
#include "proxy/server/active_stream.h"
#include "spdlog/spdlog.h"

namespace meshgate::proxy::server {
namespace {

// Idle downstream connections are closed after this long (Envoy's
// idle_timeout default is 1 h; proxies at the edge use minutes).
constexpr std::chrono::milliseconds kDownstreamIdleTimeout{300'000};

}  // namespace

HttpConnectionManager::HttpConnectionManager(WorkerContext& worker,
                                             std::unique_ptr<network::Connection> connection,
                                             std::shared_ptr<const config::ListenerConfig> listener,
                                             const config::FilterChainConfig& chain,
                                             std::optional<network::Address> original_destination)
    : worker_(worker),
      connection_(std::move(connection)),
      listener_(std::move(listener)),
      chain_(chain),
      stats_(worker.stats().Http(chain.http.stat_prefix)),
      original_destination_(std::move(original_destination)) {
  connection_->SetCallbacks(this);
  peer_ip_ = connection_->peer_address().ip();
  stats_.downstream_cx_total.Inc();
  stats_.downstream_cx_active.Inc();
  idle_timer_ = worker_.dispatcher().CreateTimer([this] { OnIdleTimer(); });
  TouchIdleTimer();
}

HttpConnectionManager::~HttpConnectionManager() {
  flush_timer_.reset();
  streams_.clear();
  if (http2_ && codec_) {
    // The codec counted what this connection's peer did; the worker exports it.
    http::RecordHttp2CodecStats(static_cast<const http::Http2ServerConnection&>(*codec_).stats(),
                                worker_.stats().Http2());
  }
  stats_.downstream_cx_active.Dec();
}

bool HttpConnectionManager::ChooseCodec(std::string_view first_bytes) {
  using Codec = config::HttpConnectionManagerConfig::Codec;
  switch (chain_.http.codec) {
    case Codec::kHttp1:
      CreateCodec(false);
      return true;
    case Codec::kHttp2:
      CreateCodec(true);
      return true;
    case Codec::kAuto:
      break;
  }
  const std::string alpn = connection_->transport().NegotiatedProtocol();
  if (alpn == "h2") {
    CreateCodec(true);
    return true;
  }
  if (!alpn.empty()) {
    CreateCodec(false);
    return true;
  }
  switch (http::MatchHttp2Preface(first_bytes)) {
    case http::PrefaceMatch::kHttp2:
      CreateCodec(true);
      return true;
    case http::PrefaceMatch::kNotHttp2:
      CreateCodec(false);
      return true;
    case http::PrefaceMatch::kNeedMoreBytes:
      return false;
  }
  return false;
}

void HttpConnectionManager::CreateCodec(bool http2) {
  http2_ = http2;
  const auto& config = chain_.http;
  if (http2) {
    http::Http2Settings settings;
    if (config.max_request_headers_kb) {
      settings.max_header_list_bytes = static_cast<size_t>(*config.max_request_headers_kb) * 1024;
      settings.max_header_block_bytes =
          std::max(settings.max_header_block_bytes, settings.max_header_list_bytes * 3 / 2);
    }
    if (config.http2.max_concurrent_streams) {
      settings.max_concurrent_streams = *config.http2.max_concurrent_streams;
    }
    if (config.http2.initial_stream_window_size) {
      settings.initial_stream_window_bytes = *config.http2.initial_stream_window_size;
    }
    if (config.http2.initial_connection_window_size) {
      settings.initial_connection_window_bytes = *config.http2.initial_connection_window_size;
    }
    // The listener's buffer limit per stream, and the codec's usual four
    // streams' worth for the connection.
    settings.stream_buffer_limit_bytes = listener_->per_connection_buffer_limit_bytes;
    settings.connection_buffer_limit_bytes = 4 * listener_->per_connection_buffer_limit_bytes;
    codec_ = std::make_unique<http::Http2ServerConnection>(*this, std::move(settings));
    return;
  }
  http::Http1Settings settings;
  if (config.max_request_headers_kb) {
    settings.max_header_bytes = static_cast<size_t>(*config.max_request_headers_kb) * 1024;
  }
  codec_ = http::NewHttp1ServerConnection(*this, settings);
}

ActiveStream* HttpConnectionManager::FindStream(http::StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void HttpConnectionManager::ResetAllStreams() {
  // A reset may complete other work synchronously: detach the map first.
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, stream] : streams) {
    if (!stream->response_complete()) stream->OnDownstreamReset();
    worker_.dispatcher().DeferredDelete(std::move(stream));
  }
}

void HttpConnectionManager::TouchIdleTimer() {
  // The timer stays armed across requests; it only learns the last activity
  // and, when it fires early, re-arms for the rest. Re-arming it on every
  // request would cost a timer-queue update per request.
  last_activity_ = worker_.dispatcher().ApproximateNow();
  if (idle_timer_ && !idle_timer_->enabled()) idle_timer_->Enable(kDownstreamIdleTimeout);
}

void HttpConnectionManager::OnIdleTimer() {
  // A request in flight is not idleness; its completion re-arms the timer.
  if (!streams_.empty()) return;
  const auto idle_for = worker_.dispatcher().ApproximateNow() - last_activity_;
  if (idle_for < kDownstreamIdleTimeout) {
    idle_timer_->Enable(
        std::chrono::ceil<std::chrono::milliseconds>(kDownstreamIdleTimeout - idle_for));
    return;
  }
  CloseConnection();
}

void HttpConnectionManager::OnData(network::Buffer& data, bool end_stream) {
  if (!codec_ && !ChooseCodec(data.View())) {
    if (end_stream) {
      CloseConnection();
    } else if (!closed_) {
      TouchIdleTimer();
    }
    return;  // keep the bytes until they tell which protocol this is
  }
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
    ResetAllStreams();
    CloseConnection();
    return;
  }
  FlushCodec();
  if (!closed_) TouchIdleTimer();
}

void HttpConnectionManager::FlushCodec() {
  if (flush_timer_) flush_timer_->Disable();  // flushed now: no extra loop iteration
  if (closed_ || !codec_) return;
  // The HTTP/2 codec hands out its output in slices; keep pulling until it
  // has nothing more or the socket pushes back (then the low watermark
  // resumes).
  while (!write_blocked_) {
    std::string_view out = codec_->PendingOutput();
    if (out.empty()) break;
    connection_->Write(out);
    codec_->DrainOutput(out.size());
    if (closed_) return;
  }
  if (codec_->ShouldClose() && streams_.empty()) {
    closed_ = true;
    connection_->Close(network::Connection::CloseType::kFlushWrite);
  }
}

void HttpConnectionManager::ScheduleFlush() {
  if (!flush_timer_) flush_timer_ = worker_.dispatcher().CreateTimer([this] { FlushCodec(); });
  if (!flush_timer_->enabled()) flush_timer_->Enable(std::chrono::milliseconds(0));
}

void HttpConnectionManager::OnStreamComplete(ActiveStream& stream) {
  auto it = streams_.find(stream.id());
  if (it == streams_.end() || it->second.get() != &stream) return;
  // The stream may be deep in its own call stack: release it from the loop.
  worker_.dispatcher().DeferredDelete(std::move(it->second));
  streams_.erase(it);
  if (closed_) return;
  if (http2_) {
    // Other streams go on; a draining connection closes with its last one.
    if (draining()) codec_->GoAway();
    if (!dispatching_) FlushCodec();
    if (streams_.empty() && !closed_ && !dispatching_) TouchIdleTimer();
    return;
  }
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
  if (!dispatching_) TouchIdleTimer();
}

void HttpConnectionManager::OnEvent(network::ConnectionEvent event) {
  if (event == network::ConnectionEvent::kRemoteClose ||
      event == network::ConnectionEvent::kLocalClose) {
    closed_ = true;
    ResetAllStreams();
    idle_timer_.reset();
    worker_.RemoveConnection(this);
  }
}

void HttpConnectionManager::OnWriteBufferWatermark(bool above_high) {
  // A slow client: stop reading its next requests (and, for HTTP/2, stop
  // serializing more frames) until it catches up.
  write_blocked_ = above_high;
  connection_->ReadDisable(above_high);
  // Every response in progress stops (resumes) reading its upstream, so a
  // slow reader costs one buffer limit, not whole responses.
  for (auto& [id, stream] : streams_) stream->OnDownstreamWatermark(above_high);
  // What the codec serialized while blocked (HTTP/1 too: a response whose
  // upstream paused may have nothing more coming to push it out) goes now.
  if (!above_high && !dispatching_) FlushCodec();
}

void HttpConnectionManager::OnHeaders(http::StreamId stream, http::RequestHeaders headers,
                                      bool end_stream) {
  if (FindStream(stream) != nullptr) return;
  auto [it, inserted] = streams_.emplace(stream, std::make_unique<ActiveStream>(*this, stream));
  if (write_blocked_) it->second->OnDownstreamWatermark(true);
  // DecodeHeaders may complete (and release) the stream before it returns.
  it->second->DecodeHeaders(std::move(headers), end_stream);
}

void HttpConnectionManager::OnData(http::StreamId stream, std::string_view data, bool end_stream) {
  if (ActiveStream* s = FindStream(stream)) s->DecodeData(data, end_stream);
}

void HttpConnectionManager::OnTrailers(http::StreamId stream, http::TrailerMap trailers) {
  if (ActiveStream* s = FindStream(stream)) s->DecodeTrailers(std::move(trailers));
}

void HttpConnectionManager::OnStreamWatermark(http::StreamId stream, bool above_high) {
  if (ActiveStream* s = FindStream(stream)) s->OnDownstreamWatermark(above_high);
}

void HttpConnectionManager::OnStreamReset(http::StreamId stream, http::StreamResetReason) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  std::unique_ptr<ActiveStream> s = std::move(it->second);
  streams_.erase(it);
  s->OnDownstreamReset();
  worker_.dispatcher().DeferredDelete(std::move(s));
}

void HttpConnectionManager::OnProtocolError(const http::ProtocolError& error) {
  stats_.downstream_cx_protocol_error.Inc();
  ResetAllStreams();
  if (http2_) {
    // The codec queued a GOAWAY saying why; write it and close. The reason
    // goes to the log, as the peer only sees an error code.
    spdlog::debug("HTTP/2 connection from {} closed: {}", connection_->peer_address().ToString(),
                  error.reason);
    std::string_view out = codec_->PendingOutput();
    if (!out.empty()) {
      connection_->Write(out);
      codec_->DrainOutput(out.size());
    }
  } else {
    // The codec is unusable: answer with the status it chose and close.
    connection_->Write(http::MinimalErrorResponse(error.http_status));
  }
  closed_ = true;
  connection_->Close(network::Connection::CloseType::kFlushWrite);
}

void HttpConnectionManager::CloseIfIdle() {
  if (http2_ && codec_) {
    codec_->GoAway();
    FlushCodec();  // closes when no stream is open
    return;
  }
  if (streams_.empty()) CloseConnection();
}

void HttpConnectionManager::DrainListener(uint64_t drain_id) {
  drain_id_ = drain_id;
  CloseIfIdle();
}

void HttpConnectionManager::CloseNow() {
  ResetAllStreams();
  closed_ = true;
  connection_->Close(network::Connection::CloseType::kNoFlush);
}

void HttpConnectionManager::CloseConnection() {
  if (closed_) return;
  closed_ = true;
  connection_->Close(network::Connection::CloseType::kFlushWrite);
}

}  // namespace meshgate::proxy::server
