#include "proxy/http/http1_codec.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proxy/http/str_util.h"
#include "proxy/http/utility.h"

namespace meshgate::proxy::http {
namespace {

// ---------------------------------------------------------------------------
// Character classes (RFC 9110 §5.6.2, §5.5; RFC 9112 §3.2).

constexpr std::array<bool, 256> MakeTcharTable() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr std::array<bool, 256> kTchar = MakeTcharTable();

bool IsTchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }

// field-vchar / SP / HTAB / obs-text: everything but controls and DEL. This is
// what rejects NUL, bare CR and bare LF inside values.
bool IsFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

// A request target is visible ASCII: no spaces, controls or raw UTF-8.
bool IsTargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '#';
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTchar(c)) return false;
  }
  return true;
}

bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    if (!IsFieldValueChar(c)) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Prints untrusted text into an error message without control characters.
std::string Printable(std::string_view s, size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      Append(out, "\\x", absl::Hex(static_cast<unsigned>(u), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  if (s.size() > max) out.append("...");
  return out;
}

// 1*DIGIT without sign or overflow.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// Content-Length may repeat (as fields or as a list) only with one value
// (RFC 9110 §8.6); anything else is where two parsers could disagree.
struct ContentLengthResult {
  bool present = false;
  uint64_t value = 0;
  std::string error;
};
ContentLengthResult ParseContentLength(const HeaderMap& headers) {
  ContentLengthResult result;
  headers.ForEachValue("content-length", [&result](std::string_view field) {
    if (!result.error.empty()) return;
    while (true) {
      const size_t comma = field.find(',');
      const std::string_view element = TrimOws(field.substr(0, comma));
      const std::optional<uint64_t> value = ParseDecimal(element);
      if (!value) {
        result.error = Concat("header 'content-length': invalid value '", Printable(element), "'");
        return;
      }
      if (result.present && *value != result.value) {
        result.error = "header 'content-length': conflicting values";
        return;
      }
      result.present = true;
      result.value = *value;
      if (comma == std::string_view::npos) break;
      field.remove_prefix(comma + 1);
    }
  });
  return result;
}

// The only transfer coding accepted is a single `chunked`: other codings would
// have to be forwarded hop by hop, and a list is where smuggling hides.
std::string CheckTransferEncoding(const HeaderMap& headers) {
  const std::string joined = headers.GetJoined("transfer-encoding");
  std::vector<std::string_view> codings;
  std::string_view rest = joined;
  while (true) {
    const size_t comma = rest.find(',');
    codings.push_back(TrimOws(rest.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (!EqualsIgnoreCase(codings.back(), "chunked")) {
    return Concat("header 'transfer-encoding': final coding '", Printable(codings.back()),
                  "' is not chunked");
  }
  if (codings.size() != 1) {
    return Concat("header 'transfer-encoding': '", Printable(joined),
                  "' is not supported, only 'chunked'");
  }
  return {};
}

// ---------------------------------------------------------------------------
// Serialization.

// Fields the codec writes itself (framing, connection management) or derives
// from pseudo-headers.
bool IsCodecOwnedField(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "content-length" || name == "upgrade";
}

absl::Status AppendFields(const HeaderMap& fields, std::string& out, bool skip_host) {
  // One reservation for the whole section (": " and CRLF add 4 bytes a
  // field) instead of growth steps while appending.
  out.reserve(out.size() + fields.ByteSize() + 4 * fields.size());
  for (const HeaderField field : fields) {
    if (field.name.empty() || field.name.front() == ':') continue;
    if (IsCodecOwnedField(field.name) || (skip_host && field.name == "host")) continue;
    if (!IsToken(field.name)) {
      return absl::InvalidArgumentError(
          Concat("cannot serialize field name '", Printable(field.name), "'"));
    }
    if (!IsFieldValue(field.value)) {
      return absl::InvalidArgumentError(
          Concat("cannot serialize value of field '", field.name, "': control character"));
    }
    out.append(field.name).append(": ", 2).append(field.value).append("\r\n", 2);
  }
  return absl::OkStatus();
}

absl::Status AppendUpgradeField(const HeaderMap& headers, std::string& out) {
  const std::string upgrade = headers.GetJoined("upgrade");
  if (!IsFieldValue(upgrade)) {
    return absl::InvalidArgumentError("cannot serialize value of field 'upgrade'");
  }
  Append(out, "upgrade: ", upgrade, "\r\nconnection: upgrade\r\n");
  return absl::OkStatus();
}

// Heads are serialized straight into a connection's output; an encode that
// fails half-way takes back what it appended, so the output never holds part
// of a head.
class OutputTransaction {
 public:
  explicit OutputTransaction(std::string& out) : out_(out), mark_(out.size()) {}
  ~OutputTransaction() {
    if (!committed_) out_.resize(mark_);
  }
  OutputTransaction(const OutputTransaction&) = delete;
  OutputTransaction& operator=(const OutputTransaction&) = delete;
  void Commit() { committed_ = true; }

 private:
  std::string& out_;
  const size_t mark_;
  bool committed_ = false;
};

// How the body of the message being encoded is delimited.
struct BodyEncoder {
  enum class Mode { kNone, kLength, kChunked, kUntilClose, kRaw };
  Mode mode = Mode::kNone;
  uint64_t remaining = 0;

  absl::Status Encode(std::string_view data, bool end_stream, std::string& out) {
    switch (mode) {
      case Mode::kNone:
        if (!data.empty()) return absl::FailedPreconditionError("this message cannot have a body");
        break;
      case Mode::kLength:
        if (data.size() > remaining) {
          return absl::InvalidArgumentError("body is longer than its content-length");
        }
        out.append(data);
        remaining -= data.size();
        if (end_stream && remaining != 0) {
          return absl::InvalidArgumentError("body is shorter than its content-length");
        }
        break;
      case Mode::kChunked:
        if (!data.empty()) Append(out, absl::Hex(data.size()), "\r\n", data, "\r\n");
        if (end_stream) out.append("0\r\n\r\n");
        break;
      case Mode::kUntilClose:
      case Mode::kRaw:
        out.append(data);
        break;
    }
    return absl::OkStatus();
  }

  absl::Status EncodeTrailers(const TrailerMap& trailers, std::string& out) {
    if (mode != Mode::kChunked) return Encode({}, true, out);  // nowhere to put them
    std::string fields;
    if (absl::Status status = AppendFields(trailers, fields, false); !status.ok()) return status;
    Append(out, "0\r\n", fields, "\r\n");
    return absl::OkStatus();
  }
};

// Reads the owner's content-length, if it gave one.
absl::StatusOr<std::optional<uint64_t>> OwnerContentLength(const HeaderMap& headers) {
  ContentLengthResult cl = ParseContentLength(headers);
  if (!cl.error.empty()) return absl::InvalidArgumentError(cl.error);
  if (!cl.present) return std::optional<uint64_t>();
  return std::optional<uint64_t>(cl.value);
}

// ---------------------------------------------------------------------------
// Parsing engine shared by both sides: head accumulation with limits, body
// framing, chunked decoding, trailers. The sides supply start-line parsing
// and the meaning of a head.

class Http1Connection {
 public:
  Http1Connection(Http1Settings settings, bool server)
      : settings_(std::move(settings)), server_(server) {}
  virtual ~Http1Connection() = default;

 protected:
  enum class State {
    kHead,         // reading a start line and header section
    kBody,         // content-length body: remaining_ bytes
    kChunkSize,    // reading a chunk-size line
    kChunkData,    // remaining_ bytes of chunk data
    kChunkCrlf,    // the CRLF after chunk data
    kTrailers,     // reading the trailer section
    kUntilClose,   // response body delimited by the connection closing
    kPassthrough,  // after an upgrade: raw bytes
    kMessageDone,  // the last event of a message is being delivered
    kPaused,       // server: complete request waits for its response
    kDiscard,      // connection is closing; input is ignored
    kError,
  };

  absl::StatusOr<size_t> DispatchBytes(std::string_view input) {
    if (in_dispatch_) {
      return absl::FailedPreconditionError("Dispatch() called from inside a codec callback");
    }
    if (state_ == State::kError) return absl::InvalidArgumentError(error_.reason);
    in_dispatch_ = true;
    size_t pos = 0;
    while (pos < input.size()) {
      const State state = state_;
      if (state == State::kPaused || state == State::kError || state == State::kMessageDone) break;
      const std::string_view rest = input.substr(pos);
      switch (state) {
        case State::kHead:
          pos += ConsumeHead(rest, false);
          break;
        case State::kTrailers:
          pos += ConsumeHead(rest, true);
          break;
        case State::kBody: {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(rest.size(), remaining_));
          remaining_ -= n;
          pos += n;
          if (remaining_ == 0) {
            state_ = State::kMessageDone;
            DeliverData(rest.substr(0, n), true);
            OnMessageComplete();
          } else {
            DeliverData(rest.substr(0, n), false);
          }
          break;
        }
        case State::kChunkSize:
          pos += ConsumeChunkSize(rest);
          break;
        case State::kChunkData: {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(rest.size(), remaining_));
          remaining_ -= n;
          pos += n;
          if (remaining_ == 0) {
            state_ = State::kChunkCrlf;
            crlf_seen_ = 0;
          }
          DeliverData(rest.substr(0, n), false);
          break;
        }
        case State::kChunkCrlf:
          if (rest[0] != "\r\n"[crlf_seen_]) {
            Fail(400, "chunked body: chunk data not followed by CRLF");
            break;
          }
          ++pos;
          if (++crlf_seen_ == 2) state_ = State::kChunkSize;
          break;
        case State::kUntilClose:
        case State::kPassthrough:
          pos = input.size();
          DeliverData(rest, false);
          break;
        case State::kDiscard:
          pos = input.size();
          break;
        case State::kMessageDone:
        case State::kPaused:
        case State::kError:
          break;
      }
    }
    in_dispatch_ = false;
    if (state_ == State::kError) return absl::InvalidArgumentError(error_.reason);
    return pos;
  }

  // Marks the connection broken and tells the owner, once.
  void Fail(int server_status, std::string reason) {
    if (state_ == State::kError) return;
    state_ = State::kError;
    should_close_ = true;
    error_.http_status = server_ ? server_status : 502;
    error_.reason = std::move(reason);
    error_.stream = CurrentStream();
    ReportError(error_);
  }

  // Resets the head scanner between messages.
  void ResetHeadScan() {
    buffer_.clear();
    scan_pos_ = line_start_ = head_begin_ = fields_begin_ = 0;
    field_lines_ = 0;
    start_line_done_ = false;
  }

  void StartChunkedBody() {
    state_ = State::kChunkSize;
    buffer_.clear();
  }
  void StartLengthBody(uint64_t length) {
    state_ = State::kBody;
    remaining_ = length;
  }

  // Side-specific hooks.
  virtual bool ParseStartLine(std::string_view line) = 0;
  virtual HeaderMap& PendingHeaders() = 0;
  virtual void OnHeadParsed() = 0;  // decides framing, delivers the headers
  virtual void DeliverData(std::string_view data, bool end_stream) = 0;
  virtual void DeliverTrailers(TrailerMap trailers) = 0;
  virtual void OnMessageComplete() = 0;  // only acts when state_ is still kMessageDone
  virtual void ReportError(const ProtocolError& error) = 0;
  virtual StreamId CurrentStream() const = 0;
  // Server: bytes of chunk data announced so far count against the body limit.
  virtual bool ChunkWithinLimit(uint64_t /*size*/) { return true; }

  Http1Settings settings_;
  const bool server_;
  State state_ = State::kHead;
  bool should_close_ = false;
  std::string output_;
  ProtocolError error_;

  // The output keeps its storage between messages (no allocation per
  // response) unless a large body grew it: idle connections stay small.
  void DrainOutputBytes(size_t bytes) {
    if (bytes >= output_.size()) {
      output_.clear();
      if (output_.capacity() > kRetainedOutputCapacity) std::string().swap(output_);
      return;
    }
    output_.erase(0, bytes);
  }
  static constexpr size_t kRetainedOutputCapacity = 4096;

 private:
  // Accumulates a head (or trailer section) until its empty line, enforcing
  // line endings and limits as bytes arrive so nothing unbounded is buffered.
  // Parses without copying when the whole head is in `input`. Returns the
  // bytes of `input` consumed.
  size_t ConsumeHead(std::string_view input, bool trailers) {
    std::string_view view = input;
    size_t base = 0;  // where `input` starts within `view`
    if (!buffer_.empty()) {
      base = buffer_.size();
      buffer_.append(input);
      view = buffer_;
    }
    while (true) {
      const void* found = std::memchr(view.data() + scan_pos_, '\n', view.size() - scan_pos_);
      if (found == nullptr) {
        if (!CheckPartialLimits(view.size(), trailers)) return 0;
        if (buffer_.empty()) buffer_.assign(input);
        scan_pos_ = view.size();
        return input.size();
      }
      const size_t lf = static_cast<size_t>(static_cast<const char*>(found) - view.data());
      if (lf == line_start_ || view[lf - 1] != '\r') {
        Fail(400, Concat(Where(trailers), ": line ends with a bare LF"));
        return 0;
      }
      const size_t line_size = lf - 1 - line_start_;
      if (!trailers && !start_line_done_) {
        if (line_size == 0 && server_) {
          // Empty lines before a request line are tolerated (RFC 9112 §2.2),
          // within the start-line budget.
          if (lf + 1 > settings_.max_start_line_bytes) {
            Fail(400, "request: too many empty lines before the request line");
            return 0;
          }
          head_begin_ = line_start_ = scan_pos_ = lf + 1;
          continue;
        }
        if (line_size > settings_.max_start_line_bytes) {
          Fail(414,
               Concat(Where(false), " is longer than ", settings_.max_start_line_bytes, " bytes"));
          return 0;
        }
        start_line_done_ = true;
        fields_begin_ = lf + 1;
      } else if (line_size == 0) {
        const size_t head_end = lf + 1;
        const size_t consumed = head_end - base;
        // Take the buffer out so the scanner is ready for the next message
        // while the head is parsed (moving can relocate short strings, so the
        // view is made after the move).
        std::string owned = std::move(buffer_);
        const std::string_view source = owned.empty() ? input : std::string_view(owned);
        const std::string_view head = source.substr(head_begin_, head_end - head_begin_);
        const size_t fields = field_lines_;
        ResetHeadScan();
        ParseHead(head, trailers, fields);
        return consumed;
      } else {
        if (++field_lines_ > settings_.max_header_count) {
          Fail(431, Concat(Where(trailers), ": more than ", settings_.max_header_count, " fields"));
          return 0;
        }
        if (lf + 1 - fields_begin_ > settings_.max_header_bytes) {
          Fail(431, Concat(Where(trailers), ": section larger than ", settings_.max_header_bytes,
                           " bytes"));
          return 0;
        }
      }
      line_start_ = scan_pos_ = lf + 1;
    }
  }

  bool CheckPartialLimits(size_t buffered, bool trailers) {
    if (!trailers && !start_line_done_) {
      // +1: the CR of the line may already be there.
      if (buffered - line_start_ > settings_.max_start_line_bytes + 1) {
        Fail(414,
             Concat(Where(false), " is longer than ", settings_.max_start_line_bytes, " bytes"));
        return false;
      }
    } else if (buffered - fields_begin_ > settings_.max_header_bytes + 2) {
      Fail(431,
           Concat(Where(trailers), ": section larger than ", settings_.max_header_bytes, " bytes"));
      return false;
    }
    return true;
  }

  std::string_view Where(bool trailers) const {
    if (trailers) return server_ ? "request trailers" : "response trailers";
    if (!start_line_done_) return server_ ? "request line" : "status line";
    return server_ ? "request headers" : "response headers";
  }

  // `head` is a complete head: every LF is preceded by CR, it ends with an
  // empty line, and it fits the limits.
  void ParseHead(std::string_view head, bool trailers, size_t field_count) {
    TrailerMap trailer_map;
    HeaderMap& map = trailers ? trailer_map : PendingHeaders();
    map.Clear();
    // Room for the pseudo-headers and for the fields a proxy typically adds
    // (x-request-id, x-forwarded-*), so those do not reallocate.
    map.Reserve(field_count + 8, head.size() + 160);
    size_t pos = 0;
    auto next_line = [&]() {
      const size_t crlf = head.find("\r\n", pos);
      const std::string_view line = head.substr(pos, crlf - pos);
      pos = crlf + 2;
      return line;
    };
    if (!trailers && !ParseStartLine(next_line())) return;
    while (true) {
      const std::string_view line = next_line();
      if (line.empty()) break;
      if (!ParseFieldLine(line, map, trailers)) return;
    }
    if (!trailers) {
      OnHeadParsed();
      return;
    }
    state_ = State::kMessageDone;
    if (trailer_map.empty()) {
      DeliverData({}, true);
    } else {
      DeliverTrailers(std::move(trailer_map));
    }
    OnMessageComplete();
  }

  bool ParseFieldLine(std::string_view line, HeaderMap& map, bool trailers) {
    if (line.front() == ' ' || line.front() == '\t') {
      Fail(400, Concat(Where(trailers), ": obsolete line folding"));
      return false;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      Fail(400, Concat(Where(trailers), ": malformed field line '", Printable(line), "'"));
      return false;
    }
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (IsTchar(c)) continue;
      if (c == ' ' || c == '\t') {
        Fail(400, Concat(Where(trailers), ": whitespace between field name '",
                         Printable(TrimOws(name)), "' and colon"));
      } else {
        Fail(400,
             Concat(Where(trailers), ": invalid character in field name '", Printable(name), "'"));
      }
      return false;
    }
    const std::string_view value = TrimOws(line.substr(colon + 1));
    for (char c : value) {
      if (!IsFieldValueChar(c)) {
        Fail(400,
             Concat(Where(trailers), ": invalid character ", Printable(std::string_view(&c, 1)),
                    " in value of field '", Printable(name), "'"));
        return false;
      }
    }
    map.Add(name, value);
    return true;
  }

  // chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1); extensions are
  // checked for stray control characters and otherwise ignored.
  size_t ConsumeChunkSize(std::string_view input) {
    const size_t lf = input.find('\n');
    if (lf == std::string_view::npos) {
      if (buffer_.size() + input.size() > settings_.max_chunk_line_bytes) {
        Fail(400, "chunked body: chunk-size line too long");
        return 0;
      }
      buffer_.append(input);
      return input.size();
    }
    std::string_view line = input.substr(0, lf + 1);
    if (!buffer_.empty()) {
      buffer_.append(line);
      line = buffer_;
    }
    if (line.size() > settings_.max_chunk_line_bytes) {
      Fail(400, "chunked body: chunk-size line too long");
      return 0;
    }
    if (line.size() < 2 || line[line.size() - 2] != '\r') {
      Fail(400, "chunked body: chunk-size line ends with a bare LF");
      return 0;
    }
    line.remove_suffix(2);
    uint64_t size = 0;
    size_t digits = 0;
    for (; digits < line.size() && absl::ascii_isxdigit(line[digits]); ++digits) {
      if (size > (std::numeric_limits<uint64_t>::max() >> 4)) {
        Fail(400, "chunked body: chunk size overflows");
        return 0;
      }
      const char c = line[digits];
      size = size * 16 + static_cast<uint64_t>(
                             absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10);
    }
    if (digits == 0) {
      Fail(400, Concat("chunked body: invalid chunk size '", Printable(line), "'"));
      return 0;
    }
    std::string_view extensions = TrimOws(line.substr(digits));
    if (!extensions.empty() && (extensions.front() != ';' || !IsFieldValue(extensions))) {
      Fail(400, Concat("chunked body: invalid chunk size '", Printable(line), "'"));
      return 0;
    }
    buffer_.clear();
    if (!ChunkWithinLimit(size)) return 0;
    if (size == 0) {
      ResetHeadScan();
      state_ = State::kTrailers;
    } else {
      state_ = State::kChunkData;
      remaining_ = size;
    }
    return lf + 1;
  }

  bool in_dispatch_ = false;
  uint64_t remaining_ = 0;
  int crlf_seen_ = 0;
  // Head scanner; offsets are into the view being scanned (input or buffer_).
  std::string buffer_;
  size_t scan_pos_ = 0;
  size_t line_start_ = 0;
  size_t head_begin_ = 0;
  size_t fields_begin_ = 0;
  size_t field_lines_ = 0;
  bool start_line_done_ = false;
};

// ---------------------------------------------------------------------------
// Server side.

class Http1ServerConnection final : public ServerConnection, private Http1Connection {
 public:
  Http1ServerConnection(ServerCallbacks& callbacks, Http1Settings settings)
      : Http1Connection(std::move(settings), true), callbacks_(callbacks) {}

  absl::StatusOr<size_t> Dispatch(std::string_view bytes) override { return DispatchBytes(bytes); }

  void DispatchEof() override {
    should_close_ = true;
    if (state_ == State::kError || state_ == State::kDiscard) return;
    if (state_ == State::kPassthrough) {
      state_ = State::kDiscard;
      callbacks_.OnData(stream_, {}, true);
      return;
    }
    if (stream_active_ && !request_complete_) {
      state_ = State::kDiscard;
      callbacks_.OnStreamReset(stream_, StreamResetReason::kRemoteClosed);
      return;
    }
    // Between requests, or the whole request is in: the response may still go out.
    if (state_ == State::kHead) state_ = State::kDiscard;
  }

  std::string_view PendingOutput() const override { return output_; }
  void DrainOutput(size_t bytes) override { DrainOutputBytes(bytes); }
  bool ShouldClose() const override { return should_close_; }

  void ResetStream(StreamId stream) override {
    if (!stream_active_ || stream != stream_) return;
    should_close_ = true;
    stream_active_ = false;
    if (state_ != State::kError) state_ = State::kDiscard;
  }

  absl::Status EncodeHeaders(StreamId stream, const ResponseHeaders& headers,
                             bool end_stream) override {
    if (absl::Status status = CheckStream(stream); !status.ok()) return status;
    if (response_headers_done_) {
      return absl::FailedPreconditionError("response headers were already encoded");
    }
    const int status = headers.Status();
    if (status < 100 || status > 599) {
      return absl::InvalidArgumentError("response :status missing or not in 100..599");
    }
    if (status < 200 && status != 101) {
      if (end_stream) return absl::InvalidArgumentError("a 1xx response cannot end the stream");
      // HTTP/1.0 clients do not expect interim responses (RFC 9110 §15.2).
      if (request_minor_ == 0) return absl::OkStatus();
      OutputTransaction tx(output_);
      std::string& head = output_;
      AppendStatusLine(status, head);
      if (absl::Status s = AppendFields(headers, head, false); !s.ok()) return s;
      head.append("\r\n");
      tx.Commit();
      return absl::OkStatus();
    }

    // Serialized straight into the output (no intermediate string); a failure
    // takes back what was appended.
    OutputTransaction tx(output_);
    std::string& head = output_;
    AppendStatusLine(status, head);
    if (absl::Status s = AppendFields(headers, head, false); !s.ok()) return s;
    if (status == 101) {
      if (!upgrade_request_ || !request_complete_ || end_stream) {
        return absl::FailedPreconditionError("101 is only an answer to a complete upgrade request");
      }
      if (absl::Status s = AppendUpgradeField(headers, head); !s.ok()) return s;
      head.append("\r\n");
      tx.Commit();
      response_headers_done_ = true;
      encoder_.mode = BodyEncoder::Mode::kRaw;
      if (state_ == State::kPaused || state_ == State::kMessageDone) {
        state_ = State::kPassthrough;
      }
      return absl::OkStatus();
    }

    absl::StatusOr<std::optional<uint64_t>> length = OwnerContentLength(headers);
    if (!length.ok()) return length.status();
    const bool no_body = head_request_ || status == 204 || status == 304;
    if (no_body) {
      encoder_.mode = BodyEncoder::Mode::kNone;
      if (*length && status != 204) Append(head, "content-length: ", **length, "\r\n");
    } else if (*length) {
      encoder_.mode = BodyEncoder::Mode::kLength;
      encoder_.remaining = **length;
      Append(head, "content-length: ", **length, "\r\n");
    } else if (end_stream) {
      encoder_.mode = BodyEncoder::Mode::kNone;
      head.append("content-length: 0\r\n");
    } else if (request_minor_ == 1) {
      encoder_.mode = BodyEncoder::Mode::kChunked;
      head.append("transfer-encoding: chunked\r\n");
    } else {
      encoder_.mode = BodyEncoder::Mode::kUntilClose;
      should_close_ = true;
    }
    // Closing is announced when the owner asks for it, or when the response
    // ends before the request did (the rest of the request is never read).
    if (headers.HasToken("connection", "close") || (end_stream && !request_complete_)) {
      should_close_ = true;
    }
    if (should_close_) {
      head.append("connection: close\r\n");
    } else if (request_minor_ == 0) {
      head.append("connection: keep-alive\r\n");
    }
    head.append("\r\n");
    tx.Commit();
    response_headers_done_ = true;
    if (end_stream) EndResponse();
    return absl::OkStatus();
  }

  absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream) override {
    if (absl::Status status = CheckBodyStream(stream); !status.ok()) return status;
    absl::Status status = encoder_.Encode(data, end_stream, output_);
    if (!status.ok()) {
      should_close_ = true;  // the peer can no longer find the end of this message
      return status;
    }
    if (end_stream) {
      if (encoder_.mode == BodyEncoder::Mode::kRaw) {
        should_close_ = true;
      } else {
        EndResponse();
      }
    }
    return absl::OkStatus();
  }

  absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers) override {
    if (absl::Status status = CheckBodyStream(stream); !status.ok()) return status;
    if (encoder_.mode == BodyEncoder::Mode::kRaw) {
      return absl::FailedPreconditionError("an upgraded stream has no trailers");
    }
    absl::Status status = encoder_.EncodeTrailers(trailers, output_);
    if (!status.ok()) {
      should_close_ = true;
      return status;
    }
    EndResponse();
    return absl::OkStatus();
  }

 private:
  static void AppendStatusLine(int status, std::string& out) {
    const char digits[3] = {static_cast<char>('0' + status / 100),
                            static_cast<char>('0' + status / 10 % 10),
                            static_cast<char>('0' + status % 10)};
    Append(out, "HTTP/1.1 ", std::string_view(digits, 3), " ", ReasonPhrase(status), "\r\n");
  }

  absl::Status CheckStream(StreamId stream) const {
    if (!stream_active_ || stream != stream_) {
      return absl::FailedPreconditionError(Concat("stream ", stream, " is not active"));
    }
    if (response_complete_) {
      return absl::FailedPreconditionError(Concat("stream ", stream, " already ended"));
    }
    return absl::OkStatus();
  }

  absl::Status CheckBodyStream(StreamId stream) const {
    if (absl::Status status = CheckStream(stream); !status.ok()) return status;
    if (!response_headers_done_) {
      return absl::FailedPreconditionError("response body before response headers");
    }
    return absl::OkStatus();
  }

  // The response is out: move on to the next request, or stop reading when
  // the request is still arriving (its remaining body is not worth reading).
  void EndResponse() {
    response_complete_ = true;
    if (!request_complete_) {
      should_close_ = true;
      stream_active_ = false;
      if (state_ != State::kError) state_ = State::kDiscard;
      return;
    }
    stream_active_ = false;
    if (state_ == State::kPaused || state_ == State::kMessageDone) {
      state_ = should_close_ ? State::kDiscard : State::kHead;
    }
  }

  bool ParseStartLine(std::string_view line) override {
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) {
      Fail(400, Concat("request line: malformed '", Printable(line), "'"));
      return false;
    }
    method_ = line.substr(0, sp1);
    target_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!IsToken(method_)) {
      Fail(400, Concat("request line: invalid method '", Printable(method_), "'"));
      return false;
    }
    if (target_.empty()) {
      Fail(400, "request line: empty request target");
      return false;
    }
    for (char c : target_) {
      if (!IsTargetChar(c)) {
        Fail(400, Concat("request line: invalid character in target '", Printable(target_), "'"));
        return false;
      }
    }
    if (version.size() != 8 || !version.starts_with("HTTP/") || !absl::ascii_isdigit(version[5]) ||
        version[6] != '.' || !absl::ascii_isdigit(version[7])) {
      Fail(400, Concat("request line: malformed version '", Printable(version), "'"));
      return false;
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
      Fail(505, Concat("request line: version ", version, " is not supported"));
      return false;
    }
    request_minor_ = version[7] - '0';
    return true;
  }

  HeaderMap& PendingHeaders() override { return request_; }

  void OnHeadParsed() override {
    // Per-request state starts here; the previous response is complete. The
    // stream gets its id only once it is announced, so an error in this head
    // belongs to no stream the owner knows.
    request_complete_ = response_complete_ = response_headers_done_ = false;
    encoder_ = BodyEncoder();
    body_received_ = 0;

    if (method_ == "CONNECT") {
      Fail(501, "request: CONNECT is not supported");
      return;
    }
    // Request target forms (RFC 9112 §3.2).
    std::string_view path = target_;
    std::string scheme = settings_.scheme;
    std::optional<std::string_view> target_authority;
    if (target_.front() == '/') {
      // origin-form
    } else if (target_ == "*") {
      if (method_ != "OPTIONS") {
        Fail(400, "request line: '*' target is only valid with OPTIONS");
        return;
      }
    } else {
      const size_t scheme_end = target_.find("://");
      const std::string_view target_scheme =
          scheme_end == std::string_view::npos ? std::string_view() : target_.substr(0, scheme_end);
      if (!EqualsIgnoreCase(target_scheme, "http") && !EqualsIgnoreCase(target_scheme, "https")) {
        Fail(400, Concat("request line: unsupported target '", Printable(target_), "'"));
        return;
      }
      scheme = ToLower(target_scheme);
      const std::string_view after = target_.substr(scheme_end + 3);
      const size_t path_start = after.find_first_of("/?");
      target_authority = after.substr(0, path_start);
      if (!ParseAuthority(*target_authority).ok()) {
        Fail(400, Concat("request line: invalid authority in target '", Printable(target_), "'"));
        return;
      }
      path = path_start == std::string_view::npos ? std::string_view() : after.substr(path_start);
    }

    const size_t hosts = request_.Count("host");
    if (hosts > 1 || (hosts == 0 && request_minor_ == 1)) {
      Fail(400, hosts > 1 ? "header 'host': more than one" : "header 'host': missing");
      return;
    }
    const std::string_view host = request_.Get("host").value_or("");
    if (hosts == 1 && !ParseAuthority(host).ok()) {
      Fail(400, Concat("header 'host': invalid value '", Printable(host), "'"));
      return;
    }

    const ContentLengthResult length = ParseContentLength(request_);
    if (!length.error.empty()) {
      Fail(400, length.error);
      return;
    }
    const bool chunked = request_.Has("transfer-encoding");
    if (chunked) {
      if (length.present) {
        Fail(400, "request headers: both content-length and transfer-encoding");
        return;
      }
      if (request_minor_ == 0) {
        Fail(400, "header 'transfer-encoding': not allowed in HTTP/1.0");
        return;
      }
      if (std::string error = CheckTransferEncoding(request_); !error.empty()) {
        Fail(400, std::move(error));
        return;
      }
    }
    if (length.present && settings_.max_request_body_bytes != 0 &&
        length.value > settings_.max_request_body_bytes) {
      Fail(413, Concat("request body: content-length ", length.value, " exceeds ",
                       settings_.max_request_body_bytes, " bytes"));
      return;
    }

    const std::string connection = request_.GetJoined("connection");
    if (ListContainsToken(connection, "close") ||
        (request_minor_ == 0 && !ListContainsToken(connection, "keep-alive"))) {
      should_close_ = true;
    }
    head_request_ = method_ == "HEAD";
    upgrade_request_ = IsUpgradeRequest(request_);

    // The request line travels as pseudo-headers; Host becomes :authority.
    const std::string authority(target_authority.value_or(host));
    request_.Remove("host");
    request_.Remove("transfer-encoding");
    if (length.present) request_.Set("content-length", Concat(length.value));
    request_.Add(kMethod, method_);
    request_.Add(kScheme, scheme);
    request_.Add(kAuthority, authority);
    // An absolute-form target may lack the path ("http://a?q"): it is "/".
    request_.Add(kPath,
                 path.empty() || path.front() == '?' ? Concat("/", path) : std::string(path));

    const bool end_stream = !chunked && length.value == 0;
    if (end_stream) {
      state_ = State::kMessageDone;
      request_complete_ = true;
    } else if (chunked) {
      StartChunkedBody();
    } else {
      StartLengthBody(length.value);
    }
    stream_ = ++last_stream_;
    stream_active_ = true;
    callbacks_.OnHeaders(stream_, std::move(request_), end_stream);
    request_ = RequestHeaders();
    if (end_stream) OnMessageComplete();
  }

  bool ChunkWithinLimit(uint64_t size) override {
    body_received_ += size;
    if (settings_.max_request_body_bytes != 0 &&
        (body_received_ < size || body_received_ > settings_.max_request_body_bytes)) {
      Fail(413, Concat("request body: exceeds ", settings_.max_request_body_bytes, " bytes"));
      return false;
    }
    return true;
  }

  void DeliverData(std::string_view data, bool end_stream) override {
    if (end_stream) request_complete_ = true;
    callbacks_.OnData(stream_, data, end_stream);
  }

  void DeliverTrailers(TrailerMap trailers) override {
    request_complete_ = true;
    callbacks_.OnTrailers(stream_, std::move(trailers));
  }

  void OnMessageComplete() override {
    if (state_ != State::kMessageDone) return;  // a callback already moved on
    if (!response_complete_) {
      state_ = State::kPaused;
      return;
    }
    state_ = should_close_ ? State::kDiscard : State::kHead;
  }

  void ReportError(const ProtocolError& error) override { callbacks_.OnProtocolError(error); }
  StreamId CurrentStream() const override { return stream_active_ ? stream_ : 0; }

  ServerCallbacks& callbacks_;
  RequestHeaders request_;
  std::string_view method_;  // valid while the head is parsed
  std::string_view target_;
  int request_minor_ = 1;
  StreamId last_stream_ = 0;
  StreamId stream_ = 0;
  bool stream_active_ = false;
  bool request_complete_ = false;
  bool response_headers_done_ = false;
  bool response_complete_ = false;
  bool head_request_ = false;
  bool upgrade_request_ = false;
  uint64_t body_received_ = 0;
  BodyEncoder encoder_;
};

