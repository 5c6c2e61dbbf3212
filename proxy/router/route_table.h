// RouteTable: the runtime form of one envoy.config.route.v3.RouteConfiguration
// and the per-request matching against it.
//
// The xDS translation (proxy/config/route_translator.h) builds a RouteTable
// once per RDS update and publishes it as std::shared_ptr<const RouteTable>;
// workers then call Match() per request without locks. All regexes are
// compiled at build time.
//
// Virtual-host selection follows Envoy's precedence on the lower-cased
// authority: exact domain > longest "*suffix" wildcard > longest "prefix*"
// wildcard > "*". A wildcard must match at least one character. A port in the
// authority is optional in the domains: the order is exact domain with the
// port as received, exact without it, wildcards with it, wildcards without
// it, then "*" (so "example.com" serves "example.com:8080").
// Routes of the chosen virtual host are tried in order; the first whose path,
// header and query-parameter matchers all match wins. runtime_fraction is
// ignored (every request is eligible).
//
// Thread-safety: immutable after Create(); Match() is safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/router/filter_configs.h"
#include "proxy/router/request_view.h"
#include "proxy/router/string_matcher.h"

namespace meshgate::proxy {

// ---- Matchers ---------------------------------------------------------------

struct PathMatcher {
  enum class Kind { kPrefix, kExact, kRegex, kSeparatedPrefix };
  Kind kind = Kind::kPrefix;
  std::string value;  // prefix / exact path / separated prefix
  bool case_sensitive = true;
  std::shared_ptr<const re2::RE2> regex;  // kRegex only

  // `path` is the request path without query string.
  bool Matches(std::string_view path) const;
};

struct HeaderMatcher {
  enum class Kind { kString, kRange, kPresent };
  std::string name;
  Kind kind = Kind::kPresent;
  std::optional<StringMatcher> string;  // kString
  int64_t range_start = 0;              // kRange: [start, end)
  int64_t range_end = 0;
  bool present = true;  // kPresent: true = must be present, false = must be absent
  bool invert = false;
  bool treat_missing_as_empty = false;

  bool Matches(const RequestView& request) const;
};

struct QueryParameterMatcher {
  std::string name;
  std::optional<StringMatcher> value;  // nullopt = present match

  bool Matches(const RequestView& request) const;
};

// ---- Header mutations -------------------------------------------------------

enum class HeaderAppendAction {
  kAppendIfExistsOrAdd,
  kAddIfAbsent,
  kOverwriteIfExistsOrAdd,
  kOverwriteIfExists,
};

struct HeaderToAdd {
  std::string name;  // lower-case
  std::string value;
  HeaderAppendAction action = HeaderAppendAction::kAppendIfExistsOrAdd;
  bool keep_empty_value = false;
};

// The header edits of one level (route config, virtual host, route or
// weighted cluster): removals are applied before additions.
struct HeaderMutations {
  std::vector<HeaderToAdd> add;
  std::vector<std::string> remove;  // lower-case names
  bool empty() const { return add.empty() && remove.empty(); }
};

// A mutable header list as the router hands it to the codec, names lower-case.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

void ApplyHeaderMutations(const HeaderMutations& mutations, HeaderList& headers);

// ---- Actions ----------------------------------------------------------------

// Bit flags of RetryPolicy::retry_on.
enum RetryOn : uint32_t {
  kRetryOn5xx = 1u << 0,
  kRetryOnGatewayError = 1u << 1,
  kRetryOnConnectFailure = 1u << 2,
  kRetryOnReset = 1u << 3,
  kRetryOnRefusedStream = 1u << 4,
  kRetryOnRetriableStatusCodes = 1u << 5,
  kRetryOnRetriable4xx = 1u << 6,
  kRetryOnGrpcCancelled = 1u << 7,
  kRetryOnGrpcDeadlineExceeded = 1u << 8,
  kRetryOnGrpcInternal = 1u << 9,
  kRetryOnGrpcResourceExhausted = 1u << 10,
  kRetryOnGrpcUnavailable = 1u << 11,
};

// Parses Envoy's comma-separated retry_on list. Unknown names are an error.
absl::StatusOr<uint32_t> ParseRetryOn(std::string_view retry_on);

struct RetryPolicy {
  uint32_t retry_on = 0;  // RetryOn bits
  std::vector<uint32_t> retriable_status_codes;
  uint32_t num_retries = 1;
  absl::Duration per_try_timeout = absl::ZeroDuration();  // zero = none
  absl::Duration backoff_base = absl::Milliseconds(25);
  absl::Duration backoff_max = absl::Milliseconds(250);
  // retry_host_predicate previous_hosts: retries avoid hosts already tried.
  bool retry_other_host = false;
  uint32_t host_selection_attempts = 1;
};

struct HashPolicy {
  enum class Kind { kHeader, kCookie, kSourceIp, kQueryParameter };
  Kind kind = Kind::kHeader;
  std::string name;  // header / cookie / query parameter name
  bool terminal = false;
};

struct MirrorPolicy {
  std::string cluster;
  PartsPerMillion fraction = kAlways;
};

struct WeightedClusterEntry {
  std::string name;
  uint32_t weight = 0;
  HeaderMutations request_headers;
  HeaderMutations response_headers;
  std::optional<std::string> host_rewrite;
  PerFilterConfigs filters;  // merged over the route's
};

struct ForwardAction {
  std::string cluster;                                  // single cluster
  std::vector<WeightedClusterEntry> weighted_clusters;  // or weighted
  uint64_t total_weight = 0;
  std::optional<std::string> prefix_rewrite;
  std::shared_ptr<const re2::RE2> regex_rewrite;
  std::string regex_substitution;
  std::optional<std::string> host_rewrite;
  // Envoy's default route timeout is 15s; zero disables it.
  absl::Duration timeout = absl::Seconds(15);
  std::optional<absl::Duration> idle_timeout;
  std::optional<RetryPolicy> retry;
  std::vector<HashPolicy> hash_policies;
  std::vector<MirrorPolicy> mirrors;
  uint32_t cluster_not_found_status = 503;
};

struct RedirectAction {
  std::optional<std::string> scheme;
  std::optional<std::string> host;
  uint32_t port = 0;  // 0 = keep
  std::optional<std::string> path;
  std::optional<std::string> prefix_rewrite;
  std::shared_ptr<const re2::RE2> regex_rewrite;
  std::string regex_substitution;
  uint32_t response_code = 301;
  bool strip_query = false;
};

struct DirectResponseAction {
  uint32_t status = 200;
  std::string body;
};

using RouteAction = std::variant<ForwardAction, RedirectAction, DirectResponseAction>;

// ---- Routes and virtual hosts -----------------------------------------------

struct Route {
  std::string name;
  PathMatcher path;
  std::vector<HeaderMatcher> headers;
  std::vector<QueryParameterMatcher> query_parameters;
  RouteAction action;
  HeaderMutations request_headers;
  HeaderMutations response_headers;
  // Effective filter configs: the route's own, else its virtual host's, else
  // the route configuration's.
  PerFilterConfigs filters;

