// Fuzz target: arbitrary bytes into both sides of the HTTP/1.1 codec.
//
// The first byte picks how the rest is cut into Dispatch() calls, so split
// handling is fuzzed too. The server side answers every complete request
// (exercising the encoder, pipelining and upgrades); the client side first
// encodes a GET, a HEAD and an upgrade request so the input is read as their
// responses. Invariants that must hold for any input are checked with
// abort(): no event after a protocol error, consumed never exceeds what was
// offered, and a failed connection always wants to close.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/http/http1_codec.h"

namespace meshgate::proxy::http {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

class FuzzServer : public ServerCallbacks {
 public:
  FuzzServer() : codec_(NewHttp1ServerConnection(*this)) {}

  void OnHeaders(StreamId stream, RequestHeaders headers, bool end_stream) override {
    Event();
    upgrade_ = headers.Has("upgrade");
    if (end_stream) Answer(stream);
  }
  void OnData(StreamId stream, std::string_view, bool end_stream) override {
    Event();
    if (end_stream && !upgraded_) Answer(stream);
  }
  void OnTrailers(StreamId stream, TrailerMap) override {
    Event();
    Answer(stream);
  }
  void OnStreamReset(StreamId, StreamResetReason) override { Event(); }
  void OnProtocolError(const ProtocolError& error) override {
    Event();
    failed_ = true;
    Check(error.http_status >= 400 && error.http_status <= 505 && !error.reason.empty());
  }

  void Run(std::string_view input, size_t piece) {
    std::string buffer;
    for (size_t i = 0; i < input.size(); i += piece) {
      buffer.append(input.substr(i, piece));
      absl::StatusOr<size_t> consumed = codec_->Dispatch(buffer);
      if (!consumed.ok()) {
        Check(failed_ && codec_->ShouldClose());
        return;
      }
      Check(*consumed <= buffer.size());
      buffer.erase(0, *consumed);
      codec_->DrainOutput(codec_->PendingOutput().size());
    }
    codec_->DispatchEof();
  }

 private:
  void Event() { Check(!failed_); }
  void Answer(StreamId stream) {
    if (upgrade_ && !upgraded_) {
      upgraded_ =
          codec_
              ->EncodeHeaders(stream, ResponseHeaders{{":status", "101"}, {"upgrade", "x"}}, false)
              .ok();
      if (upgraded_) return;
    }
    (void)codec_->EncodeHeaders(stream, ResponseHeaders{{":status", "200"}}, false);
    (void)codec_->EncodeData(stream, "body", true);
  }

  std::unique_ptr<ServerConnection> codec_;
  bool failed_ = false;
  bool upgrade_ = false;
  bool upgraded_ = false;
};

class FuzzClient : public ClientCallbacks {
 public:
  FuzzClient() : codec_(NewHttp1ClientConnection(*this)) {}

  void OnHeaders(StreamId, ResponseHeaders headers, bool) override {
    Event();
    Check(headers.Status() >= 100 && headers.Status() <= 599);
  }
  void OnData(StreamId, std::string_view, bool) override { Event(); }
  void OnTrailers(StreamId, TrailerMap) override { Event(); }
  void OnStreamReset(StreamId, StreamResetReason) override { Event(); }
  void OnInformationalHeaders(StreamId, ResponseHeaders) override { Event(); }
  void OnProtocolError(const ProtocolError& error) override {
    Event();
    failed_ = true;
    Check(error.http_status == 502);
  }

  void Run(std::string_view input, size_t piece) {
    for (auto [method, upgrade] : {std::pair{"GET", false}, {"HEAD", false}, {"GET", true}}) {
      RequestHeaders headers{{":method", method}, {":path", "/"}, {":authority", "a"}};
      if (upgrade) {
        headers.Add("connection", "upgrade");
        headers.Add("upgrade", "websocket");
      }
      Check(codec_->EncodeHeaders(codec_->NewStream(), headers, true).ok());
    }
    for (size_t i = 0; i < input.size(); i += piece) {
      const std::string_view chunk = input.substr(i, piece);
      absl::StatusOr<size_t> consumed = codec_->Dispatch(chunk);
      if (!consumed.ok()) {
        Check(failed_ && codec_->ShouldClose());
        return;
      }
      Check(*consumed == chunk.size());  // a client codec never pauses
    }
    codec_->DispatchEof();
  }

 private:
  void Event() { Check(!failed_); }
  std::unique_ptr<ClientConnection> codec_;
  bool failed_ = false;
};

}  // namespace
}  // namespace meshgate::proxy::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = data[0] == 0 ? size : data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  meshgate::proxy::http::FuzzServer().Run(input, piece);
  meshgate::proxy::http::FuzzClient().Run(input, piece);
  return 0;
}