// ---------------------------------------------------------------------------
// Client side.

class Http1ClientConnection final : public ClientConnection, private Http1Connection {
 public:
  Http1ClientConnection(ClientCallbacks& callbacks, Http1Settings settings)
      : Http1Connection(std::move(settings), false), callbacks_(callbacks) {}

  absl::StatusOr<size_t> Dispatch(std::string_view bytes) override { return DispatchBytes(bytes); }

  void DispatchEof() override {
    should_close_ = true;
    if (state_ == State::kError || state_ == State::kDiscard) return;
    const State state = state_;
    state_ = State::kDiscard;
    if (state == State::kUntilClose) {
      state_ = State::kMessageDone;
      DeliverData({}, true);
      OnMessageComplete();
      state_ = State::kDiscard;
    } else if (state == State::kPassthrough) {
      callbacks_.OnData(pending_.front().stream, {}, true);
    }
    // Whatever is still outstanding will never be answered.
    while (!pending_.empty() && state != State::kPassthrough) {
      const StreamId stream = pending_.front().stream;
      pending_.pop_front();
      callbacks_.OnStreamReset(stream, StreamResetReason::kRemoteClosed);
    }
  }

  std::string_view PendingOutput() const override { return output_; }
  void DrainOutput(size_t bytes) override { DrainOutputBytes(bytes); }
  bool ShouldClose() const override { return should_close_; }

