// Clusters and endpoints: Services, EndpointSlices, Pods, ServiceEntries and
// DestinationRule traffic policies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using envoy::config::cluster::v3::Cluster;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using namespace testing;  // NOLINT

const Cluster& GetCluster(const CompiledResources& r, const std::string& name) {
  auto it = r.clusters.find(name);
  EXPECT_NE(it, r.clusters.end()) << name;
  static const Cluster kEmpty;
  return it == r.clusters.end() ? kEmpty : *it->second.resource;
}

std::vector<std::string> Addresses(const ClusterLoadAssignment& cla) {
  std::vector<std::string> out;
  for (const auto& group : cla.endpoints()) {
    for (const auto& e : group.lb_endpoints()) {
      const auto& sa = e.endpoint().address().socket_address();
      out.push_back(sa.address() + ":" + std::to_string(sa.port_value()));
    }
  }
  return out;
}

// The ISTIO_MUTUAL client context: workload certificate and trust bundle
// over SDS (ADS), the one peer SPIFFE ID `san`, Istio's SNI, HTTP ALPN.
void ExpectIstioMutual(const envoy::config::core::v3::TransportSocket& socket,
                       const std::string& san, const std::string& sni) {
  envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext tls;
  ASSERT_EQ(socket.name(), "envoy.transport_sockets.tls");
  ASSERT_TRUE(socket.typed_config().UnpackTo(&tls));
  const auto& common = tls.common_tls_context();
  ASSERT_EQ(common.tls_certificate_sds_secret_configs_size(), 1);
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).name(), "default");
  EXPECT_TRUE(common.tls_certificate_sds_secret_configs(0).sds_config().has_ads());
  EXPECT_EQ(common.combined_validation_context().validation_context_sds_secret_config().name(),
            "ROOTCA");
  const auto& sans = common.combined_validation_context()
                         .default_validation_context()
                         .match_typed_subject_alt_names();
  ASSERT_EQ(sans.size(), 1);
  EXPECT_EQ(sans[0].matcher().exact(), san);
  EXPECT_EQ(tls.sni(), sni);
  EXPECT_THAT(common.alpn_protocols(), ElementsAre("h2", "http/1.1"));
}

api::DestinationRule SubsetsRule(std::string host) {
  api::DestinationRule dr;
  dr.host = std::move(host);
  dr.subsets.push_back(api::Subset{"v1", {{"version", "v1"}}, std::nullopt});
  dr.subsets.push_back(api::Subset{"v2", {{"version", "v2"}}, std::nullopt});
  return dr;
}

