// Translation of RDS resources (envoy.config.route.v3.RouteConfiguration) and
// of the supported HTTP filters' configs into the router's runtime structures.
//
// Anything the proxy cannot honour fails the translation with an
// InvalidArgument naming the resource, the field path and the reason, so the
// xDS client can NACK instead of serving traffic differently from what the
// control plane asked for: unsupported route actions (cluster_header,
// cluster specifier plugins, filter_action, ...), invalid RE2 regexes,
// unsupported matchers (tls_context, dynamic_metadata, path_match_policy),
// unsupported retry features, per-filter configs of filters we do not
// implement (unless wrapped in a FilterConfig with is_optional), and fields
// unknown to this build's protos. Fields that only affect observability
// (decorator, tracing, metadata, virtual_clusters, stat_prefix) are ignored.
//
// Thread-safety: pure functions; the result is immutable and shareable.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "proxy/router/route_table.h"

namespace meshgate::proxy::config {

// Type names (type URL without "type.googleapis.com/") of the HTTP filters
// meshgate-proxy implements.
inline constexpr std::string_view kRouterFilterType =
    "envoy.extensions.filters.http.router.v3.Router";
inline constexpr std::string_view kFaultFilterType =
    "envoy.extensions.filters.http.fault.v3.HTTPFault";
inline constexpr std::string_view kCorsFilterType = "envoy.extensions.filters.http.cors.v3.Cors";
inline constexpr std::string_view kCorsPolicyType =
    "envoy.extensions.filters.http.cors.v3.CorsPolicy";
inline constexpr std::string_view kLocalRateLimitType =
    "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
inline constexpr std::string_view kFilterConfigWrapperType = "envoy.config.route.v3.FilterConfig";

absl::StatusOr<std::shared_ptr<const RouteTable>> TranslateRouteConfiguration(
    const envoy::config::route::v3::RouteConfiguration& config);

// Filter configs, also used for the HCM's http_filters. `path` prefixes errors.
absl::StatusOr<FaultConfig> TranslateFault(
    const envoy::extensions::filters::http::fault::v3::HTTPFault& fault, std::string_view path);
absl::StatusOr<CorsPolicy> TranslateCorsPolicy(
    const envoy::extensions::filters::http::cors::v3::CorsPolicy& cors, std::string_view path);
absl::StatusOr<LocalRateLimitConfig> TranslateLocalRateLimit(
    const envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit& limit,
    std::string_view path);

}  // namespace meshgate::proxy::config
