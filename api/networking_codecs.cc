// The decoding tables of the Istio networking kinds, one ObjectCodec per
// message, in Istio's JSON field names. SpecSchema() is read off these tables.
#include <string>

#include "api/kind_codecs.h"

namespace meshgate::api::codec {
namespace {

using Type = FieldSchema::Type;

Codec<StringMatch> StringMatchCodec() {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = Type::kObject;
  for (const char* name : {"exact", "prefix", "regex"}) {
    schema->properties[name] = MakeSchema(Type::kString);
  }
  return Codec<StringMatch>{
      schema,
      [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, StringMatch& out) {
        if (!node.IsMap()) {
          ctx.Error(node, path, "expected a map, got " + Describe(node));
          return;
        }
        // An empty match ({}) matches any value: presence, as Istio reads it.
        out = StringMatch{StringMatch::Type::kPrefix, ""};
        int set = 0;
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node key = it->first;
          const YAML::Node value = it->second;
          const std::string name = key.IsScalar() ? key.Scalar() : "";
          StringMatch::Type type;
          if (name == "exact") {
            type = StringMatch::Type::kExact;
          } else if (name == "prefix") {
            type = StringMatch::Type::kPrefix;
          } else if (name == "regex") {
            type = StringMatch::Type::kRegex;
          } else {
            if (key.IsScalar()) {
              ctx.UnknownField(key, path + "." + name);
            } else {
              ctx.Error(key, path, "field names must be strings");
            }
            continue;
          }
          const std::string field_path = path + "." + name;
          ctx.Record(field_path, key);
          if (value.IsNull()) continue;
          if (!value.IsScalar()) {
            ctx.Error(value, field_path, "expected a string, got " + Describe(value));
            continue;
          }
          if (++set > 1) {
            ctx.Error(key, field_path, "only one of exact, prefix, regex may be set");
            continue;
          }
          out = StringMatch{type, value.Scalar()};
        }
      }};
}

Codec<Percent> PercentCodec() {
  return ObjectCodec<Percent>().Field("value", &Percent::value, Number()).Build();
}

Codec<PortSelector> PortSelectorCodec() {
  return ObjectCodec<PortSelector>().Field("number", &PortSelector::number, UInt32()).Build();
}

Codec<Destination> DestinationCodec() {
  return ObjectCodec<Destination>()
      .Field("host", &Destination::host, String())
      .Field("subset", &Destination::subset, String())
      .Field("port", &Destination::port, PortSelectorCodec())
      .Build();
}

Codec<Headers> HeadersCodec() {
  auto operations = ObjectCodec<HeaderOperations>()
                        .Field("set", &HeaderOperations::set, MapOf(String()))
                        .Field("add", &HeaderOperations::add, MapOf(String()))
                        .Field("remove", &HeaderOperations::remove, ListOf(String()))
                        .Build();
  return ObjectCodec<Headers>()
      .Field("request", &Headers::request, operations)
      .Field("response", &Headers::response, operations)
      .Build();
}

Codec<Labels> LabelsCodec() { return MapOf(String()); }

Codec<HTTPMatchRequest> HTTPMatchRequestCodec() {
  using M = HTTPMatchRequest;
  return ObjectCodec<M>()
      .Field("name", &M::name, String())
      .Field("uri", &M::uri, StringMatchCodec())
      .Field("scheme", &M::scheme, StringMatchCodec())
      .Field("method", &M::method, StringMatchCodec())
      .Field("authority", &M::authority, StringMatchCodec())
      .Field("headers", &M::headers, MapOf(StringMatchCodec()))
      .Field("port", &M::port, UInt32())
      .Field("sourceLabels", &M::source_labels, LabelsCodec())
      .Field("gateways", &M::gateways, ListOf(String()))
      .Field("queryParams", &M::query_params, MapOf(StringMatchCodec()))
      .Field("ignoreUriCase", &M::ignore_uri_case, Bool())
      .Field("withoutHeaders", &M::without_headers, MapOf(StringMatchCodec()))
      .Field("sourceNamespace", &M::source_namespace, String())
      .Field("statPrefix", &M::stat_prefix, String())
      .Build();
}

Codec<HTTPDirectResponse> DirectResponseCodec() {
  using D = HTTPDirectResponse;
  auto body = std::make_shared<FieldSchema>();
  body->type = Type::kObject;
  body->properties["string"] = MakeSchema(Type::kString);
  body->properties["bytes"] = MakeSchema(Type::kString);
  return ObjectCodec<D>()
      .Field("status", &D::status, UInt32())
      .Custom("body", body,
              [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, D& out) {
                if (!node.IsMap()) {
                  ctx.Error(node, path, "expected a map, got " + Describe(node));
                  return;
                }
                for (auto it = node.begin(); it != node.end(); ++it) {
                  const YAML::Node key = it->first;
                  const YAML::Node value = it->second;
                  if (!key.IsScalar() || (key.Scalar() != "string" && key.Scalar() != "bytes")) {
                    if (key.IsScalar()) ctx.UnknownField(key, path + "." + key.Scalar());
                    continue;
                  }
                  const std::string field_path = path + "." + key.Scalar();
                  ctx.Record(field_path, key);
                  if (value.IsNull()) continue;
                  if (!value.IsScalar()) {
                    ctx.Error(value, field_path, "expected a string, got " + Describe(value));
                    continue;
                  }
                  if (out.body_string || out.body_bytes) {
                    ctx.Error(key, field_path, "only one of string, bytes may be set");
                    continue;
                  }
                  if (key.Scalar() == "string") {
                    out.body_string = value.Scalar();
                  } else {
                    std::vector<unsigned char> bytes = YAML::DecodeBase64(value.Scalar());
                    if (bytes.empty() && !value.Scalar().empty()) {
                      ctx.Error(value, field_path, "invalid base64");
                      continue;
                    }
                    out.body_bytes = std::string(bytes.begin(), bytes.end());
                  }
                }
              })
      .Build();
}

Codec<HTTPRoute> HTTPRouteCodec() {
  auto route_destination =
      ObjectCodec<HTTPRouteDestination>()
          .Field("destination", &HTTPRouteDestination::destination, DestinationCodec())
          .Field("weight", &HTTPRouteDestination::weight, Int32())
          .Field("headers", &HTTPRouteDestination::headers, HeadersCodec())
          .Build();
  auto redirect =
      ObjectCodec<HTTPRedirect>()
          .Field("uri", &HTTPRedirect::uri, String())
          .Field("authority", &HTTPRedirect::authority, String())
          .Field("port", &HTTPRedirect::port, UInt32())
          .Field("derivePort", &HTTPRedirect::derive_port,
                 Enum<HTTPRedirect::DerivePort>(
                     {{"FROM_PROTOCOL_DEFAULT", HTTPRedirect::DerivePort::kFromProtocolDefault},
                      {"FROM_REQUEST_PORT", HTTPRedirect::DerivePort::kFromRequestPort}}))
          .Field("scheme", &HTTPRedirect::scheme, String())
          .Field("redirectCode", &HTTPRedirect::redirect_code, UInt32())
          .Build();
  auto delegate = ObjectCodec<Delegate>()
                      .Field("name", &Delegate::name, String())
                      .Field("namespace", &Delegate::namespace_, String())
                      .Build();
  auto regex_rewrite = ObjectCodec<HTTPRewrite::RegexRewrite>()
                           .Field("match", &HTTPRewrite::RegexRewrite::match, String())
                           .Field("rewrite", &HTTPRewrite::RegexRewrite::rewrite, String())
                           .Build();
  auto rewrite = ObjectCodec<HTTPRewrite>()
                     .Field("uri", &HTTPRewrite::uri, String())
                     .Field("authority", &HTTPRewrite::authority, String())
                     .Field("uriRegexRewrite", &HTTPRewrite::uri_regex_rewrite, regex_rewrite)
                     .Build();
  auto retries = ObjectCodec<HTTPRetry>()
                     .Field("attempts", &HTTPRetry::attempts, Int32())
                     .Field("perTryTimeout", &HTTPRetry::per_try_timeout, Duration())
                     .Field("retryOn", &HTTPRetry::retry_on, String())
                     .Field("retryRemoteLocalities", &HTTPRetry::retry_remote_localities, Bool())
                     .Build();
  using Fault = HTTPFaultInjection;
  auto delay = ObjectCodec<Fault::Delay>()
                   .Field("fixedDelay", &Fault::Delay::fixed_delay, Duration())
                   .Field("exponentialDelay", &Fault::Delay::exponential_delay, Duration())
                   .Field("percentage", &Fault::Delay::percentage, PercentCodec())
                   .Field("percent", &Fault::Delay::percent, Int32())
                   .Build();
  auto abort = ObjectCodec<Fault::Abort>()
                   .Field("httpStatus", &Fault::Abort::http_status, Int32())
                   .Field("grpcStatus", &Fault::Abort::grpc_status, String())
                   .Field("percentage", &Fault::Abort::percentage, PercentCodec())
                   .Build();
  auto fault = ObjectCodec<Fault>()
                   .Field("delay", &Fault::delay, delay)
                   .Field("abort", &Fault::abort, abort)
                   .Build();
  auto mirror_policy = ObjectCodec<HTTPMirrorPolicy>()
                           .Field("destination", &HTTPMirrorPolicy::destination, DestinationCodec())
                           .Field("percentage", &HTTPMirrorPolicy::percentage, PercentCodec())
                           .Build();
  auto cors = ObjectCodec<CorsPolicy>()
                  .Field("allowOrigins", &CorsPolicy::allow_origins, ListOf(StringMatchCodec()))
                  .Field("allowOrigin", &CorsPolicy::allow_origin, ListOf(String()))
                  .Field("allowMethods", &CorsPolicy::allow_methods, ListOf(String()))
                  .Field("allowHeaders", &CorsPolicy::allow_headers, ListOf(String()))
                  .Field("exposeHeaders", &CorsPolicy::expose_headers, ListOf(String()))
                  .Field("maxAge", &CorsPolicy::max_age, Duration())
                  .Field("allowCredentials", &CorsPolicy::allow_credentials, Bool())
                  .Field("unmatchedPreflights", &CorsPolicy::unmatched_preflights,
                         Enum<CorsPolicy::UnmatchedPreflights>(
                             {{"UNSPECIFIED", CorsPolicy::UnmatchedPreflights::kUnspecified},
                              {"FORWARD", CorsPolicy::UnmatchedPreflights::kForward},
                              {"IGNORE", CorsPolicy::UnmatchedPreflights::kIgnore}}))
                  .Build();
  using R = HTTPRoute;
  return ObjectCodec<R>()
      .Field("name", &R::name, String())
      .Field("match", &R::match, ListOf(HTTPMatchRequestCodec()))
      .Field("route", &R::route, ListOf(route_destination))
      .Field("redirect", &R::redirect, redirect)
      .Field("directResponse", &R::direct_response, DirectResponseCodec())
      .Field("delegate", &R::delegate, delegate)
      .Field("rewrite", &R::rewrite, rewrite)
      .Field("timeout", &R::timeout, Duration())
      .Field("retries", &R::retries, retries)
      .Field("fault", &R::fault, fault)
      .Field("mirror", &R::mirror, DestinationCodec())
      .Field("mirrors", &R::mirrors, ListOf(mirror_policy))
      .Field("mirrorPercentage", &R::mirror_percentage, PercentCodec())
      .Field("mirrorPercent", &R::mirror_percent, UInt32())
      .Field("corsPolicy", &R::cors_policy, cors)
      .Field("headers", &R::headers, HeadersCodec())
      .Build();
}

Codec<RouteDestination> RouteDestinationCodec() {
  return ObjectCodec<RouteDestination>()
      .Field("destination", &RouteDestination::destination, DestinationCodec())
      .Field("weight", &RouteDestination::weight, Int32())
      .Build();
}

Codec<TLSRoute> TLSRouteCodec() {
  using A = TLSMatchAttributes;
  auto match = ObjectCodec<A>()
                   .Field("sniHosts", &A::sni_hosts, ListOf(String()))
                   .Field("destinationSubnets", &A::destination_subnets, ListOf(String()))
                   .Field("port", &A::port, UInt32())
                   .Field("sourceLabels", &A::source_labels, LabelsCodec())
                   .Field("gateways", &A::gateways, ListOf(String()))
                   .Field("sourceNamespace", &A::source_namespace, String())
                   .Build();
  return ObjectCodec<TLSRoute>()
      .Field("match", &TLSRoute::match, ListOf(match))
      .Field("route", &TLSRoute::route, ListOf(RouteDestinationCodec()))
      .Build();
}

Codec<TCPRoute> TCPRouteCodec() {
  using A = L4MatchAttributes;
  auto match = ObjectCodec<A>()
                   .Field("destinationSubnets", &A::destination_subnets, ListOf(String()))
                   .Field("port", &A::port, UInt32())
                   .Field("sourceSubnet", &A::source_subnet, String())
                   .Field("sourceLabels", &A::source_labels, LabelsCodec())
                   .Field("gateways", &A::gateways, ListOf(String()))
                   .Field("sourceNamespace", &A::source_namespace, String())
                   .Build();
  return ObjectCodec<TCPRoute>()
      .Field("match", &TCPRoute::match, ListOf(match))
      .Field("route", &TCPRoute::route, ListOf(RouteDestinationCodec()))
      .Build();
}

Codec<LoadBalancerSettings> LoadBalancerCodec() {
  using LB = LoadBalancerSettings;
  using CH = LB::ConsistentHash;
  auto cookie = ObjectCodec<CH::HTTPCookie>()
                    .Field("name", &CH::HTTPCookie::name, String())
                    .Field("path", &CH::HTTPCookie::path, String())
                    .Field("ttl", &CH::HTTPCookie::ttl, Duration())
                    .Build();
  auto ring_hash = ObjectCodec<CH::RingHash>()
                       .Field("minimumRingSize", &CH::RingHash::minimum_ring_size, UInt64())
                       .Build();
  auto maglev =
      ObjectCodec<CH::Maglev>().Field("tableSize", &CH::Maglev::table_size, UInt64()).Build();
  auto consistent_hash =
      ObjectCodec<CH>()
          .Field("httpHeaderName", &CH::http_header_name, String())
          .Field("httpCookie", &CH::http_cookie, cookie)
          .Field("useSourceIp", &CH::use_source_ip, Bool())
          .Field("httpQueryParameterName", &CH::http_query_parameter_name, String())
          .Field("ringHash", &CH::ring_hash, ring_hash)
          .Field("maglev", &CH::maglev, maglev)
          .Field("minimumRingSize", &CH::minimum_ring_size, UInt64())
          .Build();
  using L = LB::LocalityLbSetting;
  auto distribute = ObjectCodec<L::Distribute>()
                        .Field("from", &L::Distribute::from, String())
                        .Field("to", &L::Distribute::to, MapOf(UInt32()))
                        .Build();
  auto failover = ObjectCodec<L::Failover>()
                      .Field("from", &L::Failover::from, String())
                      .Field("to", &L::Failover::to, String())
                      .Build();
  auto locality = ObjectCodec<L>()
                      .Field("distribute", &L::distribute, ListOf(distribute))
                      .Field("failover", &L::failover, ListOf(failover))
                      .Field("failoverPriority", &L::failover_priority, ListOf(String()))
                      .Field("enabled", &L::enabled, Bool())
                      .Build();
  return ObjectCodec<LB>()
      .Field("simple", &LB::simple,
             Enum<LB::Simple>({{"UNSPECIFIED", LB::Simple::kUnspecified},
                               {"LEAST_CONN", LB::Simple::kLeastConn},
                               {"RANDOM", LB::Simple::kRandom},
                               {"PASSTHROUGH", LB::Simple::kPassthrough},
                               {"ROUND_ROBIN", LB::Simple::kRoundRobin},
                               {"LEAST_REQUEST", LB::Simple::kLeastRequest}}))
      .Field("consistentHash", &LB::consistent_hash, consistent_hash)
      .Field("localityLbSetting", &LB::locality_lb_setting, locality)
      .Field("warmupDurationSecs", &LB::warmup_duration_secs, Duration())
      .Build();
}

Codec<ConnectionPoolSettings> ConnectionPoolCodec() {
  using CP = ConnectionPoolSettings;
  using TCP = CP::TCPSettings;
  using HTTP = CP::HTTPSettings;
  auto keepalive = ObjectCodec<TCP::TcpKeepalive>()
                       .Field("probes", &TCP::TcpKeepalive::probes, UInt32())
                       .Field("time", &TCP::TcpKeepalive::time, Duration())
                       .Field("interval", &TCP::TcpKeepalive::interval, Duration())
                       .Build();
  auto tcp = ObjectCodec<TCP>()
                 .Field("maxConnections", &TCP::max_connections, Int32())
                 .Field("connectTimeout", &TCP::connect_timeout, Duration())
                 .Field("tcpKeepalive", &TCP::tcp_keepalive, keepalive)
                 .Field("maxConnectionDuration", &TCP::max_connection_duration, Duration())
                 .Field("idleTimeout", &TCP::idle_timeout, Duration())
                 .Build();
  auto http =
      ObjectCodec<HTTP>()
          .Field("http1MaxPendingRequests", &HTTP::http1_max_pending_requests, Int32())
          .Field("http2MaxRequests", &HTTP::http2_max_requests, Int32())
          .Field("maxRequestsPerConnection", &HTTP::max_requests_per_connection, Int32())
          .Field("maxRetries", &HTTP::max_retries, Int32())
          .Field("idleTimeout", &HTTP::idle_timeout, Duration())
          .Field(
              "h2UpgradePolicy", &HTTP::h2_upgrade_policy,
              Enum<HTTP::H2UpgradePolicy>({{"DEFAULT", HTTP::H2UpgradePolicy::kDefault},
                                           {"DO_NOT_UPGRADE", HTTP::H2UpgradePolicy::kDoNotUpgrade},
                                           {"UPGRADE", HTTP::H2UpgradePolicy::kUpgrade}}))
          .Field("useClientProtocol", &HTTP::use_client_protocol, Bool())
          .Field("maxConcurrentStreams", &HTTP::max_concurrent_streams, Int32())
          .Build();
  return ObjectCodec<CP>().Field("tcp", &CP::tcp, tcp).Field("http", &CP::http, http).Build();
}

Codec<OutlierDetection> OutlierDetectionCodec() {
  using O = OutlierDetection;
  return ObjectCodec<O>()
      .Field("splitExternalLocalOriginErrors", &O::split_external_local_origin_errors, Bool())
      .Field("consecutiveLocalOriginFailures", &O::consecutive_local_origin_failures, UInt32())
      .Field("consecutiveGatewayErrors", &O::consecutive_gateway_errors, UInt32())
      .Field("consecutive5xxErrors", &O::consecutive_5xx_errors, UInt32())
      .Field("consecutiveErrors", &O::consecutive_errors, Int32())
      .Field("interval", &O::interval, Duration())
      .Field("baseEjectionTime", &O::base_ejection_time, Duration())
      .Field("maxEjectionPercent", &O::max_ejection_percent, Int32())
      .Field("minHealthPercent", &O::min_health_percent, Int32())
      .Build();
}

Codec<ClientTLSSettings> ClientTLSCodec() {
  using T = ClientTLSSettings;
  return ObjectCodec<T>()
      .Field("mode", &T::mode,
             Enum<T::Mode>({{"DISABLE", T::Mode::kDisable},
                            {"SIMPLE", T::Mode::kSimple},
                            {"MUTUAL", T::Mode::kMutual},
                            {"ISTIO_MUTUAL", T::Mode::kIstioMutual}}))
      .Field("clientCertificate", &T::client_certificate, String())
      .Field("privateKey", &T::private_key, String())
      .Field("caCertificates", &T::ca_certificates, String())
      .Field("credentialName", &T::credential_name, String())
      .Field("subjectAltNames", &T::subject_alt_names, ListOf(String()))
      .Field("sni", &T::sni, String())
      .Field("insecureSkipVerify", &T::insecure_skip_verify, Bool())
      .Field("caCrl", &T::ca_crl, String())
      .Build();
}

Codec<TrafficPolicy> TrafficPolicyCodec() {
  using TP = TrafficPolicy;
  auto port_level =
      ObjectCodec<TP::PortTrafficPolicy>()
          .Field("port", &TP::PortTrafficPolicy::port, PortSelectorCodec())
          .Field("loadBalancer", &TP::PortTrafficPolicy::load_balancer, LoadBalancerCodec())
          .Field("connectionPool", &TP::PortTrafficPolicy::connection_pool, ConnectionPoolCodec())
          .Field("outlierDetection", &TP::PortTrafficPolicy::outlier_detection,
                 OutlierDetectionCodec())
          .Field("tls", &TP::PortTrafficPolicy::tls, ClientTLSCodec())
          .Build();
  auto tunnel = ObjectCodec<TP::TunnelSettings>()
                    .Field("protocol", &TP::TunnelSettings::protocol, String())
                    .Field("targetHost", &TP::TunnelSettings::target_host, String())
                    .Field("targetPort", &TP::TunnelSettings::target_port, UInt32())
                    .Build();
  auto proxy_protocol =
      ObjectCodec<TP::ProxyProtocol>()
          .Field("version", &TP::ProxyProtocol::version,
                 Enum<TP::ProxyProtocol::Version>({{"V1", TP::ProxyProtocol::Version::kV1},
                                                   {"V2", TP::ProxyProtocol::Version::kV2}}))
          .Build();
  return ObjectCodec<TP>()
      .Field("loadBalancer", &TP::load_balancer, LoadBalancerCodec())
      .Field("connectionPool", &TP::connection_pool, ConnectionPoolCodec())
      .Field("outlierDetection", &TP::outlier_detection, OutlierDetectionCodec())
      .Field("tls", &TP::tls, ClientTLSCodec())
      .Field("portLevelSettings", &TP::port_level_settings, ListOf(port_level))
      .Field("tunnel", &TP::tunnel, tunnel)
      .Field("proxyProtocol", &TP::proxy_protocol, proxy_protocol)
      .Build();
}

Codec<Port> PortCodec() {
  return ObjectCodec<Port>()
      .Field("number", &Port::number, UInt32())
      .Field("protocol", &Port::protocol, UpperString())
      .Field("name", &Port::name, String())
      .Field("targetPort", &Port::target_port, UInt32())
      .Build();
}

Codec<ServerTLSSettings> ServerTLSCodec() {
  using T = ServerTLSSettings;
  auto version = Enum<T::ProtocolVersion>({{"TLS_AUTO", T::ProtocolVersion::kAuto},
                                           {"TLSV1_0", T::ProtocolVersion::kTLSv1_0},
                                           {"TLSV1_1", T::ProtocolVersion::kTLSv1_1},
                                           {"TLSV1_2", T::ProtocolVersion::kTLSv1_2},
                                           {"TLSV1_3", T::ProtocolVersion::kTLSv1_3}});
  return ObjectCodec<T>()
      .Field("httpsRedirect", &T::https_redirect, Bool())
      .Field("mode", &T::mode,
             Enum<T::Mode>({{"PASSTHROUGH", T::Mode::kPassthrough},
                            {"SIMPLE", T::Mode::kSimple},
                            {"MUTUAL", T::Mode::kMutual},
                            {"AUTO_PASSTHROUGH", T::Mode::kAutoPassthrough},
                            {"ISTIO_MUTUAL", T::Mode::kIstioMutual},
                            {"OPTIONAL_MUTUAL", T::Mode::kOptionalMutual}}))
      .Field("serverCertificate", &T::server_certificate, String())
      .Field("privateKey", &T::private_key, String())
      .Field("caCertificates", &T::ca_certificates, String())
      .Field("caCrl", &T::ca_crl, String())
      .Field("credentialName", &T::credential_name, String())
      .Field("credentialNames", &T::credential_names, ListOf(String()))
      .Field("subjectAltNames", &T::subject_alt_names, ListOf(String()))
      .Field("verifyCertificateSpki", &T::verify_certificate_spki, ListOf(String()))
      .Field("verifyCertificateHash", &T::verify_certificate_hash, ListOf(String()))
      .Field("minProtocolVersion", &T::min_protocol_version, version)
      .Field("maxProtocolVersion", &T::max_protocol_version, version)
      .Field("cipherSuites", &T::cipher_suites, ListOf(String()))
      .Build();
}

}  // namespace

