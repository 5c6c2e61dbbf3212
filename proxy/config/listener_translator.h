// Translation of LDS resources (envoy.config.listener.v3.Listener) into the
// proxy's runtime listener config, and the filter-chain selection for an
// accepted connection.
//
// Each filter chain must hold exactly one network filter: the HTTP connection
// manager or the TCP proxy. The HCM's routes come from RDS
// (rds.route_config_name) or inline (route_config, translated with
// TranslateRouteConfiguration). HTTP filters are recognised by the type of
// their typed_config: router (required, last), fault, cors and
// local_ratelimit. Any other filter fails the translation unless it is marked
// is_optional, in which case it is left out. The TCP proxy takes cluster or
// weighted_clusters, idle_timeout (Envoy's default of one hour when unset,
// zero disables it), max_connect_attempts, max_downstream_connection_duration
// and stat_prefix; tunneling,
// on-demand clusters, metadata matches, hash policies and per-filter access
// logs are refused (the proxy's own access log gets a line per connection).
// Filter-chain matching supports destination_port, prefix_ranges (the
// destination address), server_names, transport_protocol and
// application_protocols; source matching and the filter_chain_matcher tree
// are refused, as are other network filters, SRDS, ECDS (config_discovery)
// and pipe addresses.
//
// Thread-safety: pure functions; results are immutable and shareable.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  // x-forwarded-client-cert handling (forward_client_cert_details); the
  // current peer is described with By and Hash, plus URI when
  // set_current_client_cert_details.uri asks for it.
  enum class ForwardClientCert {
    kSanitize,
    kForwardOnly,
    kAppendForward,
    kSanitizeSet,
    kAlwaysForwardOnly
  };
  ForwardClientCert forward_client_cert = ForwardClientCert::kSanitize;
  bool client_cert_uri = false;
};

// Envoy's TcpProxy network filter, as the proxy runs it.
struct TcpProxyConfig {
  struct WeightedCluster {
    std::string name;
    uint32_t weight = 1;
  };
  std::string stat_prefix;
  // `cluster` becomes one entry of weight 1; weighted_clusters keep their order.
  std::vector<WeightedCluster> clusters;
  uint64_t total_weight = 0;
  // Zero: no idle timeout.
  absl::Duration idle_timeout = absl::Hours(1);
  uint32_t max_connect_attempts = 1;
  // The longest a downstream connection may live, busy or not.
  std::optional<absl::Duration> max_downstream_connection_duration;
};

// An address prefix of filter_chain_match.prefix_ranges, parsed once.
struct CidrRange {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  uint32_t prefix_len = 0;

  static absl::StatusOr<CidrRange> Parse(std::string_view address, uint32_t prefix_len);
  // False for an unparsable address or another family.
  bool Contains(std::string_view ip) const;
};

struct FilterChainMatch {
  std::optional<uint32_t> destination_port;
  std::vector<CidrRange> prefix_ranges;
  std::vector<std::string> server_names;
  std::string transport_protocol;
  std::vector<std::string> application_protocols;
};

struct FilterChainConfig {
  std::string name;
  FilterChainMatch match;
  std::shared_ptr<const envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext> tls;
  HttpConnectionManagerConfig http;  // unless tcp_proxy is set
  std::optional<TcpProxyConfig> tcp_proxy;
};

struct ListenerAddress {
  std::string address;
  uint32_t port = 0;
  bool operator==(const ListenerAddress&) const = default;
};

struct ListenerConfig {
  std::string name;
  std::string address;
  uint32_t port = 0;
  // additional_addresses: more sockets for the same listener, as Istio's
  // dual-stack listeners bind 0.0.0.0 and [::] (IPv6 sockets are v6-only).
  std::vector<ListenerAddress> additional_addresses;
  std::vector<FilterChainConfig> filter_chains;
  std::optional<FilterChainConfig> default_filter_chain;
  std::vector<std::string> listener_filters;  // type names: tls_inspector, original_dst, ...
  bool use_original_dst = false;
  bool bind_to_port = true;
  // per_connection_buffer_limit_bytes (Envoy's default): how much a
  // downstream connection may hold unsent before reading from it pauses, and
  // how much request body a stream holds before it stops reading the client.
  size_t per_connection_buffer_limit_bytes = 1024 * 1024;

  // True when some filter chain matches on the destination port or address.
  bool matches_on_destination() const {
    for (const auto& c : filter_chains) {
      if (c.match.destination_port || !c.match.prefix_ranges.empty()) return true;
    }
    return false;
  }
  // True when some chain is told apart by what only the ClientHello shows
  // (TLS or not, SNI, ALPN): the worker peeks at it before choosing.
  bool inspects_client_hello() const {
    for (const auto& c : filter_chains) {
      if (!c.match.server_names.empty() || !c.match.transport_protocol.empty() ||
          !c.match.application_protocols.empty()) {
        return true;
      }
    }
    return false;
  }
  // True when an original_dst listener filter restores the destination a
  // redirected connection was meant for (it then drives chain matching).
  bool restores_original_dst() const {
    for (const auto& f : listener_filters) {
      if (f == "envoy.extensions.filters.listener.original_dst.v3.OriginalDst") return true;
    }
    return false;
  }
};

absl::StatusOr<std::shared_ptr<const ListenerConfig>> TranslateListener(
    const envoy::config::listener::v3::Listener& listener);

// What filter-chain matching knows of a connection. The destination is the
// original one when a listener filter restored it (SO_ORIGINAL_DST), else
// the local address. A TLS transport fills in the SNI and ALPN it inspected.
struct ConnectionMatchInfo {
  std::string destination_ip;
  uint32_t destination_port = 0;
  std::string transport_protocol = "raw_buffer";
  std::string server_name;
  std::vector<std::string> application_protocols;
};

// Envoy's filter-chain selection, level by level without backtracking: the
// chains naming the destination port win over those naming none, then the
// longest matching prefix range over chains without ranges, then server
// names, transport protocol and application protocols likewise; the first
// chain left wins, else the default chain. nullptr when nothing matches.
const FilterChainConfig* SelectFilterChain(const ListenerConfig& listener,
                                           const ConnectionMatchInfo& connection);

}  // namespace meshgate::proxy::config
