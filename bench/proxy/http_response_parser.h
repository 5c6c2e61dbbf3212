// HttpResponseParser: an incremental HTTP/1.1 response parser for the load generator. It is fed
// whatever bytes a socket read returned and reports when exactly one response is complete,
// leaving any bytes that follow it unconsumed. Bodies are delimited as RFC 9112 section 6.3 says:
// no body for 1xx/204/304, chunked when the last transfer coding is chunked (trailers skipped),
// Content-Length, or else the close of the connection. Interim 1xx responses (other than 101) are
// skipped. Body bytes are counted, not kept.
//
// The bytes come from a server under test, so malformed input yields an error status naming what
// was wrong and where; the parser never aborts. Sizes are bounded: a line may hold at most
// kMaxLineBytes, a header block at most kMaxHeaderBytes and kMaxHeaders fields.
//
// Thread-safety: none; one parser per connection.

#ifndef MESHGATE_BENCH_PROXY_HTTP_RESPONSE_PARSER_H_
#define MESHGATE_BENCH_PROXY_HTTP_RESPONSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace meshgate::bench {

class HttpResponseParser {
 public:
  static constexpr size_t kMaxLineBytes = 8 * 1024;
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;
  static constexpr size_t kMaxHeaders = 128;

  // Consumes bytes of the current response and returns how many. Stops right after the end of a
  // response (complete() becomes true); call Reset() before feeding the next one. After an error
  // the parser stays failed until Reset().
  // REQUIRES: !complete().
  absl::StatusOr<size_t> Feed(std::string_view data);

  // The peer closed the connection: completes a close-delimited body, and is an error anywhere
  // else inside a response (a response that was never started is not an error: returns OK with
  // complete() false).
  absl::Status FinishOnEof();

  // Ready to parse the next response on the same connection.
  void Reset();

  bool complete() const { return state_ == State::kComplete; }
  // True once any byte of a response was consumed, until Reset().
  bool started() const { return started_; }
  int status_code() const { return status_code_; }
  // Whether the connection can carry another request after this response.
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return chunked_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kBodyLength,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kBodyUntilClose,
    kComplete,
    kFailed,
  };

  // Appends bytes up to and including '\n' to line_. Returns true with the line (without CRLF)
  // in `line` once it is whole; `consumed` counts the bytes taken from data.
  absl::StatusOr<bool> TakeLine(std::string_view data, size_t& consumed, std::string_view& line);
  absl::Status OnStatusLine(std::string_view line);
  absl::Status OnHeaderLine(std::string_view line);
  absl::Status OnHeadersDone();
  absl::Status OnChunkSizeLine(std::string_view line);
  absl::Status Fail(absl::Status status);

  State state_ = State::kStatusLine;
  std::string line_;
  bool started_ = false;
  int status_code_ = 0;
  bool http10_ = false;
  bool keep_alive_ = true;
  bool saw_connection_keep_alive_ = false;
  bool chunked_ = false;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  uint64_t content_length_ = 0;
  uint64_t remaining_ = 0;
  uint64_t body_bytes_ = 0;
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  absl::Status failure_;
};

}  // namespace meshgate::bench

#endif  // MESHGATE_BENCH_PROXY_HTTP_RESPONSE_PARSER_H_
