#include "proxy/http/http2_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "proxy/http/str_util.h"

namespace meshgate::proxy::http {
namespace {

constexpr size_t kFrameHeaderBytes = 9;

enum FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoAway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};
constexpr uint8_t kFlagEndStream = 0x1;
constexpr uint8_t kFlagEndHeaders = 0x4;

bool IsConnectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

std::string_view View(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

nghttp2_nv MakeNv(std::string_view name, std::string_view value) {
  nghttp2_nv nv;
  nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
  nv.namelen = name.size();
  nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
  nv.valuelen = value.size();
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

// What a header block of the peer turned into, before it is handed over.
struct InboundBlock {
  HeaderMap fields;
  size_t list_bytes = 0;      // RFC 7541 §4.1 accounting
  size_t regular_fields = 0;  // pseudo-headers not counted, cookie crumbs are
  std::vector<std::string> cookies;
};

// Watches inbound frame headers before nghttp2 parses them, for the limits
// nghttp2 does not enforce (or enforces with a clock): CONTINUATION floods,
// empty frames, control-frame floods. Only frame headers are looked at; the
// payload bytes are skipped.
class FrameGuard {
 public:
  struct Violation {
    size_t frame_start;  // offset in the chunk where the offending frame began (clamped at 0)
    std::string reason;
    uint64_t Http2CodecStats::*counter;
  };

  FrameGuard(const Http2Settings& settings, bool server)
      : settings_(settings), preface_left_(server ? kHttp2ConnectionPreface.size() : 0) {}

  // `useful_sent`: DATA frames we sent so far (the peer's WINDOW_UPDATEs answer them).
  std::optional<Violation> Scan(std::string_view chunk, uint64_t useful_sent) {
    size_t i = 0;
    while (i < chunk.size()) {
      if (preface_left_ > 0) {
        const size_t n = std::min(preface_left_, chunk.size() - i);
        preface_left_ -= n;
        i += n;
        continue;
      }
      if (payload_left_ > 0) {
        const size_t n = std::min<size_t>(payload_left_, chunk.size() - i);
        payload_left_ -= n;
        i += n;
        continue;
      }
      const size_t n = std::min(kFrameHeaderBytes - header_fill_, chunk.size() - i);
      std::memcpy(header_ + header_fill_, chunk.data() + i, n);
      header_fill_ += n;
      i += n;
      if (header_fill_ < kFrameHeaderBytes) break;
      header_fill_ = 0;
      const size_t start = i >= kFrameHeaderBytes ? i - kFrameHeaderBytes : 0;
      const uint32_t length =
          (uint32_t{header_[0]} << 16) | (uint32_t{header_[1]} << 8) | uint32_t{header_[2]};
      payload_left_ = length;
      if (auto v = Check(header_[3], header_[4], length, useful_sent)) {
        v->frame_start = start;
        return v;
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<Violation> Check(uint8_t type, uint8_t flags, uint32_t length,
                                 uint64_t useful_sent) {
    bool empty = false;
    switch (type) {
      case kHeaders:
      case kPushPromise:
        in_block_ = (flags & kFlagEndHeaders) == 0;
        block_bytes_ = length;
        continuations_ = 0;
        ++useful_;
        empty = length == 0 && (flags & kFlagEndStream) == 0;
        if (block_bytes_ > settings_.max_header_block_bytes) {
          return Violation{0,
                           Concat("header block of ", block_bytes_, " bytes exceeds the limit of ",
                                  settings_.max_header_block_bytes),
                           &Http2CodecStats::continuation_flood};
        }
        break;
      case kContinuation:
        ++continuations_;
        block_bytes_ += length;
        empty = length == 0 && (flags & kFlagEndHeaders) == 0;
        if (continuations_ > settings_.max_continuation_frames) {
          return Violation{
              0,
              Concat("CONTINUATION flood: more than ", settings_.max_continuation_frames,
                     " CONTINUATION frames in one header block"),
              &Http2CodecStats::continuation_flood};
        }
        if (block_bytes_ > settings_.max_header_block_bytes) {
          return Violation{0,
                           Concat("CONTINUATION flood: header block exceeds ",
                                  settings_.max_header_block_bytes, " bytes before END_HEADERS"),
                           &Http2CodecStats::continuation_flood};
        }
        if (flags & kFlagEndHeaders) in_block_ = false;
        break;
      case kData:
        empty = length == 0 && (flags & kFlagEndStream) == 0;
        if (length > 0) ++useful_;
        break;
      default: {
        // PING, SETTINGS, PRIORITY, WINDOW_UPDATE, RST_STREAM, GOAWAY and
        // unknown extension frames cost us work and carry no request.
        ++control_;
        const uint64_t budget =
            settings_.max_inbound_control_frames +
            uint64_t{settings_.control_frames_per_useful_frame} * (useful_ + useful_sent);
        if (control_ > budget) {
          return Violation{
              0,
              Concat("control frame flood: ", control_,
                     " PING/SETTINGS/PRIORITY/WINDOW_UPDATE/RST_STREAM frames for ", useful_,
                     " request frames (last was type ", static_cast<int>(type), ")"),
              &Http2CodecStats::control_frame_flood};
        }
        break;
      }
    }
    if (empty) {
      if (++consecutive_empty_ > settings_.max_consecutive_empty_frames) {
        return Violation{
            0,
            Concat("empty frame flood: ", consecutive_empty_,
                   " consecutive frames without payload (type ", static_cast<int>(type), ")"),
            &Http2CodecStats::empty_frame_flood};
      }
    } else {
      consecutive_empty_ = 0;
    }
    return std::nullopt;
  }

  const Http2Settings& settings_;
  size_t preface_left_;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t header_fill_ = 0;
  uint64_t payload_left_ = 0;
  bool in_block_ = false;
  size_t block_bytes_ = 0;
  uint32_t continuations_ = 0;
  uint64_t useful_ = 0;
  uint64_t control_ = 0;
  uint32_t consecutive_empty_ = 0;
};

}  // namespace

// The shared engine of both sides. Server: StreamId == HTTP/2 stream id.
// Client: StreamId is the owner's handle, mapped to the HTTP/2 id at
// EncodeHeaders.
class Http2Session {
 public:
  Http2Session(bool server, ServerCallbacks* server_callbacks, ClientCallbacks* client_callbacks,
               Http2Settings settings);
  ~Http2Session();

  absl::StatusOr<size_t> Dispatch(std::string_view bytes);
  void DispatchEof();
  std::string_view PendingOutput() const {
    return std::string_view(output_).substr(output_offset_);
  }
  void DrainOutput(size_t bytes);
  bool ShouldClose() const;
  void ResetStream(StreamId stream);
  void GoAway();
  size_t ActiveStreams() const { return streams_.size(); }
  void ReadDisableStream(StreamId stream, bool disable);
  size_t BufferedBodyBytes(StreamId stream) const {
    auto it = streams_.find(H2IdOf(stream));
    return it == streams_.end() ? 0 : it->second.buffered();
  }
  size_t BufferedBodyBytes() const { return buffered_total_; }

  StreamId NewStream() { return next_handle_++; }
  absl::Status EncodeHeaders(StreamId stream, const HeaderMap& headers, bool end_stream);
  absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream);
  absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers);

  bool goaway_received() const { return goaway_received_; }
  uint32_t PeerMaxConcurrentStreams() const {
    return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  }
  const Http2CodecStats& stats() const { return stats_; }

 private:
  struct Stream {
    StreamId id = 0;         // the owner's id
    bool announced = false;  // the owner saw its first headers (server) / sent them (client)
    bool remote_ended = false;
    bool local_ended = false;  // the owner encoded the end of its message
    bool body_done = false;    // every body byte and the trailers went to nghttp2
    bool reset_by_owner = false;
    bool provider_installed = false;
    bool deferred = false;
    std::string body;
    size_t body_offset = 0;
    std::optional<TrailerMap> trailers;
    std::optional<InboundBlock> block;
    // Back-pressure (see the header).
    bool above_watermark = false;  // the owner was told to stop producing
    uint32_t read_disabled = 0;    // nesting count of ReadDisableStream(true)
    size_t unconsumed = 0;         // received while read-disabled: credit owed

    size_t buffered() const { return body.size() - body_offset; }
  };

  // nghttp2 callbacks (static trampolines below).
  int OnBeginHeaders(const nghttp2_frame* frame);
  int OnHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int OnFrameRecv(const nghttp2_frame* frame);
  int OnDataChunk(int32_t h2_id, std::string_view data);
  int OnStreamClose(int32_t h2_id, uint32_t error_code);
  int OnFrameSend(const nghttp2_frame* frame);
  ssize_t ReadBody(int32_t h2_id, uint8_t* buf, size_t length, uint32_t* flags);

  Stream* FindByH2(int32_t h2_id) {
    auto it = streams_.find(h2_id);
    return it == streams_.end() ? nullptr : &it->second;
  }
  int32_t H2IdOf(StreamId stream) const {
    if (server_) return static_cast<int32_t>(stream);
    auto it = handle_to_h2_.find(stream);
    return it == handle_to_h2_.end() ? -1 : it->second;
  }

  void DeliverHeaders(int32_t h2_id, Stream& s, bool end_stream);
  // Rapid reset / RST flood: one more stream of the current window was reset
  // by the peer or, because of the peer, by us.
  void CountPeerCausedReset(uint64_t Http2CodecStats::*counter);
  // Records a connection-ending problem found inside an nghttp2 callback or
  // by the frame guard; Fail() acts on it once nghttp2 returned.
  void NoteFatal(std::string reason, uint64_t Http2CodecStats::*counter, uint32_t code) {
    if (fatal_) return;
    fatal_ = Fatal{std::move(reason), counter, code};
  }
  absl::Status Fail();
  void Pump(bool ignore_limit = false);
  // Re-evaluates the watermarks after buffered body changed on `changed` (or
  // on the connection as a whole); the owner hears of it from
  // DeliverWatermarkEvents(), outside nghttp2's callbacks.
  void UpdateWatermarks(Stream* changed);
  void EvaluateWatermark(Stream& s);
  void DeliverWatermarkEvents();
  // `s` leaves streams_: its buffered body no longer counts.
  void ForgetBuffered(const Stream& s) { buffered_total_ -= s.buffered(); }
  std::vector<nghttp2_nv> ToNv(const HeaderMap& headers, bool request, bool trailers);
  absl::Status Submit(int32_t h2_id, Stream& s, const HeaderMap& headers, bool end_stream);

  struct Fatal {
    std::string reason;
    uint64_t Http2CodecStats::*counter;
    uint32_t code;
  };

  const bool server_;
  ServerCallbacks* server_callbacks_;
  ClientCallbacks* client_callbacks_;
  Http2Settings settings_;
  Http2CodecStats stats_;
  nghttp2_session* session_ = nullptr;
  FrameGuard guard_;

  std::map<int32_t, Stream> streams_;  // by HTTP/2 id
  std::map<StreamId, int32_t> handle_to_h2_;
  // Client streams whose headers are not encoded yet have no HTTP/2 id.
  StreamId next_handle_ = 1;

  std::string output_;
  size_t output_offset_ = 0;
  bool in_callback_ = false;  // inside mem_recv/mem_send: no re-entrant pumping
  bool dispatching_ = false;
  bool failed_ = false;
  bool eof_ = false;
  bool goaway_requested_ = false;  // GoAway() was called
  bool goaway_sent_ = false;
  bool goaway_received_ = false;
  std::optional<Fatal> fatal_;
  std::string last_library_error_;
  uint64_t data_frames_sent_ = 0;
  uint32_t window_streams_ = 0;
  uint32_t window_resets_ = 0;
  size_t buffered_total_ = 0;       // body encoded, not yet framed, all streams
  bool connection_over_ = false;    // buffered_total_ went above the connection limit
  bool delivering_events_ = false;  // inside DeliverWatermarkEvents()
  std::vector<std::pair<StreamId, bool>> watermark_events_;
};

namespace {

Http2Session* Self(void* user_data) { return static_cast<Http2Session*>(user_data); }

}  // namespace

Http2Session::Http2Session(bool server, ServerCallbacks* server_callbacks,
                           ClientCallbacks* client_callbacks, Http2Settings settings)
    : server_(server),
      server_callbacks_(server_callbacks),
      client_callbacks_(client_callbacks),
      settings_(std::move(settings)),
      guard_(settings_, server) {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
        return Self(user)->OnBeginHeaders(frame);
      });
  nghttp2_session_callbacks_set_on_header_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user) {
        return Self(user)->OnHeader(frame, View(name, namelen), View(value, valuelen));
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
        return Self(user)->OnFrameRecv(frame);
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
        return Self(user)->OnDataChunk(id, View(data, len));
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cbs, [](nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
        return Self(user)->OnStreamClose(id, error_code);
      });
  nghttp2_session_callbacks_set_on_frame_send_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
        return Self(user)->OnFrameSend(frame);
      });
  nghttp2_session_callbacks_set_error_callback2(
      cbs, [](nghttp2_session*, int, const char* msg, size_t len, void* user) {
        Self(user)->last_library_error_.assign(msg, len);
        return 0;
      });
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* frame, int lib_error, void* user) {
        Self(user)->last_library_error_ =
            Concat("invalid frame (type ", static_cast<int>(frame->hd.type), ") on stream ",
                   frame->hd.stream_id, ": ", std::string_view(nghttp2_strerror(lib_error)));
        return 0;
      });

  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, settings_.max_outbound_control_frames);
  // Our own count-based checks come first; nghttp2's (one of them timed) are
  // a looser backstop.
  nghttp2_option_set_max_continuations(opt, settings_.max_continuation_frames + 1);
  nghttp2_option_set_stream_reset_rate_limit(opt, UINT32_MAX, UINT32_MAX);
  if (server_) {
    nghttp2_session_server_new2(&session_, cbs, this, opt);
  } else {
    nghttp2_session_client_new2(&session_, cbs, this, opt);
  }
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);

  std::vector<nghttp2_settings_entry> entries = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_stream_window_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(settings_.max_header_list_bytes)},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  if (!server_) entries.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
  const int32_t default_window = NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE;
  if (settings_.initial_connection_window_bytes > static_cast<uint32_t>(default_window)) {
    nghttp2_session_set_local_window_size(
        session_, NGHTTP2_FLAG_NONE, 0,
        static_cast<int32_t>(std::min<uint32_t>(settings_.initial_connection_window_bytes,
                                                NGHTTP2_MAX_WINDOW_SIZE)));
  }
  Pump();
}