  // Whether the matchers accept `request` (virtual host already chosen).
  bool Matches(const RequestView& request) const;
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;
  HeaderMutations request_headers;
  HeaderMutations response_headers;
};

class RouteTable;

// The outcome of a match; pointers into the RouteTable, valid while the caller
// holds its shared_ptr.
struct RouteMatchResult {
  const RouteTable* table = nullptr;
  const VirtualHost* virtual_host = nullptr;
  const Route* route = nullptr;
};

class RouteTable {
 public:
  struct Options {
    std::string name;
    HeaderMutations request_headers;
    HeaderMutations response_headers;
    bool most_specific_header_mutations_wins = false;
    bool ignore_port_in_host_matching = false;
  };

  // Indexes the virtual hosts' domains. Fails on an invalid or duplicate
  // domain (the error names the virtual host and the domain).
  static absl::StatusOr<std::shared_ptr<const RouteTable>> Create(
      Options options, std::vector<VirtualHost> virtual_hosts);

  const std::string& name() const { return options_.name; }
  const Options& options() const { return options_; }
  const std::vector<VirtualHost>& virtual_hosts() const { return virtual_hosts_; }

  // nullptr when no virtual host serves `authority`.
  const VirtualHost* FindVirtualHost(std::string_view authority) const;

  // nullopt when no virtual host or no route matches.
  std::optional<RouteMatchResult> Match(const RequestView& request) const;

  // Applies every level's request (or response) header mutations for a match,
  // in Envoy's order: by default the least specific level last, so its values
  // win (weighted cluster, route, virtual host, route configuration); with
  // most_specific_header_mutations_wins the reverse.
  // `weighted_cluster` is the entry SelectCluster chose, if any.
  void ApplyRequestHeaders(const RouteMatchResult& match,
                           const WeightedClusterEntry* weighted_cluster, HeaderList& headers) const;
  void ApplyResponseHeaders(const RouteMatchResult& match,
                            const WeightedClusterEntry* weighted_cluster,
                            HeaderList& headers) const;

 private:
  RouteTable() = default;
  const VirtualHost* FindVirtualHostExact(std::string_view host) const;
  const VirtualHost* FindWildcard(std::string_view host) const;

  Options options_;
  std::vector<VirtualHost> virtual_hosts_;
  absl::flat_hash_map<std::string, size_t> exact_;
  // Wildcards keyed by the length of their fixed part, longest first.
  std::map<size_t, absl::flat_hash_map<std::string, size_t>, std::greater<>> suffix_wildcards_;
  std::map<size_t, absl::flat_hash_map<std::string, size_t>, std::greater<>> prefix_wildcards_;
  std::optional<size_t> default_;
};

}  // namespace meshgate::proxy