TEST(Clusters, ServicePortBecomesEdsClusterWithReadyEndpointsOnly) {
  MeshBuilder mesh;
  api::Service svc;
  svc.selector = {{"app", "reviews"}};
  api::ServicePort http = HttpPort(9080, 0);
  http.target_port_number.reset();
  http.target_port_name = "web";
  svc.ports = {http};
  mesh.Add(api::Kind::kService, "shop", "reviews", svc);
  api::Pod pod;
  pod.service_account_name = "reviews-sa";
  pod.container_ports = {api::ContainerPort{"web", 8080, "TCP"}};
  mesh.Add(api::Kind::kPod, "shop", "reviews-1", pod, {{"app", "reviews"}});
  api::EndpointSlice slice;
  slice.service_name = "reviews";
  slice.ports = {api::EndpointPort{"http", "TCP", "", std::nullopt}};  // port resolved via Pod
  api::Endpoint ready;
  ready.addresses = {"10.0.0.1"};
  ready.target_ref = api::ObjectReference{"Pod", "shop", "reviews-1"};
  api::Endpoint not_ready = ready;
  not_ready.addresses = {"10.0.0.2"};
  not_ready.conditions.ready = false;
  api::Endpoint terminating = ready;
  terminating.addresses = {"10.0.0.3"};
  terminating.conditions.terminating = true;
  slice.endpoints = {terminating, not_ready, ready};
  mesh.Add(api::Kind::kEndpointSlice, "shop", "reviews-x", slice);

  auto out = Compile(mesh.Build(), Sidecar("shop"));
  const std::string name = "outbound|9080||reviews.shop.svc.cluster.local";
  const Cluster& c = GetCluster(out, name);
  EXPECT_EQ(c.type(), Cluster::EDS);
  EXPECT_TRUE(c.eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(c.eds_cluster_config().service_name(), name);
  EXPECT_EQ(c.connect_timeout().seconds(), 10);
  ASSERT_EQ(out.endpoints.count(name), 1u);
  EXPECT_THAT(Addresses(*out.endpoints.at(name).resource), ElementsAre("10.0.0.1:8080"));
  EXPECT_FALSE(HasErrors(out.diagnostics));
}

TEST(Clusters, SubsetClustersSelectEndpointsByPodLabels) {
  MeshBuilder mesh;
  mesh.AddService("default", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2", "v2"});
  mesh.Add(api::Kind::kDestinationRule, "default", "reviews", SubsetsRule("reviews"));
  auto out = Compile(mesh.Build(), Sidecar("default"));
  const std::string host = "reviews.default.svc.cluster.local";
  EXPECT_EQ(Addresses(*out.endpoints.at("outbound|9080||" + host).resource).size(), 3u);
  EXPECT_THAT(Addresses(*out.endpoints.at("outbound|9080|v1|" + host).resource),
              ElementsAre("10.0.0.1:9080"));
  EXPECT_THAT(Addresses(*out.endpoints.at("outbound|9080|v2|" + host).resource),
              ElementsAre("10.0.0.2:9080", "10.0.0.3:9080"));
  EXPECT_EQ(GetCluster(out, "outbound|9080|v2|" + host).type(), Cluster::EDS);
}

TEST(Clusters, ServiceEntryResolutionPicksClusterType) {
  MeshBuilder mesh;
  auto add = [&](const std::string& name, const std::string& host,
                 api::ServiceEntry::Resolution resolution, std::vector<std::string> addresses) {
    api::ServiceEntry se;
    se.hosts = {host};
    se.ports = {api::Port{443, "TLS", "tls", std::nullopt}};
    se.resolution = resolution;
    for (const auto& a : addresses) se.endpoints.push_back(api::WorkloadEntry{a});
    mesh.Add(api::Kind::kServiceEntry, "default", name, se);
  };
  using R = api::ServiceEntry::Resolution;
  add("dns", "api.example.com", R::kDNS, {});
  add("rr", "rr.example.com", R::kDNSRoundRobin, {});
  add("static", "db.internal", R::kStatic, {"192.168.0.2", "192.168.0.1"});
  add("none", "any.example.com", R::kNone, {});
  auto out = Compile(mesh.Build(), Sidecar("default"));
  const Cluster& dns = GetCluster(out, "outbound|443||api.example.com");
  EXPECT_EQ(dns.type(), Cluster::STRICT_DNS);
  EXPECT_THAT(Addresses(dns.load_assignment()), ElementsAre("api.example.com:443"));
  EXPECT_EQ(GetCluster(out, "outbound|443||rr.example.com").type(), Cluster::LOGICAL_DNS);
  const Cluster& st = GetCluster(out, "outbound|443||db.internal");
  EXPECT_EQ(st.type(), Cluster::STATIC);
  EXPECT_THAT(Addresses(st.load_assignment()), ElementsAre("192.168.0.1:443", "192.168.0.2:443"));
  const Cluster& none = GetCluster(out, "outbound|443||any.example.com");
  EXPECT_EQ(none.type(), Cluster::ORIGINAL_DST);
  EXPECT_EQ(none.lb_policy(), Cluster::CLUSTER_PROVIDED);
  EXPECT_EQ(out.endpoints.count("outbound|443||db.internal"), 0u);  // inline, not EDS
}

TEST(Clusters, LoadBalancerPolicies) {
  MeshBuilder mesh;
  using Simple = api::LoadBalancerSettings::Simple;
  auto add = [&](const std::string& name, api::LoadBalancerSettings lb) {
    mesh.AddService("default", name, {HttpPort(80, 8080)});
    api::DestinationRule dr;
    dr.host = name;
    dr.traffic_policy.emplace().load_balancer = lb;
    mesh.Add(api::Kind::kDestinationRule, "default", name, dr);
  };
  add("rr", {.simple = Simple::kRoundRobin});
  add("lc", {.simple = Simple::kLeastConn});
  add("rand", {.simple = Simple::kRandom});
  api::LoadBalancerSettings ring;
  ring.consistent_hash.emplace().http_header_name = "x-user";
  ring.consistent_hash->ring_hash = api::LoadBalancerSettings::ConsistentHash::RingHash{2048};
  add("ring", ring);
  api::LoadBalancerSettings maglev;
  maglev.consistent_hash.emplace().use_source_ip = true;
  maglev.consistent_hash->maglev = api::LoadBalancerSettings::ConsistentHash::Maglev{65537};
  add("maglev", maglev);
  mesh.AddService("default", "plain", {HttpPort(80, 8080)});
  auto out = Compile(mesh.Build(), Sidecar("default"));
  auto c = [&](const std::string& n) -> const Cluster& {
    return GetCluster(out, "outbound|80||" + n + ".default.svc.cluster.local");
  };
  EXPECT_EQ(c("rr").lb_policy(), Cluster::ROUND_ROBIN);
  EXPECT_EQ(c("lc").lb_policy(), Cluster::LEAST_REQUEST);
  EXPECT_EQ(c("rand").lb_policy(), Cluster::RANDOM);
  EXPECT_EQ(c("plain").lb_policy(), Cluster::LEAST_REQUEST);  // Istio's default
  EXPECT_EQ(c("ring").lb_policy(), Cluster::RING_HASH);
  EXPECT_EQ(c("ring").ring_hash_lb_config().minimum_ring_size().value(), 2048u);
  EXPECT_EQ(c("maglev").lb_policy(), Cluster::MAGLEV);
  EXPECT_EQ(c("maglev").maglev_lb_config().table_size().value(), 65537u);

  // The hash policy goes on the routes that target the consistent-hash cluster.
  const auto& rc = *out.routes.at("80").resource;
  const auto* ring_vhost = FindVhost(rc, "ring.default.svc.cluster.local:80");
  ASSERT_NE(ring_vhost, nullptr);
  ASSERT_EQ(ring_vhost->routes(0).route().hash_policy_size(), 1);
  EXPECT_EQ(ring_vhost->routes(0).route().hash_policy(0).header().header_name(), "x-user");
  const auto* maglev_vhost = FindVhost(rc, "maglev.default.svc.cluster.local:80");
  EXPECT_TRUE(maglev_vhost->routes(0).route().hash_policy(0).connection_properties().source_ip());
  EXPECT_EQ(FindVhost(rc, "rr.default.svc.cluster.local:80")->routes(0).route().hash_policy_size(),
            0);
}

TEST(Clusters, ConnectionPoolAndOutlierDetection) {
  MeshBuilder mesh;
  mesh.AddService("default", "ratings", {HttpPort(9080, 9080)});
  api::DestinationRule dr;
  dr.host = "ratings";
  auto& tp = dr.traffic_policy.emplace();
  auto& pool = tp.connection_pool.emplace();
  pool.tcp.emplace().max_connections = 100;
  pool.tcp->connect_timeout = absl::Milliseconds(250);
  auto& http = pool.http.emplace();
  http.http1_max_pending_requests = 10;
  http.http2_max_requests = 1000;
  http.max_retries = 3;
  http.max_requests_per_connection = 7;
  http.idle_timeout = absl::Seconds(30);
  auto& od = tp.outlier_detection.emplace();
  od.consecutive_5xx_errors = 5;
  od.interval = absl::Seconds(10);
  od.base_ejection_time = absl::Seconds(30);
  od.max_ejection_percent = 50;
  od.min_health_percent = 20;
  mesh.Add(api::Kind::kDestinationRule, "default", "ratings", dr);
  auto out = Compile(mesh.Build(), Sidecar("default"));
  const Cluster& c = GetCluster(out, "outbound|9080||ratings.default.svc.cluster.local");
  ASSERT_EQ(c.circuit_breakers().thresholds_size(), 1);
  const auto& t = c.circuit_breakers().thresholds(0);
  EXPECT_EQ(t.max_connections().value(), 100u);
  EXPECT_EQ(t.max_pending_requests().value(), 10u);
  EXPECT_EQ(t.max_requests().value(), 1000u);
  EXPECT_EQ(t.max_retries().value(), 3u);
  EXPECT_EQ(c.connect_timeout().nanos(), 250000000);
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
  ASSERT_TRUE(c.typed_extension_protocol_options()
                  .at("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
                  .UnpackTo(&options));
  EXPECT_EQ(options.common_http_protocol_options().max_requests_per_connection().value(), 7u);
  EXPECT_EQ(options.common_http_protocol_options().idle_timeout().seconds(), 30);
  EXPECT_TRUE(options.explicit_http_config().has_http_protocol_options());
  EXPECT_EQ(c.outlier_detection().consecutive_5xx().value(), 5u);
  EXPECT_EQ(c.outlier_detection().enforcing_consecutive_5xx().value(), 100u);
  EXPECT_EQ(c.outlier_detection().interval().seconds(), 10);
  EXPECT_EQ(c.outlier_detection().base_ejection_time().seconds(), 30);
  EXPECT_EQ(c.outlier_detection().max_ejection_percent().value(), 50u);
  EXPECT_EQ(c.common_lb_config().healthy_panic_threshold().value(), 20.0);
}

TEST(Clusters, Http2UpstreamFromAppProtocolAndUpgradePolicy) {
  MeshBuilder mesh;
  mesh.AddService("default", "grpc-svc", {HttpPort(50051, 50051, "rpc")}, {"v1"}, "grpc");
  mesh.AddService("default", "web", {HttpPort(80, 8080)});
  mesh.AddService("default", "web-h1", {HttpPort(80, 8080)});
  api::DestinationRule dr;
  dr.host = "web";
  dr.traffic_policy.emplace().connection_pool.emplace().http.emplace().h2_upgrade_policy =
      api::ConnectionPoolSettings::HTTPSettings::H2UpgradePolicy::kUpgrade;
  mesh.Add(api::Kind::kDestinationRule, "default", "web", dr);
  auto out = Compile(mesh.Build(), Sidecar("default"));
  auto h2 = [&](const std::string& name) {
    const Cluster& c = GetCluster(out, name);
    auto it = c.typed_extension_protocol_options().find(
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    if (it == c.typed_extension_protocol_options().end()) return false;
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
    return it->second.UnpackTo(&options) &&
           options.explicit_http_config().has_http2_protocol_options();
  };
  EXPECT_TRUE(h2("outbound|50051||grpc-svc.default.svc.cluster.local"));
  EXPECT_TRUE(h2("outbound|80||web.default.svc.cluster.local"));
  EXPECT_FALSE(h2("outbound|80||web-h1.default.svc.cluster.local"));
}

TEST(Clusters, IstioMutualUsesSdsSecretsAndSpiffeSans) {
  MeshBuilder mesh;
  mesh.AddService("bookinfo", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2"});
  api::DestinationRule dr = SubsetsRule("reviews");
  dr.traffic_policy.emplace().tls.emplace().mode = api::ClientTLSSettings::Mode::kIstioMutual;
  mesh.Add(api::Kind::kDestinationRule, "bookinfo", "reviews", dr);
  auto out = Compile(mesh.Build(), Sidecar("bookinfo"));
  const Cluster& c = GetCluster(out, "outbound|9080|v1|reviews.bookinfo.svc.cluster.local");
  ExpectIstioMutual(c.transport_socket(), "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",
                    "outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local");
  EXPECT_THAT(out.secrets, UnorderedElementsAre("default", "ROOTCA"));
}

// Istio's auto mTLS: without TLS settings, ISTIO_MUTUAL to the endpoints
// whose pod carries the sidecar injector's label, plaintext to the others.
TEST(Clusters, AutoMtlsChoosesTheTransportByTheEndpointsSidecarLabel) {
  MeshBuilder mesh;
  mesh.AddService("bookinfo", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2"});
  // reviews-v1-0 runs a sidecar; reviews-v2-1 does not.
  for (auto& object : mesh.objects()) {
    if (object->kind == api::Kind::kPod && object->metadata.name == "reviews-v1-0") {
      api::Labels labels = object->metadata.labels;
      labels["security.istio.io/tlsMode"] = "istio";
      object = testing::MakeResource(api::Kind::kPod, "bookinfo", "reviews-v1-0", object->spec,
                                     std::move(labels));
    }
  }
  auto out = Compile(mesh.Build(), Sidecar("bookinfo"));
  const std::string name = "outbound|9080||reviews.bookinfo.svc.cluster.local";
  const Cluster& c = GetCluster(out, name);
  EXPECT_FALSE(c.has_transport_socket());
  ASSERT_EQ(c.transport_socket_matches_size(), 2);
  const auto& istio = c.transport_socket_matches(0);
  EXPECT_EQ(istio.name(), "tlsMode-istio");
  ASSERT_EQ(istio.match().fields().size(), 1u);
  EXPECT_EQ(istio.match().fields().at("tlsMode").string_value(), "istio");
  ExpectIstioMutual(istio.transport_socket(),
                    "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",
                    "outbound_.9080_._.reviews.bookinfo.svc.cluster.local");
  const auto& plaintext = c.transport_socket_matches(1);
  EXPECT_EQ(plaintext.name(), "tlsMode-disabled");
  EXPECT_TRUE(plaintext.match().fields().empty());
  EXPECT_EQ(plaintext.transport_socket().typed_config().type_url(),
            "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer");
  // The proxy needs the secrets the mTLS match names.
  EXPECT_THAT(out.secrets, UnorderedElementsAre("default", "ROOTCA"));

  // The endpoint metadata the matches select on: only the labelled pod's.
  std::map<std::string, std::string> modes;
  for (const auto& group : out.endpoints.at(name).resource->endpoints()) {
    for (const auto& e : group.lb_endpoints()) {
      const auto& md = e.metadata().filter_metadata();
      auto ns = md.find("envoy.transport_socket_match");
      modes[e.endpoint().address().socket_address().address()] =
          ns == md.end() ? "" : ns->second.fields().at("tlsMode").string_value();
    }
  }
  EXPECT_THAT(modes, UnorderedElementsAre(::testing::Pair("10.0.0.1", "istio"),
                                          ::testing::Pair("10.0.0.2", "")));
}

TEST(Clusters, AutoMtlsStaysOutOfExplicitTlsExternalServicesAndProxylessClients) {
  MeshBuilder mesh;
  mesh.AddService("bookinfo", "reviews", {HttpPort(9080, 9080)});
  mesh.AddService("bookinfo", "ratings", {HttpPort(9080, 9080)});
  mesh.AddService("bookinfo", "details", {HttpPort(9080, 9080)});
  api::DestinationRule disable;
  disable.host = "ratings";
  disable.traffic_policy.emplace().tls.emplace().mode = api::ClientTLSSettings::Mode::kDisable;
  mesh.Add(api::Kind::kDestinationRule, "bookinfo", "ratings", disable);
  api::DestinationRule mutual;
  mutual.host = "details";
  mutual.traffic_policy.emplace().tls.emplace().mode = api::ClientTLSSettings::Mode::kIstioMutual;
  mesh.Add(api::Kind::kDestinationRule, "bookinfo", "details", mutual);
  api::ServiceEntry external;
  external.hosts = {"api.example.com"};
  external.ports = {api::Port{443, "TLS", "tls", std::nullopt}};
  external.resolution = api::ServiceEntry::Resolution::kDNS;
  mesh.Add(api::Kind::kServiceEntry, "bookinfo", "external", external);
  api::ServiceEntry internal = external;
  internal.hosts = {"legacy.internal"};
  internal.location = api::ServiceEntry::Location::kMeshInternal;
  internal.resolution = api::ServiceEntry::Resolution::kStatic;
  internal.endpoints = {api::WorkloadEntry{"192.168.0.7"}};
  mesh.Add(api::Kind::kServiceEntry, "bookinfo", "internal", internal);

  auto out = Compile(mesh.Build(), Sidecar("bookinfo"));
  EXPECT_EQ(GetCluster(out, "outbound|9080||reviews.bookinfo.svc.cluster.local")
                .transport_socket_matches_size(),
            2);
  const Cluster& ratings = GetCluster(out, "outbound|9080||ratings.bookinfo.svc.cluster.local");
  EXPECT_EQ(ratings.transport_socket_matches_size(), 0) << "DISABLE means plaintext";
  EXPECT_FALSE(ratings.has_transport_socket());
  const Cluster& details = GetCluster(out, "outbound|9080||details.bookinfo.svc.cluster.local");
  EXPECT_EQ(details.transport_socket_matches_size(), 0);
  EXPECT_TRUE(details.has_transport_socket());
  EXPECT_EQ(GetCluster(out, "outbound|443||api.example.com").transport_socket_matches_size(), 0);
  EXPECT_EQ(GetCluster(out, "outbound|443||legacy.internal").transport_socket_matches_size(), 2);

  // Proxyless gRPC clients get no SDS certificates: plaintext clusters.
  ProxyTarget grpc;
  grpc.role = ProxyTarget::Role::kProxylessGrpc;
  grpc.namespace_ = "bookinfo";
  auto proxyless = Compile(mesh.Build(), grpc);
  const Cluster& plain = GetCluster(proxyless, "outbound|9080||reviews.bookinfo.svc.cluster.local");
  EXPECT_EQ(plain.transport_socket_matches_size(), 0);
  EXPECT_FALSE(plain.has_transport_socket());

  // And with auto mTLS off, nothing is added.
  CompileOptions options;
  options.auto_mtls = false;
  CompiledResources off = CompileForProxy(*BuildMesh(mesh.Build(), options), Sidecar("bookinfo"));
  EXPECT_EQ(GetCluster(off, "outbound|9080||reviews.bookinfo.svc.cluster.local")
                .transport_socket_matches_size(),
            0);
}

TEST(Clusters, PolicyPrecedenceSubsetOverPortOverTopLevel) {
  MeshBuilder mesh;
  mesh.AddService("default", "svc", {HttpPort(80, 8080), HttpPort(81, 8081, "http-admin")}, {"v1"});
  using Simple = api::LoadBalancerSettings::Simple;
  api::DestinationRule dr;
  dr.host = "svc.default.svc.cluster.local";
  auto& tp = dr.traffic_policy.emplace();
  tp.load_balancer = api::LoadBalancerSettings{.simple = Simple::kRandom};
  api::TrafficPolicy::PortTrafficPolicy port_policy;
  port_policy.port = api::PortSelector{81};
  port_policy.load_balancer = api::LoadBalancerSettings{.simple = Simple::kRoundRobin};
  tp.port_level_settings.push_back(port_policy);
  api::TrafficPolicy subset_policy;
  subset_policy.tls.emplace().mode = api::ClientTLSSettings::Mode::kSimple;
  subset_policy.tls->credential_name = "svc-client";
  subset_policy.tls->mode = api::ClientTLSSettings::Mode::kMutual;
  subset_policy.load_balancer = api::LoadBalancerSettings{.simple = Simple::kLeastRequest};
  dr.subsets.push_back(api::Subset{"v1", {{"version", "v1"}}, subset_policy});
  mesh.Add(api::Kind::kDestinationRule, "default", "svc", dr);
  auto out = Compile(mesh.Build(), Sidecar("default"));
  const std::string h = "svc.default.svc.cluster.local";
  EXPECT_EQ(GetCluster(out, "outbound|80||" + h).lb_policy(), Cluster::RANDOM);
  EXPECT_EQ(GetCluster(out, "outbound|81||" + h).lb_policy(), Cluster::ROUND_ROBIN);
  const Cluster& v1 = GetCluster(out, "outbound|81|v1|" + h);
  EXPECT_EQ(v1.lb_policy(), Cluster::LEAST_REQUEST);
  envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext tls;
  ASSERT_TRUE(v1.transport_socket().typed_config().UnpackTo(&tls));
  EXPECT_EQ(tls.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "svc-client");
  EXPECT_EQ(tls.common_tls_context()
                .combined_validation_context()
                .validation_context_sds_secret_config()
                .name(),
            "svc-client-cacert");
  EXPECT_EQ(tls.sni(), h);
  EXPECT_FALSE(GetCluster(out, "outbound|81||" + h).has_transport_socket());
}

TEST(Clusters, UnsupportedPolicyFieldsAreReported) {
  MeshBuilder mesh;
  mesh.AddService("default", "svc", {HttpPort(80, 8080)});
  api::DestinationRule dr;
  dr.host = "svc";
  dr.traffic_policy.emplace().tunnel = api::TrafficPolicy::TunnelSettings{"CONNECT", "x", 1};
  mesh.Add(api::Kind::kDestinationRule, "default", "svc", dr);
  api::DestinationRule orphan;
  orphan.host = "missing";
  mesh.Add(api::Kind::kDestinationRule, "default", "orphan", orphan);
  auto mesh_out = BuildMesh(mesh.Build(), {});
  std::vector<std::string> messages;
  for (const auto& d : mesh_out->diagnostics) messages.push_back(d.object + " " + d.field_path);
  EXPECT_THAT(messages,
              ::testing::IsSupersetOf({"DestinationRule/default/svc spec.trafficPolicy.tunnel",
                                       "DestinationRule/default/orphan spec.host"}));
}

}  // namespace
}  // namespace meshgate::compiler