Http2Session::~Http2Session() { nghttp2_session_del(session_); }

absl::StatusOr<size_t> Http2Session::Dispatch(std::string_view bytes) {
  if (dispatching_) return absl::FailedPreconditionError("Dispatch() called from a callback");
  if (failed_) return absl::FailedPreconditionError("the HTTP/2 connection already failed");
  if (fatal_) return Fail();  // found while encoding (a reset we had to send)
  dispatching_ = true;
  std::optional<FrameGuard::Violation> violation = guard_.Scan(bytes, data_frames_sent_);
  std::string_view feed = violation ? bytes.substr(0, violation->frame_start) : bytes;
  in_callback_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(feed.data()), feed.size());
  in_callback_ = false;
  dispatching_ = false;
  if (violation)
    NoteFatal(std::move(violation->reason), violation->counter, NGHTTP2_ENHANCE_YOUR_CALM);
  if (rv < 0 && !fatal_) {
    if (rv == NGHTTP2_ERR_FLOODED) {
      NoteFatal(Concat("outbound flood: more than ", settings_.max_outbound_control_frames,
                       " acknowledgements queued that the peer does not read"),
                &Http2CodecStats::outbound_flood, NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
      NoteFatal("CONTINUATION flood", &Http2CodecStats::continuation_flood,
                NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      NoteFatal("not an HTTP/2 connection preface", nullptr, NGHTTP2_PROTOCOL_ERROR);
    } else {
      NoteFatal(Concat("HTTP/2 error: ", std::string_view(nghttp2_strerror(static_cast<int>(rv))),
                       last_library_error_.empty() ? "" : " (", last_library_error_,
                       last_library_error_.empty() ? "" : ")"),
                nullptr, NGHTTP2_PROTOCOL_ERROR);
    }
  }
  if (!fatal_ &&
      nghttp2_session_get_outbound_queue_size(session_) > settings_.max_outbound_frames) {
    NoteFatal(Concat("outbound flood: more than ", settings_.max_outbound_frames,
                     " frames queued that the peer does not read"),
              &Http2CodecStats::outbound_flood, NGHTTP2_ENHANCE_YOUR_CALM);
  }
  if (fatal_) return Fail();
  Pump();
  if (fatal_) return Fail();
  return bytes.size();
}

absl::Status Http2Session::Fail() {
  Fatal fatal = std::move(*fatal_);
  failed_ = true;
  ++stats_.protocol_errors;
  if (fatal.counter != nullptr) ++(stats_.*fatal.counter);
  // A no-op when nghttp2 already ended the session itself.
  nghttp2_session_terminate_session(session_, fatal.code);
  Pump(/*ignore_limit=*/true);
  ProtocolError error;
  error.http_status =
      server_ ? (fatal.counter == &Http2CodecStats::header_list_too_large ? 431 : 400) : 502;
  error.reason = fatal.reason;
  if (server_) {
    server_callbacks_->OnProtocolError(error);
  } else {
    client_callbacks_->OnProtocolError(error);
  }
  return absl::InvalidArgumentError(fatal.reason);
}

void Http2Session::Pump(bool ignore_limit) {
  if (in_callback_) return;
  in_callback_ = true;
  const uint64_t goaways_before = stats_.goaway_sent;
  while (ignore_limit || PendingOutput().size() < settings_.max_pending_output_bytes) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) {
      if (n < 0 && !fatal_ && !failed_) {
        NoteFatal(
            Concat("HTTP/2 send error: ", std::string_view(nghttp2_strerror(static_cast<int>(n)))),
            nullptr, NGHTTP2_INTERNAL_ERROR);
      }
      break;
    }
    if (output_offset_ > 0 && output_offset_ == output_.size()) {
      output_.clear();
      output_offset_ = 0;
    }
    output_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    // After a fatal error only the GOAWAY matters.
    if (ignore_limit && stats_.goaway_sent > goaways_before) break;
  }
  in_callback_ = false;
  if (!failed_ && !fatal_) DeliverWatermarkEvents();
}

