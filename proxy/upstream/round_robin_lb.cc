#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {

RoundRobinLoadBalancer::RoundRobinLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                               const LbPolicyConfig& config, Random& random)
    : LoadBalancer(std::move(hosts), config), credit_(hosts_->size(), 0) {
  // Start every worker at a different point of the cycle so N workers do not
  // send their first requests to the same host in lockstep.
  if (!hosts_->empty()) {
    const uint64_t warmup = random.Uniform(std::min<size_t>(hosts_->size(), 1024));
    for (uint64_t i = 0; i < warmup; ++i) Pick(LbContext{}, 0);
  }
}

const Host& RoundRobinLoadBalancer::Pick(const LbContext& /*context*/, uint32_t /*attempt*/) {
  const std::vector<Host>& hosts = hosts_->hosts();
  size_t best = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    credit_[i] += hosts[i].weight;
    if (credit_[i] > credit_[best]) best = i;
  }
  credit_[best] -= static_cast<int64_t>(hosts_->total_weight());
  return hosts[best];
}

}  // namespace meshgate::proxy
