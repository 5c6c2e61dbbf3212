#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {

RandomLoadBalancer::RandomLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                       const LbPolicyConfig& config, Random& random)
    : LoadBalancer(std::move(hosts), config), random_(random) {
  uint64_t sum = 0;
  for (const Host& host : hosts_->hosts()) {
    sum += host.weight;
    cumulative_weight_.push_back(sum);
  }
}

const Host& RandomLoadBalancer::Pick(const LbContext& /*context*/, uint32_t /*attempt*/) {
  return hosts_
      ->hosts()[WeightedIndex(cumulative_weight_, random_.Uniform(hosts_->total_weight()))];
}

}  // namespace meshgate::proxy
