// Listeners (and the route configurations that depend on the proxy) for the
// sidecar and gateway roles, Istio-named.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "compiler/internal.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "google/protobuf/util/time_util.h"

namespace meshgate::compiler {
namespace {

using envoy::config::listener::v3::FilterChain;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using Severity = CompileDiagnostic::Severity;

void SetAds(envoy::config::core::v3::ConfigSource* source) {
  source->mutable_ads();
  source->set_resource_api_version(envoy::config::core::v3::V3);
}

void SetAddress(absl::string_view ip, uint32_t port, envoy::config::core::v3::Address* out) {
  auto* sa = out->mutable_socket_address();
  sa->set_address(std::string(ip));
  sa->set_port_value(port);
}

// Dual-stack pods: the listener also binds [::]:PORT (Istio's extra
// address; the IPv6 socket takes IPv6 only).
void AddIpv6Address(uint32_t port, Listener* l) {
  SetAddress("::", port, l->add_additional_addresses()->mutable_address());
}

}  // namespace

// The HCM of every listener: RDS over ADS, fault and CORS before the router
// (gRPC clients get fault and router only; the router is always last).
HttpConnectionManager MakeHcm(absl::string_view stat_prefix, absl::string_view route_name,
                              bool grpc) {
  HttpConnectionManager hcm;
  hcm.set_stat_prefix(std::string(stat_prefix));
  hcm.set_codec_type(HttpConnectionManager::AUTO);
  auto* rds = hcm.mutable_rds();
  SetAds(rds->mutable_config_source());
  rds->set_route_config_name(std::string(route_name));
  auto* fault = hcm.add_http_filters();
  fault->set_name("envoy.filters.http.fault");
  fault->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::fault::v3::HTTPFault());
  if (!grpc) {
    auto* cors = hcm.add_http_filters();
    cors->set_name("envoy.filters.http.cors");
    cors->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::cors::v3::Cors());
  }
  auto* router = hcm.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
  return hcm;
}

namespace {

void AddHcmFilter(const HttpConnectionManager& hcm, FilterChain* chain) {
  auto* f = chain->add_filters();
  f->set_name("envoy.filters.network.http_connection_manager");
  f->mutable_typed_config()->PackFrom(hcm);
}

void AddTcpProxy(absl::string_view stat_prefix, absl::string_view cluster, FilterChain* chain) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  tcp.set_stat_prefix(std::string(stat_prefix));
  tcp.set_cluster(std::string(cluster));
  auto* f = chain->add_filters();
  f->set_name("envoy.filters.network.tcp_proxy");
  f->mutable_typed_config()->PackFrom(tcp);
}

void AddTlsInspector(Listener* l) {
  auto* f = l->add_listener_filters();
  f->set_name("envoy.filters.listener.tls_inspector");
  f->mutable_typed_config()->PackFrom(
      envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector());
}

void AddOriginalDst(Listener* l) {
  auto* f = l->add_listener_filters();
  f->set_name("envoy.filters.listener.original_dst");
  f->mutable_typed_config()->PackFrom(
      envoy::extensions::filters::listener::original_dst::v3::OriginalDst());
}

// Mesh mTLS on an inbound chain: the workload certificate (SDS `default`, from
// the proxy's own CA client), peers verified against the trust bundle (SDS
// `ROOTCA`) and required to hold an identity of this trust domain.
void AddInboundMtls(const std::string& trust_domain, bool http, FilterChain* chain,
                    std::set<std::string>* secrets) {
  using envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext;
  using envoy::extensions::transport_sockets::tls::v3::SubjectAltNameMatcher;
  using envoy::extensions::transport_sockets::tls::v3::TlsParameters;
  DownstreamTlsContext ctx;
  ctx.mutable_require_client_certificate()->set_value(true);
  auto* common = ctx.mutable_common_tls_context();
  common->mutable_tls_params()->set_tls_minimum_protocol_version(TlsParameters::TLSv1_2);
  if (http) {
    common->add_alpn_protocols("h2");
    common->add_alpn_protocols("http/1.1");
  }
  auto sds = [](const char* name,
                envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig* c) {
    c->set_name(name);
    c->mutable_sds_config()->mutable_ads();
    c->mutable_sds_config()->set_resource_api_version(envoy::config::core::v3::V3);
  };
  sds("default", common->add_tls_certificate_sds_secret_configs());
  auto* combined = common->mutable_combined_validation_context();
  sds("ROOTCA", combined->mutable_validation_context_sds_secret_config());
  auto* san = combined->mutable_default_validation_context()->add_match_typed_subject_alt_names();
  san->set_san_type(SubjectAltNameMatcher::URI);
  san->mutable_matcher()->set_prefix(absl::StrCat("spiffe://", trust_domain, "/"));
  secrets->insert("default");
  secrets->insert("ROOTCA");
  auto* socket = chain->mutable_transport_socket();
  socket->set_name("envoy.transport_sockets.tls");
  socket->mutable_typed_config()->PackFrom(ctx);
}

