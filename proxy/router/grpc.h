// The few gRPC-over-HTTP/2 rules the router applies to gRPC requests passing
// through: recognising them, reading grpc-status and grpc-timeout, and
// answering a failure the way a gRPC client understands (a "trailers-only"
// response: HTTP 200 whose only header block carries grpc-status).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "proxy/http/header_map.h"

namespace meshgate::proxy {

// gRPC status codes the router itself produces.
enum class GrpcStatus : uint32_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kDeadlineExceeded = 4,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// content-type application/grpc, application/grpc+proto, application/grpc-web...
bool IsGrpcRequest(const http::RequestHeaders& headers);

// The grpc-status of a response's headers or trailers; nullopt when absent
// or not a number a status fits in.
std::optional<uint32_t> GrpcStatusOf(const http::HeaderMap& headers);

// The grpc-timeout header (1 to 8 digits and a unit H, M, S, m, u or n, per
// the gRPC HTTP/2 protocol); nullopt when absent or malformed (ignored, as
// gRPC servers do).
std::optional<absl::Duration> GrpcTimeoutOf(const http::RequestHeaders& headers);

// The gRPC status a local HTTP error reply stands for (Envoy's mapping of
// HTTP to gRPC status; 504 is the router's own deadline, DEADLINE_EXCEEDED).
GrpcStatus GrpcStatusForHttpStatus(int http_status);

}  // namespace meshgate::proxy
