// AdsServer: the Envoy v3 AggregatedDiscoveryService, state-of-the-world
// (StreamAggregatedResources) and incremental (DeltaAggregatedResources), over
// gRPC's callback API — no thread per stream.
//
// Each stream finds its proxy group from the first request's node, watches that
// group in the SnapshotCache and serves whatever snapshot the cache holds:
//   - every response carries a fresh nonce; a SotW request whose response_nonce
//     is not the latest for its type is stale and ignored (delta: its ACK/NACK
//     part is ignored, subscription changes still apply);
//   - ACK/NACK are recorded per proxy and type in the StatusTracker; a NACKed
//     version is never sent again to that proxy, the next different one is;
//   - a type is only answered when what the proxy subscribed to changed (per
//     proxy content versions), or when it changed its subscription and gains
//     something;
//   - a snapshot changing several types is pushed in make-before-break order
//     (SDS, CDS, EDS, LDS, RDS); clusters that went away are removed in a last
//     step after everything that might still route to them; after a CDS (LDS)
//     push the dependent EDS (RDS) is pushed again so warming never waits;
//   - new streams above a token-bucket rate get RESOURCE_EXHAUSTED, which
//     spreads out reconnect storms after a control-plane restart.
//
// Ownership: the cache, tracker, metrics and clock are borrowed and must outlive
// the server and every stream it serves (shut the grpc::Server down first).
// Thread-safety: gRPC calls in on its own threads; the class is thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "common/clock.h"
#include "xds-server/metrics.h"
#include "xds-server/snapshot_cache.h"
#include "xds-server/status_tracker.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace meshgate::xds {

struct AdsServerOptions {
  // New streams accepted per second, and how many may arrive at once.
  double max_new_streams_per_second = 500;
  double new_stream_burst = 1000;
};

class AdsServer {
 public:
  AdsServer(SnapshotCache& cache, StatusTracker& tracker, MetricsRegistry& metrics,
            const Clock& clock, AdsServerOptions options = {});
  ~AdsServer();
  AdsServer(const AdsServer&) = delete;
  AdsServer& operator=(const AdsServer&) = delete;

  // The service to register with grpc::ServerBuilder::RegisterService.
  grpc::Service* service();
  // The per-type state-of-the-world and delta services (Envoy's non-aggregated
  // xDS: ClusterDiscoveryService StreamClusters/DeltaClusters, and likewise
  // Listener, Route, Endpoint and Secret): the same streams as ADS, each
  // restricted to its one type (a request for another type ends the stream
  // with INVALID_ARGUMENT; one without type_url is for the service's type).
  // Register each with the same grpc::ServerBuilder.
  std::vector<grpc::Service*> per_type_services();

  // Streams currently open (accepted, not yet done).
  size_t OpenStreams() const;

  struct Impl;
  class SingleTypeService;

 private:
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<grpc::Service>> per_type_;
};

}  // namespace meshgate::xds
