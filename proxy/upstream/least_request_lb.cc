#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {

LeastRequestLoadBalancer::LeastRequestLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                                   const LbPolicyConfig& config, Random& random)
    : LoadBalancer(std::move(hosts), config), random_(random), active_(hosts_->size(), 0) {
  uint64_t sum = 0;
  for (const Host& host : hosts_->hosts()) {
    sum += host.weight;
    cumulative_weight_.push_back(sum);
  }
}

void LeastRequestLoadBalancer::OnRequestStart(const Host& host) { ++active_[host.index]; }

void LeastRequestLoadBalancer::OnRequestEnd(const Host& host) {
  if (active_[host.index] > 0) --active_[host.index];
}

const Host& LeastRequestLoadBalancer::DrawCandidate() {
  const std::vector<Host>& hosts = hosts_->hosts();
  if (hosts_->uniform_weights()) return hosts[random_.Uniform(hosts.size())];
  return hosts[WeightedIndex(cumulative_weight_, random_.Uniform(hosts_->total_weight()))];
}

const Host& LeastRequestLoadBalancer::Pick(const LbContext& /*context*/, uint32_t /*attempt*/) {
  const Host* best = &DrawCandidate();
  for (uint32_t i = 1; i < config_.choice_count; ++i) {
    const Host& candidate = DrawCandidate();
    // Compare active requests per unit of weight without division:
    // active_c / w_c < active_b / w_b. Ties keep the earlier candidate, so an
    // idle cluster is balanced exactly by the (weighted) candidate draw.
    const uint64_t candidate_load = uint64_t{active_[candidate.index]} * best->weight;
    const uint64_t best_load = uint64_t{active_[best->index]} * candidate.weight;
    if (candidate_load < best_load) best = &candidate;
  }
  return *best;
}

}  // namespace meshgate::proxy
