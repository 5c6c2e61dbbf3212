// Pure helpers over request fields that routing and filters share: splitting
// a request target into path and query, parsing and normalizing an authority,
// and reading the intent of a request from its headers.
//
// All functions are pure and thread-safe; returned views point into the
// argument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/http/header_map.h"

namespace meshgate::proxy::http {

struct PathAndQuery {
  std::string_view path;   // up to '?' or '#'
  std::string_view query;  // after '?', without the '?' and without any fragment
};
PathAndQuery SplitPathAndQuery(std::string_view target);

struct Authority {
  std::string host;  // lowercase; an IPv6 literal keeps its brackets
  std::optional<uint16_t> port;
};
// Parses `host[:port]` (reg-name, IPv4 or bracketed IPv6; RFC 3986 §3.2.2).
// Userinfo is rejected: it has no business in a Host field.
absl::StatusOr<Authority> ParseAuthority(std::string_view authority);

// The authority in canonical form: lowercase host, and no port when the port
// is the default of `scheme` (80 for http, 443 for https). Used to match
// virtual hosts, so "Example.COM:80" and "example.com" route alike.
absl::StatusOr<std::string> NormalizeAuthority(std::string_view authority, std::string_view scheme);

// The default port of "http" and "https", if `scheme` is one of them.
std::optional<uint16_t> DefaultPort(std::string_view scheme);

// `Connection: upgrade` together with an `Upgrade` field.
bool IsUpgradeRequest(const RequestHeaders& headers);
// `Expect: 100-continue`.
bool ExpectsContinue(const RequestHeaders& headers);

// Removes what describes the downstream connection and must not be forwarded
// (RFC 9110 §7.6.1): the fields `Connection` names, Connection itself,
// Keep-Alive, Proxy-Connection, and TE unless it is just "trailers" (gRPC
// needs that one). Each hop decides its own persistence: a client's
// "Connection: close" ends its own connection, not the pooled upstream one.
// An upgrade request keeps `Connection: upgrade` and `Upgrade`, which the
// upstream codec forwards.
void RemoveHopByHopFields(RequestHeaders& headers);

}  // namespace meshgate::proxy::http