// The inbound HTTP connection manager of one workload port: everything to
// the local application. Over mTLS the caller's identity is forwarded in
// x-forwarded-client-cert, as Istio's sidecars do.
HttpConnectionManager InboundHcm(const std::string& cluster, uint32_t port, bool mtls) {
  HttpConnectionManager hcm;
  hcm.set_stat_prefix(cluster);
  hcm.set_codec_type(HttpConnectionManager::AUTO);
  if (mtls) {
    hcm.set_forward_client_cert_details(HttpConnectionManager::APPEND_FORWARD);
    auto* details = hcm.mutable_set_current_client_cert_details();
    details->mutable_subject()->set_value(true);
    details->set_dns(true);
    details->set_uri(true);
  } else {
    hcm.set_forward_client_cert_details(HttpConnectionManager::SANITIZE);
  }
  auto* rc = hcm.mutable_route_config();
  rc->set_name(cluster);
  rc->mutable_validate_clusters()->set_value(false);
  auto* vhost = rc->add_virtual_hosts();
  vhost->set_name(absl::StrCat("inbound|http|", port));
  vhost->add_domains("*");
  auto* route = vhost->add_routes();
  route->set_name("default");
  route->mutable_match()->set_prefix("/");
  route->mutable_route()->set_cluster(cluster);
  route->mutable_route()->mutable_timeout()->set_seconds(0);
  auto* router = hcm.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
  return hcm;
}

// Target ports of the Services selecting this workload, with their protocol.
std::map<uint32_t, Protocol> WorkloadPorts(const CompiledMesh& mesh, const ProxyTarget& target,
                                           std::vector<CompileDiagnostic>* diags) {
  std::map<uint32_t, Protocol> out;
  if (target.labels.empty()) return out;
  ObjectsOfKind pods(*mesh.snapshot, api::Kind::kPod);
  for (const auto& r : ObjectsOfKind(*mesh.snapshot, api::Kind::kService)) {
    if (mesh.index->NamespaceOf(*r) != target.namespace_) continue;
    const auto& svc = r->As<api::Service>();
    if (svc.selector.empty() || !LabelsMatch(svc.selector, target.labels)) continue;
    for (size_t i = 0; i < svc.ports.size(); ++i) {
      const auto& p = svc.ports[i];
      if (p.protocol != "TCP") continue;
      uint32_t port = p.target_port_number.value_or(0);
      if (port == 0 && !p.target_port_name.empty()) {
        for (const auto& pod : pods) {
          if (mesh.index->NamespaceOf(*pod) != target.namespace_ ||
              !LabelsMatch(target.labels, pod->metadata.labels)) {
            continue;
          }
          for (const auto& cp : pod->As<api::Pod>().container_ports) {
            if (cp.name == p.target_port_name) port = cp.container_port;
          }
          if (port != 0) break;
        }
        if (port == 0) {
          diags->push_back(MakeDiagnostic(
              *r, absl::StrCat("spec.ports[", i, "].targetPort"),
              "named port " + p.target_port_name + " not found on the workload's pods",
              Severity::kWarning));
          continue;
        }
      }
      if (port == 0) port = p.port;
      out.emplace(port, ProtocolOf(p.app_protocol, p.name));
    }
  }
  return out;
}

