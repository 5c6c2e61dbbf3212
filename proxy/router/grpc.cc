#include "proxy/router/grpc.h"

#include <string_view>

namespace meshgate::proxy {

bool IsGrpcRequest(const http::RequestHeaders& headers) {
  auto type = headers.Get("content-type");
  if (!type) return false;
  constexpr std::string_view kGrpc = "application/grpc";
  if (type->size() < kGrpc.size()) return false;
  for (size_t i = 0; i < kGrpc.size(); ++i) {
    char c = (*type)[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != kGrpc[i]) return false;
  }
  // Exactly "application/grpc", or a subtype after '+' / ';' / '-' (grpc-web).
  return type->size() == kGrpc.size() || (*type)[kGrpc.size()] == '+' ||
         (*type)[kGrpc.size()] == ';' || (*type)[kGrpc.size()] == '-';
}

std::optional<uint32_t> GrpcStatusOf(const http::HeaderMap& headers) {
  auto v = headers.Get("grpc-status");
  if (!v || v->empty() || v->size() > 9) return std::nullopt;
  uint32_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

std::optional<absl::Duration> GrpcTimeoutOf(const http::RequestHeaders& headers) {
  auto v = headers.Get("grpc-timeout");
  if (!v || v->size() < 2 || v->size() > 9) return std::nullopt;
  int64_t amount = 0;
  for (char c : v->substr(0, v->size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    amount = amount * 10 + (c - '0');
  }
  switch (v->back()) {
    case 'H':
      return absl::Hours(amount);
    case 'M':
      return absl::Minutes(amount);
    case 'S':
      return absl::Seconds(amount);
    case 'm':
      return absl::Milliseconds(amount);
    case 'u':
      return absl::Microseconds(amount);
    case 'n':
      return absl::Nanoseconds(amount);
    default:
      return std::nullopt;
  }
}

GrpcStatus GrpcStatusForHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
      return GrpcStatus::kInternal;
    case 401:
      return GrpcStatus::kUnauthenticated;
    case 403:
      return GrpcStatus::kPermissionDenied;
    case 404:
      return GrpcStatus::kUnimplemented;
    case 429:
    case 502:
    case 503:
      return GrpcStatus::kUnavailable;
    case 504:
      return GrpcStatus::kDeadlineExceeded;
    default:
      return GrpcStatus::kUnknown;
  }
}

}  // namespace meshgate::proxy