void Http2Session::UpdateWatermarks(Stream* changed) {
  const size_t limit = settings_.connection_buffer_limit_bytes;
  bool connection_changed = false;
  if (limit > 0) {
    if (!connection_over_ && buffered_total_ > limit) {
      connection_over_ = connection_changed = true;
    } else if (connection_over_ && buffered_total_ <= limit / 2) {
      connection_over_ = false;
      connection_changed = true;
    }
  }
  if (connection_changed) {
    for (auto& [h2_id, s] : streams_) EvaluateWatermark(s);
  } else if (changed != nullptr) {
    EvaluateWatermark(*changed);
  }
}

void Http2Session::EvaluateWatermark(Stream& s) {
  if (!s.announced || s.reset_by_owner) return;
  const size_t limit = settings_.stream_buffer_limit_bytes;
  const size_t buffered = s.buffered();
  if (!s.above_watermark) {
    // A congested connection stops every stream that adds to it.
    if ((limit > 0 && buffered > limit) || (connection_over_ && buffered > 0)) {
      s.above_watermark = true;
      watermark_events_.emplace_back(s.id, true);
    }
  } else if ((limit == 0 || buffered <= limit / 2) && !connection_over_) {
    s.above_watermark = false;
    watermark_events_.emplace_back(s.id, false);
  }
}

