// LoadBalancer: picks the upstream host for one request of one cluster.
//
// A balancer is built from an immutable HostSet and an LbPolicyConfig. Every
// worker thread builds its own instance (CreateLoadBalancer), so balancers
// keep mutable per-worker state (round-robin position, active request counts)
// without locks. When EDS changes the endpoints, workers build a new balancer
// from the new HostSet; hash-based balancers are deterministic functions of
// the host set, so every worker and every rebuild maps a key to the same host.
//
// Thread-safety: NOT thread-safe; one instance per worker thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/lb_policy.h"
#include "proxy/upstream/random.h"

namespace meshgate::proxy {

struct LbContext {
  // The request's hash (from the route's hash policies); hash-based balancers
  // fall back to a random draw without it.
  std::optional<uint64_t> hash;
  // Hosts the caller wants to avoid (e.g. the hosts already tried when the
  // retry policy says "retry to another host"), honoured for up to
  // `host_selection_attempts` draws (the retry policy's
  // host_selection_retry_max_attempts); after that the last pick is returned
  // even if excluded.
  std::function<bool(const Host&)> exclude;
  uint32_t host_selection_attempts = 1;
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;

  // Returns nullptr only when the host set is empty.
  const Host* ChooseHost(const LbContext& context);

  // Bookkeeping for balancers that weigh current load; no-ops elsewhere.
  virtual void OnRequestStart(const Host& /*host*/) {}
  virtual void OnRequestEnd(const Host& /*host*/) {}

  const HostSet& host_set() const { return *hosts_; }

 protected:
  LoadBalancer(std::shared_ptr<const HostSet> hosts, const LbPolicyConfig& config)
      : hosts_(std::move(hosts)), config_(config) {}

  // One draw. `attempt` is 0 for the first draw and increases on redraws so
  // hash-based balancers can salt the hash instead of repeating the pick.
  // REQUIRES: !host_set().empty().
  virtual const Host& Pick(const LbContext& context, uint32_t attempt) = 0;

  std::shared_ptr<const HostSet> hosts_;
  LbPolicyConfig config_;
};

// Builds the balancer for `config.policy`. `random` must outlive the balancer.
// Fails (InvalidArgument) on configs no balancer can honour, e.g. a maglev
// table size that is not prime.
absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const LbPolicyConfig& config, std::shared_ptr<const HostSet> hosts, Random& random);

// Checks the numeric parameters of `config` (shared with xDS translation).
absl::Status ValidateLbPolicyConfig(const LbPolicyConfig& config);

}  // namespace meshgate::proxy
