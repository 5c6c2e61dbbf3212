#include "unit/xds-server/xds_test_util.h"

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "gtest/gtest.h"

namespace meshgate::xds::testing {

using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;
using envoy::config::listener::v3::Listener;
using envoy::config::route::v3::RouteConfiguration;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using envoy::extensions::transport_sockets::tls::v3::Secret;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

Cluster EdsCluster(const std::string& name) {
  Cluster c;
  c.set_name(name);
  c.set_type(Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  c.mutable_connect_timeout()->set_seconds(1);
  return c;
}

ClusterLoadAssignment Endpoints(const std::string& cluster, int port) {
  ClusterLoadAssignment cla;
  cla.set_cluster_name(cluster);
  auto* sa = cla.add_endpoints()
                 ->add_lb_endpoints()
                 ->mutable_endpoint()
                 ->mutable_address()
                 ->mutable_socket_address();
  sa->set_address("10.0.0.1");
  sa->set_port_value(port);
  return cla;
}

Listener HttpListener(const std::string& name, const std::string& route_name, int port) {
  Listener l;
  l.set_name(name);
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address("0.0.0.0");
  sa->set_port_value(port);
  HttpConnectionManager hcm;
  hcm.set_stat_prefix(name);
  hcm.mutable_rds()->set_route_config_name(route_name);
  hcm.mutable_rds()->mutable_config_source()->mutable_ads();
  auto* filter = l.add_filter_chains()->add_filters();
  filter->set_name("envoy.filters.network.http_connection_manager");
  filter->mutable_typed_config()->PackFrom(hcm);
  return l;
}

RouteConfiguration Routes(const std::string& name, const std::string& cluster,
                          const std::string& tag) {
  RouteConfiguration rc;
  rc.set_name(name);
  auto* vh = rc.add_virtual_hosts();
  vh->set_name("all");
  vh->add_domains("*");
  auto* route = vh->add_routes();
  route->mutable_match()->set_prefix(tag.empty() ? "/" : absl::StrCat("/", tag));
  route->mutable_route()->set_cluster(cluster);
  return rc;
}

Secret GenericSecret(const std::string& name, const std::string& value) {
  Secret s;
  s.set_name(name);
  s.mutable_generic_secret()->mutable_secret()->set_inline_string(value);
  return s;
}

ResourcePtr R(const std::string& name, const google::protobuf::Message& m) {
  auto r = MakeResource(name, m);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : nullptr;
}

SnapshotPtr BasicSnapshot(const std::vector<std::string>& clusters, const std::string& tag,
                          int endpoint_port_base) {
  Snapshot::Builder b;
  for (size_t i = 0; i < clusters.size(); ++i) {
    b.Add(R(clusters[i], EdsCluster(clusters[i])));
    b.Add(R(clusters[i], Endpoints(clusters[i], endpoint_port_base + static_cast<int>(i))));
  }
  b.Add(R("listener-0", HttpListener("listener-0", "routes-0", 15001)));
  b.Add(R("routes-0", Routes("routes-0", clusters[0], tag)));
  return b.Build();
}

envoy::config::core::v3::Node TestNode(const std::string& id) {
  envoy::config::core::v3::Node node;
  node.set_id(id);
  (*node.mutable_metadata()->mutable_fields())["role"].set_string_value("sidecar");
  return node;
}

namespace {
std::string NameOfAny(const google::protobuf::Any& any) {
  if (any.Is<Cluster>()) {
    Cluster c;
    any.UnpackTo(&c);
    return c.name();
  }
  if (any.Is<ClusterLoadAssignment>()) {
    ClusterLoadAssignment c;
    any.UnpackTo(&c);
    return c.cluster_name();
  }
  if (any.Is<Listener>()) {
    Listener l;
    any.UnpackTo(&l);
    return l.name();
  }
  if (any.Is<RouteConfiguration>()) {
    RouteConfiguration r;
    any.UnpackTo(&r);
    return r.name();
  }
  if (any.Is<Secret>()) {
    Secret s;
    any.UnpackTo(&s);
    return s.name();
  }
  return "?";
}
}  // namespace

std::vector<std::string> NamesOf(const DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) out.push_back(NameOfAny(any));
  return out;
}

std::vector<std::string> NamesOf(const DeltaDiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& res : r.resources()) {
    EXPECT_EQ(res.name(), NameOfAny(res.resource()));
    out.push_back(res.name());
  }
  return out;
}

XdsHarness::XdsHarness(AdsServerOptions options, NodeHasher hasher)
    : cache(std::move(hasher), clock) {
  ads = std::make_unique<AdsServer>(cache, tracker, metrics, clock, options);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(ads->service());
  server = builder.BuildAndStart();
  EXPECT_NE(server, nullptr);
  EXPECT_GT(port, 0);
}

XdsHarness::~XdsHarness() {
  server->Shutdown();
  server->Wait();
}

std::unique_ptr<AdsStub> XdsHarness::NewStub() {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  return envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
}

SotwClient::SotwClient(XdsHarness& h, const std::string& id) : node_id(id), stub(h.NewStub()) {
  stream = stub->StreamAggregatedResources(&context);
}

bool SotwClient::Send(const std::string& type_url, const std::vector<std::string>& names,
                      const std::string& version, const std::string& nonce,
                      const std::string& error) {
  DiscoveryRequest req;
  if (!sent_node) *req.mutable_node() = TestNode(node_id);
  sent_node = true;
  req.set_type_url(type_url);
  for (const auto& n : names) req.add_resource_names(n);
  req.set_version_info(version);
  req.set_response_nonce(nonce);
  if (!error.empty()) {
    req.mutable_error_detail()->set_code(3);
    req.mutable_error_detail()->set_message(error);
  }
  return stream->Write(req);
}

DiscoveryResponse SotwClient::Read() {
  DiscoveryResponse r;
  EXPECT_TRUE(stream->Read(&r)) << "stream ended";
  return r;
}

bool SotwClient::Ack(const DiscoveryResponse& r, const std::vector<std::string>& names) {
  return Send(r.type_url(), names, r.version_info(), r.nonce());
}

SotwClient::~SotwClient() {
  if (closed) return;
  context.TryCancel();
  stream->Finish().ok();
}

grpc::Status SotwClient::Close() {
  closed = true;
  stream->WritesDone();
  DiscoveryResponse ignored;
  while (stream->Read(&ignored)) {
  }
  return stream->Finish();
}

DeltaClient::DeltaClient(XdsHarness& h, const std::string& id) : node_id(id), stub(h.NewStub()) {
  stream = stub->DeltaAggregatedResources(&context);
}

bool DeltaClient::Send(DeltaDiscoveryRequest req) {
  if (!sent_node) *req.mutable_node() = TestNode(node_id);
  sent_node = true;
  return stream->Write(req);
}

DeltaDiscoveryResponse DeltaClient::Read() {
  DeltaDiscoveryResponse r;
  EXPECT_TRUE(stream->Read(&r)) << "stream ended";
  return r;
}

bool DeltaClient::Ack(const DeltaDiscoveryResponse& r) {
  DeltaDiscoveryRequest req;
  req.set_type_url(r.type_url());
  req.set_response_nonce(r.nonce());
  return Send(req);
}

DeltaClient::~DeltaClient() {
  if (closed) return;
  context.TryCancel();
  stream->Finish().ok();
}

grpc::Status DeltaClient::Close() {
  closed = true;
  stream->WritesDone();
  DeltaDiscoveryResponse ignored;
  while (stream->Read(&ignored)) {
  }
  return stream->Finish();
}

}  // namespace meshgate::xds::testing
