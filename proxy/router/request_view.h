// RequestView: the read-only view of a downstream request that route matching
// needs, independent of any codec's header map.
//
// The view borrows everything: the codec keeps the bytes alive for the
// duration of the match. Header names are compared case-insensitively; the
// pseudo-headers ":authority", ":path", ":method" and ":scheme" are answered
// from the dedicated fields so header matchers can name them too.
//
// Thread-safety: a plain value; safe to read from several threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshgate::proxy {

struct RequestView {
  std::string_view method;
  std::string_view scheme = "http";  // "http" or "https"
  std::string_view authority;        // Host / :authority, may carry a port
  std::string_view path;             // :path, including the query string
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view source_ip;  // downstream peer address, for hash policies

  // The value of header `name`; several occurrences are joined with ","
  // (RFC 9110 field combination). nullopt when absent.
  std::optional<std::string> Header(std::string_view name) const;

  // The path without "?query" and "#fragment".
  std::string_view PathWithoutQuery() const;
  // The text after the first "?", without the fragment; empty when none.
  std::string_view Query() const;
  // The value of the first query parameter called `name` (not URL-decoded;
  // "a" in "?a" is present with an empty value). nullopt when absent.
  std::optional<std::string_view> QueryParameter(std::string_view name) const;
  // The value of cookie `name` from the Cookie header(s).
  std::optional<std::string_view> Cookie(std::string_view name) const;
};

}  // namespace meshgate::proxy
