#include "proxy/config/listener_translator.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "proxy/config/proto_checks.h"
#include "proxy/config/route_translator.h"
#include "proxy/config/status_macros.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::config {
namespace {

namespace listener = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = envoy::extensions::filters::network::tcp_proxy::v3;
namespace core = envoy::config::core::v3;

constexpr std::string_view kHcmType =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
constexpr std::string_view kTcpProxyType = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
constexpr std::string_view kDownstreamTlsType =
    "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
constexpr std::string_view kRawBufferType =
    "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
constexpr std::string_view kListenerFilterTypes[] = {
    "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
    "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
    "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
};

absl::StatusOr<HttpFilterConfig> TranslateHttpFilter(const hcm::HttpFilter& f,
                                                     std::string_view path, bool& skip) {
  skip = false;
  HttpFilterConfig out;
  out.name = f.name();
  out.disabled = f.disabled();
  if (f.has_config_discovery()) {
    if (f.is_optional()) {
      skip = true;
      return out;
    }
    return FieldError(Path(path, "config_discovery"), "filter config discovery is not supported");
  }
  if (!f.has_typed_config()) {
    return FieldError(Path(path, "typed_config"), "typed_config is required");
  }
  const std::string_view type = AnyTypeName(f.typed_config());
  const std::string field = Path(path, "typed_config");
  if (type == kRouterFilterType) {
    out.kind = HttpFilterConfig::Kind::kRouter;
    envoy::extensions::filters::http::router::v3::Router router;
    MG_RETURN_IF_ERROR(UnpackAny(f.typed_config(), router, field));
    if (router.upstream_http_filters_size() > 0) {
      return FieldError(Path(field, "upstream_http_filters"), "not supported");
    }
  } else if (type == kFaultFilterType) {
    out.kind = HttpFilterConfig::Kind::kFault;
    envoy::extensions::filters::http::fault::v3::HTTPFault fault;
    MG_RETURN_IF_ERROR(UnpackAny(f.typed_config(), fault, field));
    MG_ASSIGN_OR_RETURN(out.fault, TranslateFault(fault, field));
  } else if (type == kCorsFilterType) {
    out.kind = HttpFilterConfig::Kind::kCors;
    envoy::extensions::filters::http::cors::v3::Cors cors;
    MG_RETURN_IF_ERROR(UnpackAny(f.typed_config(), cors, field));
  } else if (type == kLocalRateLimitType) {
    out.kind = HttpFilterConfig::Kind::kLocalRateLimit;
    envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit limit;
    MG_RETURN_IF_ERROR(UnpackAny(f.typed_config(), limit, field));
    MG_ASSIGN_OR_RETURN(out.local_rate_limit, TranslateLocalRateLimit(limit, field));
  } else if (f.is_optional()) {
    skip = true;
  } else {
    return FieldError(field,
                      absl::StrCat("unsupported HTTP filter '", f.name(), "' of type '", Av(type),
                                   "' (supported: router, fault, cors, local_ratelimit; "
                                   "mark it is_optional to skip it)"));
  }
  return out;
}

absl::StatusOr<HttpConnectionManagerConfig> TranslateHcm(const hcm::HttpConnectionManager& h,
                                                         std::string_view path) {
  HttpConnectionManagerConfig out;
  out.stat_prefix = h.stat_prefix();
  switch (h.codec_type()) {
    case hcm::HttpConnectionManager::AUTO:
      out.codec = HttpConnectionManagerConfig::Codec::kAuto;
      break;
    case hcm::HttpConnectionManager::HTTP1:
      out.codec = HttpConnectionManagerConfig::Codec::kHttp1;
      break;
    case hcm::HttpConnectionManager::HTTP2:
      out.codec = HttpConnectionManagerConfig::Codec::kHttp2;
      break;
    default:
      return FieldError(Path(path, "codec_type"), "only AUTO, HTTP1 and HTTP2 are supported");
  }
  switch (h.route_specifier_case()) {
    case hcm::HttpConnectionManager::kRds:
      if (h.rds().route_config_name().empty()) {
        return FieldError(Path(path, "rds.route_config_name"), "required");
      }
      out.rds_route_config_name = h.rds().route_config_name();
      break;
    case hcm::HttpConnectionManager::kRouteConfig: {
      auto table = TranslateRouteConfiguration(h.route_config());
      if (!table.ok()) return FieldError(Path(path, "route_config"), table.status().message());
      out.inline_routes = *std::move(table);
      break;
    }
    case hcm::HttpConnectionManager::kScopedRoutes:
      return FieldError(Path(path, "scoped_routes"), "scoped routes are not supported");
    default:
      return FieldError(path, "one of rds or route_config is required");
  }
  for (int i = 0; i < h.http_filters_size(); ++i) {
    bool skip = false;
    MG_ASSIGN_OR_RETURN(
        HttpFilterConfig filter,
        TranslateHttpFilter(h.http_filters(i), Path(path, "http_filters", i), skip));
    if (skip) continue;
    if (!out.http_filters.empty() &&
        out.http_filters.back().kind == HttpFilterConfig::Kind::kRouter) {
      return FieldError(Path(path, "http_filters", i), "no filter may follow the router filter");
    }
    out.http_filters.push_back(std::move(filter));
  }
  if (out.http_filters.empty() || out.http_filters.back().kind != HttpFilterConfig::Kind::kRouter) {
    return FieldError(Path(path, "http_filters"), "the router filter must be the last filter");
  }
  if (h.has_stream_idle_timeout()) out.stream_idle_timeout = ToDuration(h.stream_idle_timeout());
  if (h.has_request_timeout()) out.request_timeout = ToDuration(h.request_timeout());
  if (h.has_max_request_headers_kb())
    out.max_request_headers_kb = h.max_request_headers_kb().value();
  if (h.has_http2_protocol_options()) {
    const auto& h2 = h.http2_protocol_options();
    const std::string h2_path = Path(path, "http2_protocol_options");
    // Envoy's bounds: windows from the protocol minimum to 2^31-1.
    constexpr uint32_t kMinWindow = 65535;
    constexpr uint32_t kMaxWindow = 2147483647;
    if (h2.has_max_concurrent_streams()) {
      if (h2.max_concurrent_streams().value() < 1) {
        return FieldError(Path(h2_path, "max_concurrent_streams"), "must be at least 1");
      }
      out.http2.max_concurrent_streams = h2.max_concurrent_streams().value();
    }
    if (h2.has_initial_stream_window_size()) {
      const uint32_t v = h2.initial_stream_window_size().value();
      if (v < kMinWindow || v > kMaxWindow) {
        return FieldError(Path(h2_path, "initial_stream_window_size"),
                          "must be between 65535 and 2147483647");
      }
      out.http2.initial_stream_window_size = v;
    }
    if (h2.has_initial_connection_window_size()) {
      const uint32_t v = h2.initial_connection_window_size().value();
      if (v < kMinWindow || v > kMaxWindow) {
        return FieldError(Path(h2_path, "initial_connection_window_size"),
                          "must be between 65535 and 2147483647");
      }
      out.http2.initial_connection_window_size = v;
    }
  }
  out.use_remote_address = h.use_remote_address().value();
  out.xff_num_trusted_hops = h.xff_num_trusted_hops();
  out.normalize_path = h.normalize_path().value();
  out.merge_slashes = h.merge_slashes();
  out.server_name = h.server_name();
  using Fcc = HttpConnectionManagerConfig::ForwardClientCert;
  switch (h.forward_client_cert_details()) {
    case hcm::HttpConnectionManager::SANITIZE:
      out.forward_client_cert = Fcc::kSanitize;
      break;
    case hcm::HttpConnectionManager::FORWARD_ONLY:
      out.forward_client_cert = Fcc::kForwardOnly;
      break;
    case hcm::HttpConnectionManager::APPEND_FORWARD:
      out.forward_client_cert = Fcc::kAppendForward;
      break;
    case hcm::HttpConnectionManager::SANITIZE_SET:
      out.forward_client_cert = Fcc::kSanitizeSet;
      break;
    case hcm::HttpConnectionManager::ALWAYS_FORWARD_ONLY:
      out.forward_client_cert = Fcc::kAlwaysForwardOnly;
      break;
    default:
      return FieldError(Path(path, "forward_client_cert_details"), "unknown value");
  }
  out.client_cert_uri = h.set_current_client_cert_details().uri();
  if (h.upgrade_configs_size() > 0) {
    for (int i = 0; i < h.upgrade_configs_size(); ++i) {
      if (h.upgrade_configs(i).filters_size() > 0) {
        return FieldError(Path(path, "upgrade_configs", i) + ".filters", "not supported");
      }
    }
  }
  return out;
}

absl::StatusOr<TcpProxyConfig> TranslateTcpProxy(const tcp::TcpProxy& t, std::string_view path) {
  TcpProxyConfig out;
  if (t.stat_prefix().empty()) return FieldError(Path(path, "stat_prefix"), "required");
  out.stat_prefix = t.stat_prefix();
  switch (t.cluster_specifier_case()) {
    case tcp::TcpProxy::kCluster:
      if (t.cluster().empty()) return FieldError(Path(path, "cluster"), "must not be empty");
      out.clusters.push_back({t.cluster(), 1});
      break;
    case tcp::TcpProxy::kWeightedClusters: {
      const std::string w_path = Path(path, "weighted_clusters");
      if (t.weighted_clusters().clusters_size() == 0) {
        return FieldError(Path(w_path, "clusters"), "at least one cluster is required");
      }
      for (int i = 0; i < t.weighted_clusters().clusters_size(); ++i) {
        const auto& c = t.weighted_clusters().clusters(i);
        const std::string c_path = Path(w_path, "clusters", i);
        if (c.name().empty()) return FieldError(Path(c_path, "name"), "required");
        if (c.weight() == 0) return FieldError(Path(c_path, "weight"), "must be at least 1");
        if (c.has_metadata_match()) {
          return FieldError(Path(c_path, "metadata_match"),
                            "subset load balancing is not supported");
        }
        out.clusters.push_back({c.name(), c.weight()});
      }
      break;
    }
    default:
      return FieldError(path, "one of cluster or weighted_clusters is required");
  }
  for (const auto& c : out.clusters) out.total_weight += c.weight;
  if (t.has_idle_timeout()) out.idle_timeout = ToDuration(t.idle_timeout());
  if (out.idle_timeout < absl::ZeroDuration()) {
    return FieldError(Path(path, "idle_timeout"), "must not be negative");
  }
  if (t.has_max_connect_attempts()) {
    if (t.max_connect_attempts().value() == 0) {
      return FieldError(Path(path, "max_connect_attempts"), "must be at least 1");
    }
    out.max_connect_attempts = t.max_connect_attempts().value();
  }
  // Fields whose behaviour we do not implement: refusing them says so to the
  // control plane instead of proxying differently from what it asked.
  if (t.has_on_demand()) return FieldError(Path(path, "on_demand"), "not supported");
  if (t.has_metadata_match()) return FieldError(Path(path, "metadata_match"), "not supported");
  if (t.has_tunneling_config()) return FieldError(Path(path, "tunneling_config"), "not supported");
  if (t.hash_policy_size() > 0) return FieldError(Path(path, "hash_policy"), "not supported");
  if (t.access_log_size() > 0) {
    return FieldError(Path(path, "access_log"),
                      "not supported (connections are logged to the proxy's access log)");
  }
  if (t.has_downstream_idle_timeout() || t.has_upstream_idle_timeout()) {
    return FieldError(Path(path, "downstream_idle_timeout"),
                      "deprecated split idle timeouts are not supported (use idle_timeout)");
  }
  if (t.has_max_downstream_connection_duration()) {
    absl::Duration d = ToDuration(t.max_downstream_connection_duration());
    if (d < absl::Milliseconds(1)) {
      return FieldError(Path(path, "max_downstream_connection_duration"), "must be at least 1ms");
    }
    out.max_downstream_connection_duration = d;
  }
  return out;
}

absl::StatusOr<FilterChainConfig> TranslateFilterChain(const listener::FilterChain& fc,
                                                       std::string_view path) {
  FilterChainConfig out;
  out.name = fc.name();
  if (fc.has_filter_chain_match()) {
    const listener::FilterChainMatch& m = fc.filter_chain_match();
    const std::string m_path = Path(path, "filter_chain_match");
    if (m.direct_source_prefix_ranges_size() > 0 || m.source_prefix_ranges_size() > 0 ||
        m.source_ports_size() > 0 || m.source_type() != listener::FilterChainMatch::ANY) {
      return FieldError(m_path,
                        "source and port-list matching are not supported "
                        "(only destination_port, prefix_ranges, server_names, "
                        "transport_protocol, application_protocols)");
    }
    if (m.has_destination_port()) out.match.destination_port = m.destination_port().value();
    for (int i = 0; i < m.prefix_ranges_size(); ++i) {
      const core::CidrRange& r = m.prefix_ranges(i);
      const std::string r_path = Path(m_path, "prefix_ranges", i);
      // As in Envoy, an unset prefix_len is 0: the whole address family.
      auto range = CidrRange::Parse(r.address_prefix(), r.prefix_len().value());
      if (!range.ok()) return FieldError(r_path, range.status().message());
      out.match.prefix_ranges.push_back(*range);
    }
    out.match.server_names.assign(m.server_names().begin(), m.server_names().end());
    out.match.transport_protocol = m.transport_protocol();
    out.match.application_protocols.assign(m.application_protocols().begin(),
                                           m.application_protocols().end());
  }
  if (fc.has_transport_socket()) {
    const core::TransportSocket& socket = fc.transport_socket();
    const std::string_view type = AnyTypeName(socket.typed_config());
    if (type == kDownstreamTlsType) {
      auto tls =
          std::make_shared<envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext>();
      MG_RETURN_IF_ERROR(
          UnpackAny(socket.typed_config(), *tls, Path(path, "transport_socket.typed_config")));
      out.tls = std::move(tls);
    } else if (type != kRawBufferType) {
      return FieldError(Path(path, "transport_socket.typed_config"),
                        absl::StrCat("unsupported transport socket '", Av(type), "'"));
    }
  }
  if (fc.has_on_demand_configuration()) {
    return FieldError(Path(path, "on_demand_configuration"), "not supported");
  }
  if (fc.filters_size() != 1) {
    return FieldError(Path(path, "filters"),
                      absl::StrCat("exactly one network filter (the HTTP connection manager or "
                                   "the TCP proxy) is supported, got ",
                                   fc.filters_size()));
  }
  const listener::Filter& filter = fc.filters(0);
  const std::string f_path = Path(path, "filters", 0);
  const std::string_view filter_type =
      filter.has_typed_config() ? AnyTypeName(filter.typed_config()) : "";
  if (filter_type == kTcpProxyType) {
    tcp::TcpProxy proxy;
    MG_RETURN_IF_ERROR(UnpackAny(filter.typed_config(), proxy, Path(f_path, "typed_config")));
    MG_ASSIGN_OR_RETURN(out.tcp_proxy, TranslateTcpProxy(proxy, Path(f_path, "typed_config")));
    return out;
  }
  if (filter_type != kHcmType) {
    return FieldError(Path(f_path, "typed_config"),
                      absl::StrCat("unsupported network filter '", filter.name(),
                                   "' (only the HTTP connection manager and the TCP proxy)"));
  }
  hcm::HttpConnectionManager manager;
  MG_RETURN_IF_ERROR(UnpackAny(filter.typed_config(), manager, Path(f_path, "typed_config")));
  MG_ASSIGN_OR_RETURN(out.http, TranslateHcm(manager, Path(f_path, "typed_config")));
  return out;
}

absl::StatusOr<std::shared_ptr<const ListenerConfig>> Translate(const listener::Listener& l) {
  MG_RETURN_IF_ERROR(CheckNoUnknownFields(l, ""));
  auto out = std::make_shared<ListenerConfig>();
  out->name = l.name();
  if (!l.address().has_socket_address()) {
    return FieldError("address", "only socket addresses are supported");
  }
  const core::SocketAddress& socket = l.address().socket_address();
  if (socket.protocol() != core::SocketAddress::TCP) {
    return FieldError("address.socket_address.protocol", "only TCP listeners are supported");
  }
  if (socket.port_specifier_case() != core::SocketAddress::kPortValue) {
    return FieldError("address.socket_address.port_value", "a numeric port is required");
  }
  out->address = socket.address();
  out->port = socket.port_value();
  if (socket.ipv4_compat()) {
    return FieldError("address.socket_address.ipv4_compat",
                      "not supported: IPv6 listeners are IPv6-only; add 0.0.0.0 as an "
                      "additional address instead");
  }
  for (int i = 0; i < l.additional_addresses_size(); ++i) {
    const listener::AdditionalAddress& extra = l.additional_addresses(i);
    const std::string a_path = Path("", "additional_addresses", i);
    if (extra.has_socket_options()) {
      return FieldError(Path(a_path, "socket_options"), "not supported");
    }
    if (!extra.address().has_socket_address()) {
      return FieldError(Path(a_path, "address"), "only socket addresses are supported");
    }
    const core::SocketAddress& more = extra.address().socket_address();
    if (more.protocol() != core::SocketAddress::TCP) {
      return FieldError(Path(a_path, "address.socket_address.protocol"), "only TCP");
    }
    if (more.port_specifier_case() != core::SocketAddress::kPortValue) {
      return FieldError(Path(a_path, "address.socket_address.port_value"),
                        "a numeric port is required");
    }
    if (more.ipv4_compat()) {
      return FieldError(Path(a_path, "address.socket_address.ipv4_compat"), "not supported");
    }
    out->additional_addresses.push_back({more.address(), more.port_value()});
  }
  if (l.has_filter_chain_matcher()) return FieldError("filter_chain_matcher", "not supported");
  if (l.has_api_listener()) return FieldError("api_listener", "not supported");
  if (l.has_udp_listener_config()) return FieldError("udp_listener_config", "not supported");
  out->use_original_dst = l.use_original_dst().value();
  // Istio's per-port sidecar listeners only receive connections handed over
  // by the original-destination listener; they own no socket.
  out->bind_to_port = !l.has_bind_to_port() || l.bind_to_port().value();
  if (l.has_per_connection_buffer_limit_bytes()) {
    if (l.per_connection_buffer_limit_bytes().value() == 0) {
      return FieldError("per_connection_buffer_limit_bytes", "must be > 0");
    }
    out->per_connection_buffer_limit_bytes = l.per_connection_buffer_limit_bytes().value();
  }
  for (int i = 0; i < l.listener_filters_size(); ++i) {
    const listener::ListenerFilter& f = l.listener_filters(i);
    const std::string f_path = Path("", "listener_filters", i);
    const std::string_view type = f.has_typed_config() ? AnyTypeName(f.typed_config()) : "";
    bool known = false;
    for (std::string_view supported : kListenerFilterTypes) known |= type == supported;
    if (!known) {
      return FieldError(f_path, absl::StrCat("unsupported listener filter '", f.name(), "'"));
    }
    out->listener_filters.emplace_back(type);
  }
  if (l.filter_chains_size() == 0 && !l.has_default_filter_chain()) {
    return FieldError("filter_chains", "at least one filter chain is required");
  }
  for (int i = 0; i < l.filter_chains_size(); ++i) {
    MG_ASSIGN_OR_RETURN(FilterChainConfig chain,
                        TranslateFilterChain(l.filter_chains(i), Path("", "filter_chains", i)));
    out->filter_chains.push_back(std::move(chain));
  }
  if (l.has_default_filter_chain()) {
    MG_ASSIGN_OR_RETURN(out->default_filter_chain,
                        TranslateFilterChain(l.default_filter_chain(), "default_filter_chain"));
  }
  return std::shared_ptr<const ListenerConfig>(std::move(out));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ListenerConfig>> TranslateListener(
    const listener::Listener& l) {
  auto result = Translate(l);
  if (!result.ok()) return ForResource(result.status(), "Listener", l.name());
  return result;
}

absl::StatusOr<CidrRange> CidrRange::Parse(std::string_view address, uint32_t prefix_len) {
  CidrRange range;
  const std::string text(address);
  if (inet_pton(AF_INET, text.c_str(), range.bytes.data()) == 1) {
    range.family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), range.bytes.data()) == 1) {
    range.family = AF_INET6;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("address_prefix '", Av(address), "' is not an IPv4 or IPv6 address"));
  }
  const uint32_t max_len = range.family == AF_INET ? 32 : 128;
  if (prefix_len > max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix_len ", prefix_len, " is longer than the address (", max_len, ")"));
  }
  range.prefix_len = prefix_len;
  return range;
}

