#include "proxy/router/route_table.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proxy/router/text.h"

namespace meshgate::proxy {

// ---- Matchers ---------------------------------------------------------------

bool PathMatcher::Matches(std::string_view path) const {
  switch (kind) {
    case Kind::kPrefix:
      return StartsWith(path, value, !case_sensitive);
    case Kind::kExact:
      return case_sensitive ? path == value : EqualsIgnoreCase(path, value);
    case Kind::kRegex:
      return re2::RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *regex);
    case Kind::kSeparatedPrefix: {
      const bool starts = StartsWith(path, value, !case_sensitive);
      return starts && (path.size() == value.size() || path[value.size()] == '/');
    }
  }
  return false;
}

bool HeaderMatcher::Matches(const RequestView& request) const {
  std::optional<std::string> value = request.Header(name);
  if (!value.has_value()) {
    if (kind == Kind::kPresent) return invert ? present : !present;
    if (!treat_missing_as_empty) {
      // As Envoy: an absent header matches no value matcher, inverted or not.
      return false;
    }
    value.emplace();
  }
  bool matched = false;
  switch (kind) {
    case Kind::kString:
      matched = string->Matches(*value);
      break;
    case Kind::kRange: {
      int64_t number;
      matched =
          absl::SimpleAtoi(Av(*value), &number) && number >= range_start && number < range_end;
      break;
    }
    case Kind::kPresent:
      matched = present;
      break;
  }
  return matched != invert;
}

bool QueryParameterMatcher::Matches(const RequestView& request) const {
  const std::optional<std::string_view> found = request.QueryParameter(name);
  if (!found.has_value()) return false;
  return !value.has_value() || value->Matches(*found);
}

bool Route::Matches(const RequestView& request) const {
  if (!path.Matches(request.PathWithoutQuery())) return false;
  for (const HeaderMatcher& matcher : headers) {
    if (!matcher.Matches(request)) return false;
  }
  for (const QueryParameterMatcher& matcher : query_parameters) {
    if (!matcher.Matches(request)) return false;
  }
  return true;
}

// ---- Header mutations -------------------------------------------------------

