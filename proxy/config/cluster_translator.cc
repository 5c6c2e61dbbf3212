#include "proxy/config/cluster_translator.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "proxy/config/proto_checks.h"
#include "proxy/config/status_macros.h"
#include "proxy/router/text.h"
#include "proxy/upstream/load_balancer.h"

// Control planes still send deprecated xDS fields (http2_protocol_options,
// max_requests_per_connection on Cluster, ...); honouring them is the point.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace meshgate::proxy::config {
namespace {

namespace cluster = envoy::config::cluster::v3;
namespace endpoint = envoy::config::endpoint::v3;
namespace core = envoy::config::core::v3;

constexpr std::string_view kHttpProtocolOptionsKey =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
constexpr std::string_view kUpstreamTlsType =
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
constexpr std::string_view kRawBufferType =
    "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
constexpr std::string_view kTransportSocketMatchMetadata = "envoy.transport_socket_match";

// A metadata value as transport socket matching compares it: strings as
// they are, numbers and booleans as their JSON text. Lists and structs
// cannot be compared, so a config using them is refused.
absl::StatusOr<std::string> MetadataText(const google::protobuf::Value& value,
                                         std::string_view path) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kBoolValue:
      return std::string(value.bool_value() ? "true" : "false");
    case google::protobuf::Value::kNumberValue:
      return absl::StrCat(value.number_value());
    default:
      return FieldError(path, "only string, number and bool values can be matched");
  }
}

absl::StatusOr<std::shared_ptr<const EndpointSet>> TranslateAssignment(
    const endpoint::ClusterLoadAssignment& cla, std::string_view path) {
  auto set = std::make_shared<EndpointSet>();
  set->cluster_name = cla.cluster_name();
  if (cla.named_endpoints_size() > 0) {
    return FieldError(Path(path, "named_endpoints"), "not supported");
  }
  if (cla.has_policy() && cla.policy().drop_overloads_size() > 0) {
    return FieldError(Path(path, "policy.drop_overloads"), "not supported");
  }
  for (int l = 0; l < cla.endpoints_size(); ++l) {
    const endpoint::LocalityLbEndpoints& locality = cla.endpoints(l);
    const std::string l_path = Path(path, "endpoints", l);
    if (locality.has_leds_cluster_locality_config()) {
      return FieldError(Path(l_path, "leds_cluster_locality_config"), "LEDS is not supported");
    }
    const auto& lb_endpoints = locality.has_load_balancer_endpoints()
                                   ? locality.load_balancer_endpoints().lb_endpoints()
                                   : locality.lb_endpoints();
    const std::string list_field = locality.has_load_balancer_endpoints()
                                       ? "load_balancer_endpoints.lb_endpoints"
                                       : "lb_endpoints";
    for (int e = 0; e < lb_endpoints.size(); ++e) {
      const endpoint::LbEndpoint& lb = lb_endpoints[e];
      const std::string e_path = Path(l_path, list_field, e);
      if (lb.has_endpoint_name()) {
        return FieldError(Path(e_path, "endpoint_name"), "named endpoints are not supported");
      }
      const core::Address& address = lb.endpoint().address();
      if (!address.has_socket_address()) {
        return FieldError(Path(e_path, "endpoint.address"), "only socket addresses are supported");
      }
      const core::SocketAddress& socket = address.socket_address();
      if (socket.protocol() != core::SocketAddress::TCP) {
        return FieldError(Path(e_path, "endpoint.address.socket_address.protocol"), "only TCP");
      }
      if (socket.port_specifier_case() != core::SocketAddress::kPortValue ||
          socket.port_value() == 0 || socket.port_value() > 65535) {
        return FieldError(Path(e_path, "endpoint.address.socket_address.port_value"),
                          "a port in [1, 65535] is required");
      }
      if (socket.address().empty()) {
        return FieldError(Path(e_path, "endpoint.address.socket_address.address"), "empty address");
      }
      Endpoint ep;
      ep.address = socket.address();
      ep.port = socket.port_value();
      ep.weight = lb.has_load_balancing_weight() ? lb.load_balancing_weight().value() : 1;
      if (ep.weight == 0) {
        return FieldError(Path(e_path, "load_balancing_weight"), "must be >= 1");
      }
      switch (lb.health_status()) {
        case core::HEALTHY:
          ep.health = HostHealth::kHealthy;
          break;
        case core::UNHEALTHY:
          ep.health = HostHealth::kUnhealthy;
          break;
        case core::DRAINING:
          ep.health = HostHealth::kDraining;
          break;
        case core::TIMEOUT:
          ep.health = HostHealth::kTimeout;
          break;
        case core::DEGRADED:
          ep.health = HostHealth::kDegraded;
          break;
        default:
          ep.health = HostHealth::kUnknown;
          break;
      }
      if (lb.has_metadata()) {
        auto ns = lb.metadata().filter_metadata().find(std::string(kTransportSocketMatchMetadata));
        if (ns != lb.metadata().filter_metadata().end()) {
          for (const auto& [key, value] : ns->second.fields()) {
            MG_ASSIGN_OR_RETURN(
                ep.transport_socket_match[key],
                MetadataText(value, Path(e_path, absl::StrCat("metadata.filter_metadata['",
                                                              Av(kTransportSocketMatchMetadata),
                                                              "'].", key))));
          }
        }
      }
      ep.priority = locality.priority();
      ep.locality = absl::StrCat(locality.locality().region(), "/", locality.locality().zone(), "/",
                                 locality.locality().sub_zone());
      set->endpoints.push_back(std::move(ep));
    }
  }
  set->hosts = HostSet::FromEndpoints(set->endpoints);
  return std::shared_ptr<const EndpointSet>(std::move(set));
}

