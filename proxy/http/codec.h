// Protocol-neutral codec interfaces of the proxy: the contract between the
// bytes on a connection and the HTTP streams the filter chain works on.
//
// A codec is a pure bytes-in / events-out object. The owner (the connection
// on a worker) feeds what it read from the socket to Dispatch(); the codec
// parses it and calls back with stream events; what the owner encodes is
// serialized into an output buffer the owner drains to the socket. No codec
// does I/O, starts threads or reads clocks, so every codec can be driven by a
// unit test or a fuzzer with nothing but strings.
//
//   ServerConnection  downstream side: parses requests, serializes responses.
//   ClientConnection  upstream side: serializes requests, parses responses.
//
// Streams are identified by a StreamId so HTTP/2 multiplexing fits the same
// interface; HTTP/1.1 numbers its streams 1, 2, 3... in order, one at a time.
//
// Ownership: the owner owns the codec and its callbacks object, which must
// outlive the codec. Header maps are passed by value into callbacks (moved, not
// copied); data views passed to callbacks are valid only during the call.
//
// Re-entrancy: callbacks may call the Encode*/Reset methods of the codec that
// invoked them (e.g. answer from inside OnHeaders), but must not call
// Dispatch(); Dispatch() called from a callback fails with FailedPrecondition.
//
// Thread-safety: none; a connection and its codec live on one worker thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/http/header_map.h"

namespace meshgate::proxy::http {

using StreamId = uint32_t;

// Why the peer's message is unacceptable, and what to answer.
struct ProtocolError {
  // The status the proxy should answer with: on a server connection the
  // status to send downstream (400, 413, 414, 431, 501, 505); on a client
  // connection 502, the status to give the downstream whose request failed.
  int http_status = 400;
  // Human-readable, naming where the problem is ("header 'content-length': ...").
  std::string reason;
  // The stream the error belongs to, or 0 when it happened between messages.
  StreamId stream = 0;
};

enum class StreamResetReason {
  kRemoteClosed,  // the peer closed the connection in the middle of the message
  kLocalReset,    // the owner called ResetStream()
  kRemoteReset,   // HTTP/2: the peer sent RST_STREAM (or broke the stream's rules)
  kRefused,       // HTTP/2: the peer refused the stream unprocessed (REFUSED_STREAM,
                  // or above its GOAWAY's last stream id): safe to retry elsewhere
};

// Events of one connection. `Headers` is RequestHeaders on a server
// connection and ResponseHeaders on a client connection.
template <typename Headers>
class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // The header section of a message; end_stream when it has no body.
  virtual void OnHeaders(StreamId stream, Headers headers, bool end_stream) = 0;
  // A piece of the body (decoded: no chunk framing); `data` may be empty when
  // only end_stream is being signalled.
  virtual void OnData(StreamId stream, std::string_view data, bool end_stream) = 0;
  // Trailers end the stream.
  virtual void OnTrailers(StreamId stream, TrailerMap trailers) = 0;
  virtual void OnStreamReset(StreamId stream, StreamResetReason reason) = 0;
  // The connection is unusable; Dispatch() returns an error from now on and
  // the owner must close the connection (server: after writing the answer).
  virtual void OnProtocolError(const ProtocolError& error) = 0;
  // Body the owner encoded on `stream` and the peer has not taken yet (flow
  // control) crossed the codec's buffer limit (true), or fell back below half
  // of it (false): stop / resume producing more. Codecs that hand all their
  // output to the owner at once (HTTP/1) never call it; the owner watches its
  // socket's write buffer instead.
  virtual void OnStreamWatermark(StreamId /*stream*/, bool /*above_high*/) {}
};

using ServerCallbacks = ConnectionCallbacks<RequestHeaders>;

class ClientCallbacks : public ConnectionCallbacks<ResponseHeaders> {
 public:
  // An interim 1xx response other than 101 (e.g. 100 Continue, 103 Early
  // Hints); the final response still follows.
  virtual void OnInformationalHeaders(StreamId /*stream*/, ResponseHeaders /*headers*/) {}
};

// What both sides have in common: input, output and connection lifetime.
class Connection {
 public:
  virtual ~Connection() = default;

  // Parses `bytes` and returns how many of them were consumed, or the error
  // that makes the connection unusable (also reported through OnProtocolError).
  // Fewer bytes than given are consumed only when the codec is paused (HTTP/1:
  // a complete request is waiting for its response): the owner keeps the rest
  // and offers it again after the response is encoded. This keeps pipelined
  // input in the owner's read buffer, so its size bounds memory.
  virtual absl::StatusOr<size_t> Dispatch(std::string_view bytes) = 0;
  // The peer closed its sending side. Ends close-delimited bodies and
  // upgraded streams, and resets a stream cut off in the middle of a message.
  virtual void DispatchEof() = 0;

  // Serialized bytes waiting to be written to the socket.
  virtual std::string_view PendingOutput() const = 0;
  // Drops the first `bytes` of PendingOutput() after they were written.
  virtual void DrainOutput(size_t bytes) = 0;

  // True once the connection must be closed after PendingOutput() is written:
  // a protocol error, `Connection: close`, an HTTP/1.0 peer without keep-alive,
  // a close-delimited body, or a reset stream.
  virtual bool ShouldClose() const = 0;

  // Abandons a stream. HTTP/1 cannot abandon one stream alone, so there this
  // marks the connection for closing.
  virtual void ResetStream(StreamId stream) = 0;

  // Starts a graceful shutdown (drain). HTTP/2 sends GOAWAY naming the last
  // stream the peer opened: those finish, later ones are refused, and
  // ShouldClose() turns true once none is left. HTTP/1 has no such frame; its
  // owner closes after the response in flight, so the default does nothing.
  virtual void GoAway() {}
  // Streams opened and not yet finished in both directions (HTTP/1: the owner
  // knows; the default says 0).
  virtual size_t ActiveStreams() const { return 0; }
  // Stops (true) or resumes (false) granting the peer flow-control credit for
  // `stream`'s body, so that a slow consumer downstream of the owner holds the
  // peer back; calls nest. HTTP/1 has no per-stream flow control (the owner
  // stops reading the socket), so the default does nothing.
  virtual void ReadDisableStream(StreamId /*stream*/, bool /*disable*/) {}
};

// Downstream side.
class ServerConnection : public Connection {
 public:
  // REQUIRES: `stream` was announced by OnHeaders and its response has not ended.
  // A 1xx status is interim (another EncodeHeaders follows); 101 switches an
  // upgrade request's connection to raw passthrough.
  virtual absl::Status EncodeHeaders(StreamId stream, const ResponseHeaders& headers,
                                     bool end_stream) = 0;
  virtual absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream) = 0;
  virtual absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers) = 0;
};

// Upstream side.
class ClientConnection : public Connection {
 public:
  // Allocates the id of the next request.
  virtual StreamId NewStream() = 0;
  virtual absl::Status EncodeHeaders(StreamId stream, const RequestHeaders& headers,
                                     bool end_stream) = 0;
  virtual absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream) = 0;
  virtual absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers) = 0;
};

}  // namespace meshgate::proxy::http
