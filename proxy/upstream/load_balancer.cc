#include "proxy/upstream/load_balancer.h"

#include "absl/strings/str_cat.h"
#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {

const char* LbPolicyName(LbPolicy policy) {
  switch (policy) {
    case LbPolicy::kRoundRobin:
      return "ROUND_ROBIN";
    case LbPolicy::kLeastRequest:
      return "LEAST_REQUEST";
    case LbPolicy::kRandom:
      return "RANDOM";
    case LbPolicy::kRingHash:
      return "RING_HASH";
    case LbPolicy::kMaglev:
      return "MAGLEV";
  }
  return "UNKNOWN";
}

const Host* LoadBalancer::ChooseHost(const LbContext& context) {
  if (hosts_->empty()) return nullptr;
  const uint32_t attempts = std::max<uint32_t>(context.host_selection_attempts, 1);
  const Host* picked = nullptr;
  for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
    picked = &Pick(context, attempt);
    if (!context.exclude || !context.exclude(*picked)) break;
  }
  return picked;
}

namespace {

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateLbPolicyConfig(const LbPolicyConfig& config) {
  if (config.choice_count < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("least request choice_count must be >= 2, got ", config.choice_count));
  }
  if (config.min_ring_size == 0 || config.min_ring_size > config.max_ring_size) {
    return absl::InvalidArgumentError(absl::StrCat("ring hash minimum_ring_size ",
                                                   config.min_ring_size, " must be in [1, ",
                                                   config.max_ring_size, "]"));
  }
  if (config.max_ring_size > 8 * 1024 * 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring hash maximum_ring_size ", config.max_ring_size, " exceeds 8388608"));
  }
  if (!IsPrime(config.maglev_table_size) || config.maglev_table_size > 5000011) {
    return absl::InvalidArgumentError(absl::StrCat("maglev table_size ", config.maglev_table_size,
                                                   " must be a prime <= 5000011"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const LbPolicyConfig& config, std::shared_ptr<const HostSet> hosts, Random& random) {
  if (absl::Status status = ValidateLbPolicyConfig(config); !status.ok()) return status;
  switch (config.policy) {
    case LbPolicy::kRoundRobin:
      return std::make_unique<RoundRobinLoadBalancer>(std::move(hosts), config, random);
    case LbPolicy::kLeastRequest:
      return std::make_unique<LeastRequestLoadBalancer>(std::move(hosts), config, random);
    case LbPolicy::kRandom:
      return std::make_unique<RandomLoadBalancer>(std::move(hosts), config, random);
    case LbPolicy::kRingHash:
      return std::make_unique<RingHashLoadBalancer>(std::move(hosts), config, random);
    case LbPolicy::kMaglev:
      return std::make_unique<MaglevLoadBalancer>(std::move(hosts), config, random);
  }
  return absl::InvalidArgumentError("unknown load balancing policy");
}

size_t WeightedIndex(const std::vector<uint64_t>& cumulative, uint64_t draw) {
  return static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), draw) -
                             cumulative.begin());
}

}  // namespace meshgate::proxy