// The inbound chains of one workload port, to 127.0.0.1:PORT, as its
// PeerAuthentication mode asks: a mutual-TLS chain (STRICT), a plaintext
// chain (DISABLE), or both told apart by the TLS inspector (PERMISSIVE,
// Istio's default). Shared by the capture listener and the bound listeners
// of interception mode NONE. Returns whether a TLS chain was added (the
// listener then needs the TLS inspector).
bool AddInboundChains(const std::string& trust_domain, const PeerAuthenticationPolicy& peer_authn,
                      uint32_t port, Protocol protocol, const InboundEndpoint& endpoint,
                      Listener* l, CompiledResources* out) {
  const std::string cluster = InboundClusterName(port);
  const api::MtlsMode mode = peer_authn.ModeFor(port);
  const bool http = IsHttp(protocol);
  bool any_tls = false;
  for (bool tls : {true, false}) {
    if (tls && mode == api::MtlsMode::kDisable) continue;
    if (!tls && mode == api::MtlsMode::kStrict) continue;
    auto* chain = l->add_filter_chains();
    chain->set_name(mode == api::MtlsMode::kDisable
                        ? cluster
                        : absl::StrCat(cluster, tls ? "-mtls" : "-plaintext"));
    auto* match = chain->mutable_filter_chain_match();
    match->mutable_destination_port()->set_value(port);
    if (mode != api::MtlsMode::kDisable) match->set_transport_protocol(tls ? "tls" : "raw_buffer");
    if (tls) {
      any_tls = true;
      AddInboundMtls(trust_domain, http, chain, &out->secrets);
    }
    if (http) {
      AddHcmFilter(InboundHcm(cluster, port, tls), chain);
    } else {
      AddTcpProxy(cluster, cluster, chain);
    }
  }
  envoy::config::cluster::v3::Cluster local_app = InboundCluster(port, endpoint);
  if (protocol == Protocol::kHttp2 || protocol == Protocol::kGrpc) {
    // A gRPC or HTTP/2 application may speak nothing else (no HTTP/1.1).
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions h2;
    h2.mutable_explicit_http_config()->mutable_http2_protocol_options();
    (*local_app.mutable_typed_extension_protocol_options())
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
            .PackFrom(h2);
  }
  out->clusters.emplace(cluster, Seal(std::move(local_app)));
  return any_tls;
}

struct InboundPort {
  Protocol protocol = Protocol::kUnknown;
  InboundEndpoint endpoint;
};

// A Sidecar ingress listener's defaultEndpoint as the inbound cluster's
// endpoint: "127.0.0.1:P", "[::1]:P", "unix://PATH"; "0.0.0.0:P" means the
// instance address (Istio), 127.0.0.1 when it is unknown. Empty: same port.
InboundEndpoint ParseDefaultEndpoint(absl::string_view endpoint, uint32_t port,
                                     const std::string& instance_ip) {
  InboundEndpoint out;
  out.port = port;
  if (absl::ConsumePrefix(&endpoint, "unix://")) {
    out.pipe = std::string(endpoint);
    return out;
  }
  const size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos) return out;
  absl::string_view host = endpoint.substr(0, colon);
  uint32_t endpoint_port = 0;
  if (absl::SimpleAtoi(endpoint.substr(colon + 1), &endpoint_port)) out.port = endpoint_port;
  if (host == "[::1]") {
    out.address = "::1";
  } else if (host == "0.0.0.0" || host == "[::]") {
    if (!instance_ip.empty()) out.address = instance_ip;
  }
  return out;
}

// The workload's inbound ports: a Sidecar's ingress listeners when it has
// any (their protocol and defaultEndpoint), else the target ports of the
// Services selecting the workload, to 127.0.0.1 on the same port.
std::map<uint32_t, InboundPort> InboundPorts(const CompiledMesh& mesh, const ProxyTarget& target,
                                             const SidecarScope* sidecar,
                                             std::vector<CompileDiagnostic>* diags) {
  std::map<uint32_t, InboundPort> out;
  if (sidecar != nullptr && !sidecar->spec().ingress.empty()) {
    for (size_t i = 0; i < sidecar->spec().ingress.size(); ++i) {
      const api::IstioIngressListener& ingress = sidecar->spec().ingress[i];
      if (absl::StartsWith(ingress.default_endpoint, "unix://")) {
        // Envoy connects to the pipe; meshgate-proxy has no unix-socket
        // upstreams yet and refuses the cluster, so say so where it is written.
        diags->push_back(MakeDiagnostic(sidecar->resource(),
                                        absl::StrCat("spec.ingress[", i, "].defaultEndpoint"),
                                        "unix:// endpoints work with Envoy but not with "
                                        "meshgate-proxy, which rejects the inbound cluster",
                                        Severity::kWarning));
      }
      InboundPort& p = out[ingress.port.number];
      p.protocol = ProtocolFromName(ingress.port.protocol);
      p.endpoint =
          ParseDefaultEndpoint(ingress.default_endpoint, ingress.port.number, target.instance_ip);
    }
    return out;
  }
  for (const auto& [port, protocol] : WorkloadPorts(mesh, target, diags)) {
    InboundPort& p = out[port];
    p.protocol = protocol;
    p.endpoint.port = port;
  }
  return out;
}

}  // namespace