absl::Status TranslateLb(const cluster::Cluster& c, ClusterConfig& out) {
  switch (c.lb_policy()) {
    case cluster::Cluster::ROUND_ROBIN:
      out.lb.policy = LbPolicy::kRoundRobin;
      break;
    case cluster::Cluster::LEAST_REQUEST:
      out.lb.policy = LbPolicy::kLeastRequest;
      break;
    case cluster::Cluster::RANDOM:
      out.lb.policy = LbPolicy::kRandom;
      break;
    case cluster::Cluster::RING_HASH:
      out.lb.policy = LbPolicy::kRingHash;
      break;
    case cluster::Cluster::MAGLEV:
      out.lb.policy = LbPolicy::kMaglev;
      break;
    case cluster::Cluster::CLUSTER_PROVIDED:
      // The original-destination cluster picks its own host.
      if (c.type() != cluster::Cluster::ORIGINAL_DST) {
        return FieldError("lb_policy", "CLUSTER_PROVIDED is only valid for ORIGINAL_DST clusters");
      }
      out.lb.policy = LbPolicy::kRoundRobin;
      break;
    default:
      return FieldError("lb_policy", absl::StrCat("unsupported load balancing policy ",
                                                  cluster::Cluster::LbPolicy_Name(c.lb_policy())));
  }
  if (c.has_load_balancing_policy()) {
    return FieldError("load_balancing_policy", "typed load balancing policies are not supported");
  }
  switch (c.lb_config_case()) {
    case cluster::Cluster::kRingHashLbConfig: {
      if (out.lb.policy != LbPolicy::kRingHash) {
        return FieldError("ring_hash_lb_config", "requires lb_policy RING_HASH");
      }
      const auto& ring = c.ring_hash_lb_config();
      if (ring.has_minimum_ring_size()) out.lb.min_ring_size = ring.minimum_ring_size().value();
      if (ring.has_maximum_ring_size()) out.lb.max_ring_size = ring.maximum_ring_size().value();
      break;
    }
    case cluster::Cluster::kMaglevLbConfig:
      if (out.lb.policy != LbPolicy::kMaglev) {
        return FieldError("maglev_lb_config", "requires lb_policy MAGLEV");
      }
      if (c.maglev_lb_config().has_table_size()) {
        out.lb.maglev_table_size = c.maglev_lb_config().table_size().value();
      }
      break;
    case cluster::Cluster::kLeastRequestLbConfig: {
      if (out.lb.policy != LbPolicy::kLeastRequest) {
        return FieldError("least_request_lb_config", "requires lb_policy LEAST_REQUEST");
      }
      const auto& lr = c.least_request_lb_config();
      if (lr.has_choice_count()) out.lb.choice_count = lr.choice_count().value();
      if (lr.has_active_request_bias()) {
        return FieldError("least_request_lb_config.active_request_bias", "not supported");
      }
      break;
    }
    case cluster::Cluster::kRoundRobinLbConfig:
      if (c.round_robin_lb_config().has_slow_start_config()) {
        return FieldError("round_robin_lb_config.slow_start_config", "not supported");
      }
      break;
    case cluster::Cluster::kOriginalDstLbConfig:
      return FieldError("original_dst_lb_config", "not supported");
    default:
      break;
  }
  if (absl::Status status = ValidateLbPolicyConfig(out.lb); !status.ok()) {
    const char* field = out.lb.policy == LbPolicy::kMaglev         ? "maglev_lb_config"
                        : out.lb.policy == LbPolicy::kRingHash     ? "ring_hash_lb_config"
                        : out.lb.policy == LbPolicy::kLeastRequest ? "least_request_lb_config"
                                                                   : "lb_policy";
    return FieldError(field, status.message());
  }
  if (c.has_common_lb_config()) {
    const auto& common = c.common_lb_config();
    if (common.has_healthy_panic_threshold()) {
      out.healthy_panic_threshold_percent =
          static_cast<uint32_t>(common.healthy_panic_threshold().value());
    }
    if (common.has_zone_aware_lb_config()) {
      return FieldError("common_lb_config.zone_aware_lb_config", "not supported");
    }
    if (common.has_consistent_hashing_lb_config() &&
        common.consistent_hashing_lb_config().use_hostname_for_hashing()) {
      return FieldError("common_lb_config.consistent_hashing_lb_config.use_hostname_for_hashing",
                        "not supported");
    }
  }
  if (c.has_lb_subset_config() && c.lb_subset_config().subset_selectors_size() > 0) {
    return FieldError("lb_subset_config", "subset load balancing is not supported");
  }
  return absl::OkStatus();
}

