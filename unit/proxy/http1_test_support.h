// Test drivers for the HTTP/1.1 codec: record callback events in a form that
// does not depend on how the input was split, and feed input in pieces the way
// a connection would (keeping what the codec did not consume).
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proxy/http/http1_codec.h"
#include "proxy/http/str_util.h"

namespace meshgate::proxy::http::testing {

inline std::string Describe(const HeaderMap& headers) {
  std::string out = "[";
  for (const HeaderField field : headers) {
    if (out.size() > 1) out.append(" ");
    Append(out, field.name, "=", field.value);
  }
  return out + "]";
}

// Records events as strings. Consecutive data events of one stream are merged,
// so any split of the same input yields the same record.
class EventLog {
 public:
  void Headers(StreamId stream, const HeaderMap& headers, bool end_stream) {
    events_.push_back(Concat("headers ", stream, " ", Describe(headers), end_stream ? " end" : ""));
  }
  void Data(StreamId stream, std::string_view data, bool end_stream) {
    const std::string prefix = Concat("data ", stream, " '");
    if (!events_.empty() && events_.back().rfind(prefix, 0) == 0 && events_.back().back() == '\'') {
      events_.back().pop_back();
      Append(events_.back(), data, "'", end_stream ? " end" : "");
    } else {
      events_.push_back(Concat(prefix, data, "'", end_stream ? " end" : ""));
    }
  }
  void Trailers(StreamId stream, const HeaderMap& trailers) {
    events_.push_back(Concat("trailers ", stream, " ", Describe(trailers)));
  }
  void Reset(StreamId stream) { events_.push_back(Concat("reset ", stream)); }
  void Error(const ProtocolError& error) {
    events_.push_back(Concat("error ", error.http_status));
    last_error_ = error;
  }
  void Info(StreamId stream, const HeaderMap& headers) {
    events_.push_back(Concat("info ", stream, " ", Describe(headers)));
  }

  const std::vector<std::string>& events() const { return events_; }
  const ProtocolError& last_error() const { return last_error_; }

 private:
  std::vector<std::string> events_;
  ProtocolError last_error_;
};

// How input is cut into Dispatch() calls.
struct Split {
  std::string name;
  std::function<std::vector<std::string_view>(std::string_view)> cut;
};

inline std::vector<std::string_view> CutEvery(std::string_view input, size_t size) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < input.size(); i += size) pieces.push_back(input.substr(i, size));
  return pieces;
}

inline std::vector<Split> AllSplits() {
  std::vector<Split> splits;
  splits.push_back(
      {"whole", [](std::string_view in) { return std::vector<std::string_view>{in}; }});
  for (size_t n : {1, 2, 3, 7, 64}) {
    splits.push_back({Concat("every", n), [n](std::string_view in) { return CutEvery(in, n); }});
  }
  for (unsigned seed : {1u, 2u, 3u}) {
    splits.push_back({Concat("random", seed), [seed](std::string_view in) {
                        std::mt19937 rng(seed);
                        std::vector<std::string_view> pieces;
                        size_t i = 0;
                        while (i < in.size()) {
                          const size_t n = 1 + rng() % 40;
                          pieces.push_back(in.substr(i, n));
                          i += n;
                        }
                        return pieces;
                      }});
  }
  return splits;
}

// A downstream connection: a server codec plus the owner's read buffer.
class ServerHarness : public ServerCallbacks {
 public:
  explicit ServerHarness(Http1Settings settings = {})
      : codec_(NewHttp1ServerConnection(*this, std::move(settings))) {}

  // Called when a request has been fully received (end_stream or trailers),
  // from inside the callback. Default: nothing (the test responds later).
  std::function<void(ServerHarness&, StreamId)> on_request_complete;
  std::function<void(ServerHarness&, StreamId, const RequestHeaders&)> on_headers;

  void OnHeaders(StreamId stream, RequestHeaders headers, bool end_stream) override {
    log.Headers(stream, headers, end_stream);
    last_headers = headers;
    if (on_headers) on_headers(*this, stream, last_headers);
    if (end_stream) Complete(stream);
  }
  void OnData(StreamId stream, std::string_view data, bool end_stream) override {
    log.Data(stream, data, end_stream);
    if (end_stream) Complete(stream);
  }
  void OnTrailers(StreamId stream, TrailerMap trailers) override {
    log.Trailers(stream, trailers);
    Complete(stream);
  }
  void OnStreamReset(StreamId stream, StreamResetReason) override { log.Reset(stream); }
  void OnProtocolError(const ProtocolError& error) override { log.Error(error); }

