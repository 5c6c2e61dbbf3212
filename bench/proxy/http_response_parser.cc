#include "bench/proxy/http_response_parser.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bench/proxy/ascii.h"

namespace meshgate::bench {
namespace {

// A body this large is not something a benchmark origin sends; refusing it keeps the arithmetic
// far from overflow.
constexpr uint64_t kMaxBodyBytes = uint64_t{1} << 50;

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 64)) {
    out += absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (bytes.size() > 64) out += "...";
  return out;
}

}  // namespace

void HttpResponseParser::Reset() { *this = HttpResponseParser(); }

absl::Status HttpResponseParser::Fail(absl::Status status) {
  state_ = State::kFailed;
  failure_ = std::move(status);
  return failure_;
}

absl::StatusOr<bool> HttpResponseParser::TakeLine(std::string_view data, size_t& consumed,
                                                  std::string_view& line) {
  const size_t newline = data.find('\n');
  const size_t take = newline == std::string_view::npos ? data.size() : newline + 1;
  if (line_.size() + take > kMaxLineBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("line longer than ", kMaxLineBytes, " bytes: '", Printable(line_), "'"));
  }
  consumed = take;
  if (newline == std::string_view::npos) {
    line_.append(data);
    return false;
  }
  if (line_.empty()) {
    line = data.substr(0, newline);
  } else {
    line_.append(data.substr(0, newline));
    line = line_;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

absl::StatusOr<size_t> HttpResponseParser::Feed(std::string_view data) {
  if (state_ == State::kFailed) return failure_;
  size_t pos = 0;
  while (pos < data.size() && state_ != State::kComplete) {
    switch (state_) {
      case State::kStatusLine:
      case State::kHeaders:
      case State::kChunkSize:
      case State::kChunkDataEnd:
      case State::kTrailers: {
        size_t used = 0;
        std::string_view line;
        absl::StatusOr<bool> whole = TakeLine(data.substr(pos), used, line);
        if (!whole.ok()) return Fail(whole.status());
        pos += used;
        started_ = true;
        if (state_ == State::kStatusLine || state_ == State::kHeaders) {
          header_bytes_ += used;
          if (header_bytes_ > kMaxHeaderBytes) {
            return Fail(absl::InvalidArgumentError(
                absl::StrCat("response header block larger than ", kMaxHeaderBytes, " bytes")));
          }
        }
        if (!*whole) break;
        absl::Status status;
        switch (state_) {
          case State::kStatusLine:
            status = OnStatusLine(line);
            break;
          case State::kHeaders:
            status = line.empty() ? OnHeadersDone() : OnHeaderLine(line);
            break;
          case State::kChunkSize:
            status = OnChunkSizeLine(line);
            break;
          case State::kChunkDataEnd:
            if (!line.empty()) {
              status = absl::InvalidArgumentError(absl::StrCat(
                  "chunk data longer than its declared size (got '", Printable(line), "')"));
            } else {
              state_ = State::kChunkSize;
            }
            break;
          default:  // kTrailers: fields are skipped; an empty line ends the message.
            if (line.empty()) state_ = State::kComplete;
            break;
        }
        line_.clear();
        if (!status.ok()) return Fail(std::move(status));
        break;
      }
      case State::kBodyLength:
      case State::kChunkData: {
        const uint64_t take = std::min<uint64_t>(remaining_, data.size() - pos);
        pos += take;
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ == 0) {
          state_ = state_ == State::kBodyLength ? State::kComplete : State::kChunkDataEnd;
        }
        break;
      }
      case State::kBodyUntilClose:
        body_bytes_ += data.size() - pos;
        pos = data.size();
        break;
      case State::kComplete:
      case State::kFailed:
        break;
    }
  }
  return pos;
}

absl::Status HttpResponseParser::FinishOnEof() {
  switch (state_) {
    case State::kBodyUntilClose:
      state_ = State::kComplete;
      return absl::OkStatus();
    case State::kComplete:
      return absl::OkStatus();
    case State::kFailed:
      return failure_;
    case State::kStatusLine:
      if (!started_) return absl::OkStatus();
      [[fallthrough]];
    default:
      return Fail(absl::UnavailableError(
          absl::StrCat("connection closed inside a response (status ", status_code_, ", after ",
                       body_bytes_, " body bytes)")));
  }
}

