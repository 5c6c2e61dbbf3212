// AdsClient: the proxy's side of the Aggregated Discovery Service — one
// state-of-the-world ADS stream to the control plane that subscribes,
// hands each response to a ResourceHandler, and ACKs or NACKs it.
//
// Protocol, as Envoy does it: LDS and CDS are wildcard subscriptions; RDS,
// EDS and SDS are by name, and the handler changes those names as listeners
// and clusters come and go. An ACK echoes the response's version and nonce;
// a NACK echoes the nonce with the last ACCEPTED version and an error_detail
// saying what could not be honoured — the handler keeps its last good config.
// When the stream breaks, the client reconnects with jittered exponential
// backoff and re-subscribes, sending the versions it has.
//
// Delta mode (options.delta, DeltaAggregatedResources): the server sends only
// what changed. The client keeps every resource it accepted, by type and
// name, applies each response's added and removed resources to a copy, and
// hands the handler the complete resulting set — so handlers are the same in
// both modes. A NACK leaves the kept set untouched. Subscription changes go
// out as resource_names_subscribe / _unsubscribe; LDS and CDS are wildcard.
// On reconnect the first request of each type carries
// initial_resource_versions (name -> version of everything kept), so the
// server resends only what changed meanwhile.
//
// Thread-safety: the client runs its stream on its own thread and calls the
// handler there, one response at a time. Start/Stop and SetSubscription may
// be called from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace meshgate::proxy::xds {

inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kEndpointType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

class ResourceHandler {
 public:
  virtual ~ResourceHandler() = default;
  // One response's resources of one type (for LDS/CDS the complete set).
  // Returning an error NACKs the response with the status message as
  // error_detail; the handler must then keep what it had.
  virtual absl::Status OnResources(const std::string& type_url,
                                   const std::vector<google::protobuf::Any>& resources,
                                   const std::string& version) = 0;
  // The stream connected (true) or broke (false). For readiness and stats.
  virtual void OnStreamState(bool connected) { (void)connected; }
};

struct AdsClientOptions {
  std::string target;                                     // "host:port"
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // insecure when null
  envoy::config::core::v3::Node node;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  uint64_t seed = std::random_device{}();
  bool delta = false;  // incremental xDS (DeltaAggregatedResources)
};

class AdsClient {
 public:
  AdsClient(AdsClientOptions options, ResourceHandler* handler);
  ~AdsClient();  // Stop()s

  void Start();
  void Stop();

  // Replaces the named subscription for `type_url` (RDS/EDS/SDS). The change
  // is sent on the stream promptly; called from the handler it is sent right
  // after the current ACK.
  void SetSubscription(const std::string& type_url, std::set<std::string> names);

  // True while a stream is open on a ready channel. A reconnecting proxy
  // that already has the current versions may get no response at all, so
  // "connected" cannot wait for one.
  bool connected() const;

  // Counters for the admin page and tests.
  uint64_t acks() const { return acks_; }
  uint64_t nacks() const { return nacks_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  struct DeltaResource {
    std::string version;
    google::protobuf::Any resource;
  };
  struct TypeState {
    bool wildcard = false;
    std::set<std::string> names;
    std::string accepted_version;
    std::string last_nonce;
    bool dirty = true;  // subscription changed: send a request
    // Delta mode: what was accepted, by resource name, and which names the
    // current stream has been told about.
    std::map<std::string, DeltaResource> delta_resources;
    std::set<std::string> delta_subscribed;
    bool delta_started = false;  // the first request of this stream went out
  };
  using Stream = grpc::ClientReaderWriter<envoy::service::discovery::v3::DiscoveryRequest,
                                          envoy::service::discovery::v3::DiscoveryResponse>;
  using DeltaStream =
      grpc::ClientReaderWriter<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                               envoy::service::discovery::v3::DeltaDiscoveryResponse>;

  void Run();
  bool RunOneStream();
  bool RunOneDeltaStream();
  // REQUIRES: mu_ held. Sends the subscription changes of every dirty type
  // (every type when `first`).
  bool SendDirtyDeltaRequests(DeltaStream& stream, bool first);
  // REQUIRES: mu_ held. The request announcing `state`'s subscription
  // changes; false when there is nothing to say.
  bool MakeDeltaSubscription(const std::string& type_url, TypeState& state, bool with_node,
                             envoy::service::discovery::v3::DeltaDiscoveryRequest& request) const;
  bool SendDirtyRequests(Stream& stream, bool first);
  envoy::service::discovery::v3::DiscoveryRequest MakeRequest(const std::string& type_url,
                                                              const TypeState& state,
                                                              bool with_node) const;

  AdsClientOptions options_;
  ResourceHandler* handler_;
  std::shared_ptr<grpc::Channel> channel_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mt19937_64 rng_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, TypeState> types_;  // ordered: CDS, EDS, LDS, RDS sent in that order
  grpc::ClientContext* active_context_ = nullptr;
  Stream* active_stream_ = nullptr;
  DeltaStream* active_delta_stream_ = nullptr;
  bool in_handler_ = false;

  std::atomic<uint64_t> acks_{0};
  std::atomic<uint64_t> nacks_{0};
  std::atomic<uint64_t> reconnects_{0};
};

}  // namespace meshgate::proxy::xds