void BuildSidecarListeners(const CompiledMesh& mesh, const ProxyTarget& target,
                           const SidecarScope* sidecar, const std::set<uint32_t>& http_ports,
                           CompiledResources* out) {
  const absl::string_view unknown_destinations =
      sidecar != nullptr && sidecar->registry_only() ? "BlackHoleCluster" : "PassthroughCluster";
  const CompileOptions& options = mesh.options;
  const bool bound_inbound = target.interception_mode == ProxyTarget::InterceptionMode::kNone &&
                             !target.instance_ip.empty();
  // virtualOutbound: everything iptables redirects, handed to the listener
  // owning the original destination; unknown destinations pass through.
  // Without capture nothing is redirected to it.
  if (!bound_inbound) {
    Listener l;
    l.set_name("virtualOutbound");
    SetAddress("0.0.0.0", options.outbound_capture_port, l.mutable_address());
    if (target.dual_stack) AddIpv6Address(options.outbound_capture_port, &l);
    l.mutable_use_original_dst()->set_value(true);
    l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
    AddOriginalDst(&l);
    auto* chain = l.add_filter_chains();
    chain->set_name("virtualOutbound-catchall-tcp");
    AddTcpProxy(unknown_destinations, unknown_destinations, chain);
    {
      std::string listener_name = l.name();
      out->listeners.emplace(std::move(listener_name), Seal(std::move(l)));
    }
  }
  for (uint32_t port : http_ports) {
    Listener l;
    l.set_name(absl::StrCat("0.0.0.0_", port));
    SetAddress("0.0.0.0", port, l.mutable_address());
    if (target.dual_stack) AddIpv6Address(port, &l);
    l.mutable_bind_to_port()->set_value(false);
    l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
    AddHcmFilter(MakeHcm(absl::StrCat("outbound_0.0.0.0_", port), absl::StrCat(port), false),
                 l.add_filter_chains());
    {
      std::string listener_name = l.name();
      out->listeners.emplace(std::move(listener_name), Seal(std::move(l)));
    }
  }
  // TCP services: one listener per cluster IP and port, as Istio.
  const std::string proxy_namespace = target.namespace_.empty() ? "default" : target.namespace_;
  for (const auto& [host, service] : mesh.index->services()) {
    for (const auto& p : service.ports) {
      if (IsHttp(p.protocol)) continue;
      if (!mesh.index->ServiceVisible(service, proxy_namespace, sidecar, p.port)) continue;
      std::string ip;
      if (!service.from_service_entry) {
        ip = service.resource->As<api::Service>().cluster_ip;
      } else if (!service.resource->As<api::ServiceEntry>().addresses.empty()) {
        ip = service.resource->As<api::ServiceEntry>().addresses[0];
      }
      if (ip.empty() || ip == "None" || absl::StrContains(ip, '/')) continue;
      Listener l;
      l.set_name(absl::StrCat(ip, "_", p.port));
      if (out->listeners.count(l.name()) > 0) continue;
      SetAddress(ip, p.port, l.mutable_address());
      l.mutable_bind_to_port()->set_value(false);
      l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
      // The VirtualService owning the host: its TLS routes by SNI, then its
      // TCP routes; what they leave unmatched goes to the service.
      bool covered = false;
      if (const api::Resource* vs =
              mesh.index->MeshVirtualService(host, proxy_namespace, sidecar, p.port);
          vs != nullptr) {
        RouteContext ctx;
        ctx.sidecar = sidecar;
        ctx.index = mesh.index.get();
        ctx.gateway_keys = {"mesh"};
        ctx.port = p.port;
        ctx.proxy_namespace = proxy_namespace;
        ctx.proxy_labels = &target.labels;
        ctx.diagnostics = &out->diagnostics;
        std::set<std::string> used_sni, used_tcp;
        if (p.protocol == Protocol::kHttps || p.protocol == Protocol::kTls) {
          AddTlsRouteChains(ctx, *vs, {}, &l, &used_sni);
        }
        covered = AddTcpRouteChains(ctx, *vs, &l, &used_tcp);
        if (!used_sni.empty()) AddTlsInspector(&l);
      }
      if (!covered) {
        std::string cluster = OutboundClusterName(p.port, "", host);
        AddTcpProxy(cluster, cluster, l.add_filter_chains());
      }
      {
        std::string listener_name = l.name();
        out->listeners.emplace(std::move(listener_name), Seal(std::move(l)));
      }
    }
  }
  const PeerAuthenticationPolicy peer_authn =
      ResolvePeerAuthentication(mesh, target, &out->diagnostics);
  const std::map<uint32_t, InboundPort> workload_ports =
      InboundPorts(mesh, target, sidecar, &out->diagnostics);
  if (bound_inbound) {
    // Interception mode NONE: nothing redirects traffic to the proxy, so each
    // workload port gets a listener bound to the instance IP itself; the
    // application listens on 127.0.0.1 behind it.
    for (const auto& [port, inbound] : workload_ports) {
      Listener l;
      l.set_name(absl::StrCat(target.instance_ip, "_", port));
      SetAddress(target.instance_ip, port, l.mutable_address());
      l.set_traffic_direction(envoy::config::core::v3::INBOUND);
      if (AddInboundChains(options.trust_domain, peer_authn, port, inbound.protocol,
                           inbound.endpoint, &l, out)) {
        AddTlsInspector(&l);
      }
      std::string listener_name = l.name();
      out->listeners.emplace(std::move(listener_name), Seal(std::move(l)));
    }
    return;
  }
  // virtualInbound: every workload port on one capture listener, told apart
  // by the original destination port.
  Listener l;
  l.set_name("virtualInbound");
  SetAddress("0.0.0.0", options.inbound_capture_port, l.mutable_address());
  if (target.dual_stack) AddIpv6Address(options.inbound_capture_port, &l);
  l.set_traffic_direction(envoy::config::core::v3::INBOUND);
  AddOriginalDst(&l);
  bool any_tls = false;
  for (const auto& [port, inbound] : workload_ports) {
    any_tls |= AddInboundChains(options.trust_domain, peer_authn, port, inbound.protocol,
                                inbound.endpoint, &l, out);
  }
  if (any_tls) AddTlsInspector(&l);
  std::string listener_name = l.name();
  out->listeners.emplace(std::move(listener_name), Seal(std::move(l)));
}

