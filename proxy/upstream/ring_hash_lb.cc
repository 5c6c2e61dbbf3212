#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proxy/upstream/hash.h"
#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {

RingHashLoadBalancer::RingHashLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                           const LbPolicyConfig& config, Random& random)
    : LoadBalancer(std::move(hosts), config), random_(random) {
  const std::vector<Host>& list = hosts_->hosts();
  if (list.empty()) return;
  // Entries per unit of weight: the smallest power of two that reaches
  // min_ring_size. It depends on the total weight only through that rounding,
  // so adding or removing a host usually leaves every other host's entries
  // exactly where they were and moves only that host's keys.
  const uint64_t total = hosts_->total_weight();
  uint64_t per_weight = 1;
  while (per_weight * total < config.min_ring_size) per_weight *= 2;
  const bool fits = per_weight * total <= config.max_ring_size;
  for (const Host& host : list) {
    // Over max_ring_size, shares are scaled down instead (every host keeps
    // at least one entry).
    const uint64_t replicas =
        fits ? host.weight * per_weight
             : std::max<uint64_t>(1, host.weight * config.max_ring_size / total);
    for (uint64_t r = 0; r < replicas; ++r) {
      ring_.push_back(
          RingEntry{Hash64(absl::StrCat(host.key, "_", r)), static_cast<uint32_t>(host.index)});
    }
  }
  // Ties broken by host key, so the ring does not depend on endpoint order.
  std::sort(ring_.begin(), ring_.end(), [&](const RingEntry& a, const RingEntry& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return list[a.host_index].key < list[b.host_index].key;
  });
}

const Host& RingHashLoadBalancer::HostForHash(uint64_t hash) const {
  auto it = std::lower_bound(ring_.begin(), ring_.end(), hash,
                             [](const RingEntry& entry, uint64_t h) { return entry.hash < h; });
  if (it == ring_.end()) it = ring_.begin();
  return hosts_->hosts()[it->host_index];
}

const Host& RingHashLoadBalancer::Pick(const LbContext& context, uint32_t attempt) {
  uint64_t hash = context.hash.has_value() ? *context.hash : random_.Next();
  if (attempt > 0) hash = CombineHash(hash, attempt);
  return HostForHash(hash);
}

}  // namespace meshgate::proxy
