// Istio-compatible networking kinds: VirtualService, DestinationRule, Gateway,
// ServiceEntry and Sidecar, with Istio's field names and meanings
// (networking.istio.io/v1 and networking.meshgate.io/v1 decode to the same
// types).
//
// Field comments name the Istio field when the C++ name differs. Optional
// scalars are std::optional so "unset" and "zero" stay distinct, as the
// compiler needs Istio's defaults for unset fields. Maps are ordered so that
// everything derived from these types is deterministic.
//
// Plain value types; immutable once decoded and safe to share across threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/meta.h"

namespace meshgate::api {

// ---------------------------------------------------------------------------
// Shared pieces

struct StringMatch {
  enum class Type { kExact, kPrefix, kRegex };
  Type type = Type::kExact;
  std::string value;
};

struct PortSelector {
  uint32_t number = 0;
};

struct Destination {
  std::string host;
  std::string subset;
  std::optional<PortSelector> port;
};

struct Percent {
  double value = 0;  // 0..100
};

struct HeaderOperations {
  std::map<std::string, std::string> set;
  std::map<std::string, std::string> add;
  std::vector<std::string> remove;
};

struct Headers {
  std::optional<HeaderOperations> request;
  std::optional<HeaderOperations> response;
};

// ---------------------------------------------------------------------------
// VirtualService

struct HTTPMatchRequest {
  std::string name;
  std::optional<StringMatch> uri;
  std::optional<StringMatch> scheme;
  std::optional<StringMatch> method;
  std::optional<StringMatch> authority;
  std::map<std::string, StringMatch> headers;
  std::optional<uint32_t> port;
  Labels source_labels;
  std::vector<std::string> gateways;
  std::map<std::string, StringMatch> query_params;
  bool ignore_uri_case = false;
  std::map<std::string, StringMatch> without_headers;
  std::string source_namespace;
  std::string stat_prefix;
};

struct HTTPRouteDestination {
  Destination destination;
  std::optional<int32_t> weight;  // relative; unset counts as 0 unless it is the only one
  std::optional<Headers> headers;
};

struct HTTPRedirect {
  std::string uri;
  std::string authority;
  std::optional<uint32_t> port;
  enum class DerivePort { kUnset, kFromProtocolDefault, kFromRequestPort };
  DerivePort derive_port = DerivePort::kUnset;
  std::string scheme;
  std::optional<uint32_t> redirect_code;  // default 301
};

struct HTTPDirectResponse {
  uint32_t status = 0;
  // body: exactly one of string / bytes (bytes are base64 in YAML, decoded here).
  std::optional<std::string> body_string;
  std::optional<std::string> body_bytes;
};

struct HTTPRewrite {
  std::string uri;
  std::string authority;
  struct RegexRewrite {
    std::string match;
    std::string rewrite;
  };
  std::optional<RegexRewrite> uri_regex_rewrite;
};

struct HTTPRetry {
  int32_t attempts = 0;
  std::optional<absl::Duration> per_try_timeout;
  std::string retry_on;  // comma-separated Envoy/gRPC retry conditions or status codes
  std::optional<bool> retry_remote_localities;
};

struct HTTPFaultInjection {
  struct Delay {
    std::optional<absl::Duration> fixed_delay;
    std::optional<absl::Duration> exponential_delay;  // unsupported by Istio too; rejected
    std::optional<Percent> percentage;
    std::optional<int32_t> percent;  // deprecated integer percentage
  };
  struct Abort {
    std::optional<int32_t> http_status;
    std::string grpc_status;  // e.g. "UNAVAILABLE"
    std::optional<Percent> percentage;
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
};

struct HTTPMirrorPolicy {
  Destination destination;
  std::optional<Percent> percentage;
};

struct CorsPolicy {
  std::vector<StringMatch> allow_origins;
  std::vector<std::string> allow_origin;  // deprecated exact origins
  std::vector<std::string> allow_methods;
  std::vector<std::string> allow_headers;
  std::vector<std::string> expose_headers;
  std::optional<absl::Duration> max_age;
  std::optional<bool> allow_credentials;
  enum class UnmatchedPreflights { kUnspecified, kForward, kIgnore };
  UnmatchedPreflights unmatched_preflights = UnmatchedPreflights::kUnspecified;
};

struct Delegate {
  std::string name;
  std::string namespace_;
};

struct HTTPRoute {
  std::string name;
  std::vector<HTTPMatchRequest> match;
  std::vector<HTTPRouteDestination> route;
  std::optional<HTTPRedirect> redirect;
  std::optional<HTTPDirectResponse> direct_response;
  std::optional<Delegate> delegate;
  std::optional<HTTPRewrite> rewrite;
  std::optional<absl::Duration> timeout;
  std::optional<HTTPRetry> retries;
  std::optional<HTTPFaultInjection> fault;
  std::optional<Destination> mirror;
  std::vector<HTTPMirrorPolicy> mirrors;
  std::optional<Percent> mirror_percentage;
  std::optional<uint32_t> mirror_percent;  // deprecated
  std::optional<CorsPolicy> cors_policy;
  std::optional<Headers> headers;
};

struct RouteDestination {
  Destination destination;
  std::optional<int32_t> weight;
};

struct TLSMatchAttributes {
  std::vector<std::string> sni_hosts;
  std::vector<std::string> destination_subnets;
  std::optional<uint32_t> port;
  Labels source_labels;
  std::vector<std::string> gateways;
  std::string source_namespace;
};

struct TLSRoute {
  std::vector<TLSMatchAttributes> match;
  std::vector<RouteDestination> route;
};

struct L4MatchAttributes {
  std::vector<std::string> destination_subnets;
  std::optional<uint32_t> port;
  std::string source_subnet;
  Labels source_labels;
  std::vector<std::string> gateways;
  std::string source_namespace;
};

struct TCPRoute {
  std::vector<L4MatchAttributes> match;
  std::vector<RouteDestination> route;
};

struct VirtualService {
  std::vector<std::string> hosts;
  std::vector<std::string> gateways;
  std::vector<HTTPRoute> http;
  std::vector<TLSRoute> tls;
  std::vector<TCPRoute> tcp;
  std::vector<std::string> export_to;
};

// ---------------------------------------------------------------------------
// DestinationRule

struct LoadBalancerSettings {
  enum class Simple { kUnspecified, kLeastConn, kRandom, kPassthrough, kRoundRobin, kLeastRequest };
  struct ConsistentHash {
    struct HTTPCookie {
      std::string name;
      std::string path;
      std::optional<absl::Duration> ttl;
    };
    // Exactly one hash key.
    std::string http_header_name;
    std::optional<HTTPCookie> http_cookie;
    bool use_source_ip = false;
    std::string http_query_parameter_name;
    // Algorithm: ring hash (default) or maglev.
    struct RingHash {
      uint64_t minimum_ring_size = 0;
    };
    struct Maglev {
      uint64_t table_size = 0;
    };
    std::optional<RingHash> ring_hash;
    std::optional<Maglev> maglev;
    std::optional<uint64_t> minimum_ring_size;  // deprecated
  };
  struct LocalityLbSetting {
    struct Distribute {
      std::string from;
      std::map<std::string, uint32_t> to;
    };
    struct Failover {
      std::string from;
      std::string to;
    };
    std::vector<Distribute> distribute;
    std::vector<Failover> failover;
    std::vector<std::string> failover_priority;
    std::optional<bool> enabled;
  };
  std::optional<Simple> simple;
  std::optional<ConsistentHash> consistent_hash;
  std::optional<LocalityLbSetting> locality_lb_setting;
  std::optional<absl::Duration> warmup_duration_secs;
};

struct ConnectionPoolSettings {
  struct TCPSettings {
    struct TcpKeepalive {
      std::optional<uint32_t> probes;
      std::optional<absl::Duration> time;
      std::optional<absl::Duration> interval;
    };
    std::optional<int32_t> max_connections;
    std::optional<absl::Duration> connect_timeout;
    std::optional<TcpKeepalive> tcp_keepalive;
    std::optional<absl::Duration> max_connection_duration;
    std::optional<absl::Duration> idle_timeout;
  };
  struct HTTPSettings {
    enum class H2UpgradePolicy { kDefault, kDoNotUpgrade, kUpgrade };
    std::optional<int32_t> http1_max_pending_requests;
    std::optional<int32_t> http2_max_requests;
    std::optional<int32_t> max_requests_per_connection;
    std::optional<int32_t> max_retries;
    std::optional<absl::Duration> idle_timeout;
    H2UpgradePolicy h2_upgrade_policy = H2UpgradePolicy::kDefault;
    bool use_client_protocol = false;
    std::optional<int32_t> max_concurrent_streams;
  };
  std::optional<TCPSettings> tcp;
  std::optional<HTTPSettings> http;
};

struct OutlierDetection {
  std::optional<bool> split_external_local_origin_errors;
  std::optional<uint32_t> consecutive_local_origin_failures;
  std::optional<uint32_t> consecutive_gateway_errors;
  std::optional<uint32_t> consecutive_5xx_errors;
  std::optional<int32_t> consecutive_errors;  // deprecated; Istio still accepts it
  std::optional<absl::Duration> interval;
  std::optional<absl::Duration> base_ejection_time;
  std::optional<int32_t> max_ejection_percent;
  std::optional<int32_t> min_health_percent;
};

struct ClientTLSSettings {
  enum class Mode { kDisable, kSimple, kMutual, kIstioMutual };
  Mode mode = Mode::kDisable;
  std::string client_certificate;
  std::string private_key;
  std::string ca_certificates;
  std::string credential_name;
  std::vector<std::string> subject_alt_names;
  std::string sni;
  std::optional<bool> insecure_skip_verify;
  std::string ca_crl;
};

struct TrafficPolicy {
  struct PortTrafficPolicy {
    std::optional<PortSelector> port;
    std::optional<LoadBalancerSettings> load_balancer;
    std::optional<ConnectionPoolSettings> connection_pool;
    std::optional<OutlierDetection> outlier_detection;
    std::optional<ClientTLSSettings> tls;
  };
  struct TunnelSettings {
    std::string protocol;
    std::string target_host;
    uint32_t target_port = 0;
  };
  struct ProxyProtocol {
    enum class Version { kV1, kV2 };
    Version version = Version::kV1;
  };
  std::optional<LoadBalancerSettings> load_balancer;
  std::optional<ConnectionPoolSettings> connection_pool;
  std::optional<OutlierDetection> outlier_detection;
  std::optional<ClientTLSSettings> tls;
  std::vector<PortTrafficPolicy> port_level_settings;
  std::optional<TunnelSettings> tunnel;
  std::optional<ProxyProtocol> proxy_protocol;
};

struct Subset {
  std::string name;
  Labels labels;
  std::optional<TrafficPolicy> traffic_policy;
};

struct WorkloadSelector {
  Labels match_labels;
};

struct DestinationRule {
  std::string host;
  std::optional<TrafficPolicy> traffic_policy;
  std::vector<Subset> subsets;
  std::vector<std::string> export_to;
  std::optional<WorkloadSelector> workload_selector;
};

// ---------------------------------------------------------------------------
// Gateway

struct Port {
  uint32_t number = 0;
  std::string protocol;  // HTTP|HTTPS|GRPC|GRPC-WEB|HTTP2|MONGO|TCP|TLS (upper-cased on decode)
  std::string name;
  std::optional<uint32_t> target_port;
};

struct ServerTLSSettings {
  enum class Mode {
    kPassthrough,
    kSimple,
    kMutual,
    kAutoPassthrough,
    kIstioMutual,
    kOptionalMutual
  };
  enum class ProtocolVersion { kAuto, kTLSv1_0, kTLSv1_1, kTLSv1_2, kTLSv1_3 };
  bool https_redirect = false;
  Mode mode = Mode::kPassthrough;
  std::string server_certificate;
  std::string private_key;
  std::string ca_certificates;
  std::string ca_crl;
  std::string credential_name;
  std::vector<std::string> credential_names;
  std::vector<std::string> subject_alt_names;
  std::vector<std::string> verify_certificate_spki;
  std::vector<std::string> verify_certificate_hash;
  ProtocolVersion min_protocol_version = ProtocolVersion::kAuto;
  ProtocolVersion max_protocol_version = ProtocolVersion::kAuto;
  std::vector<std::string> cipher_suites;
};

struct Server {
  Port port;
  std::string bind;
  std::vector<std::string> hosts;
  std::optional<ServerTLSSettings> tls;
  std::string default_endpoint;
  std::string name;
};

struct Gateway {
  std::vector<Server> servers;
  Labels selector;
};

// ---------------------------------------------------------------------------
// ServiceEntry

struct WorkloadEntry {
  std::string address;
  std::map<std::string, uint32_t> ports;
  Labels labels;
  std::string network;
  std::string locality;
  std::optional<uint32_t> weight;
  std::string service_account;
};

struct ServiceEntry {
  enum class Location { kMeshExternal, kMeshInternal };
  enum class Resolution { kNone, kStatic, kDNS, kDNSRoundRobin };
  std::vector<std::string> hosts;
  std::vector<std::string> addresses;
  std::vector<Port> ports;
  Location location = Location::kMeshExternal;
  Resolution resolution = Resolution::kNone;
  std::vector<WorkloadEntry> endpoints;
  std::optional<WorkloadSelector> workload_selector;
  std::vector<std::string> export_to;
  std::vector<std::string> subject_alt_names;
};

// ---------------------------------------------------------------------------
// Sidecar

// Istio's OutboundTrafficPolicy: what a sidecar does with traffic to a
// destination it knows nothing about. ALLOW_ANY passes it through to the
// original destination; REGISTRY_ONLY refuses it (HTTP 502, TCP closed).
struct OutboundTrafficPolicy {
  enum class Mode { kAllowAny, kRegistryOnly };
  Mode mode = Mode::kAllowAny;
};

// Istio's IstioIngressListener: a workload port the sidecar accepts traffic
// on, and where it hands it to the application.
struct IstioIngressListener {
  Port port;
  std::string bind;
  std::string capture_mode;      // DEFAULT|IPTABLES|NONE (upper-cased on decode)
  std::string default_endpoint;  // "127.0.0.1:PORT", "0.0.0.0:PORT", "[::1]:PORT" or unix://
};

// Istio's IstioEgressListener: the services a sidecar can reach, as
// "namespace/host" patterns ("*" any namespace, "." the Sidecar's own,
// "~" none; the host may be "*" or start with "*."). Without a port it is the
// catch-all for every port no other egress listener names.
struct IstioEgressListener {
  std::optional<Port> port;
  std::string bind;
  std::string capture_mode;
  std::vector<std::string> hosts;
};

// Istio's Sidecar: scopes what one workload's sidecar is configured with.
// Selection (compiler): the Sidecar of the proxy's namespace whose
// workloadSelector matches its labels, else its namespace's Sidecar without a
// selector, else the root namespace's Sidecar without a selector.
struct Sidecar {
  std::optional<WorkloadSelector> workload_selector;
  std::vector<IstioIngressListener> ingress;
  std::vector<IstioEgressListener> egress;
  std::optional<OutboundTrafficPolicy> outbound_traffic_policy;
};

}  // namespace meshgate::api
