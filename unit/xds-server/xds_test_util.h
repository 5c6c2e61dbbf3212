// Test helpers for the xDS server: small Envoy resources and snapshots, and an
// in-process ADS server on 127.0.0.1:0 with real gRPC client stubs.
//
// Thread-safety: a fixture is used by one test thread; the server runs on
// gRPC's threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "xds-server/ads_server.h"
#include "xds-server/metrics.h"
#include "xds-server/snapshot_cache.h"
#include "xds-server/status_tracker.h"

namespace meshgate::xds::testing {

envoy::config::cluster::v3::Cluster EdsCluster(const std::string& name);
envoy::config::endpoint::v3::ClusterLoadAssignment Endpoints(const std::string& cluster, int port);
// A listener whose HttpConnectionManager fetches `route_name` over RDS.
envoy::config::listener::v3::Listener HttpListener(const std::string& name,
                                                   const std::string& route_name, int port);
// A route configuration sending everything to `cluster`; `tag` varies content.
envoy::config::route::v3::RouteConfiguration Routes(const std::string& name,
                                                    const std::string& cluster,
                                                    const std::string& tag = "");
envoy::extensions::transport_sockets::tls::v3::Secret GenericSecret(const std::string& name,
                                                                    const std::string& value);

// Test shorthand: MakeResource that must succeed.
ResourcePtr R(const std::string& name, const google::protobuf::Message& m);

// A consistent snapshot: EDS clusters `clusters` (ports 8000+i), listener
// "listener-0" -> routes "routes-0" -> clusters[0] (route tag `tag`).
// REQUIRES: !clusters.empty().
SnapshotPtr BasicSnapshot(const std::vector<std::string>& clusters, const std::string& tag = "",
                          int endpoint_port_base = 8000);

envoy::config::core::v3::Node TestNode(const std::string& id);

// The names of the resources in a response (unpacking the Any name field via
// the resource type).
std::vector<std::string> NamesOf(const envoy::service::discovery::v3::DiscoveryResponse& r);
std::vector<std::string> NamesOf(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r);

using AdsStub = envoy::service::discovery::v3::AggregatedDiscoveryService::Stub;
using SotwStream = grpc::ClientReaderWriter<envoy::service::discovery::v3::DiscoveryRequest,
                                            envoy::service::discovery::v3::DiscoveryResponse>;
using DeltaStream = grpc::ClientReaderWriter<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                                             envoy::service::discovery::v3::DeltaDiscoveryResponse>;

// Cache, tracker, metrics, ManualClock and a real gRPC server around an AdsServer.
class XdsHarness {
 public:
  explicit XdsHarness(AdsServerOptions options = {}, NodeHasher hasher = NodeIdHasher());
  ~XdsHarness();

  std::unique_ptr<AdsStub> NewStub();

  ManualClock clock;
  SnapshotCache cache;
  StatusTracker tracker;
  MetricsRegistry metrics;
  std::unique_ptr<AdsServer> ads;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// A client-side SotW ADS stream with its own context and helpers.
class SotwClient {
 public:
  SotwClient(XdsHarness& h, const std::string& node_id);
  ~SotwClient();
  // Sends a request; `nonce`/`version` empty for a first request.
  bool Send(const std::string& type_url, const std::vector<std::string>& names,
            const std::string& version = "", const std::string& nonce = "",
            const std::string& error = "");
  // Blocks for the next response; fails the test if the stream ended.
  envoy::service::discovery::v3::DiscoveryResponse Read();
  // ACKs `r` keeping `names` subscribed.
  bool Ack(const envoy::service::discovery::v3::DiscoveryResponse& r,
           const std::vector<std::string>& names);
  grpc::Status Close();

  std::string node_id;
  std::unique_ptr<AdsStub> stub;
  grpc::ClientContext context;
  std::unique_ptr<SotwStream> stream;
  bool sent_node = false;
  bool closed = false;
};

class DeltaClient {
 public:
  DeltaClient(XdsHarness& h, const std::string& node_id);
  ~DeltaClient();
  bool Send(envoy::service::discovery::v3::DeltaDiscoveryRequest request);
  envoy::service::discovery::v3::DeltaDiscoveryResponse Read();
  bool Ack(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r);
  grpc::Status Close();

  std::string node_id;
  std::unique_ptr<AdsStub> stub;
  grpc::ClientContext context;
  std::unique_ptr<DeltaStream> stream;
  bool sent_node = false;
  bool closed = false;
};

}  // namespace meshgate::xds::testing