void Http2Session::DeliverWatermarkEvents() {
  if (in_callback_ || delivering_events_) return;
  delivering_events_ = true;
  while (!watermark_events_.empty()) {
    std::vector<std::pair<StreamId, bool>> events;
    events.swap(watermark_events_);
    for (const auto& [id, above] : events) {
      if (server_) {
        server_callbacks_->OnStreamWatermark(id, above);
      } else {
        client_callbacks_->OnStreamWatermark(id, above);
      }
    }
  }
  delivering_events_ = false;
}

void Http2Session::ReadDisableStream(StreamId stream, bool disable) {
  const int32_t h2_id = H2IdOf(stream);
  Stream* s = h2_id > 0 ? FindByH2(h2_id) : nullptr;
  if (s == nullptr) return;
  if (disable) {
    ++s->read_disabled;
    return;
  }
  if (s->read_disabled == 0 || --s->read_disabled > 0) return;
  if (s->unconsumed > 0 && !failed_) {
    // The owner took the bytes long ago; only the credit was held back.
    nghttp2_session_consume_stream(session_, h2_id, s->unconsumed);
    s->unconsumed = 0;
    Pump();
  }
}

void Http2Session::DrainOutput(size_t bytes) {
  output_offset_ += std::min(bytes, output_.size() - output_offset_);
  if (output_offset_ == output_.size()) {
    output_.clear();
    output_offset_ = 0;
  } else if (output_offset_ > output_.size() / 2) {
    output_.erase(0, output_offset_);
    output_offset_ = 0;
  }
  if (!failed_) {
    Pump();
    if (fatal_) (void)Fail();
  }
}

void Http2Session::DispatchEof() {
  if (eof_) return;
  eof_ = true;
  // Every stream still open was cut off.
  std::vector<std::pair<StreamId, bool>> cut;
  for (auto& [h2_id, s] : streams_) {
    if (s.announced && !s.reset_by_owner && !(s.remote_ended && s.local_ended)) {
      cut.emplace_back(s.id, true);
    }
  }
  streams_.clear();
  handle_to_h2_.clear();
  buffered_total_ = 0;
  watermark_events_.clear();
  if (failed_) return;
  for (auto& [id, unused] : cut) {
    if (server_) {
      server_callbacks_->OnStreamReset(id, StreamResetReason::kRemoteClosed);
    } else {
      client_callbacks_->OnStreamReset(id, StreamResetReason::kRemoteClosed);
    }
  }
}