const Codec<VirtualService>& VirtualServiceSpec() {
  static const Codec<VirtualService> codec =
      ObjectCodec<VirtualService>()
          .Field("hosts", &VirtualService::hosts, ListOf(String()))
          .Field("gateways", &VirtualService::gateways, ListOf(String()))
          .Field("http", &VirtualService::http, ListOf(HTTPRouteCodec()))
          .Field("tls", &VirtualService::tls, ListOf(TLSRouteCodec()))
          .Field("tcp", &VirtualService::tcp, ListOf(TCPRouteCodec()))
          .Field("exportTo", &VirtualService::export_to, ListOf(String()))
          .Build();
  return codec;
}

const Codec<DestinationRule>& DestinationRuleSpec() {
  static const Codec<DestinationRule> codec = [] {
    auto subset = ObjectCodec<Subset>()
                      .Field("name", &Subset::name, String())
                      .Field("labels", &Subset::labels, LabelsCodec())
                      .Field("trafficPolicy", &Subset::traffic_policy, TrafficPolicyCodec())
                      .Build();
    auto selector = ObjectCodec<WorkloadSelector>()
                        .Field("matchLabels", &WorkloadSelector::match_labels, LabelsCodec())
                        .Build();
    return ObjectCodec<DestinationRule>()
        .Field("host", &DestinationRule::host, String())
        .Field("trafficPolicy", &DestinationRule::traffic_policy, TrafficPolicyCodec())
        .Field("subsets", &DestinationRule::subsets, ListOf(subset))
        .Field("exportTo", &DestinationRule::export_to, ListOf(String()))
        .Field("workloadSelector", &DestinationRule::workload_selector, selector)
        .Build();
  }();
  return codec;
}