  void ResetStream(StreamId /*stream*/) override {
    should_close_ = true;
    if (state_ != State::kError) state_ = State::kDiscard;
  }

  StreamId NewStream() override { return ++last_stream_; }

  absl::Status EncodeHeaders(StreamId stream, const RequestHeaders& headers,
                             bool end_stream) override {
    if (state_ == State::kError || state_ == State::kDiscard || state_ == State::kPassthrough ||
        should_close_) {
      return absl::FailedPreconditionError("connection is closing or upgraded");
    }
    if (stream == 0 || stream > last_stream_ || stream <= last_encoded_stream_) {
      return absl::FailedPreconditionError(Concat("stream ", stream, " cannot start"));
    }
    if (sending_) {
      return absl::FailedPreconditionError("the previous request is still being encoded");
    }
    const std::string_view method = headers.Method();
    const std::string_view path = headers.Path();
    if (!IsToken(method)) return absl::InvalidArgumentError("request :method missing or invalid");
    if (method == "CONNECT") return absl::UnimplementedError("CONNECT is not supported");
    if (path.empty()) return absl::InvalidArgumentError("request :path missing");
    for (char c : path) {
      if (!IsTargetChar(c)) return absl::InvalidArgumentError("request :path has invalid bytes");
    }
    std::string_view authority = headers.Authority();
    if (authority.empty()) authority = headers.Get("host").value_or("");
    if (authority.empty() || !IsFieldValue(authority)) {
      return absl::InvalidArgumentError("request :authority missing or invalid");
    }

    OutputTransaction tx(output_);
    std::string& head = output_;
    Append(head, method, " ", path, " HTTP/1.1\r\nhost: ", authority, "\r\n");
    if (absl::Status s = AppendFields(headers, head, true); !s.ok()) return s;
    absl::StatusOr<std::optional<uint64_t>> length = OwnerContentLength(headers);
    if (!length.ok()) return length.status();
    BodyEncoder encoder;
    if (*length) {
      encoder.mode = BodyEncoder::Mode::kLength;
      encoder.remaining = **length;
      Append(head, "content-length: ", **length, "\r\n");
    } else if (end_stream) {
      // Methods that usually carry content say explicitly that this one has none.
      if (method == "POST" || method == "PUT" || method == "PATCH") {
        head.append("content-length: 0\r\n");
      }
    } else {
      encoder.mode = BodyEncoder::Mode::kChunked;
      head.append("transfer-encoding: chunked\r\n");
    }
    const bool upgrade = IsUpgradeRequest(headers);
    if (upgrade) {
      if (absl::Status s = AppendUpgradeField(headers, head); !s.ok()) return s;
    } else if (headers.HasToken("connection", "close")) {
      head.append("connection: close\r\n");
      close_requested_ = true;
    }
    head.append("\r\n");
    tx.Commit();

    encoder_ = encoder;
    last_encoded_stream_ = stream;
    pending_.push_back(Pending{stream, method == "HEAD", upgrade, end_stream});
    sending_ = !end_stream;
    return absl::OkStatus();
  }