// ---------------------------------------------------------------------------
// Gateways

namespace {

struct ServerRef {
  const api::Resource* gateway = nullptr;
  const api::Server* server = nullptr;
  size_t index = 0;
  std::string field() const { return absl::StrCat("spec.servers[", index, "]"); }
};

bool IsHttpProtocol(const std::string& p) {
  return p == "HTTP" || p == "HTTP2" || p == "GRPC" || p == "GRPC-WEB";
}

// "ns/host" -> (ns, host); "./" is the gateway's own namespace.
std::pair<std::string, std::string> SplitServerHost(const std::string& host,
                                                    const std::string& gateway_ns) {
  auto slash = host.find('/');
  if (slash == std::string::npos) return {"*", host};
  std::string ns = host.substr(0, slash);
  if (ns == ".") ns = gateway_ns;
  return {ns, host.substr(slash + 1)};
}

// Virtual hosts for the servers sharing one route configuration: Istio's
// intersection of server hosts and the hosts of the VirtualServices bound to
// the server's gateway. VirtualServices for the same host are merged in order.
RouteConfiguration GatewayRouteConfig(const CompiledMesh& mesh, const ProxyTarget& target,
                                      const std::string& name, uint32_t port,
                                      const std::vector<ServerRef>& servers,
                                      std::vector<CompileDiagnostic>* diags) {
  const MeshIndex& index = *mesh.index;
  RouteConfiguration rc;
  rc.set_name(name);
  rc.mutable_validate_clusters()->set_value(false);
  std::map<std::string, envoy::config::route::v3::VirtualHost> vhosts;
  std::map<std::string, std::set<const api::Resource*>> added;
  for (const auto& ref : servers) {
    std::string gw_ns = index.NamespaceOf(*ref.gateway);
    std::string gw_key = gw_ns + "/" + ref.gateway->metadata.name;
    RouteContext ctx;
    ctx.index = &index;
    ctx.gateway_keys = {gw_key};
    ctx.is_gateway = true;
    ctx.port = port;
    ctx.proxy_namespace = target.namespace_;
    ctx.proxy_labels = &target.labels;
    ctx.diagnostics = diags;
    bool redirect = ref.server->tls && ref.server->tls->https_redirect;
    for (const api::Resource* vs : index.virtual_services()) {
      if (!index.BoundTo(*vs, gw_key)) continue;
      std::string vs_ns = index.NamespaceOf(*vs);
      for (const auto& raw_vs_host : vs->As<api::VirtualService>().hosts) {
        std::string vs_host = absl::StrContains(raw_vs_host, '.') || raw_vs_host == "*" ||
                                      absl::StartsWith(raw_vs_host, "*")
                                  ? raw_vs_host
                                  : index.ResolveHost(raw_vs_host, vs_ns);
        for (const auto& raw_server_host : ref.server->hosts) {
          auto [ns, server_host] = SplitServerHost(raw_server_host, gw_ns);
          if (ns != "*" && ns != vs_ns) continue;
          std::string host;
          if (HostMatches(server_host, vs_host)) {
            host = vs_host;
          } else if (HostMatches(vs_host, server_host)) {
            host = server_host;
          } else {
            continue;
          }
          auto& vhost = vhosts[host];
          if (vhost.name().empty()) {
            vhost.set_name(absl::StrCat(host, ":", port));
            vhost.add_domains(host);
            if (host != "*") vhost.add_domains(absl::StrCat(host, ":", port));
          }
          if (redirect) {
            vhost.set_require_tls(envoy::config::route::v3::VirtualHost::ALL);
          }
          if (added[host].insert(vs).second) AddVirtualServiceRoutes(ctx, *vs, &vhost);
        }
      }
    }
  }
  for (auto& [host, vhost] : vhosts) *rc.add_virtual_hosts() = std::move(vhost);
  return rc;
}

void AddServerTls(const ServerRef& ref, FilterChain* chain, std::set<std::string>* secrets,
                  std::vector<CompileDiagnostic>* diags) {
  using Mode = api::ServerTLSSettings::Mode;
  using envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext;
  using envoy::extensions::transport_sockets::tls::v3::TlsParameters;
  const auto& tls = *ref.server->tls;
  DownstreamTlsContext ctx;
  auto* common = ctx.mutable_common_tls_context();
  auto add_secret = [&](const std::string& name,
                        envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig* config) {
    config->set_name(name);
    SetAds(config->mutable_sds_config());
    secrets->insert(name);
  };
  std::string ca;
  if (tls.mode == Mode::kIstioMutual) {
    add_secret("default", common->add_tls_certificate_sds_secret_configs());
    ca = "ROOTCA";
  } else {
    std::vector<std::string> credentials = tls.credential_names;
    if (!tls.credential_name.empty()) credentials.insert(credentials.begin(), tls.credential_name);
    for (const auto& c : credentials)
      add_secret(c, common->add_tls_certificate_sds_secret_configs());
    if (credentials.empty() && !tls.server_certificate.empty()) {
      add_secret(absl::StrCat("file-cert:", tls.server_certificate, "~", tls.private_key),
                 common->add_tls_certificate_sds_secret_configs());
    }
    if (common->tls_certificate_sds_secret_configs_size() == 0) {
      diags->push_back(MakeDiagnostic(*ref.gateway, ref.field() + ".tls",
                                      "credentialName or serverCertificate is required"));
    }
    if (tls.mode == Mode::kMutual || tls.mode == Mode::kOptionalMutual) {
      if (!credentials.empty()) {
        ca = credentials.front() + "-cacert";
      } else if (!tls.ca_certificates.empty()) {
        ca = "file-root:" + tls.ca_certificates;
      } else {
        diags->push_back(MakeDiagnostic(*ref.gateway, ref.field() + ".tls.caCertificates",
                                        "MUTUAL needs caCertificates or credentialName"));
      }
    }
  }
  if (!ca.empty()) {
    auto* combined = common->mutable_combined_validation_context();
    add_secret(ca, combined->mutable_validation_context_sds_secret_config());
    auto* v = combined->mutable_default_validation_context();
    for (const auto& san : tls.subject_alt_names) {
      auto* m = v->add_match_typed_subject_alt_names();
      m->set_san_type(envoy::extensions::transport_sockets::tls::v3::SubjectAltNameMatcher::URI);
      m->mutable_matcher()->set_exact(san);
    }
    for (const auto& spki : tls.verify_certificate_spki) v->add_verify_certificate_spki(spki);
    for (const auto& hash : tls.verify_certificate_hash) v->add_verify_certificate_hash(hash);
    ctx.mutable_require_client_certificate()->set_value(tls.mode != Mode::kOptionalMutual);
  }
  using V = api::ServerTLSSettings::ProtocolVersion;
  auto version = [](V v) {
    switch (v) {
      case V::kTLSv1_0:
        return TlsParameters::TLSv1_0;
      case V::kTLSv1_1:
        return TlsParameters::TLSv1_1;
      case V::kTLSv1_2:
        return TlsParameters::TLSv1_2;
      case V::kTLSv1_3:
        return TlsParameters::TLSv1_3;
      case V::kAuto:
        break;
    }
    return TlsParameters::TLS_AUTO;
  };
  if (tls.min_protocol_version != V::kAuto) {
    common->mutable_tls_params()->set_tls_minimum_protocol_version(
        version(tls.min_protocol_version));
  }
  if (tls.max_protocol_version != V::kAuto) {
    common->mutable_tls_params()->set_tls_maximum_protocol_version(
        version(tls.max_protocol_version));
  }
  for (const auto& c : tls.cipher_suites) common->mutable_tls_params()->add_cipher_suites(c);
  if (!tls.ca_crl.empty()) {
    diags->push_back(MakeDiagnostic(*ref.gateway, ref.field() + ".tls.caCrl",
                                    "not supported; ignored", Severity::kWarning));
  }
  common->add_alpn_protocols("h2");
  common->add_alpn_protocols("http/1.1");
  auto* socket = chain->mutable_transport_socket();
  socket->set_name("envoy.transport_sockets.tls");
  socket->mutable_typed_config()->PackFrom(ctx);
}

// TCP servers get the TCP routes, PASSTHROUGH servers the TLS routes (by
// SNI, within the server's hosts) of the VirtualServices bound to their
// gateway whose hosts the server exposes.
void AddGatewayL4Chains(const CompiledMesh& mesh, const ProxyTarget& target, uint32_t port,
                        const std::vector<ServerRef>& servers, Listener* listener,
                        std::vector<CompileDiagnostic>* diags) {
  const MeshIndex& index = *mesh.index;
  std::set<std::string> used_sni, used_tcp;
  bool tcp_covered = false;
  for (const auto& ref : servers) {
    std::string gw_ns = index.NamespaceOf(*ref.gateway);
    std::string gw_key = gw_ns + "/" + ref.gateway->metadata.name;
    bool tcp = ref.server->port.protocol == "TCP";
    RouteContext ctx;
    ctx.index = &index;
    ctx.gateway_keys = {gw_key};
    ctx.is_gateway = true;
    ctx.port = port;
    ctx.proxy_namespace = target.namespace_;
    ctx.proxy_labels = &target.labels;
    ctx.diagnostics = diags;
    for (const api::Resource* vs : index.virtual_services()) {
      if (!index.BoundTo(*vs, gw_key)) continue;
      std::string vs_ns = index.NamespaceOf(*vs);
      std::vector<std::string> server_hosts;
      bool exposed = false;
      for (const auto& raw : ref.server->hosts) {
        auto [ns, host] = SplitServerHost(raw, gw_ns);
        if (ns != "*" && ns != vs_ns) continue;
        server_hosts.push_back(host);
        for (const auto& vs_host : vs->As<api::VirtualService>().hosts) {
          if (HostMatches(host, vs_host) || HostMatches(vs_host, host)) exposed = true;
        }
      }
      if (!exposed) continue;
      if (tcp) {
        if (!tcp_covered) tcp_covered = AddTcpRouteChains(ctx, *vs, listener, &used_tcp);
      } else {
        AddTlsRouteChains(ctx, *vs, server_hosts, listener, &used_sni);
      }
    }
  }
}

}  // namespace

