#include "proxy/config/listener_translator.h"

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "proxy/config/proto_checks.h"
#include "proxy/config/route_translator.h"
#include "proxy/config/status_macros.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::config {
namespace {

namespace listener = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace core = envoy::config::core::v3;

constexpr std::string_view kHcmType =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
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
  if (h.upgrade_configs_size() > 0) {
    for (int i = 0; i < h.upgrade_configs_size(); ++i) {
      if (h.upgrade_configs(i).filters_size() > 0) {
        return FieldError(Path(path, "upgrade_configs", i) + ".filters", "not supported");
      }
    }
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
    if (m.prefix_ranges_size() > 0 || m.direct_source_prefix_ranges_size() > 0 ||
        m.source_prefix_ranges_size() > 0 || m.source_ports_size() > 0 ||
        m.source_type() != listener::FilterChainMatch::ANY) {
      return FieldError(m_path,
                        "address, source and port-list matching are not supported "
                        "(only destination_port, server_names, transport_protocol, "
                        "application_protocols)");
    }
    if (m.has_destination_port()) out.match.destination_port = m.destination_port().value();
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
                      absl::StrCat("exactly one network filter (the HTTP connection manager) is "
                                   "supported, got ",
                                   fc.filters_size()));
  }
  const listener::Filter& filter = fc.filters(0);
  const std::string f_path = Path(path, "filters", 0);
  if (!filter.has_typed_config() || AnyTypeName(filter.typed_config()) != kHcmType) {
    return FieldError(Path(f_path, "typed_config"),
                      absl::StrCat("unsupported network filter '", filter.name(),
                                   "' (only the HTTP connection manager)"));
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
  if (l.additional_addresses_size() > 0) {
    return FieldError("additional_addresses", "not supported");
  }
  if (l.has_filter_chain_matcher()) return FieldError("filter_chain_matcher", "not supported");
  if (l.has_api_listener()) return FieldError("api_listener", "not supported");
  if (l.has_udp_listener_config()) return FieldError("udp_listener_config", "not supported");
  out->use_original_dst = l.use_original_dst().value();
  // Istio's per-port sidecar listeners only receive connections handed over
  // by the original-destination listener; they own no socket.
  out->bind_to_port = !l.has_bind_to_port() || l.bind_to_port().value();
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

}  // namespace meshgate::proxy::config