bool CidrRange::Contains(std::string_view ip) const {
  std::array<uint8_t, 16> candidate{};
  const std::string text(ip);
  const int candidate_family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (candidate_family != family || inet_pton(family, text.c_str(), candidate.data()) != 1) {
    return false;
  }
  const uint32_t full_bytes = prefix_len / 8;
  if (std::memcmp(candidate.data(), bytes.data(), full_bytes) != 0) return false;
  const uint32_t rest_bits = prefix_len % 8;
  if (rest_bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (candidate[full_bytes] & mask) == (bytes[full_bytes] & mask);
}

namespace {

// Keeps the candidates of the most specific non-empty group: `rank` returns
// -1 for "does not match", otherwise a specificity (0 = wildcard).
template <typename Rank>
void KeepMostSpecific(std::vector<const FilterChainConfig*>& chains, Rank rank) {
  int best = -1;
  for (const auto* c : chains) best = std::max(best, rank(*c));
  std::erase_if(chains, [&](const FilterChainConfig* c) { return best < 0 || rank(*c) != best; });
}

bool ServerNameMatches(const std::string& pattern, const std::string& name) {
  if (absl::StartsWith(pattern, "*.")) {
    return name.size() > pattern.size() - 1 && absl::EndsWithIgnoreCase(name, pattern.substr(1));
  }
  return absl::EqualsIgnoreCase(pattern, name);
}

}  // namespace

const FilterChainConfig* SelectFilterChain(const ListenerConfig& listener,
                                           const ConnectionMatchInfo& connection) {
  std::vector<const FilterChainConfig*> chains;
  chains.reserve(listener.filter_chains.size());
  for (const auto& c : listener.filter_chains) chains.push_back(&c);

  KeepMostSpecific(chains, [&](const FilterChainConfig& c) {
    if (!c.match.destination_port) return 0;
    return *c.match.destination_port == connection.destination_port ? 1 : -1;
  });
  KeepMostSpecific(chains, [&](const FilterChainConfig& c) {
    if (c.match.prefix_ranges.empty()) return 0;
    int longest = -1;
    for (const auto& r : c.match.prefix_ranges) {
      if (r.Contains(connection.destination_ip)) {
        longest = std::max(longest, static_cast<int>(r.prefix_len) + 1);
      }
    }
    return longest;
  });
  KeepMostSpecific(chains, [&](const FilterChainConfig& c) {
    if (c.match.server_names.empty()) return 0;
    int best = -1;
    for (const auto& pattern : c.match.server_names) {
      if (connection.server_name.empty() || !ServerNameMatches(pattern, connection.server_name)) {
        continue;
      }
      // Exact names beat wildcards; longer wildcards beat shorter ones.
      best = std::max(best, absl::StartsWith(pattern, "*.")
                                ? static_cast<int>(pattern.size())
                                : static_cast<int>(connection.server_name.size()) + 1024);
    }
    return best;
  });
  KeepMostSpecific(chains, [&](const FilterChainConfig& c) {
    if (c.match.transport_protocol.empty()) return 0;
    return c.match.transport_protocol == connection.transport_protocol ? 1 : -1;
  });
  KeepMostSpecific(chains, [&](const FilterChainConfig& c) {
    if (c.match.application_protocols.empty()) return 0;
    for (const auto& p : c.match.application_protocols) {
      if (std::find(connection.application_protocols.begin(),
                    connection.application_protocols.end(),
                    p) != connection.application_protocols.end()) {
        return 1;
      }
    }
    return -1;
  });
  if (!chains.empty()) return chains.front();
  return listener.default_filter_chain ? &*listener.default_filter_chain : nullptr;
}

}  // namespace meshgate::proxy::config
