// Clusters and cluster load assignments: one per Service/ServiceEntry port,
// one more per DestinationRule subset, with the DestinationRule's traffic
// policy applied (Istio precedence: subset > port-level > top-level).
#include <algorithm>
#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/internal.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "google/protobuf/util/time_util.h"

namespace meshgate::compiler {
namespace {

using envoy::config::cluster::v3::Cluster;
using envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;
using google::protobuf::util::TimeUtil;
using Severity = CompileDiagnostic::Severity;

constexpr uint32_t kMaxThreshold = 4294967295u;
constexpr char kHttpProtocolOptions[] = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
// Auto mTLS: the pod label the sidecar injector sets, and the endpoint
// metadata (namespace and key) transport_socket_matches select on.
constexpr std::string_view kTlsModeLabel = "security.istio.io/tlsMode";
constexpr std::string_view kTlsModeKey = "tlsMode";
constexpr std::string_view kTlsModeIstio = "istio";
constexpr char kTransportSocketMatchMetadata[] = "envoy.transport_socket_match";
// The secrets an auto mTLS (ISTIO_MUTUAL) context names.
const std::array<std::string, 2> kAutoMtlsSecrets = {"default", "ROOTCA"};
constexpr std::string_view kUpstreamTlsContextTypeUrl =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

void SetAds(envoy::config::core::v3::ConfigSource* source) {
  source->mutable_ads();
  source->set_resource_api_version(envoy::config::core::v3::V3);
}

void AddSdsSecret(absl::string_view name,
                  envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig* out) {
  out->set_name(std::string(name));
  SetAds(out->mutable_sds_config());
}

// Reports the traffic-policy fields no cluster setting honours. Done once per
// rule (not per generated cluster) so each problem is reported once.
void CheckTrafficPolicy(const api::Resource& r, const api::TrafficPolicy& policy,
                        const std::string& path, std::vector<CompileDiagnostic>* diags) {
  auto unsupported = [&](const std::string& field, const std::string& why) {
    diags->push_back(MakeDiagnostic(r, path + "." + field, why, Severity::kWarning));
  };
  auto check_lb = [&](const api::LoadBalancerSettings& lb, const std::string& p) {
    if (lb.locality_lb_setting) unsupported(p + ".localityLbSetting", "not supported; ignored");
    if (lb.warmup_duration_secs) unsupported(p + ".warmupDurationSecs", "not supported; ignored");
  };
  auto check_pool = [&](const api::ConnectionPoolSettings& pool, const std::string& p) {
    if (pool.tcp && pool.tcp->idle_timeout) {
      unsupported(p + ".tcp.idleTimeout", "TCP idle timeouts are not supported; ignored");
    }
  };
  auto check_tls = [&](const api::ClientTLSSettings& tls, const std::string& p) {
    if (!tls.ca_crl.empty()) unsupported(p + ".caCrl", "not supported; ignored");
    if (tls.insecure_skip_verify.value_or(false)) {
      unsupported(p + ".insecureSkipVerify", "verification is never skipped");
    }
  };
  if (policy.load_balancer) check_lb(*policy.load_balancer, "loadBalancer");
  if (policy.connection_pool) check_pool(*policy.connection_pool, "connectionPool");
  if (policy.tls) check_tls(*policy.tls, "tls");
  for (size_t i = 0; i < policy.port_level_settings.size(); ++i) {
    const auto& pl = policy.port_level_settings[i];
    std::string p = absl::StrCat("portLevelSettings[", i, "]");
    if (!pl.port) unsupported(p + ".port", "port is required; settings ignored");
    if (pl.load_balancer) check_lb(*pl.load_balancer, p + ".loadBalancer");
    if (pl.connection_pool) check_pool(*pl.connection_pool, p + ".connectionPool");
    if (pl.tls) check_tls(*pl.tls, p + ".tls");
  }
  if (policy.tunnel) unsupported("tunnel", "not supported; ignored");
  if (policy.proxy_protocol) unsupported("proxyProtocol", "not supported; ignored");
}

void CheckDestinationRule(const api::Resource& r, std::vector<CompileDiagnostic>* diags) {
  const auto& dr = r.As<api::DestinationRule>();
  if (dr.traffic_policy) CheckTrafficPolicy(r, *dr.traffic_policy, "spec.trafficPolicy", diags);
  for (size_t i = 0; i < dr.subsets.size(); ++i) {
    if (dr.subsets[i].traffic_policy) {
      CheckTrafficPolicy(r, *dr.subsets[i].traffic_policy,
                         absl::StrCat("spec.subsets[", i, "].trafficPolicy"), diags);
    }
  }
}

void ApplyLoadBalancer(const std::optional<api::LoadBalancerSettings>& lb, Cluster* c) {
  using Simple = api::LoadBalancerSettings::Simple;
  c->set_lb_policy(Cluster::LEAST_REQUEST);  // Istio's default
  if (!lb) return;
  if (lb->consistent_hash) {
    const auto& ch = *lb->consistent_hash;
    if (ch.maglev) {
      c->set_lb_policy(Cluster::MAGLEV);
      if (ch.maglev->table_size > 0) {
        c->mutable_maglev_lb_config()->mutable_table_size()->set_value(ch.maglev->table_size);
      }
    } else {
      c->set_lb_policy(Cluster::RING_HASH);
      uint64_t size = 1024;
      if (ch.ring_hash && ch.ring_hash->minimum_ring_size > 0) {
        size = ch.ring_hash->minimum_ring_size;
      } else if (ch.minimum_ring_size) {
        size = *ch.minimum_ring_size;
      }
      c->mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(size);
    }
    return;
  }
  switch (lb->simple.value_or(Simple::kUnspecified)) {
    case Simple::kRoundRobin:
      c->set_lb_policy(Cluster::ROUND_ROBIN);
      break;
    case Simple::kRandom:
      c->set_lb_policy(Cluster::RANDOM);
      break;
    case Simple::kPassthrough:
      c->set_type(Cluster::ORIGINAL_DST);
      c->clear_eds_cluster_config();
      c->set_lb_policy(Cluster::CLUSTER_PROVIDED);
      break;
    case Simple::kLeastConn:
    case Simple::kLeastRequest:
    case Simple::kUnspecified:
      break;
  }
}

void ApplyConnectionPool(const std::optional<api::ConnectionPoolSettings>& pool, Protocol protocol,
                         Cluster* c) {
  auto* thresholds = c->mutable_circuit_breakers()->add_thresholds();
  thresholds->mutable_max_connections()->set_value(kMaxThreshold);
  thresholds->mutable_max_pending_requests()->set_value(kMaxThreshold);
  thresholds->mutable_max_requests()->set_value(kMaxThreshold);
  thresholds->mutable_max_retries()->set_value(kMaxThreshold);
  thresholds->set_track_remaining(true);

  envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
  bool any_http_option = false;
  bool http2 = protocol == Protocol::kHttp2 || protocol == Protocol::kGrpc;
  bool client_protocol = false;
  if (pool && pool->tcp) {
    const auto& tcp = *pool->tcp;
    if (tcp.max_connections) thresholds->mutable_max_connections()->set_value(*tcp.max_connections);
    if (tcp.connect_timeout) SetDuration(*tcp.connect_timeout, c->mutable_connect_timeout());
    if (tcp.tcp_keepalive) {
      auto* ka = c->mutable_upstream_connection_options()->mutable_tcp_keepalive();
      if (tcp.tcp_keepalive->probes)
        ka->mutable_keepalive_probes()->set_value(*tcp.tcp_keepalive->probes);
      if (tcp.tcp_keepalive->time) {
        ka->mutable_keepalive_time()->set_value(
            static_cast<uint32_t>(absl::ToInt64Seconds(*tcp.tcp_keepalive->time)));
      }
      if (tcp.tcp_keepalive->interval) {
        ka->mutable_keepalive_interval()->set_value(
            static_cast<uint32_t>(absl::ToInt64Seconds(*tcp.tcp_keepalive->interval)));
      }
    }
    if (tcp.max_connection_duration) {
      SetDuration(
          *tcp.max_connection_duration,
          options.mutable_common_http_protocol_options()->mutable_max_connection_duration());
      any_http_option = true;
    }
  }
  uint32_t max_concurrent_streams = 0;
  if (pool && pool->http) {
    const auto& http = *pool->http;
    using H2 = api::ConnectionPoolSettings::HTTPSettings::H2UpgradePolicy;
    if (http.http1_max_pending_requests) {
      thresholds->mutable_max_pending_requests()->set_value(*http.http1_max_pending_requests);
    }
    if (http.http2_max_requests)
      thresholds->mutable_max_requests()->set_value(*http.http2_max_requests);
    if (http.max_retries) thresholds->mutable_max_retries()->set_value(*http.max_retries);
    if (http.idle_timeout) {
      SetDuration(*http.idle_timeout,
                  options.mutable_common_http_protocol_options()->mutable_idle_timeout());
      any_http_option = true;
    }
    if (http.max_requests_per_connection && *http.max_requests_per_connection > 0) {
      options.mutable_common_http_protocol_options()
          ->mutable_max_requests_per_connection()
          ->set_value(*http.max_requests_per_connection);
      any_http_option = true;
    }
    if (http.h2_upgrade_policy == H2::kUpgrade && IsHttp(protocol)) http2 = true;
    if (http.h2_upgrade_policy == H2::kDoNotUpgrade) http2 = false;
    if (http.use_client_protocol) client_protocol = true;
    if (http.max_concurrent_streams && *http.max_concurrent_streams > 0) {
      max_concurrent_streams = *http.max_concurrent_streams;
      any_http_option = true;
    }
  }
  if (!http2 && !any_http_option && !client_protocol) return;
  if (client_protocol) {
    options.mutable_use_downstream_protocol_config();
  } else if (http2) {
    auto* h2 = options.mutable_explicit_http_config()->mutable_http2_protocol_options();
    if (max_concurrent_streams > 0)
      h2->mutable_max_concurrent_streams()->set_value(max_concurrent_streams);
  } else {
    options.mutable_explicit_http_config()->mutable_http_protocol_options();
  }
  (*c->mutable_typed_extension_protocol_options())[kHttpProtocolOptions].PackFrom(options);
}

void ApplyOutlierDetection(const std::optional<api::OutlierDetection>& od, Cluster* c) {
  if (!od) return;
  auto* out = c->mutable_outlier_detection();
  if (od->consecutive_5xx_errors) {
    out->mutable_consecutive_5xx()->set_value(*od->consecutive_5xx_errors);
    out->mutable_enforcing_consecutive_5xx()->set_value(*od->consecutive_5xx_errors > 0 ? 100 : 0);
  } else {
    out->mutable_enforcing_consecutive_5xx()->set_value(0);
  }
  if (od->consecutive_gateway_errors) {
    out->mutable_consecutive_gateway_failure()->set_value(*od->consecutive_gateway_errors);
    out->mutable_enforcing_consecutive_gateway_failure()->set_value(
        *od->consecutive_gateway_errors > 0 ? 100 : 0);
  }
  if (od->split_external_local_origin_errors) {
    out->set_split_external_local_origin_errors(*od->split_external_local_origin_errors);
  }
  if (od->consecutive_local_origin_failures) {
    out->mutable_consecutive_local_origin_failure()->set_value(
        *od->consecutive_local_origin_failures);
    out->mutable_enforcing_consecutive_local_origin_failure()->set_value(100);
  }
  if (od->interval) SetDuration(*od->interval, out->mutable_interval());
  if (od->base_ejection_time)
    SetDuration(*od->base_ejection_time, out->mutable_base_ejection_time());
  if (od->max_ejection_percent) {
    out->mutable_max_ejection_percent()->set_value(*od->max_ejection_percent);
  }
  if (od->min_health_percent) {
    c->mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(
        *od->min_health_percent);
  }
}

// The ISTIO_MUTUAL client context: the workload certificate and trust
// bundle over SDS, the peer's SPIFFE IDs (`sans`, else the service's
// service accounts), Istio's SNI and ALPN.
UpstreamTlsContext IstioMutualContext(const std::vector<std::string>& sans,
                                      const ServiceInfo& service, const ServicePortInfo& port,
                                      absl::string_view subset, const CompileOptions& options) {
  UpstreamTlsContext ctx;
  auto* common = ctx.mutable_common_tls_context();
  AddSdsSecret("default", common->add_tls_certificate_sds_secret_configs());
  auto* combined = common->mutable_combined_validation_context();
  AddSdsSecret("ROOTCA", combined->mutable_validation_context_sds_secret_config());
  auto* validation = combined->mutable_default_validation_context();
  std::vector<std::string> peers = sans;
  if (peers.empty()) {
    for (const auto& sa : service.service_accounts) {
      peers.push_back(
          absl::StrCat("spiffe://", options.trust_domain, "/ns/", service.namespace_, "/sa/", sa));
    }
  }
  for (const auto& san : peers) {
    auto* m = validation->add_match_typed_subject_alt_names();
    m->set_san_type(envoy::extensions::transport_sockets::tls::v3::SubjectAltNameMatcher::URI);
    m->mutable_matcher()->set_exact(san);
  }
  ctx.set_sni(absl::StrCat("outbound_.", port.port, "_.", subset, "_.", service.hostname));
  if (port.protocol == Protocol::kHttp2 || port.protocol == Protocol::kGrpc) {
    common->add_alpn_protocols("h2");
  } else if (IsHttp(port.protocol)) {
    common->add_alpn_protocols("h2");
    common->add_alpn_protocols("http/1.1");
  }
  return ctx;
}

// Auto mTLS, as Istio: without TLS settings in a DestinationRule, endpoints
// whose workload runs a sidecar (their metadata says tlsMode=istio, see
// AddEndpoints) get ISTIO_MUTUAL and the rest plaintext. Services outside
// the mesh (MESH_EXTERNAL ServiceEntries) keep plaintext.
// Serialized ISTIO_MUTUAL contexts without SNI, by service and ALPN (0 none,
// 1 h2 and http/1.1, 2 h2), for one build.
using AutoMtlsCache = std::map<std::pair<const ServiceInfo*, int>, std::string>;

void ApplyAutoMtls(const ServiceInfo& service, const ServicePortInfo& port,
                   absl::string_view subset, const CompileOptions& options, Cluster* c,
                   bool* auto_mtls, AutoMtlsCache* cache) {
  if (!options.auto_mtls) return;
  if (service.from_service_entry && service.resource->As<api::ServiceEntry>().location ==
                                        api::ServiceEntry::Location::kMeshExternal) {
    return;
  }
  // What every auto mTLS cluster shares, made once (never freed).
  static const Cluster::TransportSocketMatch* const kIstioMatch = [] {
    auto* m = new Cluster::TransportSocketMatch();
    m->set_name("tlsMode-istio");
    (*m->mutable_match()->mutable_fields())[std::string(kTlsModeKey)].set_string_value(
        std::string(kTlsModeIstio));
    m->mutable_transport_socket()->set_name("envoy.transport_sockets.tls");
    return m;
  }();
  static const Cluster::TransportSocketMatch* const kPlaintextMatch = [] {
    auto* m = new Cluster::TransportSocketMatch();
    m->set_name("tlsMode-disabled");
    m->mutable_match();  // empty: every other endpoint
    m->mutable_transport_socket()->set_name("envoy.transport_sockets.raw_buffer");
    m->mutable_transport_socket()->mutable_typed_config()->PackFrom(
        envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer());
    return m;
  }();
  auto* istio = c->add_transport_socket_matches();
  *istio = *kIstioMatch;
  // The context differs between a service's clusters only in its SNI, the
  // last field (2) of UpstreamTlsContext: the rest is serialized once per
  // service and ALPN, and the SNI appended as serialization would.
  const int alpn = port.protocol == Protocol::kHttp2 || port.protocol == Protocol::kGrpc ? 2
                   : IsHttp(port.protocol)                                               ? 1
                                                                                         : 0;
  auto [cached, fresh] = cache->try_emplace(std::make_pair(&service, alpn));
  if (fresh) {
    UpstreamTlsContext ctx = IstioMutualContext({}, service, port, subset, options);
    ctx.clear_sni();
    ctx.SerializeToString(&cached->second);
  }
  const std::string sni =
      absl::StrCat("outbound_.", port.port, "_.", subset, "_.", service.hostname);
  std::string value = cached->second;
  value.push_back(static_cast<char>((2 << 3) | 2));  // field 2, length-delimited
  for (size_t n = sni.size();; n >>= 7) {
    if (n < 0x80) {
      value.push_back(static_cast<char>(n));
      break;
    }
    value.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  value += sni;
  auto* any = istio->mutable_transport_socket()->mutable_typed_config();
  any->set_type_url(std::string(kUpstreamTlsContextTypeUrl));
  any->set_value(std::move(value));
  *c->add_transport_socket_matches() = *kPlaintextMatch;
  *auto_mtls = true;
}

void ApplyTls(const std::optional<api::ClientTLSSettings>& tls, const ServiceInfo& service,
              const ServicePortInfo& port, absl::string_view subset, const CompileOptions& options,
              Cluster* c, std::vector<std::string>* secrets, bool* auto_mtls,
              AutoMtlsCache* cache) {
  using Mode = api::ClientTLSSettings::Mode;
  if (!tls) {
    ApplyAutoMtls(service, port, subset, options, c, auto_mtls, cache);
    return;
  }
  if (tls->mode == Mode::kDisable) return;
  UpstreamTlsContext ctx;
  auto* common = ctx.mutable_common_tls_context();
  if (tls->mode == Mode::kIstioMutual) {
    ctx = IstioMutualContext(
        std::vector<std::string>(tls->subject_alt_names.begin(), tls->subject_alt_names.end()),
        service, port, subset, options);
  } else {
    // SIMPLE / MUTUAL: certificates by SDS name; files as Istio's "file-*" names.
    if (tls->mode == Mode::kMutual) {
      if (!tls->credential_name.empty()) {
        AddSdsSecret(tls->credential_name, common->add_tls_certificate_sds_secret_configs());
      } else if (!tls->client_certificate.empty()) {
        AddSdsSecret(absl::StrCat("file-cert:", tls->client_certificate, "~", tls->private_key),
                     common->add_tls_certificate_sds_secret_configs());
      }
    }
    std::string ca;
    if (!tls->credential_name.empty()) {
      ca = tls->credential_name + "-cacert";
    } else if (!tls->ca_certificates.empty()) {
      ca = "file-root:" + tls->ca_certificates;
    }
    if (!ca.empty() || !tls->subject_alt_names.empty()) {
      auto* combined = common->mutable_combined_validation_context();
      if (!ca.empty()) AddSdsSecret(ca, combined->mutable_validation_context_sds_secret_config());
      for (const auto& san : tls->subject_alt_names) {
        auto* m =
            combined->mutable_default_validation_context()->add_match_typed_subject_alt_names();
        m->set_san_type(envoy::extensions::transport_sockets::tls::v3::SubjectAltNameMatcher::DNS);
        m->mutable_matcher()->set_exact(san);
      }
    }
    ctx.set_sni(tls->sni.empty() ? service.hostname : tls->sni);
  }
  auto* socket = c->mutable_transport_socket();
  socket->set_name("envoy.transport_sockets.tls");
  socket->mutable_typed_config()->PackFrom(ctx);
  std::set<std::string> used;
  CollectSecrets(*c, &used);
  secrets->insert(secrets->end(), used.begin(), used.end());
}

void AddEndpoints(const std::vector<const EndpointInfo*>& endpoints, ClusterLoadAssignment* cla) {
  envoy::config::endpoint::v3::LocalityLbEndpoints* group = nullptr;
  std::string zone;
  for (const EndpointInfo* e : endpoints) {  // sorted by zone
    if (group == nullptr || e->zone != zone) {
      group = cla->add_endpoints();
      zone = e->zone;
      // Always present (even empty): gRPC rejects a locality group without one.
      auto* locality = group->mutable_locality();
      if (!zone.empty()) locality->set_zone(zone);
    }
    auto* lb = group->add_lb_endpoints();
    auto* sa = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
    sa->set_address(e->address);
    sa->set_port_value(e->port);
    // A workload with a sidecar (the injector labels its pod) takes mTLS:
    // auto mTLS clusters choose their transport socket by this metadata.
    if (e->labels != nullptr) {
      if (auto mode = e->labels->find(std::string(kTlsModeLabel)); mode != e->labels->end()) {
        (*(*lb->mutable_metadata()->mutable_filter_metadata())[kTransportSocketMatchMetadata]
              .mutable_fields())[std::string(kTlsModeKey)]
            .set_string_value(mode->second);
      }
    }
    if (e->weight > 0) lb->mutable_load_balancing_weight()->set_value(e->weight);
    // Locality weight = the sum of its endpoints' weights, as Istio sends it.
    // Envoy ignores it without locality-weighted balancing; gRPC's xDS client
    // drops localities that have none.
    uint32_t weight = e->weight > 0 ? e->weight : 1;
    group->mutable_load_balancing_weight()->set_value(group->load_balancing_weight().value() +
                                                      weight);
  }
}

// The endpoints of `port` a subset selects (all of them for no subset).
std::vector<const EndpointInfo*> SubsetEndpoints(const ServicePortInfo& port,
                                                 const api::Subset* subset) {
  std::vector<const EndpointInfo*> endpoints;
  endpoints.reserve(port.endpoints.size());
  for (const auto& e : port.endpoints) {
    if (subset != nullptr && (e.labels == nullptr || !LabelsMatch(subset->labels, *e.labels))) {
      continue;
    }
    endpoints.push_back(&e);
  }
  return endpoints;
}

std::shared_ptr<LoadAssignmentOnArena> BuildLoadAssignment(
    const std::string& cluster_name, const std::vector<const EndpointInfo*>& endpoints) {
  auto out = std::make_shared<LoadAssignmentOnArena>();
  ClusterLoadAssignment* cla = out->message();
  cla->set_cluster_name(cluster_name);
  AddEndpoints(endpoints, cla);
  return out;
}

struct BuiltCluster {
  std::shared_ptr<ClusterOnArena> cluster = std::make_shared<ClusterOnArena>();
  std::shared_ptr<LoadAssignmentOnArena> load_assignment;  // EDS clusters only
  std::vector<std::string> secrets;                        // SDS secrets its transport_socket names
  bool auto_mtls = false;  // it has auto mTLS matches (kAutoMtlsSecrets)
};

BuiltCluster BuildOne(const MeshIndex& index, const ServiceInfo& service,
                      const ServicePortInfo& port, const api::Subset* subset,
                      std::vector<CompileDiagnostic>* diags, AutoMtlsCache* cache) {
  const CompileOptions& options = index.options();
  std::string subset_name = subset ? subset->name : "";
  BuiltCluster out;
  Cluster& c = *out.cluster->message();
  c.set_name(OutboundClusterName(port.port, subset_name, service.hostname));
  SetDuration(options.default_connect_timeout, c.mutable_connect_timeout());

  std::vector<const EndpointInfo*> endpoints = SubsetEndpoints(port, subset);

  using Resolution = api::ServiceEntry::Resolution;
  bool eds = !service.from_service_entry;
  if (eds) {
    c.set_type(Cluster::EDS);
    auto* eds_config = c.mutable_eds_cluster_config();
    SetAds(eds_config->mutable_eds_config());
    eds_config->set_service_name(c.name());
  } else {
    switch (service.resolution) {
      case Resolution::kNone:
        c.set_type(Cluster::ORIGINAL_DST);
        break;
      case Resolution::kStatic:
        c.set_type(Cluster::STATIC);
        break;
      case Resolution::kDNS:
        c.set_type(Cluster::STRICT_DNS);
        break;
      case Resolution::kDNSRoundRobin:
        c.set_type(Cluster::LOGICAL_DNS);
        break;
    }
    if (service.resolution == Resolution::kDNS ||
        service.resolution == Resolution::kDNSRoundRobin) {
      c.set_dns_lookup_family(Cluster::V4_ONLY);
    }
  }
  const api::DestinationRule* rule =
      service.destination_rule ? &service.destination_rule->As<api::DestinationRule>() : nullptr;
  EffectivePolicy policy = ResolvePolicy(rule, port.port, subset_name);
  ApplyLoadBalancer(policy.load_balancer, &c);
  if (c.type() == Cluster::ORIGINAL_DST) c.set_lb_policy(Cluster::CLUSTER_PROVIDED);
  ApplyConnectionPool(policy.connection_pool, port.protocol, &c);
  ApplyOutlierDetection(policy.outlier_detection, &c);
  ApplyTls(policy.tls, service, port, subset_name, options, &c, &out.secrets, &out.auto_mtls,
           cache);

  if (c.type() == Cluster::EDS) {
    out.load_assignment = BuildLoadAssignment(c.name(), endpoints);
  } else if (c.type() == Cluster::STATIC || c.type() == Cluster::STRICT_DNS ||
             c.type() == Cluster::LOGICAL_DNS) {
    auto* cla = c.mutable_load_assignment();
    cla->set_cluster_name(c.name());
    std::vector<EndpointInfo> dns_host;
    if (endpoints.empty() && c.type() != Cluster::STATIC) {
      // DNS resolution of the host itself.
      dns_host.push_back(EndpointInfo{service.hostname, port.port});
      endpoints.push_back(&dns_host.back());
    }
    if (c.type() == Cluster::LOGICAL_DNS && endpoints.size() > 1) {
      diags->push_back(MakeDiagnostic(*service.resource, "spec.endpoints",
                                      "DNS_ROUND_ROBIN uses only the first endpoint",
                                      Severity::kWarning));
      endpoints.resize(1);
    }
    AddEndpoints(endpoints, cla);
  }
  return out;
}

}  // namespace

Cluster InboundCluster(uint32_t port, const InboundEndpoint& endpoint) {
  Cluster c;
  c.set_name(InboundClusterName(port));
  c.set_type(Cluster::STATIC);
  SetDuration(absl::Seconds(10), c.mutable_connect_timeout());
  auto* cla = c.mutable_load_assignment();
  cla->set_cluster_name(c.name());
  auto* address = cla->add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address();
  if (!endpoint.pipe.empty()) {
    address->mutable_pipe()->set_path(endpoint.pipe);
  } else {
    auto* sa = address->mutable_socket_address();
    sa->set_address(endpoint.address);
    sa->set_port_value(endpoint.port);
  }
  return c;
}

Cluster BlackHoleCluster() {
  Cluster c;
  c.set_name("BlackHoleCluster");
  c.set_type(Cluster::STATIC);
  SetDuration(absl::Seconds(10), c.mutable_connect_timeout());
  return c;
}

void CollectSecrets(const Cluster& cluster, std::set<std::string>* secrets) {
  auto collect = [secrets](const envoy::config::core::v3::TransportSocket& socket) {
    UpstreamTlsContext ctx;
    if (!socket.typed_config().Is<UpstreamTlsContext>() || !socket.typed_config().UnpackTo(&ctx)) {
      return;  // plaintext
    }
    const auto& common = ctx.common_tls_context();
    for (const auto& s : common.tls_certificate_sds_secret_configs()) secrets->insert(s.name());
    if (common.has_combined_validation_context() &&
        common.combined_validation_context().has_validation_context_sds_secret_config()) {
      secrets->insert(
          common.combined_validation_context().validation_context_sds_secret_config().name());
    }
  };
  if (cluster.has_transport_socket()) collect(cluster.transport_socket());
  for (const auto& match : cluster.transport_socket_matches()) collect(match.transport_socket());
}

ResourceMap<Cluster> ProxylessClusters(const ResourceMap<Cluster>& clusters) {
  ResourceMap<Cluster> out;
  // Proxyless gRPC clients accept EDS/LOGICAL_DNS clusters with ROUND_ROBIN or
  // RING_HASH and no SDS-based TLS.
  for (const auto& [name, versioned] : clusters) {
    const Cluster& c = *versioned.resource;
    if (c.type() != Cluster::EDS && c.type() != Cluster::LOGICAL_DNS) continue;
    bool ok_lb = c.lb_policy() == Cluster::ROUND_ROBIN || c.lb_policy() == Cluster::RING_HASH;
    if (ok_lb && !c.has_transport_socket() && c.transport_socket_matches().empty() &&
        c.typed_extension_protocol_options().empty() && !c.has_upstream_connection_options()) {
      out.emplace(name, versioned);
      continue;
    }
    auto owned = std::make_shared<ClusterOnArena>();
    Cluster& copy = *owned->message();
    copy = c;
    if (!ok_lb) copy.set_lb_policy(Cluster::ROUND_ROBIN);
    copy.clear_typed_extension_protocol_options();
    copy.clear_upstream_connection_options();
    copy.clear_maglev_lb_config();
    // Plaintext: proxyless clients get no SDS certificates (auto mTLS included).
    copy.clear_transport_socket();
    copy.clear_transport_socket_matches();
    out.emplace(name, SealOnArena(std::move(owned)));
  }
  return out;
}

void BuildClusters(const MeshIndex& index, CompiledMesh* mesh) {
  std::set<const api::Resource*> checked_rules;
  AutoMtlsCache cache;
  bool auto_mtls = false;
  for (const auto& [host, service] : index.services()) {
    const api::Resource* rule_resource = service.destination_rule;
    const api::DestinationRule* rule =
        rule_resource ? &rule_resource->As<api::DestinationRule>() : nullptr;
    if (rule_resource != nullptr && checked_rules.insert(rule_resource).second) {
      CheckDestinationRule(*rule_resource, &mesh->diagnostics);
    }
    for (const auto& port : service.ports) {
      std::vector<const api::Subset*> subsets = {nullptr};
      if (rule != nullptr) {
        for (const auto& s : rule->subsets) subsets.push_back(&s);
      }
      for (const api::Subset* subset : subsets) {
        BuiltCluster built = BuildOne(index, service, port, subset, &mesh->diagnostics, &cache);
        std::string name = built.cluster->message()->name();
        if (built.load_assignment) {
          mesh->endpoints.emplace(name, SealOnArena(std::move(built.load_assignment)));
        }
        mesh->cluster_secrets.insert(built.secrets.begin(), built.secrets.end());
        auto_mtls |= built.auto_mtls;
        mesh->clusters.emplace(std::move(name), SealOnArena(std::move(built.cluster)));
      }
    }
  }
  if (auto_mtls) mesh->cluster_secrets.insert(kAutoMtlsSecrets.begin(), kAutoMtlsSecrets.end());
  // Passthrough for traffic to destinations the mesh does not know (Istio's name).
  Cluster passthrough;
  passthrough.set_name("PassthroughCluster");
  passthrough.set_type(Cluster::ORIGINAL_DST);
  passthrough.set_lb_policy(Cluster::CLUSTER_PROVIDED);
  SetDuration(index.options().default_connect_timeout, passthrough.mutable_connect_timeout());
  mesh->clusters.emplace("PassthroughCluster", Seal(std::move(passthrough)));

  std::set<std::string> reported;
  for (const auto& [host, service] : index.services()) {
    if (service.destination_rule == nullptr || !reported.insert(host).second) continue;
    const auto& dr = service.destination_rule->As<api::DestinationRule>();
    for (const auto& port : service.ports) {
      for (std::string subset : [&] {
             std::vector<std::string> v = {""};
             for (const auto& s : dr.subsets) v.push_back(s.name);
             return v;
           }()) {
        EffectivePolicy p = ResolvePolicy(&dr, port.port, subset);
        std::string where = OutboundClusterName(port.port, subset, host);
        if (p.tls && p.tls->mode != api::ClientTLSSettings::Mode::kDisable) {
          mesh->grpc_diagnostics.push_back(
              MakeDiagnostic(*service.destination_rule, "spec.trafficPolicy.tls",
                             where + ": TLS by SDS is not available to proxyless gRPC clients",
                             Severity::kWarning));
        }
        if (p.load_balancer &&
            (p.load_balancer->simple ||
             (p.load_balancer->consistent_hash && p.load_balancer->consistent_hash->maglev))) {
          auto simple =
              p.load_balancer->simple.value_or(api::LoadBalancerSettings::Simple::kRoundRobin);
          if (simple != api::LoadBalancerSettings::Simple::kRoundRobin ||
              p.load_balancer->consistent_hash) {
            mesh->grpc_diagnostics.push_back(MakeDiagnostic(
                *service.destination_rule, "spec.trafficPolicy.loadBalancer",
                where + ": proxyless gRPC clients use ROUND_ROBIN or RING_HASH; using ROUND_ROBIN",
                Severity::kWarning));
          }
        }
      }
    }
  }
}

void RebuildLoadAssignments(const MeshIndex& index, const CompiledMesh& previous,
                            CompiledMesh* mesh) {
  for (const auto& [host, service] : index.services()) {
    const api::DestinationRule* rule =
        service.destination_rule ? &service.destination_rule->As<api::DestinationRule>() : nullptr;
    for (const auto& port : service.ports) {
      std::vector<const api::Subset*> subsets = {nullptr};
      if (rule != nullptr) {
        for (const auto& s : rule->subsets) subsets.push_back(&s);
      }
      for (const api::Subset* subset : subsets) {
        std::string name = OutboundClusterName(port.port, subset ? subset->name : "", host);
        auto old = previous.endpoints.find(name);
        if (old == previous.endpoints.end()) continue;  // not an EDS cluster
        Versioned<ClusterLoadAssignment> rebuilt =
            SealOnArena(BuildLoadAssignment(name, SubsetEndpoints(port, subset)));
        mesh->endpoints.emplace(std::move(name),
                                rebuilt.hash == old->second.hash ? old->second : rebuilt);
      }
    }
  }
}

void ApplyWorkloadRules(const MeshIndex& index, const ProxyTarget& target, CompiledResources* out) {
  std::string proxy_namespace = target.namespace_.empty() ? "default" : target.namespace_;
  std::set<std::string> done;
  AutoMtlsCache cache;
  for (const auto& [rule_resource, host] : index.workload_rules()) {
    const auto& rule = rule_resource->As<api::DestinationRule>();
    if (index.NamespaceOf(*rule_resource) != proxy_namespace ||
        !LabelsMatch(rule.workload_selector->match_labels, target.labels) ||
        !done.insert(host).second) {
      continue;
    }
    const ServiceInfo* mesh_service = index.FindService(host);
    ServiceInfo service = *mesh_service;
    service.destination_rule = rule_resource;
    std::string suffix = "|" + host;
    for (auto* map : {&out->clusters}) {
      std::erase_if(*map, [&](const auto& kv) {
        return absl::StartsWith(kv.first, "outbound|") && absl::EndsWith(kv.first, suffix);
      });
    }
    std::erase_if(out->endpoints, [&](const auto& kv) {
      return absl::StartsWith(kv.first, "outbound|") && absl::EndsWith(kv.first, suffix);
    });
    CheckDestinationRule(*rule_resource, &out->diagnostics);
    for (const auto& port : service.ports) {
      std::vector<const api::Subset*> subsets = {nullptr};
      for (const auto& s : rule.subsets) subsets.push_back(&s);
      for (const api::Subset* subset : subsets) {
        BuiltCluster built = BuildOne(index, service, port, subset, &out->diagnostics, &cache);
        std::string name = built.cluster->message()->name();
        if (built.load_assignment) {
          out->endpoints.emplace(name, SealOnArena(std::move(built.load_assignment)));
        }
        out->secrets.insert(built.secrets.begin(), built.secrets.end());
        if (built.auto_mtls) out->secrets.insert(kAutoMtlsSecrets.begin(), kAutoMtlsSecrets.end());
        out->clusters.emplace(std::move(name), SealOnArena(std::move(built.cluster)));
      }
    }
  }
}

}  // namespace meshgate::compiler
