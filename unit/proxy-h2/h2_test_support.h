// Test helpers for the HTTP/2 codec: event recorders for both sides, a pair of
// codecs wired back to back over in-memory bytes, and a raw frame builder
// (with a minimal HPACK literal encoder) for hand-made, hostile input.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/http2_codec.h"

namespace meshgate::proxy::http::testing {

struct RecordedStream {
  std::optional<HeaderMap> headers;
  bool headers_end = false;
  std::string body;
  bool ended = false;
  std::optional<TrailerMap> trailers;
  std::optional<StreamResetReason> reset;
  std::vector<int> informational;
};

template <typename Base, typename Headers>
class Recorder : public Base {
 public:
  void OnHeaders(StreamId stream, Headers headers, bool end_stream) override {
    auto& s = streams[stream];
    s.headers = std::move(headers);
    s.headers_end = end_stream;
    if (end_stream) s.ended = true;
    order.push_back(stream);
    if (on_headers) on_headers(stream, end_stream);
  }
  void OnData(StreamId stream, std::string_view data, bool end_stream) override {
    auto& s = streams[stream];
    s.body.append(data);
    if (end_stream) s.ended = true;
    if (end_stream && on_end) on_end(stream);
  }
  void OnTrailers(StreamId stream, TrailerMap trailers) override {
    auto& s = streams[stream];
    s.trailers = std::move(trailers);
    s.ended = true;
    if (on_end) on_end(stream);
  }
  void OnStreamReset(StreamId stream, StreamResetReason reason) override {
    streams[stream].reset = reason;
  }
  void OnProtocolError(const ProtocolError& e) override { errors.push_back(e); }

  std::map<StreamId, RecordedStream> streams;
  std::vector<StreamId> order;
  std::vector<ProtocolError> errors;
  std::function<void(StreamId, bool)> on_headers;
  std::function<void(StreamId)> on_end;
};

using ServerRecorder = Recorder<ServerCallbacks, RequestHeaders>;

class ClientRecorder : public Recorder<ClientCallbacks, ResponseHeaders> {
 public:
  void OnInformationalHeaders(StreamId stream, ResponseHeaders headers) override {
    streams[stream].informational.push_back(headers.Status());
  }
};

// A client and a server codec talking to each other.
struct CodecPair {
  explicit CodecPair(Http2Settings server_settings = {}, Http2Settings client_settings = {})
      : server(server_events, std::move(server_settings)),
        client(client_events, std::move(client_settings)) {}

  // Moves bytes both ways until neither side has anything to say.
  void Exchange() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = false;
      std::string c2s(client.PendingOutput());
      client.DrainOutput(c2s.size());
      if (!c2s.empty() && !server.ShouldClose()) {
        moved = true;
        (void)server.Dispatch(c2s);
      }
      std::string s2c(server.PendingOutput());
      server.DrainOutput(s2c.size());
      if (!s2c.empty() && !client.ShouldClose()) {
        moved = true;
        (void)client.Dispatch(s2c);
      }
      if (!moved) return;
    }
  }

  ServerRecorder server_events;
  ClientRecorder client_events;
  Http2ServerConnection server;
  Http2ClientConnection client;
};

// --- raw frames ------------------------------------------------------------

inline void AppendHpackInt(std::string& out, uint8_t first_byte_flags, int prefix_bits,
                           size_t value) {
  const size_t max_prefix = (size_t{1} << prefix_bits) - 1;
  if (value < max_prefix) {
    out.push_back(static_cast<char>(first_byte_flags | value));
    return;
  }
  out.push_back(static_cast<char>(first_byte_flags | max_prefix));
  value -= max_prefix;
  while (value >= 128) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// "Literal Header Field without Indexing — New Name", no Huffman.
inline std::string HpackLiteral(std::string_view name, std::string_view value) {
  std::string out;
  out.push_back(0x00);
  AppendHpackInt(out, 0, 7, name.size());
  out.append(name);
  AppendHpackInt(out, 0, 7, value.size());
  out.append(value);
  return out;
}

inline std::string HpackBlock(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [n, v] : fields) out += HpackLiteral(n, v);
  return out;
}

inline std::string RequestBlock(std::string_view path = "/") {
  return HpackBlock({{":method", "GET"},
                     {":scheme", "http"},
                     {":path", std::string(path)},
                     {":authority", "example.test"}});
}

inline std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  const size_t n = payload.size();
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((stream >> 24) & 0x7f));
  out.push_back(static_cast<char>((stream >> 16) & 0xff));
  out.push_back(static_cast<char>((stream >> 8) & 0xff));
  out.push_back(static_cast<char>(stream & 0xff));
  out.append(payload);
  return out;
}

inline std::string U32(uint32_t v) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  return out;
}

constexpr uint8_t kEndStream = 0x1;
constexpr uint8_t kAck = 0x1;
constexpr uint8_t kEndHeaders = 0x4;

inline std::string ClientPreface() {
  return std::string(kHttp2ConnectionPreface) + Frame(0x4, 0, 0, "");
}
inline std::string Headers(uint32_t stream, std::string_view block, uint8_t flags) {
  return Frame(0x1, flags, stream, block);
}
inline std::string Continuation(uint32_t stream, std::string_view block, uint8_t flags) {
  return Frame(0x9, flags, stream, block);
}
inline std::string Data(uint32_t stream, std::string_view data, uint8_t flags) {
  return Frame(0x0, flags, stream, data);
}
inline std::string RstStream(uint32_t stream, uint32_t code) {
  return Frame(0x3, 0, stream, U32(code));
}
inline std::string Ping(uint64_t opaque) {
  return Frame(0x6, 0, 0,
               U32(static_cast<uint32_t>(opaque >> 32)) + U32(static_cast<uint32_t>(opaque)));
}
inline std::string EmptySettings() { return Frame(0x4, 0, 0, ""); }

struct ParsedFrame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream;
  std::string payload;
};

// Splits serialized frames (no preface); stops at an incomplete one.
inline std::vector<ParsedFrame> ParseFrames(std::string_view bytes) {
  std::vector<ParsedFrame> frames;
  while (bytes.size() >= 9) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t len = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    if (bytes.size() < 9 + len) break;
    const uint32_t stream =
        ((uint32_t{p[5]} & 0x7f) << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) | p[8];
    frames.push_back({p[3], p[4], stream, std::string(bytes.substr(9, len))});
    bytes.remove_prefix(9 + len);
  }
  return frames;
}

inline uint32_t ReadU32(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct GoAwayFrame {
  uint32_t last_stream;
  uint32_t error_code;
};

// The last GOAWAY in `bytes`, if any.
inline std::optional<GoAwayFrame> FindGoAway(std::string_view bytes) {
  std::optional<GoAwayFrame> found;
  for (const auto& f : ParseFrames(bytes)) {
    if (f.type == 0x7 && f.payload.size() >= 8) {
      found = GoAwayFrame{ReadU32(f.payload) & 0x7fffffff, ReadU32(f.payload.substr(4))};
    }
  }
  return found;
}

constexpr uint32_t kNoError = 0x0;
constexpr uint32_t kProtocolError = 0x1;
constexpr uint32_t kCancel = 0x8;
constexpr uint32_t kRefusedStream = 0x7;
constexpr uint32_t kEnhanceYourCalm = 0xb;

}  // namespace meshgate::proxy::http::testing