const Codec<Gateway>& GatewaySpec() {
  static const Codec<Gateway> codec = [] {
    auto server = ObjectCodec<Server>()
                      .Field("port", &Server::port, PortCodec())
                      .Field("bind", &Server::bind, String())
                      .Field("hosts", &Server::hosts, ListOf(String()))
                      .Field("tls", &Server::tls, ServerTLSCodec())
                      .Field("defaultEndpoint", &Server::default_endpoint, String())
                      .Field("name", &Server::name, String())
                      .Build();
    return ObjectCodec<Gateway>()
        .Field("servers", &Gateway::servers, ListOf(server))
        .Field("selector", &Gateway::selector, LabelsCodec())
        .Build();
  }();
  return codec;
}

const Codec<ServiceEntry>& ServiceEntrySpec() {
  static const Codec<ServiceEntry> codec = [] {
    using SE = ServiceEntry;
    auto endpoint = ObjectCodec<WorkloadEntry>()
                        .Field("address", &WorkloadEntry::address, String())
                        .Field("ports", &WorkloadEntry::ports, MapOf(UInt32()))
                        .Field("labels", &WorkloadEntry::labels, LabelsCodec())
                        .Field("network", &WorkloadEntry::network, String())
                        .Field("locality", &WorkloadEntry::locality, String())
                        .Field("weight", &WorkloadEntry::weight, UInt32())
                        .Field("serviceAccount", &WorkloadEntry::service_account, String())
                        .Build();
    // ServiceEntry's selector is networking's WorkloadSelector {labels}, not
    // the type.v1beta1 {matchLabels} of DestinationRule.
    auto selector = ObjectCodec<WorkloadSelector>()
                        .Field("labels", &WorkloadSelector::match_labels, LabelsCodec())
                        .Build();
    return ObjectCodec<SE>()
        .Field("hosts", &SE::hosts, ListOf(String()))
        .Field("addresses", &SE::addresses, ListOf(String()))
        .Field("ports", &SE::ports, ListOf(PortCodec()))
        .Field("location", &SE::location,
               Enum<SE::Location>({{"MESH_EXTERNAL", SE::Location::kMeshExternal},
                                   {"MESH_INTERNAL", SE::Location::kMeshInternal}}))
        .Field("resolution", &SE::resolution,
               Enum<SE::Resolution>({{"NONE", SE::Resolution::kNone},
                                     {"STATIC", SE::Resolution::kStatic},
                                     {"DNS", SE::Resolution::kDNS},
                                     {"DNS_ROUND_ROBIN", SE::Resolution::kDNSRoundRobin}}))
        .Field("endpoints", &SE::endpoints, ListOf(endpoint))
        .Field("workloadSelector", &SE::workload_selector, selector)
        .Field("exportTo", &SE::export_to, ListOf(String()))
        .Field("subjectAltNames", &SE::subject_alt_names, ListOf(String()))
        .Build();
  }();
  return codec;
}