absl::Status HttpResponseParser::OnStatusLine(std::string_view line) {
  // Tolerate empty lines before a response, as RFC 9112 section 2.2 allows.
  if (line.empty()) return absl::OkStatus();
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || !absl::ascii_isdigit(line[7]) ||
      line[8] != ' ' || !absl::ascii_isdigit(line[9]) || !absl::ascii_isdigit(line[10]) ||
      !absl::ascii_isdigit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed status line '", Printable(line), "'"));
  }
  http10_ = line[7] == '0';
  status_code_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status_code_ < 100) {
    return absl::InvalidArgumentError(absl::StrCat("status code ", status_code_, " below 100"));
  }
  state_ = State::kHeaders;
  return absl::OkStatus();
}

absl::Status HttpResponseParser::OnHeaderLine(std::string_view line) {
  if (++header_count_ > kMaxHeaders) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxHeaders, " header fields"));
  }
  if (line.front() == ' ' || line.front() == '\t') {
    return absl::InvalidArgumentError(
        absl::StrCat("obsolete line folding in header line '", Printable(line), "'"));
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      !std::all_of(line.begin(), line.begin() + colon, IsTokenChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed header line '", Printable(line), "'"));
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = StripWhitespace(line.substr(colon + 1));

  if (EqualsIgnoreCase(name, "content-length")) {
    if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("header content-length: invalid value '", Printable(value), "'"));
    }
    uint64_t length = 0;
    for (char c : value) length = length * 10 + static_cast<uint64_t>(c - '0');
    if (length > kMaxBodyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("header content-length: ", length, " bytes is too large"));
    }
    if (has_content_length_ && length != content_length_) {
      return absl::InvalidArgumentError(absl::StrCat("header content-length: conflicting values ",
                                                     content_length_, " and ", length));
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    // Only the last coding decides how the message is framed; several fields concatenate.
    std::string_view last = value;
    const size_t comma = value.rfind(',');
    if (comma != std::string_view::npos) last = value.substr(comma + 1);
    chunked_ = EqualsIgnoreCase(StripWhitespace(last), "chunked");
  } else if (EqualsIgnoreCase(name, "connection")) {
    for (std::string_view rest = value; !rest.empty();) {
      const size_t comma = std::min(rest.find(','), rest.size());
      const std::string_view token = StripWhitespace(rest.substr(0, comma));
      rest.remove_prefix(std::min(comma + 1, rest.size()));
      if (EqualsIgnoreCase(token, "close")) keep_alive_ = false;
      if (EqualsIgnoreCase(token, "keep-alive")) saw_connection_keep_alive_ = true;
    }
  }
  return absl::OkStatus();
}

absl::Status HttpResponseParser::OnHeadersDone() {
  if (status_code_ >= 100 && status_code_ < 200 && status_code_ != 101) {
    // An interim response: the final one follows on the same connection.
    const bool started = started_;
    Reset();
    started_ = started;
    return absl::OkStatus();
  }
  if (http10_ && !saw_connection_keep_alive_) keep_alive_ = false;
  if (status_code_ == 101) {
    // The connection now speaks another protocol; this client has nothing more to say on it.
    keep_alive_ = false;
    state_ = State::kComplete;
  } else if (status_code_ == 204 || status_code_ == 304) {
    state_ = State::kComplete;
  } else if (chunked_) {
    state_ = State::kChunkSize;
  } else if (has_transfer_encoding_) {
    keep_alive_ = false;
    state_ = State::kBodyUntilClose;
  } else if (has_content_length_) {
    remaining_ = content_length_;
    state_ = remaining_ == 0 ? State::kComplete : State::kBodyLength;
  } else {
    keep_alive_ = false;
    state_ = State::kBodyUntilClose;
  }
  return absl::OkStatus();
}

absl::Status HttpResponseParser::OnChunkSizeLine(std::string_view line) {
  const size_t end = std::min(line.find_first_of("; \t"), line.size());
  const std::string_view digits = line.substr(0, end);
  if (digits.empty() || digits.size() > 12 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError(absl::StrCat("malformed chunk size line '", Printable(line),
                                                   "' after ", body_bytes_, " body bytes"));
  }
  uint64_t size = 0;
  for (char c : digits) {
    const int nibble = absl::ascii_isdigit(static_cast<unsigned char>(c))
                           ? c - '0'
                           : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    size = size * 16 + static_cast<uint64_t>(nibble);
  }
  if (size == 0) {
    state_ = State::kTrailers;
  } else {
    remaining_ = size;
    state_ = State::kChunkData;
  }
  return absl::OkStatus();
}

}  // namespace meshgate::bench
