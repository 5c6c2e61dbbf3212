// Host and HostSet: the upstream endpoints of one cluster as the load
// balancers see them.
//
// A HostSet is built once per endpoint update from the cluster's endpoint
// list and then shared, immutable, by every worker's load balancer
// (std::shared_ptr<const HostSet>). Only endpoints whose health status is
// HEALTHY or UNKNOWN are routable; DRAINING, UNHEALTHY, TIMEOUT and DEGRADED
// ones are kept out of the set.
//
// Priorities and localities are flattened: the set holds the routable hosts
// of the best (numerically lowest) priority that has any, and locality
// weights are ignored (each host keeps its own endpoint weight). Priority
// spill-over by overprovisioning factor is not implemented.
//
// Thread-safety: immutable after construction; safe to share across threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace meshgate::proxy {

enum class HostHealth { kUnknown, kHealthy, kUnhealthy, kDraining, kTimeout, kDegraded };

// True for the statuses a load balancer may pick.
bool IsRoutable(HostHealth health);

// One endpoint as received over EDS or in a static load assignment.
struct Endpoint {
  std::string address;  // IP literal or DNS name
  uint32_t port = 0;
  uint32_t weight = 1;  // >= 1
  HostHealth health = HostHealth::kUnknown;
  uint32_t priority = 0;
  std::string locality;  // "region/zone/sub_zone", informational
  // The endpoint's filter_metadata["envoy.transport_socket_match"], values
  // as text: what the cluster's transport_socket_matches select on (auto
  // mTLS: tlsMode=istio for workloads with a sidecar).
  std::map<std::string, std::string> transport_socket_match;
};

struct Host {
  std::string address;
  uint32_t port = 0;
  uint32_t weight = 1;
  // Position in its HostSet; per-worker balancers index their own counters
  // (e.g. active requests) with it.
  size_t index = 0;
  // "address:port", the identity used for hashing and for "retry to another
  // host".
  std::string key;
  std::map<std::string, std::string> transport_socket_match;  // see Endpoint
};

class HostSet {
 public:
  // Keeps the routable endpoints of the best priority (see above).
  static std::shared_ptr<const HostSet> FromEndpoints(const std::vector<Endpoint>& endpoints);

  const std::vector<Host>& hosts() const { return hosts_; }
  bool empty() const { return hosts_.empty(); }
  size_t size() const { return hosts_.size(); }
  uint64_t total_weight() const { return total_weight_; }
  bool uniform_weights() const { return uniform_weights_; }

 private:
  std::vector<Host> hosts_;
  uint64_t total_weight_ = 0;
  bool uniform_weights_ = true;
};

}  // namespace meshgate::proxy