const Codec<PeerAuthentication>& PeerAuthenticationSpec() {
  static const Codec<PeerAuthentication> codec = [] {
    auto mtls = ObjectCodec<MutualTls>()
                    .Field("mode", &MutualTls::mode,
                           Enum<MtlsMode>({{"UNSET", MtlsMode::kUnset},
                                           {"DISABLE", MtlsMode::kDisable},
                                           {"PERMISSIVE", MtlsMode::kPermissive},
                                           {"STRICT", MtlsMode::kStrict}}))
                    .Build();
    auto selector = ObjectCodec<WorkloadSelector>()
                        .Field("matchLabels", &WorkloadSelector::match_labels, LabelsCodec())
                        .Build();
    return ObjectCodec<PeerAuthentication>()
        .Field("selector", &PeerAuthentication::selector, selector)
        .Field("mtls", &PeerAuthentication::mtls, mtls)
        .Field("portLevelMtls", &PeerAuthentication::port_level_mtls, MapOf(mtls))
        .Build();
  }();
  return codec;
}

const Codec<Sidecar>& SidecarSpec() {
  static const Codec<Sidecar> codec = [] {
    using Policy = OutboundTrafficPolicy;
    auto selector = ObjectCodec<WorkloadSelector>()
                        .Field("labels", &WorkloadSelector::match_labels, LabelsCodec())
                        .Build();
    auto ingress = ObjectCodec<IstioIngressListener>()
                       .Field("port", &IstioIngressListener::port, PortCodec())
                       .Field("bind", &IstioIngressListener::bind, String())
                       .Field("captureMode", &IstioIngressListener::capture_mode, UpperString())
                       .Field("defaultEndpoint", &IstioIngressListener::default_endpoint, String())
                       .Build();
    auto egress = ObjectCodec<IstioEgressListener>()
                      .Field("port", &IstioEgressListener::port, PortCodec())
                      .Field("bind", &IstioEgressListener::bind, String())
                      .Field("captureMode", &IstioEgressListener::capture_mode, UpperString())
                      .Field("hosts", &IstioEgressListener::hosts, ListOf(String()))
                      .Build();
    auto policy = ObjectCodec<Policy>()
                      .Field("mode", &Policy::mode,
                             Enum<Policy::Mode>({{"ALLOW_ANY", Policy::Mode::kAllowAny},
                                                 {"REGISTRY_ONLY", Policy::Mode::kRegistryOnly}}))
                      .Build();
    return ObjectCodec<Sidecar>()
        .Field("workloadSelector", &Sidecar::workload_selector, selector)
        .Field("ingress", &Sidecar::ingress, ListOf(ingress))
        .Field("egress", &Sidecar::egress, ListOf(egress))
        .Field("outboundTrafficPolicy", &Sidecar::outbound_traffic_policy, policy)
        .Build();
  }();
  return codec;
}