  absl::Status EncodeData(StreamId stream, std::string_view data, bool end_stream) override {
    if (absl::Status status = CheckSending(stream); !status.ok()) return status;
    absl::Status status = encoder_.Encode(data, end_stream, output_);
    if (!status.ok()) {
      should_close_ = true;
      return status;
    }
    if (end_stream) EndRequest(stream);
    return absl::OkStatus();
  }

  absl::Status EncodeTrailers(StreamId stream, const TrailerMap& trailers) override {
    if (absl::Status status = CheckSending(stream); !status.ok()) return status;
    if (encoder_.mode == BodyEncoder::Mode::kRaw) {
      return absl::FailedPreconditionError("an upgraded stream has no trailers");
    }
    absl::Status status = encoder_.EncodeTrailers(trailers, output_);
    if (!status.ok()) {
      should_close_ = true;
      return status;
    }
    EndRequest(stream);
    return absl::OkStatus();
  }

 private:
  struct Pending {
    StreamId stream;
    bool head;
    bool upgrade;
    bool request_sent;
  };

  absl::Status CheckSending(StreamId stream) const {
    if (state_ == State::kPassthrough && !pending_.empty() && pending_.front().stream == stream) {
      return absl::OkStatus();
    }
    if (!sending_ || stream != last_encoded_stream_) {
      return absl::FailedPreconditionError(
          Concat("stream ", stream, " has no request body in progress"));
    }
    return absl::OkStatus();
  }

