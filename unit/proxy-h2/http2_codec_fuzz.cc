// Fuzz target: arbitrary bytes into both sides of the HTTP/2 codec.
//
// The first byte picks how the rest is cut into Dispatch() calls. The server
// side gets the bytes as a client's (the corpus starts with the connection
// preface) and answers every request that ends, with a body and trailers; the
// client side first encodes two requests and reads the bytes as the server's
// answer. Output is drained only every other call, so the bounded-output paths
// run too. Invariants checked with abort(): no event after a protocol error,
// a failed connection wants to close and refuses more input, output stays
// bounded by the slice size plus one frame.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/http/http2_codec.h"

namespace meshgate::proxy::http {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

constexpr size_t kOutputBound = 64 * 1024 + 16 * 1024 + 64;

class FuzzServer : public ServerCallbacks {
 public:
  FuzzServer() : codec_(*this) {}

  void OnHeaders(StreamId stream, RequestHeaders, bool end_stream) override {
    Event();
    if (end_stream) Answer(stream);
  }
  void OnData(StreamId stream, std::string_view, bool end_stream) override {
    Event();
    if (end_stream) Answer(stream);
  }
  void OnTrailers(StreamId stream, TrailerMap) override {
    Event();
    Answer(stream);
  }
  void OnStreamReset(StreamId, StreamResetReason) override { Event(); }
  void OnProtocolError(const ProtocolError& error) override {
    Event();
    failed_ = true;
    Check(!error.reason.empty());
  }

  void Run(std::string_view input, size_t piece) {
    bool drain = false;
    for (size_t i = 0; i < input.size(); i += piece) {
      auto consumed = codec_.Dispatch(input.substr(i, piece));
      Check(codec_.PendingOutput().size() <= kOutputBound);
      if (!consumed.ok()) {
        Check(failed_ && codec_.ShouldClose());
        Check(!codec_.Dispatch("x").ok());
        return;
      }
      if (drain) codec_.DrainOutput(codec_.PendingOutput().size());
      drain = !drain;
    }
    codec_.DispatchEof();
    Check(codec_.ShouldClose());
  }

 private:
  void Event() { Check(!failed_); }
  void Answer(StreamId stream) {
    if (!codec_.EncodeHeaders(stream, ResponseHeaders{{":status", "200"}}, false).ok()) return;
    (void)codec_.EncodeData(stream, "body", false);
    (void)codec_.EncodeTrailers(stream, TrailerMap{{"x-t", "1"}});
  }

  Http2ServerConnection codec_;
  bool failed_ = false;
};

class FuzzClient : public ClientCallbacks {
 public:
  FuzzClient() : codec_(*this) {}

  void OnHeaders(StreamId, ResponseHeaders headers, bool) override {
    Event();
    Check(headers.Status() >= 200 && headers.Status() <= 599);
  }
  void OnData(StreamId, std::string_view, bool) override { Event(); }
  void OnTrailers(StreamId, TrailerMap) override { Event(); }
  void OnStreamReset(StreamId, StreamResetReason) override { Event(); }
  void OnInformationalHeaders(StreamId, ResponseHeaders headers) override {
    Event();
    Check(headers.Status() >= 100 && headers.Status() <= 199);
  }
  void OnProtocolError(const ProtocolError& error) override {
    Event();
    failed_ = true;
    Check(error.http_status == 502);
  }

  void Run(std::string_view input, size_t piece) {
    Check(codec_
              .EncodeHeaders(
                  codec_.NewStream(),
                  RequestHeaders{{":method", "GET"}, {":path", "/"}, {":authority", "a"}}, true)
              .ok());
    const StreamId post = codec_.NewStream();
    Check(codec_
              .EncodeHeaders(
                  post, RequestHeaders{{":method", "POST"}, {":path", "/p"}, {":authority", "a"}},
                  false)
              .ok());
    Check(codec_.EncodeData(post, "payload", true).ok());
    codec_.DrainOutput(codec_.PendingOutput().size());
    for (size_t i = 0; i < input.size(); i += piece) {
      auto consumed = codec_.Dispatch(input.substr(i, piece));
      Check(codec_.PendingOutput().size() <= kOutputBound);
      if (!consumed.ok()) {
        Check(failed_ && codec_.ShouldClose());
        return;
      }
      codec_.DrainOutput(codec_.PendingOutput().size());
    }
    codec_.DispatchEof();
  }

 private:
  void Event() { Check(!failed_); }
  Http2ClientConnection codec_;
  bool failed_ = false;
};

}  // namespace
}  // namespace meshgate::proxy::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = data[0] == 0 ? size : data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  meshgate::proxy::http::FuzzServer().Run(input, piece);
  // The client reads server frames: skip the client preface if there is one.
  std::string_view server_bytes = input;
  if (server_bytes.substr(0, meshgate::proxy::http::kHttp2ConnectionPreface.size()) ==
      meshgate::proxy::http::kHttp2ConnectionPreface) {
    server_bytes.remove_prefix(meshgate::proxy::http::kHttp2ConnectionPreface.size());
  }
  meshgate::proxy::http::FuzzClient().Run(server_bytes, piece);
  return 0;
}