const Codec<ObjectMeta>& Metadata() {
  static const Codec<ObjectMeta> codec =
      ObjectCodec<ObjectMeta>()
          .IgnoreUnknown()
          .Field("name", &ObjectMeta::name, String())
          .Field("namespace", &ObjectMeta::namespace_, String())
          .Field("labels", &ObjectMeta::labels, MapOf(String()))
          .Field("annotations", &ObjectMeta::annotations, MapOf(String()))
          .Field("uid", &ObjectMeta::uid, String())
          .Field("resourceVersion", &ObjectMeta::resource_version, String())
          .Field("generation", &ObjectMeta::generation, Int64())
          .Build();
  return codec;
}

}  // namespace meshgate::api::codec

namespace meshgate::api {

const FieldSchema& SpecSchema(Kind kind) {
  static const FieldSchema any = [] {
    FieldSchema schema;
    schema.type = FieldSchema::Type::kAny;
    return schema;
  }();
  switch (kind) {
    case Kind::kVirtualService:
      return *codec::VirtualServiceSpec().schema;
    case Kind::kDestinationRule:
      return *codec::DestinationRuleSpec().schema;
    case Kind::kGateway:
      return *codec::GatewaySpec().schema;
    case Kind::kServiceEntry:
      return *codec::ServiceEntrySpec().schema;
    case Kind::kPeerAuthentication:
      return *codec::PeerAuthenticationSpec().schema;
    case Kind::kSidecar:
      return *codec::SidecarSpec().schema;
    default:
      return any;
  }
}

}  // namespace meshgate::api
