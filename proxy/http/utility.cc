#include "proxy/http/utility.h"

#include "absl/strings/ascii.h"
#include "proxy/http/str_util.h"

namespace meshgate::proxy::http {
namespace {

// RFC 3986 unreserved / sub-delims, plus '%' for pct-encoded reg-names.
bool IsRegNameChar(char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

// The fields RemoveHopByHopFields may have to act on: without any of them
// (nearly every request) there is nothing to do.
bool NamesHopByHopField(std::string_view name) {
  switch (name.size()) {
    case 2:
      return name == "te";
    case 10:
      return name == "connection" || name == "keep-alive";
    case 16:
      return name == "proxy-connection";
    default:
      return false;
  }
}

}  // namespace

PathAndQuery SplitPathAndQuery(std::string_view target) {
  const size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

absl::StatusOr<Authority> ParseAuthority(std::string_view authority) {
  if (authority.empty()) return absl::InvalidArgumentError("empty authority");
  Authority result;
  std::string_view host;
  std::string_view rest;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(Concat("authority '", authority, "': unclosed '['"));
    }
    host = authority.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2)) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') {
        return absl::InvalidArgumentError(
            Concat("authority '", authority, "': invalid IPv6 literal"));
      }
    }
    if (host.size() == 2) {
      return absl::InvalidArgumentError(Concat("authority '", authority, "': empty IPv6"));
    }
    rest = authority.substr(close + 1);
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    if (host.empty()) {
      return absl::InvalidArgumentError(Concat("authority '", authority, "': empty host"));
    }
    for (char c : host) {
      if (!IsRegNameChar(c)) {
        return absl::InvalidArgumentError(
            Concat("authority '", authority, "': invalid character in host"));
      }
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':') {
      return absl::InvalidArgumentError(
          Concat("authority '", authority, "': unexpected text after host"));
    }
    rest.remove_prefix(1);
    // An empty port ("host:") means the default port (RFC 3986 §3.2.3).
    if (!rest.empty()) {
      if (rest.size() > 5) {
        return absl::InvalidArgumentError(Concat("authority '", authority, "': bad port"));
      }
      uint32_t port = 0;
      for (char c : rest) {
        if (!absl::ascii_isdigit(c)) {
          return absl::InvalidArgumentError(Concat("authority '", authority, "': bad port"));
        }
        port = port * 10 + static_cast<uint32_t>(c - '0');
      }
      if (port == 0 || port > 65535) {
        return absl::InvalidArgumentError(Concat("authority '", authority, "': port out of range"));
      }
      result.port = static_cast<uint16_t>(port);
    }
  }
  result.host = ToLower(host);
  return result;
}

std::optional<uint16_t> DefaultPort(std::string_view scheme) {
  if (EqualsIgnoreCase(scheme, "http")) return 80;
  if (EqualsIgnoreCase(scheme, "https")) return 443;
  return std::nullopt;
}

absl::StatusOr<std::string> NormalizeAuthority(std::string_view authority,
                                               std::string_view scheme) {
  absl::StatusOr<Authority> parsed = ParseAuthority(authority);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->port || parsed->port == DefaultPort(scheme)) return std::move(parsed->host);
  return Concat(parsed->host, ":", *parsed->port);
}

bool IsUpgradeRequest(const RequestHeaders& headers) {
  return headers.Has("upgrade") && ListContainsToken(headers.GetJoined("connection"), "upgrade");
}

void RemoveHopByHopFields(RequestHeaders& headers) {
  // One scan of the names for the common request; the lookups below scan the
  // map once per field they ask about.
  bool present = false;
  for (const HeaderField field : headers) {
    if (NamesHopByHopField(field.name)) {
      present = true;
      break;
    }
  }
  if (!present) return;
  const bool upgrade = IsUpgradeRequest(headers);
  if (headers.Has("connection")) {
    const std::string connection = headers.GetJoined("connection");
    std::string_view rest = connection;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string name = ToLower(StripWhitespace(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      // Routing and framing fields are not the connection's to remove: the
      // codecs own the framing, and the request was parsed with it.
      if (name.empty() || name.front() == ':' || name == "host" || name == "content-length" ||
          name == "transfer-encoding") {
        continue;
      }
      if (upgrade && name == "upgrade") continue;
      headers.Remove(name);
    }
    headers.Remove("connection");
    if (upgrade) headers.Set("connection", "upgrade");
  }
  headers.Remove("keep-alive");
  headers.Remove("proxy-connection");
  if (headers.Has("te")) {
    const bool trailers = ListContainsToken(headers.GetJoined("te"), "trailers");
    headers.Remove("te");
    if (trailers) headers.Set("te", "trailers");
  }
}

bool ExpectsContinue(const RequestHeaders& headers) {
  const std::optional<std::string_view> expect = headers.Get("expect");
  return expect && EqualsIgnoreCase(StripWhitespace(*expect), "100-continue");
}

}  // namespace meshgate::proxy::http
