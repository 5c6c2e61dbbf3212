// The HTTP/1.1 codec: RFC 9112 message framing for both sides of the proxy,
// strict about everything that lets two parsers disagree on where a message
// ends (request smuggling) and about the size of what it buffers.
//
// Server side (downstream): parses requests, serializes responses.
//  - Pipelining: after a complete request the codec pauses; Dispatch()
//    consumes nothing more until the response for that request has been
//    fully encoded, so requests are answered strictly in order and pipelined
//    bytes stay in the owner's read buffer. Encoding the end of the response
//    from inside a callback lets the same Dispatch() call go on; otherwise the
//    owner offers the unconsumed bytes again.
//  - A response that ends before its request was fully received marks the
//    connection for closing (the rest of the request body is discarded).
//  - `Expect: 100-continue` is left in the headers (see ExpectsContinue());
//    the owner decides whether to encode a 100 response.
//  - Upgrades: a request with `Connection: upgrade` and an `Upgrade` field,
//    answered with 101, turns the connection into a raw byte pipe on the same
//    stream: Dispatch() delivers OnData, EncodeData() writes bytes unframed,
//    and DispatchEof() ends the stream.
//  - CONNECT is answered 501 for now.
//
// Header maps handed to the owner carry the request line as pseudo-headers
// (:method :path :scheme :authority; :authority from the absolute-form target
// or the Host field, which is then removed) or the status as :status. The
// codec removes `transfer-encoding`, because bodies are delivered without
// chunk framing; other hop-by-hop fields are left for the owner to inspect.
// When serializing, the codec owns message framing and connection
// management: `connection`, `keep-alive`, `proxy-connection` and
// `transfer-encoding` given by the owner are not copied; it writes
// `content-length` (when the owner gave one, or the message ends with its
// headers), `transfer-encoding: chunked` (length unknown, HTTP/1.1 peer) or
// delimits the body by closing (HTTP/1.0 peer), and its own `connection`.
//
// Protocol errors: every error makes the connection unusable; the server
// side reports the status to answer with (MinimalErrorResponse() builds the
// bytes), the client side reports 502.
//
// Thread-safety: none (see codec.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/http/codec.h"

namespace meshgate::proxy::http {

struct Http1Settings {
  // Longest request line (or status line) without its CRLF; longer -> 414.
  size_t max_start_line_bytes = 8 * 1024;
  // Largest header (or trailer) section, CRLFs included; larger -> 431.
  size_t max_header_bytes = 60 * 1024;
  // Most header (or trailer) fields; more -> 431.
  size_t max_header_count = 100;
  // Largest request body the server side accepts (0: no limit); larger -> 413.
  uint64_t max_request_body_bytes = 0;
  // Longest chunk-size line, extensions included; longer -> 400.
  size_t max_chunk_line_bytes = 4 * 1024;
  // :scheme reported for origin-form requests (the owner knows whether the
  // connection is TLS).
  std::string scheme = "http";
};

// REQUIRES: `callbacks` outlives the returned connection.
std::unique_ptr<ServerConnection> NewHttp1ServerConnection(ServerCallbacks& callbacks,
                                                           Http1Settings settings = {});
std::unique_ptr<ClientConnection> NewHttp1ClientConnection(ClientCallbacks& callbacks,
                                                           Http1Settings settings = {});

// The complete bytes of a body-less error response that closes the
// connection, e.g. "HTTP/1.1 431 Request Header Fields Too Large\r\n...".
std::string MinimalErrorResponse(int status);

// The standard reason phrase of `status`, or "Unknown".
std::string_view ReasonPhrase(int status);

}  // namespace meshgate::proxy::http