void ApplyHeaderMutations(const HeaderMutations& mutations, HeaderList& headers) {
  for (const std::string& name : mutations.remove) {
    std::erase_if(headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
  }
  for (const HeaderToAdd& add : mutations.add) {
    if (add.value.empty() && !add.keep_empty_value) continue;
    auto same_name = [&](const auto& h) { return EqualsIgnoreCase(h.first, add.name); };
    const bool exists = std::any_of(headers.begin(), headers.end(), same_name);
    switch (add.action) {
      case HeaderAppendAction::kAppendIfExistsOrAdd:
        headers.emplace_back(add.name, add.value);
        break;
      case HeaderAppendAction::kAddIfAbsent:
        if (!exists) headers.emplace_back(add.name, add.value);
        break;
      case HeaderAppendAction::kOverwriteIfExistsOrAdd:
        std::erase_if(headers, same_name);
        headers.emplace_back(add.name, add.value);
        break;
      case HeaderAppendAction::kOverwriteIfExists:
        if (exists) {
          std::erase_if(headers, same_name);
          headers.emplace_back(add.name, add.value);
        }
        break;
    }
  }
}

// ---- Retry policy -----------------------------------------------------------

absl::StatusOr<uint32_t> ParseRetryOn(std::string_view retry_on) {
  static const std::pair<std::string_view, uint32_t> kNames[] = {
      {"5xx", kRetryOn5xx},
      {"gateway-error", kRetryOnGatewayError},
      {"connect-failure", kRetryOnConnectFailure},
      {"reset", kRetryOnReset},
      {"refused-stream", kRetryOnRefusedStream},
      {"retriable-status-codes", kRetryOnRetriableStatusCodes},
      {"retriable-4xx", kRetryOnRetriable4xx},
      {"cancelled", kRetryOnGrpcCancelled},
      {"deadline-exceeded", kRetryOnGrpcDeadlineExceeded},
      {"internal", kRetryOnGrpcInternal},
      {"resource-exhausted", kRetryOnGrpcResourceExhausted},
      {"unavailable", kRetryOnGrpcUnavailable},
  };
  uint32_t bits = 0;
  std::string_view rest = retry_on;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view token = StripAsciiWhitespace(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (token.empty()) continue;
    const auto* it = std::find_if(std::begin(kNames), std::end(kNames),
                                  [&](const auto& entry) { return entry.first == token; });
    if (it == std::end(kNames)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported retry_on condition '", Av(token), "'"));
    }
    bits |= it->second;
  }
  return bits;
}

// ---- RouteTable -------------------------------------------------------------

namespace {

// "host:port" -> "host"; IPv6 "[::1]:80" -> "[::1]". Unchanged without a port.
std::string_view StripPort(std::string_view authority) {
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return authority;
  if (authority.front() == '[' && authority[colon - 1] != ']') return authority;
  if (authority.front() != '[' && authority.find(':') != colon) return authority;
  const std::string_view port = authority.substr(colon + 1);
  if (port.empty() ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return authority;
  }
  return authority.substr(0, colon);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::Create(
    Options options, std::vector<VirtualHost> virtual_hosts) {
  std::shared_ptr<RouteTable> table(new RouteTable());
  table->options_ = std::move(options);
  table->virtual_hosts_ = std::move(virtual_hosts);
  absl::flat_hash_map<std::string, std::string> seen;  // domain -> virtual host
  for (size_t i = 0; i < table->virtual_hosts_.size(); ++i) {
    const VirtualHost& vhost = table->virtual_hosts_[i];
    for (size_t d = 0; d < vhost.domains.size(); ++d) {
      const std::string domain = AsciiLowered(vhost.domains[d]);
      auto error = [&](std::string_view reason) {
        return absl::InvalidArgumentError(absl::StrCat("virtual host '", vhost.name, "' domains[",
                                                       d, "] '", domain, "': ", Av(reason)));
      };
      if (domain.empty()) return error("empty domain");
      auto [it, inserted] = seen.emplace(domain, vhost.name);
      if (!inserted) {
        return error(absl::StrCat("duplicate domain, also in virtual host '", it->second, "'"));
      }
      const size_t stars = std::count(domain.begin(), domain.end(), '*');
      if (domain == "*") {
        table->default_ = i;
      } else if (stars == 0) {
        table->exact_.emplace(domain, i);
      } else if (stars > 1) {
        return error("only one '*' wildcard is allowed");
      } else if (domain.front() == '*') {
        table->suffix_wildcards_[domain.size() - 1].emplace(domain.substr(1), i);
      } else if (domain.back() == '*') {
        table->prefix_wildcards_[domain.size() - 1].emplace(domain.substr(0, domain.size() - 1), i);
      } else {
        return error("'*' must be the first or last character");
      }
    }
  }
  return std::shared_ptr<const RouteTable>(std::move(table));
}

const VirtualHost* RouteTable::FindVirtualHostExact(std::string_view host) const {
  auto it = exact_.find(Av(host));
  return it == exact_.end() ? nullptr : &virtual_hosts_[it->second];
}

const VirtualHost* RouteTable::FindWildcard(std::string_view host) const {
  for (const auto& [length, domains] : suffix_wildcards_) {
    if (host.size() <= length) continue;  // the '*' must match something
    auto it = domains.find(Av(host.substr(host.size() - length)));
    if (it != domains.end()) return &virtual_hosts_[it->second];
  }
  for (const auto& [length, domains] : prefix_wildcards_) {
    if (host.size() <= length) continue;
    auto it = domains.find(Av(host.substr(0, length)));
    if (it != domains.end()) return &virtual_hosts_[it->second];
  }
  return nullptr;
}

const VirtualHost* RouteTable::FindVirtualHost(std::string_view authority) const {
  std::string host = AsciiLowered(authority);
  if (options_.ignore_port_in_host_matching) host = std::string(StripPort(host));
  // Exact beats wildcard even when only the port-less form is exact: a
  // request to "shop.test:8080" belongs to "shop.test" rather than "shop.*".
  const std::string_view without_port = StripPort(host);
  const bool has_port = without_port.size() != host.size();
  const VirtualHost* found = FindVirtualHostExact(host);
  if (found == nullptr && has_port) found = FindVirtualHostExact(without_port);
  if (found == nullptr) found = FindWildcard(host);
  if (found == nullptr && has_port) found = FindWildcard(without_port);
  if (found == nullptr && default_.has_value()) found = &virtual_hosts_[*default_];
  return found;
}

std::optional<RouteMatchResult> RouteTable::Match(const RequestView& request) const {
  const VirtualHost* vhost = FindVirtualHost(request.authority);
  if (vhost == nullptr) return std::nullopt;
  for (const Route& route : vhost->routes) {
    if (route.Matches(request)) return RouteMatchResult{this, vhost, &route};
  }
  return std::nullopt;
}

void RouteTable::ApplyRequestHeaders(const RouteMatchResult& match,
                                     const WeightedClusterEntry* weighted_cluster,
                                     HeaderList& headers) const {
  const HeaderMutations* levels[] = {
      weighted_cluster != nullptr ? &weighted_cluster->request_headers : nullptr,
      &match.route->request_headers, &match.virtual_host->request_headers,
      &options_.request_headers};
  if (options_.most_specific_header_mutations_wins)
    std::reverse(std::begin(levels), std::end(levels));
  for (const HeaderMutations* level : levels) {
    if (level != nullptr) ApplyHeaderMutations(*level, headers);
  }
}

void RouteTable::ApplyResponseHeaders(const RouteMatchResult& match,
                                      const WeightedClusterEntry* weighted_cluster,
                                      HeaderList& headers) const {
  const HeaderMutations* levels[] = {
      weighted_cluster != nullptr ? &weighted_cluster->response_headers : nullptr,
      &match.route->response_headers, &match.virtual_host->response_headers,
      &options_.response_headers};
  if (options_.most_specific_header_mutations_wins)
    std::reverse(std::begin(levels), std::end(levels));
  for (const HeaderMutations* level : levels) {
    if (level != nullptr) ApplyHeaderMutations(*level, headers);
  }
}

}  // namespace meshgate::proxy