bool Http2Session::ShouldClose() const {
  if (failed_ || eof_) return true;
  if ((goaway_requested_ || goaway_sent_ || goaway_received_) && streams_.empty()) return true;
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

void Http2Session::ResetStream(StreamId stream) {
  const int32_t h2_id = H2IdOf(stream);
  if (h2_id <= 0) {
    handle_to_h2_.erase(stream);
    return;
  }
  Stream* s = FindByH2(h2_id);
  if (s == nullptr || s->reset_by_owner) return;
  s->reset_by_owner = true;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, h2_id,
                            server_ ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
  Pump();
}

void Http2Session::GoAway() {
  if (goaway_requested_ || goaway_sent_ || failed_) return;
  goaway_requested_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  Pump();
}

std::vector<nghttp2_nv> Http2Session::ToNv(const HeaderMap& headers, bool request, bool trailers) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size() + 4);
  if (request) {
    // Pseudo-headers first, in the usual order, and only those HTTP/2 knows.
    const std::string_view method = headers.Get(kMethod).value_or("GET");
    std::string_view authority = headers.Get(kAuthority).value_or("");
    if (authority.empty()) authority = headers.Get("host").value_or("");
    const std::string_view scheme = headers.Get(kScheme).value_or(settings_.scheme);
    const std::string_view path = headers.Get(kPath).value_or("/");
    nva.push_back(MakeNv(kMethod, method));
    if (method != "CONNECT") {
      nva.push_back(MakeNv(kScheme, scheme.empty() ? std::string_view(settings_.scheme) : scheme));
      nva.push_back(MakeNv(kPath, path.empty() ? std::string_view("/") : path));
    }
    if (!authority.empty()) nva.push_back(MakeNv(kAuthority, authority));
  } else if (!trailers) {
    nva.push_back(MakeNv(kStatus, headers.Get(kStatus).value_or("")));
  }
  for (HeaderField f : headers) {
    if (f.name.empty() || f.name[0] == ':') continue;
    if (IsConnectionSpecific(f.name)) continue;
    if (f.name == "te" && !(request && EqualsIgnoreCase(f.value, "trailers"))) continue;
    nva.push_back(MakeNv(f.name, f.value));
  }
  return nva;
}

absl::Status Http2Session::Submit(int32_t h2_id, Stream& s, const HeaderMap& headers,
                                  bool end_stream) {
  std::vector<nghttp2_nv> nva = ToNv(headers, /*request=*/false, /*trailers=*/false);
  nghttp2_data_provider provider;
  provider.source.ptr = nullptr;
  provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* user) -> ssize_t {
    return Self(user)->ReadBody(id, buf, length, flags);
  };
  int rv = nghttp2_submit_response(session_, h2_id, nva.data(), nva.size(),
                                   end_stream ? nullptr : &provider);
  if (rv != 0) {
    return absl::FailedPreconditionError(
        Concat("stream ", h2_id, ": ", std::string_view(nghttp2_strerror(rv))));
  }
  s.provider_installed = !end_stream;
  s.local_ended = end_stream;
  s.body_done = end_stream;
  return absl::OkStatus();
}

absl::Status Http2Session::EncodeHeaders(StreamId stream, const HeaderMap& headers,
                                         bool end_stream) {
  if (failed_) return absl::FailedPreconditionError("the HTTP/2 connection failed");
  if (server_) {
    Stream* s = FindByH2(static_cast<int32_t>(stream));
    if (s == nullptr || s->reset_by_owner || s->local_ended) {
      return absl::FailedPreconditionError(
          Concat("stream ", stream, " is not open for a response"));
    }
    const auto* response = static_cast<const ResponseHeaders*>(&headers);
    const int status = response->Status();
    if (status == 101) {
      return absl::InvalidArgumentError("HTTP/2 has no 101 Switching Protocols");
    }
    absl::Status result;
    if (status >= 100 && status < 200) {
      // Interim: a HEADERS frame without END_STREAM; the final one follows.
      std::vector<nghttp2_nv> nva = ToNv(headers, false, false);
      const int rv =
          nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, static_cast<int32_t>(stream), nullptr,
                                 nva.data(), nva.size(), nullptr);
      if (rv < 0) result = absl::InternalError(nghttp2_strerror(rv));
    } else {
      result = Submit(static_cast<int32_t>(stream), *s, headers, end_stream);
    }
    Pump();
    return result;
  }
  // Client.
  if (goaway_received_ || nghttp2_session_check_request_allowed(session_) == 0) {
    return absl::UnavailableError("the server sent GOAWAY: no new streams on this connection");
  }
  if (handle_to_h2_.count(stream)) {
    return absl::FailedPreconditionError(Concat("stream ", stream, " already has headers"));
  }
  std::vector<nghttp2_nv> nva = ToNv(headers, /*request=*/true, false);
  nghttp2_data_provider provider;
  provider.source.ptr = nullptr;
  provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* user) -> ssize_t {
    return Self(user)->ReadBody(id, buf, length, flags);
  };
  const int32_t h2_id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                               end_stream ? nullptr : &provider, nullptr);
  if (h2_id < 0) {
    return absl::UnavailableError(
        Concat("cannot start an HTTP/2 stream: ", std::string_view(nghttp2_strerror(h2_id))));
  }
  ++stats_.streams_opened;
  Stream& s = streams_[h2_id];
  s.id = stream;
  s.announced = true;
  s.provider_installed = !end_stream;
  s.local_ended = end_stream;
  s.body_done = end_stream;
  handle_to_h2_[stream] = h2_id;
  Pump();
  return absl::OkStatus();
}

absl::Status Http2Session::EncodeData(StreamId stream, std::string_view data, bool end_stream) {
  if (failed_) return absl::FailedPreconditionError("the HTTP/2 connection failed");
  const int32_t h2_id = H2IdOf(stream);
  Stream* s = h2_id > 0 ? FindByH2(h2_id) : nullptr;
  if (s == nullptr || s->reset_by_owner) {
    return absl::FailedPreconditionError(Concat("stream ", stream, " is not open"));
  }
  if (s->local_ended || !s->provider_installed) {
    return absl::FailedPreconditionError(Concat("stream ", stream, " has no body to continue"));
  }
  if (s->body_offset > 0 && s->body_offset == s->body.size()) {
    s->body.clear();
    s->body_offset = 0;
  }
  s->body.append(data);
  buffered_total_ += data.size();
  s->local_ended = end_stream;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, h2_id);
  }
  UpdateWatermarks(s);
  Pump();
  return absl::OkStatus();
}

