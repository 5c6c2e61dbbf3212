// Translation of CDS and EDS resources (envoy.config.cluster.v3.Cluster,
// envoy.config.endpoint.v3.ClusterLoadAssignment) into the proxy's runtime
// cluster and endpoint structures.
//
// Supported: discovery types STATIC, STRICT_DNS, LOGICAL_DNS and EDS; lb
// policies ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV with their
// lb_config; connect timeout, circuit-breaker thresholds (default priority),
// outlier detection parameters, upstream HTTP protocol selection (HTTP/1.1,
// HTTP/2, use downstream) and an upstream TLS transport socket. Refused with
// a field-path error (so the xDS client NACKs): ORIGINAL_DST and custom
// cluster types, CLUSTER_PROVIDED / LOAD_BALANCING_POLICY_CONFIG /
// load_balancing_policy, subset load balancing, active health checks,
// transport_socket_matches, cluster filters, drop overloads, named endpoints,
// pipe addresses, and fields unknown to this build's protos.
//
// Thread-safety: pure functions; results are immutable and shareable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/lb_policy.h"

namespace meshgate::proxy::config {

// The endpoints of one cluster (EDS or the cluster's inline load_assignment).
struct EndpointSet {
  std::string cluster_name;
  std::vector<Endpoint> endpoints;       // all of them, with health and priority
  std::shared_ptr<const HostSet> hosts;  // the routable ones (HostSet::FromEndpoints)
};

struct CircuitBreakerThresholds {
  uint32_t max_connections = 1024;
  uint32_t max_pending_requests = 1024;
  uint32_t max_requests = 1024;
  uint32_t max_retries = 3;
};

struct OutlierDetectionConfig {
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway_failure = 5;
  absl::Duration interval = absl::Seconds(10);
  absl::Duration base_ejection_time = absl::Seconds(30);
  uint32_t max_ejection_percent = 10;
};

enum class DiscoveryType { kStatic, kStrictDns, kLogicalDns, kEds, kOriginalDst };
enum class UpstreamProtocol { kHttp1, kHttp2, kUseDownstream };
// Which addresses of a DNS cluster's hostnames are used (dns_lookup_family;
// AUTO, V4_PREFERRED and ALL take whatever the resolver returns, in order).
enum class DnsLookupFamily { kAny, kV4Only, kV6Only };

// One of a cluster's transport_socket_matches: endpoints whose
// transport-socket-match metadata holds every key/value of `match` (an empty
// match takes any endpoint) connect with this transport; the first match
// wins, and endpoints no match takes use the cluster's transport_socket.
struct TransportSocketMatch {
  std::string name;
  std::map<std::string, std::string> match;  // values as text, as in Endpoint
  // The TLS context; null for plaintext (raw_buffer). Its `sni` is cleared
  // and kept apart, so that contexts equal but for it are one object.
  std::shared_ptr<const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext> tls;
  std::string sni;

  bool Matches(const std::map<std::string, std::string>& metadata) const;
};

struct ClusterConfig {
  std::string name;
  DiscoveryType type = DiscoveryType::kStatic;
  // The name to subscribe to over EDS (eds_cluster_config.service_name, else
  // the cluster name).
  std::string eds_service_name;
  absl::Duration connect_timeout = absl::Seconds(5);
  LbPolicyConfig lb;
  std::optional<uint32_t> healthy_panic_threshold_percent;
  CircuitBreakerThresholds circuit_breakers;
  // The runtime side of `circuit_breakers`: counts shared by every worker's
  // pools and requests for this version of the cluster (never null once
  // translated). The config stays immutable; the breaker is the one mutable
  // object it points to, as Envoy's ClusterInfo owns its ResourceManager.
  std::shared_ptr<upstream::CircuitBreaker> circuit_breaker;
  // per_connection_buffer_limit_bytes: request body an upstream connection
  // (or a stream waiting for one) holds before the downstream is paused.
  std::optional<uint32_t> per_connection_buffer_limit_bytes;
  std::optional<OutlierDetectionConfig> outlier_detection;
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  // HTTP/2 upstreams: our cap on streams per connection
  // (http2_protocol_options.max_concurrent_streams); the peer's SETTINGS may
  // lower it further.
  std::optional<uint32_t> http2_max_concurrent_streams;
  std::optional<absl::Duration> idle_timeout;
  std::optional<uint32_t> max_requests_per_connection;
  // Set when the cluster speaks TLS upstream; the TLS layer reads it. As in
  // TransportSocketMatch, its SNI is in `sni`.
  std::shared_ptr<const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext> tls;
  std::string sni;
  // Per-endpoint transports, before `tls` (Istio's auto mTLS).
  std::vector<TransportSocketMatch> transport_socket_matches;
  // The match that takes `host`; -1 when none does (the cluster's transport).
  int TransportSocketMatchFor(const Host& host) const;
  // STATIC / DNS clusters: the inline load assignment.
  std::shared_ptr<const EndpointSet> static_endpoints;
  // STRICT_DNS / LOGICAL_DNS: the hostnames of static_endpoints are resolved
  // at this period (dns_refresh_rate, Envoy's default 5 s), off the workers;
  // each result becomes the cluster's endpoint set.
  absl::Duration dns_refresh_rate = absl::Seconds(5);
  DnsLookupFamily dns_lookup_family = DnsLookupFamily::kAny;
};

absl::StatusOr<std::shared_ptr<const ClusterConfig>> TranslateCluster(
    const envoy::config::cluster::v3::Cluster& cluster);

absl::StatusOr<std::shared_ptr<const EndpointSet>> TranslateClusterLoadAssignment(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& assignment);

}  // namespace meshgate::proxy::config
