#include "proxy/router/route_actions.h"

#include "absl/strings/str_cat.h"
#include "proxy/router/text.h"
#include "proxy/upstream/hash.h"

namespace meshgate::proxy {
namespace {

// Rewrites the path part (before '?') by the route's match and rewrite rules.
std::string RewritePathPart(const PathMatcher& match, std::string_view path,
                            const std::optional<std::string>& prefix_rewrite, const re2::RE2* regex,
                            const std::string& substitution) {
  if (prefix_rewrite.has_value()) {
    // Prefix-style matches replace the matched prefix; exact and regex
    // matches replace the whole path.
    const bool prefix_kind = match.kind == PathMatcher::Kind::kPrefix ||
                             match.kind == PathMatcher::Kind::kSeparatedPrefix;
    const size_t matched = prefix_kind ? std::min(match.value.size(), path.size()) : path.size();
    return absl::StrCat(*prefix_rewrite, Av(path.substr(matched)));
  }
  if (regex != nullptr) {
    std::string rewritten(path);
    re2::RE2::GlobalReplace(&rewritten, *regex, substitution);
    return rewritten;
  }
  return std::string(path);
}

bool IsDefaultPort(std::string_view scheme, std::string_view port) {
  return (EqualsIgnoreCase(scheme, "http") && port == "80") ||
         (EqualsIgnoreCase(scheme, "https") && port == "443");
}

// Splits "host:port" (IPv6 in brackets) into host and port ("" when absent).
std::pair<std::string_view, std::string_view> SplitHostPort(std::string_view authority) {
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {authority, {}};
  if (!authority.empty() && authority.front() == '[') {
    if (colon == 0 || authority[colon - 1] != ']') return {authority, {}};
  } else if (authority.find(':') != colon) {
    return {authority, {}};
  }
  return {authority.substr(0, colon), authority.substr(colon + 1)};
}

}  // namespace

ClusterChoice SelectCluster(const ForwardAction& action, uint64_t random_draw) {
  if (action.weighted_clusters.empty() || action.total_weight == 0) {
    return ClusterChoice{&action.cluster, nullptr};
  }
  uint64_t point = random_draw % action.total_weight;
  for (const WeightedClusterEntry& entry : action.weighted_clusters) {
    if (point < entry.weight) return ClusterChoice{&entry.name, &entry};
    point -= entry.weight;
  }
  const WeightedClusterEntry& last = action.weighted_clusters.back();
  return ClusterChoice{&last.name, &last};
}

std::optional<std::string> RewritePath(const Route& route, const ForwardAction& action,
                                       std::string_view request_path) {
  if (!action.prefix_rewrite.has_value() && action.regex_rewrite == nullptr) return std::nullopt;
  const size_t query = request_path.find('?');
  const std::string_view path =
      query == std::string_view::npos ? request_path : request_path.substr(0, query);
  const std::string_view rest =
      query == std::string_view::npos ? std::string_view() : request_path.substr(query);
  return absl::StrCat(RewritePathPart(route.path, path, action.prefix_rewrite,
                                      action.regex_rewrite.get(), action.regex_substitution),
                      Av(rest));
}

std::optional<std::string> RewriteHost(const ForwardAction& action,
                                       const WeightedClusterEntry* weighted) {
  if (weighted != nullptr && weighted->host_rewrite.has_value()) return weighted->host_rewrite;
  return action.host_rewrite;
}

std::string ComposeRedirectLocation(const Route& route, const RedirectAction& redirect,
                                    const RequestView& request) {
  const std::string scheme = AsciiLowered(redirect.scheme.value_or(std::string(request.scheme)));
  const bool scheme_changed = !EqualsIgnoreCase(scheme, request.scheme);

  auto [request_host, request_port] = SplitHostPort(request.authority);
  std::string host;
  std::string port;
  if (redirect.host.has_value()) {
    auto [h, p] = SplitHostPort(*redirect.host);
    host = std::string(h);
    port = std::string(p);
  } else {
    host = std::string(request_host);
    port = std::string(request_port);
    if (scheme_changed && IsDefaultPort(request.scheme, port)) port.clear();
  }
  if (redirect.port != 0) port = absl::StrCat(redirect.port);
  if (IsDefaultPort(scheme, port)) port.clear();

  const std::string_view request_path = request.PathWithoutQuery();
  std::string query(request.Query());
  std::string path;
  if (redirect.path.has_value()) {
    // A path_redirect carrying its own query replaces the request's.
    const size_t q = redirect.path->find('?');
    if (q != std::string::npos) {
      path = redirect.path->substr(0, q);
      query = redirect.path->substr(q + 1);
    } else {
      path = *redirect.path;
    }
  } else {
    path = RewritePathPart(route.path, request_path, redirect.prefix_rewrite,
                           redirect.regex_rewrite.get(), redirect.regex_substitution);
  }
  if (redirect.strip_query) query.clear();

  std::string location = absl::StrCat(scheme, "://", host);
  if (!port.empty()) absl::StrAppend(&location, ":", port);
  absl::StrAppend(&location, path);
  if (!query.empty()) absl::StrAppend(&location, "?", query);
  return location;
}

std::optional<uint64_t> ComputeRequestHash(const std::vector<HashPolicy>& policies,
                                           const RequestView& request) {
  std::optional<uint64_t> hash;
  for (const HashPolicy& policy : policies) {
    std::optional<uint64_t> value;
    switch (policy.kind) {
      case HashPolicy::Kind::kHeader:
        if (auto header = request.Header(policy.name)) value = Hash64(*header);
        break;
      case HashPolicy::Kind::kCookie:
        if (auto cookie = request.Cookie(policy.name)) value = Hash64(*cookie);
        break;
      case HashPolicy::Kind::kSourceIp:
        if (!request.source_ip.empty()) value = Hash64(request.source_ip);
        break;
      case HashPolicy::Kind::kQueryParameter:
        if (auto param = request.QueryParameter(policy.name)) value = Hash64(*param);
        break;
    }
    if (!value.has_value()) continue;
    hash = hash.has_value() ? CombineHash(*hash, *value) : *value;
    if (policy.terminal) break;
  }
  return hash;
}

bool ShouldMirror(const MirrorPolicy& policy, uint64_t random_draw) {
  return random_draw % kAlways < policy.fraction;
}

}  // namespace meshgate::proxy