absl::Status TranslateHttp2Options(const core::Http2ProtocolOptions& h2, std::string_view path,
                                   ClusterConfig& out) {
  if (!h2.has_max_concurrent_streams()) return absl::OkStatus();
  const uint32_t max = h2.max_concurrent_streams().value();
  // Envoy's bounds for the field.
  if (max < 1 || max > 2147483647) {
    return FieldError(Path(path, "max_concurrent_streams"), "must be in [1, 2147483647]");
  }
  out.http2_max_concurrent_streams = max;
  return absl::OkStatus();
}

absl::Status TranslateProtocol(const cluster::Cluster& c, ClusterConfig& out) {
  if (c.has_http2_protocol_options()) {
    out.protocol = UpstreamProtocol::kHttp2;
    MG_RETURN_IF_ERROR(
        TranslateHttp2Options(c.http2_protocol_options(), "http2_protocol_options", out));
  }
  if (c.protocol_selection() == cluster::Cluster::USE_DOWNSTREAM_PROTOCOL) {
    out.protocol = UpstreamProtocol::kUseDownstream;
  }
  if (c.has_common_http_protocol_options()) {
    const auto& common = c.common_http_protocol_options();
    if (common.has_idle_timeout()) out.idle_timeout = ToDuration(common.idle_timeout());
    if (common.has_max_requests_per_connection()) {
      out.max_requests_per_connection = common.max_requests_per_connection().value();
    }
  }
  if (c.has_max_requests_per_connection()) {
    out.max_requests_per_connection = c.max_requests_per_connection().value();
  }
  for (const auto& [key, any] : c.typed_extension_protocol_options()) {
    const std::string path = absl::StrCat("typed_extension_protocol_options['", key, "']");
    if (key != kHttpProtocolOptionsKey) {
      return FieldError(path, "unsupported protocol options extension");
    }
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
    MG_RETURN_IF_ERROR(UnpackAny(any, options, path));
    using Options = envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
    switch (options.upstream_protocol_options_case()) {
      case Options::kExplicitHttpConfig:
        if (options.explicit_http_config().has_http3_protocol_options()) {
          return FieldError(Path(path, "explicit_http_config.http3_protocol_options"),
                            "HTTP/3 upstreams are not supported");
        }
        if (options.explicit_http_config().has_http2_protocol_options()) {
          out.protocol = UpstreamProtocol::kHttp2;
          MG_RETURN_IF_ERROR(TranslateHttp2Options(
              options.explicit_http_config().http2_protocol_options(),
              Path(path, "explicit_http_config.http2_protocol_options"), out));
        } else {
          out.protocol = UpstreamProtocol::kHttp1;
        }
        break;
      case Options::kUseDownstreamProtocolConfig:
        out.protocol = UpstreamProtocol::kUseDownstream;
        if (options.use_downstream_protocol_config().has_http3_protocol_options()) {
          return FieldError(Path(path, "use_downstream_protocol_config.http3_protocol_options"),
                            "HTTP/3 upstreams are not supported");
        }
        if (options.use_downstream_protocol_config().has_http2_protocol_options()) {
          MG_RETURN_IF_ERROR(TranslateHttp2Options(
              options.use_downstream_protocol_config().http2_protocol_options(),
              Path(path, "use_downstream_protocol_config.http2_protocol_options"), out));
        }
        break;
      case Options::kAutoConfig:
        return FieldError(Path(path, "auto_config"), "ALPN protocol selection is not supported");
      default:
        break;
    }
    if (options.has_common_http_protocol_options()) {
      const auto& common = options.common_http_protocol_options();
      if (common.has_idle_timeout()) out.idle_timeout = ToDuration(common.idle_timeout());
      if (common.has_max_requests_per_connection()) {
        out.max_requests_per_connection = common.max_requests_per_connection().value();
      }
    }
    if (options.http_filters_size() > 0) {
      return FieldError(Path(path, "http_filters"), "upstream HTTP filters are not supported");
    }
  }
  return absl::OkStatus();
}

