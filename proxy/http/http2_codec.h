// The HTTP/2 codec (RFC 9113) for both sides of the proxy, on nghttp2 driven
// purely through nghttp2_session_mem_recv / nghttp2_session_mem_send: bytes in,
// events and bytes out, no sockets, no clock, so it runs under unit tests and
// fuzzers like the HTTP/1 codec (see codec.h for the shared contract).
//
// Header model: requests carry :method :path :authority :scheme exactly as
// RequestHeaders expects (a `host` field becomes :authority when :authority is
// absent and is always removed; split `cookie` fields are joined with "; " as
// RFC 9113 §8.2.3 asks, so an HTTP/1.1 upstream sees one). Connection-specific
// fields (`connection`, `keep-alive`, `proxy-connection`, `transfer-encoding`,
// `upgrade`, and `te` other than "trailers") are never serialized, whatever the
// owner passes, so an HTTP/1.1 message converts without further editing.
// nghttp2's HTTP messaging checks reject malformed requests and responses
// (missing pseudo-headers, connection-specific fields, content-length
// mismatch) with RST_STREAM before the owner sees them.
//
// Flow control: request (server) or response (client) DATA is acknowledged to
// the peer (WINDOW_UPDATE) only after the owner's OnData returned, so a peer
// can have at most one stream window of unconsumed body in flight per stream
// and one connection window overall. Output is produced from nghttp2 up to
// `max_pending_output_bytes` at a time; DrainOutput() pulls more, so frames
// wait inside nghttp2 while the owner cannot write, and nghttp2's queue of
// acknowledgements is bounded (see the flood limits).
//
// Back-pressure: body the owner encodes waits in the codec until the peer's
// window lets it out. Above stream_buffer_limit_bytes on one stream, or
// connection_buffer_limit_bytes over all of them, the owner is told to stop
// producing (OnStreamWatermark(stream, true)); at half the limit it may go on.
// In the other direction, ReadDisableStream() withholds the stream's
// WINDOW_UPDATEs (the connection's window is still replenished, so other
// streams go on) until the owner resumes it: a peer can then send at most
// one stream window more.
//
// Protection against abusive peers (each limit counted in Http2CodecStats and
// each ending the connection with GOAWAY, ENHANCE_YOUR_CALM for floods, and a
// ProtocolError naming the limit). Windows are counted in frames and streams,
// never in time, so the codec stays clock-free:
//  - header lists larger than max_header_list_bytes (RFC 7541 size: name +
//    value + 32 per field) or with more than max_header_count fields;
//  - CONTINUATION floods (CVE-2024-27919): header block bytes before
//    END_HEADERS above max_header_block_bytes, or more than
//    max_continuation_frames CONTINUATION frames in one block;
//  - rapid reset (CVE-2023-44487) and RST floods (CVE-2019-9514): more than
//    max_resets_per_window streams, out of each reset_window_streams streams
//    the peer opens, reset by the peer before their response ended or reset
//    by us because the peer broke the protocol on them (refused, malformed);
//  - PING / SETTINGS / PRIORITY / WINDOW_UPDATE / RST_STREAM / unknown-frame
//    floods (CVE-2019-9512, -9513, -9515): more such frames than
//    max_inbound_control_frames plus control_frames_per_useful_frame for each
//    stream opened and each DATA frame received or sent;
//  - outbound floods: more than max_outbound_control_frames acknowledgements
//    or max_outbound_frames frames queued inside nghttp2 because the owner is
//    not draining the output (a peer that does not read);
//  - empty-frame floods (CVE-2019-9518): more than
//    max_consecutive_empty_frames DATA / HEADERS / CONTINUATION frames in a
//    row without payload or end-of-stream.
// Streams beyond max_concurrent_streams are refused (RST_STREAM
// REFUSED_STREAM) and count as resets caused by the peer.
//
// Graceful shutdown: GoAway() sends GOAWAY(NO_ERROR) naming the last stream
// the peer opened; those streams finish, newer ones are refused, and
// ShouldClose() turns true once none is left.
//
// Thread-safety: none; one connection, one worker thread (see codec.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/http/codec.h"
#include "proxy/stats/stats.h"