absl::Status Http2Session::EncodeTrailers(StreamId stream, const TrailerMap& trailers) {
  if (failed_) return absl::FailedPreconditionError("the HTTP/2 connection failed");
  const int32_t h2_id = H2IdOf(stream);
  Stream* s = h2_id > 0 ? FindByH2(h2_id) : nullptr;
  if (s == nullptr || s->reset_by_owner) {
    return absl::FailedPreconditionError(Concat("stream ", stream, " is not open"));
  }
  if (s->local_ended || !s->provider_installed) {
    return absl::FailedPreconditionError(Concat("stream ", stream, " has no body to end"));
  }
  s->trailers = trailers;
  s->local_ended = true;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, h2_id);
  }
  Pump();
  return absl::OkStatus();
}

ssize_t Http2Session::ReadBody(int32_t h2_id, uint8_t* buf, size_t length, uint32_t* flags) {
  Stream* s = FindByH2(h2_id);
  if (s == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(length, s->body.size() - s->body_offset);
  std::memcpy(buf, s->body.data() + s->body_offset, n);
  s->body_offset += n;
  buffered_total_ -= n;
  if (n > 0) UpdateWatermarks(s);
  if (s->body_offset == s->body.size()) {
    s->body.clear();
    s->body_offset = 0;
    if (s->local_ended) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      s->body_done = true;
      if (s->trailers) {
        std::vector<nghttp2_nv> nva = ToNv(*s->trailers, false, /*trailers=*/true);
        if (nghttp2_submit_trailer(session_, h2_id, nva.data(), nva.size()) == 0) {
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
        s->trailers.reset();
      }
    } else if (n == 0) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return static_cast<ssize_t>(n);
}

void Http2Session::CountPeerCausedReset(uint64_t Http2CodecStats::*counter) {
  if (++window_resets_ > settings_.max_resets_per_window) {
    NoteFatal(Concat(counter == &Http2CodecStats::rapid_reset_flood ? "rapid reset"
                                                                    : "stream error flood",
                     ": more than ", settings_.max_resets_per_window, " of the last ",
                     settings_.reset_window_streams, " streams opened were reset"),
              counter, NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

int Http2Session::OnBeginHeaders(const nghttp2_frame* frame) {
  const int32_t h2_id = frame->hd.stream_id;
  if (server_ && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    ++stats_.streams_opened;
    if (++window_streams_ > settings_.reset_window_streams) {
      window_streams_ = 1;
      window_resets_ = 0;
    }
    size_t open = 0;
    for (const auto& [id, st] : streams_) {
      if (!st.reset_by_owner) ++open;
    }
    if (open >= settings_.max_concurrent_streams || goaway_requested_) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, h2_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    Stream& s = streams_[h2_id];
    s.id = static_cast<StreamId>(h2_id);
    s.block.emplace();
    return 0;
  }
  Stream* s = FindByH2(h2_id);
  if (s == nullptr || s->reset_by_owner) return 0;
  s->block.emplace();
  return 0;
}

int Http2Session::OnHeader(const nghttp2_frame* frame, std::string_view name,
                           std::string_view value) {
  Stream* s = FindByH2(frame->hd.stream_id);
  if (s == nullptr || !s->block) return 0;
  InboundBlock& b = *s->block;
  b.list_bytes += name.size() + value.size() + 32;
  if (!name.empty() && name[0] != ':') ++b.regular_fields;
  std::string problem;
  if (b.list_bytes > settings_.max_header_list_bytes) {
    problem = Concat("header list exceeds ", settings_.max_header_list_bytes, " bytes");
  } else if (b.regular_fields > settings_.max_header_count) {
    problem = Concat("more than ", settings_.max_header_count, " header fields");
  }
  if (!problem.empty()) {
    NoteFatal(Concat("stream ", frame->hd.stream_id, ": ", problem),
              &Http2CodecStats::header_list_too_large, NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (name == "cookie") {
    b.cookies.emplace_back(value);
  } else {
    b.fields.Add(name, value);
  }
  return 0;
}

void Http2Session::DeliverHeaders(int32_t h2_id, Stream& s, bool end_stream) {
  InboundBlock block = std::move(*s.block);
  s.block.reset();
  if (!block.cookies.empty()) {
    std::string joined;
    for (const auto& c : block.cookies) {
      if (!joined.empty()) joined.append("; ");
      joined.append(c);
    }
    block.fields.Add("cookie", joined);
  }
  const bool first = !s.announced;
  if (server_) {
    if (!first) {
      // Trailers (nghttp2 checked that they end the stream).
      server_callbacks_->OnTrailers(s.id, std::move(block.fields));
      return;
    }
    RequestHeaders request;
    request.Reserve(block.fields.size() + 1, block.fields.ByteSize() + 16);
    for (HeaderField f : block.fields) request.Add(f.name, f.value);
    if (!request.Has(kAuthority)) {
      if (auto host = request.Get("host")) {
        std::string authority(*host);
        request.Add(kAuthority, authority);
      }
    }
    request.Remove("host");
    s.announced = true;
    if (request.Method() == "CONNECT") {
      // Not proxied (yet): answer here, as the HTTP/1 codec does.
      ResponseHeaders answer;
      answer.SetStatus(501);
      // Whatever the client still sends on it is consumed and dropped.
      (void)Submit(h2_id, s, answer, /*end_stream=*/true);
      s.reset_by_owner = true;
      return;
    }
    server_callbacks_->OnHeaders(s.id, std::move(request), end_stream);
    return;
  }
  // Client: a response (interim or final) or trailers.
  if (block.fields.Has(kStatus)) {
    ResponseHeaders response;
    for (HeaderField f : block.fields) response.Add(f.name, f.value);
    const int status = response.Status();
    if (status >= 100 && status < 200) {
      client_callbacks_->OnInformationalHeaders(s.id, std::move(response));
      return;
    }
    client_callbacks_->OnHeaders(s.id, std::move(response), end_stream);
    return;
  }
  client_callbacks_->OnTrailers(s.id, std::move(block.fields));
}

int Http2Session::OnFrameRecv(const nghttp2_frame* frame) {
  const int32_t h2_id = frame->hd.stream_id;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* s = FindByH2(h2_id);
      if (s == nullptr || s->reset_by_owner || !s->block) return 0;
      const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      if (end_stream) s->remote_ended = true;
      DeliverHeaders(h2_id, *s, end_stream);
      break;
    }
    case NGHTTP2_DATA: {
      if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) break;
      Stream* s = FindByH2(h2_id);
      if (s == nullptr || s->reset_by_owner || !s->announced) return 0;
      s->remote_ended = true;
      if (server_) {
        server_callbacks_->OnData(s->id, {}, true);
      } else {
        client_callbacks_->OnData(s->id, {}, true);
      }
      break;
    }
    case NGHTTP2_RST_STREAM: {
      ++stats_.resets_received;
      Stream* s = FindByH2(h2_id);
      if (server_ && s != nullptr && !s->reset_by_owner && !s->body_done) {
        CountPeerCausedReset(&Http2CodecStats::rapid_reset_flood);
      }
      break;
    }
    case NGHTTP2_GOAWAY:
      goaway_received_ = true;
      ++stats_.goaway_received;
      break;
    default:
      break;
  }
  return fatal_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

int Http2Session::OnDataChunk(int32_t h2_id, std::string_view data) {
  Stream* s = FindByH2(h2_id);
  if (s != nullptr && s->announced && !s->reset_by_owner) {
    if (server_) {
      server_callbacks_->OnData(s->id, data, false);
    } else {
      client_callbacks_->OnData(s->id, data, false);
    }
  }
  // The owner took the bytes (or nobody wants them): open the window again,
  // for the stream only once its owner can take more.
  s = FindByH2(h2_id);
  if (s != nullptr && s->read_disabled > 0 && !s->reset_by_owner) {
    nghttp2_session_consume_connection(session_, data.size());
    s->unconsumed += data.size();
  } else {
    nghttp2_session_consume(session_, h2_id, data.size());
  }
  return fatal_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

int Http2Session::OnStreamClose(int32_t h2_id, uint32_t error_code) {
  auto it = streams_.find(h2_id);
  if (it == streams_.end()) return 0;
  Stream s = std::move(it->second);
  streams_.erase(it);
  ForgetBuffered(s);
  UpdateWatermarks(nullptr);
  if (!server_) handle_to_h2_.erase(s.id);
  bool finished = s.remote_ended && s.local_ended && s.body_done;
  // A server may stop our upload with RST_STREAM(NO_ERROR) once its
  // response is complete (RFC 9113 §8.1): the exchange still succeeded.
  if (!server_ && s.remote_ended && error_code == NGHTTP2_NO_ERROR) finished = true;
  if (!s.announced || s.reset_by_owner || failed_ || (finished && error_code == NGHTTP2_NO_ERROR)) {
    return 0;
  }
  StreamResetReason reason = StreamResetReason::kRemoteReset;
  if (error_code == NGHTTP2_REFUSED_STREAM) reason = StreamResetReason::kRefused;
  if (server_) {
    server_callbacks_->OnStreamReset(s.id, reason);
  } else {
    client_callbacks_->OnStreamReset(s.id, reason);
  }
  return 0;
}

int Http2Session::OnFrameSend(const nghttp2_frame* frame) {
  if (server_ && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    // The response is out while the request is still coming: tell the
    // client to stop sending (RFC 9113 §8.1) so the stream does not hold a
    // concurrency slot until it finishes an upload nobody reads.
    Stream* s = FindByH2(frame->hd.stream_id);
    if (s != nullptr && !s->remote_ended && !s->reset_by_owner) {
      s->reset_by_owner = true;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
  }
  switch (frame->hd.type) {
    case NGHTTP2_DATA:
      ++data_frames_sent_;
      break;
    case NGHTTP2_RST_STREAM: {
      ++stats_.resets_sent;
      if (frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) ++stats_.streams_refused;
      Stream* s = FindByH2(frame->hd.stream_id);
      const bool owner_asked = s != nullptr && s->reset_by_owner;
      // Streams refused because we are going away are our doing, not the peer's.
      if (server_ && !owner_asked && !failed_ && !goaway_requested_) {
        // nghttp2 (or the concurrency limit) reset a stream the peer got wrong.
        CountPeerCausedReset(&Http2CodecStats::reset_flood);
      }
      break;
    }
    case NGHTTP2_GOAWAY:
      goaway_sent_ = true;
      ++stats_.goaway_sent;
      if (frame->goaway.error_code != NGHTTP2_NO_ERROR && !failed_ && !fatal_) {
        // nghttp2 ended the session over something the peer did.
        NoteFatal(last_library_error_.empty()
                      ? Concat("HTTP/2 connection error ", frame->goaway.error_code)
                      : last_library_error_,
                  nullptr, frame->goaway.error_code);
      }
      break;
    default:
      break;
  }
  return 0;
}

// ---------------------------------------------------------------------------

Http2ServerConnection::Http2ServerConnection(ServerCallbacks& callbacks, Http2Settings settings)
    : session_(std::make_unique<Http2Session>(true, &callbacks, nullptr, std::move(settings))) {}
Http2ServerConnection::~Http2ServerConnection() = default;
absl::StatusOr<size_t> Http2ServerConnection::Dispatch(std::string_view bytes) {
  return session_->Dispatch(bytes);
}
void Http2ServerConnection::DispatchEof() { session_->DispatchEof(); }
std::string_view Http2ServerConnection::PendingOutput() const { return session_->PendingOutput(); }
void Http2ServerConnection::DrainOutput(size_t bytes) { session_->DrainOutput(bytes); }
bool Http2ServerConnection::ShouldClose() const { return session_->ShouldClose(); }
void Http2ServerConnection::ResetStream(StreamId stream) { session_->ResetStream(stream); }
void Http2ServerConnection::GoAway() { session_->GoAway(); }
size_t Http2ServerConnection::ActiveStreams() const { return session_->ActiveStreams(); }
void Http2ServerConnection::ReadDisableStream(StreamId stream, bool disable) {
  session_->ReadDisableStream(stream, disable);
}
size_t Http2ServerConnection::BufferedBodyBytes(StreamId stream) const {
  return session_->BufferedBodyBytes(stream);
}
size_t Http2ServerConnection::BufferedBodyBytes() const { return session_->BufferedBodyBytes(); }
absl::Status Http2ServerConnection::EncodeHeaders(StreamId stream, const ResponseHeaders& headers,
                                                  bool end_stream) {
  return session_->EncodeHeaders(stream, headers, end_stream);
}
absl::Status Http2ServerConnection::EncodeData(StreamId stream, std::string_view data,
                                               bool end_stream) {
  return session_->EncodeData(stream, data, end_stream);
}
absl::Status Http2ServerConnection::EncodeTrailers(StreamId stream, const TrailerMap& trailers) {
  return session_->EncodeTrailers(stream, trailers);
}
const Http2CodecStats& Http2ServerConnection::stats() const { return session_->stats(); }

Http2ClientConnection::Http2ClientConnection(ClientCallbacks& callbacks, Http2Settings settings)
    : session_(std::make_unique<Http2Session>(false, nullptr, &callbacks, std::move(settings))) {}
Http2ClientConnection::~Http2ClientConnection() = default;
absl::StatusOr<size_t> Http2ClientConnection::Dispatch(std::string_view bytes) {
  return session_->Dispatch(bytes);
}
void Http2ClientConnection::DispatchEof() { session_->DispatchEof(); }
std::string_view Http2ClientConnection::PendingOutput() const { return session_->PendingOutput(); }
void Http2ClientConnection::DrainOutput(size_t bytes) { session_->DrainOutput(bytes); }
bool Http2ClientConnection::ShouldClose() const { return session_->ShouldClose(); }
void Http2ClientConnection::ResetStream(StreamId stream) { session_->ResetStream(stream); }
void Http2ClientConnection::GoAway() { session_->GoAway(); }
size_t Http2ClientConnection::ActiveStreams() const { return session_->ActiveStreams(); }
void Http2ClientConnection::ReadDisableStream(StreamId stream, bool disable) {
  session_->ReadDisableStream(stream, disable);
}
size_t Http2ClientConnection::BufferedBodyBytes(StreamId stream) const {
  return session_->BufferedBodyBytes(stream);
}
size_t Http2ClientConnection::BufferedBodyBytes() const { return session_->BufferedBodyBytes(); }
StreamId Http2ClientConnection::NewStream() { return session_->NewStream(); }
absl::Status Http2ClientConnection::EncodeHeaders(StreamId stream, const RequestHeaders& headers,
                                                  bool end_stream) {
  return session_->EncodeHeaders(stream, headers, end_stream);
}
absl::Status Http2ClientConnection::EncodeData(StreamId stream, std::string_view data,
                                               bool end_stream) {
  return session_->EncodeData(stream, data, end_stream);
}
absl::Status Http2ClientConnection::EncodeTrailers(StreamId stream, const TrailerMap& trailers) {
  return session_->EncodeTrailers(stream, trailers);
}
bool Http2ClientConnection::GoAwayReceived() const { return session_->goaway_received(); }
uint32_t Http2ClientConnection::PeerMaxConcurrentStreams() const {
  return session_->PeerMaxConcurrentStreams();
}
const Http2CodecStats& Http2ClientConnection::stats() const { return session_->stats(); }

void RecordHttp2CodecStats(const Http2CodecStats& codec, stats::Http2Stats& out) {
  out.rx_reset.Inc(codec.resets_received);
  out.tx_reset.Inc(codec.resets_sent);
  out.goaway_sent.Inc(codec.goaway_sent);
  out.header_overflow.Inc(codec.header_list_too_large);
  out.too_many_header_frames.Inc(codec.continuation_flood);
  out.outbound_control_flood.Inc(codec.control_frame_flood);
  out.outbound_flood.Inc(codec.outbound_flood);
  out.inbound_empty_frames_flood.Inc(codec.empty_frame_flood);
  out.rapid_reset_flood.Inc(codec.rapid_reset_flood);
  out.reset_flood.Inc(codec.reset_flood);
  out.streams_refused.Inc(codec.streams_refused);
  out.connection_errors.Inc(codec.protocol_errors);
}

PrefaceMatch MatchHttp2Preface(std::string_view first_bytes) {
  const size_t n = std::min(first_bytes.size(), kHttp2ConnectionPreface.size());
  if (first_bytes.substr(0, n) != kHttp2ConnectionPreface.substr(0, n)) {
    return PrefaceMatch::kNotHttp2;
  }
  return n == kHttp2ConnectionPreface.size() ? PrefaceMatch::kHttp2 : PrefaceMatch::kNeedMoreBytes;
}

}  // namespace meshgate::proxy::http
