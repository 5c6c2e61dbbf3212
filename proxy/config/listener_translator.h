// Translation of LDS resources (envoy.config.listener.v3.Listener) whose
// filter chains end in an HttpConnectionManager, into the proxy's runtime
// listener config.
//
// Each filter chain must hold exactly one network filter, the HTTP connection
// manager; its routes come from RDS (rds.route_config_name) or inline
// (route_config, translated with TranslateRouteConfiguration). HTTP filters
// are recognised by the type of their typed_config: router (required, last),
// fault, cors and local_ratelimit. Any other filter fails the translation
// unless it is marked is_optional, in which case it is left out. Filter-chain
// matching supports destination_port, server_names, transport_protocol and
// application_protocols; CIDR ranges, source matching and the
// filter_chain_matcher tree are refused, as are tcp_proxy and other network
// filters, SRDS, ECDS (config_discovery) and pipe addresses.
//
// Thread-safety: pure functions; results are immutable and shareable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/router/filter_configs.h"
#include "proxy/router/route_table.h"

namespace meshgate::proxy::config {

struct HttpFilterConfig {
  enum class Kind { kRouter, kFault, kCors, kLocalRateLimit };
  std::string name;
  Kind kind = Kind::kRouter;
  bool disabled = false;             // enabled per route via typed_per_filter_config
  std::optional<FaultConfig> fault;  // kFault: filter-level default
  std::optional<LocalRateLimitConfig> local_rate_limit;  // kLocalRateLimit
};

// The HTTP/2 settings of a connection manager (envoy.config.core.v3.
// Http2ProtocolOptions); unset fields keep the codec's defaults.
struct Http2Options {
  std::optional<uint32_t> max_concurrent_streams;
  std::optional<uint32_t> initial_stream_window_size;
  std::optional<uint32_t> initial_connection_window_size;
};

struct HttpConnectionManagerConfig {
  enum class Codec { kAuto, kHttp1, kHttp2 };
  std::string stat_prefix;
  Codec codec = Codec::kAuto;
  // Exactly one of: the RDS name to subscribe to, or an inline table.
  std::string rds_route_config_name;
  std::shared_ptr<const RouteTable> inline_routes;
  std::vector<HttpFilterConfig> http_filters;  // in order; router last
  std::optional<absl::Duration> stream_idle_timeout;
  std::optional<absl::Duration> request_timeout;
  std::optional<uint32_t> max_request_headers_kb;
  Http2Options http2;
  bool use_remote_address = false;
  uint32_t xff_num_trusted_hops = 0;
  bool normalize_path = false;
  bool merge_slashes = false;
  std::string server_name;
};

struct FilterChainMatch {
  std::optional<uint32_t> destination_port;
  std::vector<std::string> server_names;
  std::string transport_protocol;
  std::vector<std::string> application_protocols;
};

struct FilterChainConfig {
  std::string name;
  FilterChainMatch match;
  std::shared_ptr<const envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext> tls;
  HttpConnectionManagerConfig http;
};

struct ListenerConfig {
  std::string name;
  std::string address;
  uint32_t port = 0;
  std::vector<FilterChainConfig> filter_chains;
  std::optional<FilterChainConfig> default_filter_chain;
  std::vector<std::string> listener_filters;  // type names: tls_inspector, original_dst, ...
  bool use_original_dst = false;
  bool bind_to_port = true;
};

absl::StatusOr<std::shared_ptr<const ListenerConfig>> TranslateListener(
    const envoy::config::listener::v3::Listener& listener);

}  // namespace meshgate::proxy::config