using UpstreamTlsContext = envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;

// One shared object per distinct context (without SNI). A mesh's clusters
// differ in their SNI and little else: the clusters of one service, and with
// auto mTLS all the services of a namespace with the same service accounts,
// share one context, and so one resolved TLS context (see ResolveTls).
std::shared_ptr<const UpstreamTlsContext> Intern(std::unique_ptr<UpstreamTlsContext> tls) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* interned =
      new absl::flat_hash_map<std::string, std::weak_ptr<const UpstreamTlsContext>>();
  std::string key;
  tls->SerializeToString(&key);
  absl::MutexLock lock(&mu);
  auto& slot = (*interned)[key];
  if (auto shared = slot.lock()) return shared;
  std::shared_ptr<const UpstreamTlsContext> fresh(std::move(tls));
  slot = fresh;
  if (interned->size() > 1024) {  // forget the contexts nobody uses any more
    absl::erase_if(*interned, [](const auto& entry) { return entry.second.expired(); });
  }
  return fresh;
}

// The upstream TLS context of a transport socket (null for raw_buffer), its
// SNI apart.
absl::Status TranslateTransportSocket(const core::TransportSocket& socket, std::string_view path,
                                      std::shared_ptr<const UpstreamTlsContext>* tls,
                                      std::string* sni) {
  if (!socket.has_typed_config()) {
    return FieldError(path, "typed_config is required");
  }
  const std::string_view type = AnyTypeName(socket.typed_config());
  if (type == kRawBufferType) return absl::OkStatus();
  if (type != kUpstreamTlsType) {
    return FieldError(Path(path, "typed_config"),
                      absl::StrCat("unsupported transport socket '", Av(type), "'"));
  }
  auto parsed = std::make_unique<UpstreamTlsContext>();
  MG_RETURN_IF_ERROR(UnpackAny(socket.typed_config(), *parsed, Path(path, "typed_config")));
  *sni = parsed->sni();
  parsed->clear_sni();
  *tls = Intern(std::move(parsed));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ClusterConfig>> Translate(const cluster::Cluster& c) {
  MG_RETURN_IF_ERROR(CheckNoUnknownFields(c, ""));
  auto out = std::make_shared<ClusterConfig>();
  out->name = c.name();
  if (c.name().empty()) return FieldError("name", "cluster name is required");
  if (c.has_cluster_type())
    return FieldError("cluster_type", "custom cluster types are not supported");
  switch (c.type()) {
    case cluster::Cluster::STATIC:
      out->type = DiscoveryType::kStatic;
      break;
    case cluster::Cluster::STRICT_DNS:
      out->type = DiscoveryType::kStrictDns;
      break;
    case cluster::Cluster::LOGICAL_DNS:
      out->type = DiscoveryType::kLogicalDns;
      break;
    case cluster::Cluster::EDS:
      out->type = DiscoveryType::kEds;
      break;
    case cluster::Cluster::ORIGINAL_DST:
      // Istio's PassthroughCluster, sent to every proxy. Accepted so the rest
      // of the config applies; until traffic capture recovers the original
      // destination it has no hosts, and requests routed to it get 503 (UH).
      out->type = DiscoveryType::kOriginalDst;
      out->static_endpoints = std::make_shared<const EndpointSet>(
          EndpointSet{c.name(), {}, HostSet::FromEndpoints({})});
      break;
    default:
      return FieldError("type", absl::StrCat("unsupported discovery type ",
                                             cluster::Cluster::DiscoveryType_Name(c.type())));
  }
  out->eds_service_name = c.eds_cluster_config().service_name().empty()
                              ? c.name()
                              : c.eds_cluster_config().service_name();
  if (c.has_connect_timeout()) {
    out->connect_timeout = ToDuration(c.connect_timeout());
    if (out->connect_timeout <= absl::ZeroDuration()) {
      return FieldError("connect_timeout", "must be > 0");
    }
  }
  MG_RETURN_IF_ERROR(TranslateLb(c, *out));
  MG_RETURN_IF_ERROR(TranslateProtocol(c, *out));
  if (c.has_circuit_breakers()) {
    const auto& thresholds = c.circuit_breakers().thresholds();
    for (int i = 0; i < thresholds.size(); ++i) {
      const auto& t = thresholds[i];
      if (t.priority() != core::DEFAULT) continue;  // one priority only: flattened
      if (t.has_max_connections())
        out->circuit_breakers.max_connections = t.max_connections().value();
      if (t.has_max_pending_requests()) {
        out->circuit_breakers.max_pending_requests = t.max_pending_requests().value();
      }
      if (t.has_max_requests()) out->circuit_breakers.max_requests = t.max_requests().value();
      if (t.has_max_retries()) out->circuit_breakers.max_retries = t.max_retries().value();
      if (t.has_retry_budget()) {
        return FieldError(Path("circuit_breakers", "thresholds", i) + ".retry_budget",
                          "not supported");
      }
    }
  }
  out->circuit_breaker = std::make_shared<upstream::CircuitBreaker>(upstream::CircuitBreakerLimits{
      .max_connections = out->circuit_breakers.max_connections,
      .max_pending_requests = out->circuit_breakers.max_pending_requests,
      .max_requests = out->circuit_breakers.max_requests,
      .max_retries = out->circuit_breakers.max_retries,
  });
  if (c.has_per_connection_buffer_limit_bytes()) {
    if (c.per_connection_buffer_limit_bytes().value() == 0) {
      return FieldError("per_connection_buffer_limit_bytes", "must be > 0");
    }
    out->per_connection_buffer_limit_bytes = c.per_connection_buffer_limit_bytes().value();
  }
  if (c.has_outlier_detection()) {
    const auto& od = c.outlier_detection();
    OutlierDetectionConfig config;
    if (od.has_consecutive_5xx()) config.consecutive_5xx = od.consecutive_5xx().value();
    if (od.has_consecutive_gateway_failure()) {
      config.consecutive_gateway_failure = od.consecutive_gateway_failure().value();
    }
    if (od.has_interval()) config.interval = ToDuration(od.interval());
    if (od.has_base_ejection_time())
      config.base_ejection_time = ToDuration(od.base_ejection_time());
    if (od.has_max_ejection_percent())
      config.max_ejection_percent = od.max_ejection_percent().value();
    out->outlier_detection = config;
  }
  if (c.health_checks_size() > 0) {
    return FieldError("health_checks", "active health checking is not supported");
  }
  for (int i = 0; i < c.transport_socket_matches_size(); ++i) {
    const cluster::Cluster::TransportSocketMatch& m = c.transport_socket_matches(i);
    const std::string m_path = Path("", "transport_socket_matches", i);
    TransportSocketMatch match;
    match.name = m.name();
    for (const auto& [key, value] : m.match().fields()) {
      MG_ASSIGN_OR_RETURN(match.match[key],
                          MetadataText(value, Path(m_path, absl::StrCat("match.", key))));
    }
    if (!m.has_transport_socket()) {
      return FieldError(Path(m_path, "transport_socket"), "a transport socket is required");
    }
    MG_RETURN_IF_ERROR(TranslateTransportSocket(
        m.transport_socket(), Path(m_path, "transport_socket"), &match.tls, &match.sni));
    out->transport_socket_matches.push_back(std::move(match));
  }
  if (c.has_transport_socket()) {
    MG_RETURN_IF_ERROR(
        TranslateTransportSocket(c.transport_socket(), "transport_socket", &out->tls, &out->sni));
  }
  if (c.filters_size() > 0)
    return FieldError("filters", "cluster network filters are not supported");
  if (c.has_upstream_config()) return FieldError("upstream_config", "not supported");
  if (c.has_dns_refresh_rate()) {
    out->dns_refresh_rate = ToDuration(c.dns_refresh_rate());
    if (out->dns_refresh_rate < absl::Milliseconds(1)) {
      return FieldError("dns_refresh_rate", "must be at least 1ms");
    }
  }
  switch (c.dns_lookup_family()) {
    case cluster::Cluster::V4_ONLY:
      out->dns_lookup_family = DnsLookupFamily::kV4Only;
      break;
    case cluster::Cluster::V6_ONLY:
      out->dns_lookup_family = DnsLookupFamily::kV6Only;
      break;
    default:
      out->dns_lookup_family = DnsLookupFamily::kAny;
      break;
  }
  if (c.has_load_assignment()) {
    if (out->type == DiscoveryType::kEds) {
      // Envoy ignores an inline assignment on EDS clusters; so do we.
    } else {
      MG_ASSIGN_OR_RETURN(out->static_endpoints,
                          TranslateAssignment(c.load_assignment(), "load_assignment"));
    }
  } else if (out->type != DiscoveryType::kEds && out->type != DiscoveryType::kOriginalDst &&
             out->type != DiscoveryType::kStatic) {
    // A STATIC cluster without one has no hosts, as in Envoy: Istio's
    // BlackHoleCluster is exactly that. DNS clusters need the names to resolve.
    return FieldError("load_assignment", "required for DNS clusters");
  }
  return std::shared_ptr<const ClusterConfig>(std::move(out));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ClusterConfig>> TranslateCluster(const cluster::Cluster& c) {
  auto result = Translate(c);
  if (!result.ok()) return ForResource(result.status(), "Cluster", c.name());
  return result;
}

absl::StatusOr<std::shared_ptr<const EndpointSet>> TranslateClusterLoadAssignment(
    const endpoint::ClusterLoadAssignment& assignment) {
  absl::Status unknown = CheckNoUnknownFields(assignment, "");
  if (!unknown.ok())
    return ForResource(unknown, "ClusterLoadAssignment", assignment.cluster_name());
  if (assignment.cluster_name().empty()) {
    return ForResource(FieldError("cluster_name", "required"), "ClusterLoadAssignment", "");
  }
  auto result = TranslateAssignment(assignment, "");
  if (!result.ok()) {
    return ForResource(result.status(), "ClusterLoadAssignment", assignment.cluster_name());
  }
  return result;
}

bool TransportSocketMatch::Matches(const std::map<std::string, std::string>& metadata) const {
  for (const auto& [key, value] : match) {
    auto it = metadata.find(key);
    if (it == metadata.end() || it->second != value) return false;
  }
  return true;
}

int ClusterConfig::TransportSocketMatchFor(const Host& host) const {
  for (size_t i = 0; i < transport_socket_matches.size(); ++i) {
    if (transport_socket_matches[i].Matches(host.transport_socket_match)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace meshgate::proxy::config