void BuildGateway(const CompiledMesh& mesh, const ProxyTarget& target, CompiledResources* out) {
  using Mode = api::ServerTLSSettings::Mode;
  const MeshIndex& index = *mesh.index;
  std::map<uint32_t, std::vector<ServerRef>> by_port;
  for (const api::Resource* gw : index.gateways()) {
    const auto& spec = gw->As<api::Gateway>();
    if (!LabelsMatch(spec.selector, target.labels)) continue;
    for (size_t i = 0; i < spec.servers.size(); ++i) {
      by_port[spec.servers[i].port.number].push_back(ServerRef{gw, &spec.servers[i], i});
    }
  }
  for (const auto& [port, servers] : by_port) {
    Listener l;
    l.set_name(absl::StrCat("0.0.0.0_", port));
    SetAddress("0.0.0.0", port, l.mutable_address());
    l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
    std::vector<ServerRef> http_servers;
    std::vector<ServerRef> l4_servers;  // TCP, and TLS passed through by SNI
    bool tls_chains = false;
    for (const auto& ref : servers) {
      const auto& s = *ref.server;
      const std::string& protocol = s.port.protocol;
      bool terminate =
          s.tls && (s.tls->mode == Mode::kSimple || s.tls->mode == Mode::kMutual ||
                    s.tls->mode == Mode::kOptionalMutual || s.tls->mode == Mode::kIstioMutual);
      if (IsHttpProtocol(protocol) && !terminate) {
        if (tls_chains) {
          out->diagnostics.push_back(MakeDiagnostic(
              *ref.gateway, ref.field() + ".port",
              absl::StrCat("port ", port, " already serves HTTPS; plain HTTP server ignored")));
          continue;
        }
        http_servers.push_back(ref);
        continue;
      }
      if ((protocol == "HTTPS" || IsHttpProtocol(protocol)) && terminate) {
        if (!http_servers.empty()) {
          out->diagnostics.push_back(MakeDiagnostic(
              *ref.gateway, ref.field() + ".port",
              absl::StrCat("port ", port, " already serves plain HTTP; HTTPS server ignored")));
          continue;
        }
        std::string server_name =
            absl::StrCat(s.port.name.empty() ? s.name : s.port.name, ".",
                         ref.gateway->metadata.name, ".", index.NamespaceOf(*ref.gateway));
        std::string route_name = absl::StrCat("https.", port, ".", server_name);
        auto* chain = l.add_filter_chains();
        chain->set_name(route_name);
        for (const auto& h : s.hosts) {
          std::string host = SplitServerHost(h, index.NamespaceOf(*ref.gateway)).second;
          if (host != "*") chain->mutable_filter_chain_match()->add_server_names(host);
        }
        AddServerTls(ref, chain, &out->secrets, &out->diagnostics);
        auto hcm = MakeHcm(route_name, route_name, false);
        hcm.mutable_use_remote_address()->set_value(true);
        AddHcmFilter(hcm, chain);
        out->routes.emplace(route_name, Seal(GatewayRouteConfig(mesh, target, route_name, port,
                                                                {ref}, &out->diagnostics)));
        tls_chains = true;
        continue;
      }
      bool passthrough =
          (protocol == "TLS" || protocol == "HTTPS") && s.tls && s.tls->mode == Mode::kPassthrough;
      if (passthrough || (protocol == "TCP" && !s.tls)) {
        if (!http_servers.empty()) {
          out->diagnostics.push_back(
              MakeDiagnostic(*ref.gateway, ref.field() + ".port",
                             absl::StrCat("port ", port, " already serves plain HTTP; ", protocol,
                                          " server ignored")));
          continue;
        }
        l4_servers.push_back(ref);
        if (passthrough) tls_chains = true;
        continue;
      }
      out->diagnostics.push_back(MakeDiagnostic(
          *ref.gateway, ref.field(),
          absl::StrCat("servers of protocol ", protocol, s.tls ? " with this TLS mode" : "",
                       " are not supported; ignored")));
    }
    AddGatewayL4Chains(mesh, target, port, l4_servers, &l, &out->diagnostics);
    if (!http_servers.empty()) {
      std::string route_name = absl::StrCat("http.", port);
      auto hcm = MakeHcm(route_name, route_name, false);
      hcm.mutable_use_remote_address()->set_value(true);
      AddHcmFilter(hcm, l.add_filter_chains());
      out->routes.emplace(route_name, Seal(GatewayRouteConfig(mesh, target, route_name, port,
                                                              http_servers, &out->diagnostics)));
    }
    if (tls_chains) AddTlsInspector(&l);
    if (l.filter_chains_size() == 0) continue;
    {
      std::string listener_name = l.name();
      out->listeners.emplace(std::move(listener_name), Seal(std::move(l)));
    }
  }
}

}  // namespace meshgate::compiler