  void EndRequest(StreamId stream) {
    if (state_ == State::kPassthrough) {
      should_close_ = true;  // the tunnel's sending side is done
      return;
    }
    sending_ = false;
    for (Pending& pending : pending_) {
      if (pending.stream == stream) pending.request_sent = true;
    }
  }

  bool ParseStartLine(std::string_view line) override {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]
    if (line.size() < 12 || !line.starts_with("HTTP/") || !absl::ascii_isdigit(line[5]) ||
        line[6] != '.' || !absl::ascii_isdigit(line[7]) || line[8] != ' ') {
      Fail(502, Concat("status line: malformed '", Printable(line), "'"));
      return false;
    }
    if (line[5] != '1' || (line[7] != '0' && line[7] != '1')) {
      Fail(502, Concat("status line: version ", line.substr(0, 8), " is not supported"));
      return false;
    }
    response_minor_ = line[7] - '0';
    const std::string_view code = line.substr(9, 3);
    const std::optional<uint64_t> status = ParseDecimal(code);
    if (!status || *status < 100 || *status > 599 || (line.size() > 12 && line[12] != ' ')) {
      Fail(502, Concat("status line: invalid status '", Printable(line.substr(9)), "'"));
      return false;
    }
    for (char c : line.substr(12)) {
      if (!IsFieldValueChar(c)) {
        Fail(502, "status line: control character in reason phrase");
        return false;
      }
    }
    status_ = static_cast<int>(*status);
    return true;
  }

  HeaderMap& PendingHeaders() override { return response_; }

  void OnHeadParsed() override {
    if (pending_.empty()) {
      Fail(502, "response: received without a request");
      return;
    }
    const Pending& request = pending_.front();
    response_.Add(kStatus, Concat(status_));

    if (status_ < 200) {
      if (status_ == 101) {
        if (!request.upgrade) {
          Fail(502, "response: 101 to a request that asked for no upgrade");
          return;
        }
        state_ = State::kPassthrough;
        encoder_.mode = BodyEncoder::Mode::kRaw;
        sending_ = false;
        callbacks_.OnHeaders(request.stream, std::move(response_), false);
      } else {
        state_ = State::kHead;
        callbacks_.OnInformationalHeaders(request.stream, std::move(response_));
      }
      response_ = ResponseHeaders();
      return;
    }

    const bool no_body = request.head || status_ == 204 || status_ == 304;
    const ContentLengthResult length = ParseContentLength(response_);
    const bool chunked = response_.Has("transfer-encoding");
    if (!no_body) {
      if (!length.error.empty()) {
        Fail(502, length.error);
        return;
      }
      if (chunked) {
        if (length.present) {
          Fail(502, "response headers: both content-length and transfer-encoding");
          return;
        }
        if (std::string error = CheckTransferEncoding(response_); !error.empty()) {
          Fail(502, std::move(error));
          return;
        }
      }
    }
    const std::string connection = response_.GetJoined("connection");
    close_after_response_ = close_requested_ || ListContainsToken(connection, "close") ||
                            (response_minor_ == 0 && !ListContainsToken(connection, "keep-alive"));
    response_.Remove("transfer-encoding");
    if (length.present && length.error.empty()) {
      response_.Set("content-length", Concat(length.value));
    }

    bool end_stream = false;
    if (no_body || (!chunked && length.present && length.value == 0)) {
      end_stream = true;
      state_ = State::kMessageDone;
    } else if (chunked) {
      StartChunkedBody();
    } else if (length.present) {
      StartLengthBody(length.value);
    } else {
      state_ = State::kUntilClose;
      close_after_response_ = true;
    }
    callbacks_.OnHeaders(request.stream, std::move(response_), end_stream);
    response_ = ResponseHeaders();
    if (end_stream) OnMessageComplete();
  }

  void DeliverData(std::string_view data, bool end_stream) override {
    callbacks_.OnData(pending_.front().stream, data, end_stream);
  }

  void DeliverTrailers(TrailerMap trailers) override {
    callbacks_.OnTrailers(pending_.front().stream, std::move(trailers));
  }

  void OnMessageComplete() override {
    if (state_ != State::kMessageDone) return;
    const Pending done = pending_.front();
    pending_.pop_front();
    // A response that overtook its request leaves the request unfinished on
    // the wire; the connection cannot carry another message.
    if (!done.request_sent || close_after_response_) {
      should_close_ = true;
      state_ = State::kDiscard;
      return;
    }
    state_ = State::kHead;
  }

  void ReportError(const ProtocolError& error) override { callbacks_.OnProtocolError(error); }
  StreamId CurrentStream() const override { return pending_.empty() ? 0 : pending_.front().stream; }

  ClientCallbacks& callbacks_;
  ResponseHeaders response_;
  int status_ = 0;
  int response_minor_ = 1;
  StreamId last_stream_ = 0;
  StreamId last_encoded_stream_ = 0;
  std::deque<Pending> pending_;  // requests encoded and not yet answered, oldest first
  bool sending_ = false;         // a request body is being encoded
  bool close_requested_ = false;
  bool close_after_response_ = false;
  BodyEncoder encoder_;
};

}  // namespace

std::unique_ptr<ServerConnection> NewHttp1ServerConnection(ServerCallbacks& callbacks,
                                                           Http1Settings settings) {
  return std::make_unique<Http1ServerConnection>(callbacks, std::move(settings));
}

std::unique_ptr<ClientConnection> NewHttp1ClientConnection(ClientCallbacks& callbacks,
                                                           Http1Settings settings) {
  return std::make_unique<Http1ClientConnection>(callbacks, std::move(settings));
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string MinimalErrorResponse(int status) {
  return Concat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                "\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

}  // namespace meshgate::proxy::http