namespace meshgate::proxy::http {

// The 24 bytes that open an HTTP/2 connection (RFC 9113 §3.4); a server sees
// them first on a prior-knowledge (h2c) connection.
inline constexpr std::string_view kHttp2ConnectionPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Http2Settings {
  // Advertised in SETTINGS; streams beyond it are refused.
  uint32_t max_concurrent_streams = 100;
  // Initial flow-control windows we grant the peer, per stream and for the
  // connection as a whole.
  uint32_t initial_stream_window_bytes = 1 << 20;
  uint32_t initial_connection_window_bytes = 4 << 20;
  // Largest decoded header list (RFC 7541 accounting), advertised as
  // SETTINGS_MAX_HEADER_LIST_SIZE; same default as the HTTP/1 header limit.
  size_t max_header_list_bytes = 60 * 1024;
  size_t max_header_count = 100;
  // Encoded header block bytes (HEADERS + CONTINUATION) before END_HEADERS.
  size_t max_header_block_bytes = 96 * 1024;
  uint32_t max_continuation_frames = 16;
  // Rapid reset / RST flood window.
  uint32_t reset_window_streams = 100;
  uint32_t max_resets_per_window = 50;
  // Control-frame budget.
  uint32_t max_inbound_control_frames = 100;
  uint32_t control_frames_per_useful_frame = 2;
  // Outbound bounds (frames queued inside nghttp2 while the owner does not drain).
  uint32_t max_outbound_control_frames = 1000;
  uint32_t max_outbound_frames = 10000;
  uint32_t max_consecutive_empty_frames = 1;
  // Back-pressure thresholds on body waiting for the peer's window (0: none).
  // Envoy's per_connection_buffer_limit_bytes defaults to 1 MiB.
  size_t stream_buffer_limit_bytes = 1 << 20;
  size_t connection_buffer_limit_bytes = 4 << 20;
  // Serialized bytes held in PendingOutput() before nghttp2 is asked for more.
  size_t max_pending_output_bytes = 64 * 1024;
  // Client side: :scheme for requests that carry none.
  std::string scheme = "http";
};

// What the codec saw and refused; plain counters, read on the owning thread.
struct Http2CodecStats {
  uint64_t streams_opened = 0;   // by the peer (server) or by us (client)
  uint64_t streams_refused = 0;  // over max_concurrent_streams or after GOAWAY
  uint64_t resets_received = 0;  // RST_STREAM from the peer
  uint64_t resets_sent = 0;      // RST_STREAM by us, for any reason
  uint64_t goaway_sent = 0;
  uint64_t goaway_received = 0;
  uint64_t header_list_too_large = 0;  // size or field count
  uint64_t continuation_flood = 0;
  uint64_t rapid_reset_flood = 0;    // resets by the peer
  uint64_t reset_flood = 0;          // resets we had to send because of the peer
  uint64_t control_frame_flood = 0;  // inbound PING / SETTINGS / ...
  uint64_t outbound_flood = 0;       // output the peer does not read
  uint64_t empty_frame_flood = 0;
  uint64_t protocol_errors = 0;  // every connection-ending error, floods included
};

// Adds one connection's counters to the worker's Prometheus counters (see
// stats::Http2Stats for the names).
void RecordHttp2CodecStats(const Http2CodecStats& codec, stats::Http2Stats& out);

class Http2Session;

class Http2ServerConnection final : public ServerConnection {
 public:
  // REQUIRES: `callbacks` outlives the connection.
  explicit Http2ServerConnection(ServerCallbacks& callbacks, Http2Settings settings = {});
  ~Http2ServerConnection() override;

  absl::StatusOr<size_t> Dispatch(std::string_view bytes) override;
  void DispatchEof() override;
  std::string_view PendingOutput() const override;
  void DrainOutput(size_t bytes) override;
  bool ShouldClose() const override;
  void ResetStream(StreamId stream) override;
  void GoAway() override;
  size_t ActiveStreams() const override;
  void ReadDisableStream(StreamId stream, bool disable) override;
  // Body encoded and not yet handed to nghttp2's frames, per stream and in all.
  size_t BufferedBodyBytes(StreamId stream) const;
  size_t BufferedBodyBytes() const;

  absl::Status EncodeHeaders(StreamId stream, const ResponseHeaders& headers,
                             bool end_stream) override;
  absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream) override;
  absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers) override;

  const Http2CodecStats& stats() const;

 private:
  std::unique_ptr<Http2Session> session_;
};

class Http2ClientConnection final : public ClientConnection {
 public:
  // REQUIRES: `callbacks` outlives the connection. The connection preface and
  // SETTINGS are in PendingOutput() from the start.
  explicit Http2ClientConnection(ClientCallbacks& callbacks, Http2Settings settings = {});
  ~Http2ClientConnection() override;

  absl::StatusOr<size_t> Dispatch(std::string_view bytes) override;
  void DispatchEof() override;
  std::string_view PendingOutput() const override;
  void DrainOutput(size_t bytes) override;
  bool ShouldClose() const override;
  void ResetStream(StreamId stream) override;
  void GoAway() override;
  size_t ActiveStreams() const override;
  void ReadDisableStream(StreamId stream, bool disable) override;
  // Body encoded and not yet handed to nghttp2's frames, per stream and in all.
  size_t BufferedBodyBytes(StreamId stream) const;
  size_t BufferedBodyBytes() const;

  // Stream ids handed out here are the owner's handles (1, 2, 3...); the
  // HTTP/2 stream id is assigned when the headers are encoded.
  StreamId NewStream() override;
  // Fails with Unavailable when the peer's GOAWAY or the stream id space
  // forbids new streams.
  absl::Status EncodeHeaders(StreamId stream, const RequestHeaders& headers,
                             bool end_stream) override;
  absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream) override;
  absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers) override;

  // True once the server sent GOAWAY: no new stream may start here.
  bool GoAwayReceived() const;
  // The server's SETTINGS_MAX_CONCURRENT_STREAMS (unbounded until it says).
  uint32_t PeerMaxConcurrentStreams() const;
  const Http2CodecStats& stats() const;

 private:
  std::unique_ptr<Http2Session> session_;
};

enum class PrefaceMatch { kHttp2, kNotHttp2, kNeedMoreBytes };
// Whether the first bytes of a connection are the HTTP/2 prior-knowledge
// preface; kNeedMoreBytes while they are a proper prefix of it.
PrefaceMatch MatchHttp2Preface(std::string_view first_bytes);

}  // namespace meshgate::proxy::http