  // Appends to the read buffer and dispatches what the codec will take.
  absl::Status Feed(std::string_view bytes) {
    unconsumed.append(bytes);
    return Pump();
  }
  absl::Status Pump() {
    absl::StatusOr<size_t> consumed = codec_->Dispatch(unconsumed);
    if (!consumed.ok()) return consumed.status();
    unconsumed.erase(0, *consumed);
    return absl::OkStatus();
  }
  // Feeds `input` in the pieces `split` cuts it into; stops at the first error.
  absl::Status FeedSplit(std::string_view input, const Split& split) {
    for (std::string_view piece : split.cut(input)) {
      if (absl::Status status = Feed(piece); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Answers `stream` with a complete response carrying `body`.
  absl::Status Respond(StreamId stream, int status, std::string_view body) {
    ResponseHeaders headers{{":status", std::to_string(status)},
                            {"content-length", std::to_string(body.size())}};
    if (absl::Status s = codec_->EncodeHeaders(stream, headers, body.empty()); !s.ok()) return s;
    if (body.empty()) return absl::OkStatus();
    return codec_->EncodeData(stream, body, true);
  }

  std::string TakeOutput() {
    std::string out(codec_->PendingOutput());
    codec_->DrainOutput(out.size());
    return out;
  }

  ServerConnection& codec() { return *codec_; }

  EventLog log;
  RequestHeaders last_headers;
  std::vector<StreamId> completed;
  std::string unconsumed;

 private:
  void Complete(StreamId stream) {
    completed.push_back(stream);
    if (on_request_complete) on_request_complete(*this, stream);
  }
  std::unique_ptr<ServerConnection> codec_;
};

// An upstream connection: a client codec plus the owner's read buffer.
class ClientHarness : public ClientCallbacks {
 public:
  explicit ClientHarness(Http1Settings settings = {})
      : codec_(NewHttp1ClientConnection(*this, std::move(settings))) {}

  void OnHeaders(StreamId stream, ResponseHeaders headers, bool end_stream) override {
    log.Headers(stream, headers, end_stream);
  }
  void OnData(StreamId stream, std::string_view data, bool end_stream) override {
    log.Data(stream, data, end_stream);
  }
  void OnTrailers(StreamId stream, TrailerMap trailers) override { log.Trailers(stream, trailers); }
  void OnStreamReset(StreamId stream, StreamResetReason) override { log.Reset(stream); }
  void OnProtocolError(const ProtocolError& error) override { log.Error(error); }
  void OnInformationalHeaders(StreamId stream, ResponseHeaders headers) override {
    log.Info(stream, headers);
  }

  absl::Status Feed(std::string_view bytes) {
    unconsumed.append(bytes);
    absl::StatusOr<size_t> consumed = codec_->Dispatch(unconsumed);
    if (!consumed.ok()) return consumed.status();
    unconsumed.erase(0, *consumed);
    return absl::OkStatus();
  }
  absl::Status FeedSplit(std::string_view input, const Split& split) {
    for (std::string_view piece : split.cut(input)) {
      if (absl::Status status = Feed(piece); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Encodes a body-less request and returns its stream.
  StreamId Send(std::string_view method, std::string_view path,
                std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {}) {
    RequestHeaders headers{{":method", method}, {":path", path}, {":authority", "upstream"}};
    for (const auto& [name, value] : extra) headers.Add(name, value);
    const StreamId stream = codec_->NewStream();
    last_encode_status = codec_->EncodeHeaders(stream, headers, true);
    return stream;
  }

  std::string TakeOutput() {
    std::string out(codec_->PendingOutput());
    codec_->DrainOutput(out.size());
    return out;
  }

  ClientConnection& codec() { return *codec_; }

  EventLog log;
  std::string unconsumed;
  absl::Status last_encode_status;

 private:
  std::unique_ptr<ClientConnection> codec_;
};

}  // namespace meshgate::proxy::http::testing
