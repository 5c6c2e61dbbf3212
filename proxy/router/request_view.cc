#include "proxy/router/request_view.h"

#include "proxy/router/text.h"

namespace meshgate::proxy {

std::optional<std::string> RequestView::Header(std::string_view name) const {
  if (!name.empty() && name.front() == ':') {
    if (EqualsIgnoreCase(name, ":authority")) return std::string(authority);
    if (EqualsIgnoreCase(name, ":path")) return std::string(path);
    if (EqualsIgnoreCase(name, ":method")) return std::string(method);
    if (EqualsIgnoreCase(name, ":scheme")) return std::string(scheme);
  }
  if (EqualsIgnoreCase(name, "host")) {
    bool has_host_header = false;
    for (const auto& [n, v] : headers) has_host_header |= EqualsIgnoreCase(n, "host");
    if (!has_host_header && !authority.empty()) return std::string(authority);
  }
  std::optional<std::string> value;
  for (const auto& [n, v] : headers) {
    if (!EqualsIgnoreCase(n, name)) continue;
    if (value.has_value()) {
      value->push_back(',');
      value->append(v);
    } else {
      value.emplace(v);
    }
  }
  return value;
}

std::string_view RequestView::PathWithoutQuery() const {
  const size_t end = path.find_first_of("?#");
  return end == std::string_view::npos ? path : path.substr(0, end);
}

std::string_view RequestView::Query() const {
  const size_t start = path.find('?');
  if (start == std::string_view::npos) return {};
  std::string_view query = path.substr(start + 1);
  const size_t fragment = query.find('#');
  return fragment == std::string_view::npos ? query : query.substr(0, fragment);
}

std::optional<std::string_view> RequestView::QueryParameter(std::string_view name) const {
  std::string_view rest = Query();
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = eq == std::string_view::npos ? pair : pair.substr(0, eq);
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> RequestView::Cookie(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (!EqualsIgnoreCase(n, "cookie")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      const std::string_view part = StripAsciiWhitespace(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = part.find('=');
      if (eq == std::string_view::npos || part.substr(0, eq) != name) continue;
      std::string_view value = part.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace meshgate::proxy
