#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "proxy/upstream/hash.h"
#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {

RingHashLoadBalancer::RingHashLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                           const LbPolicyConfig& config, Random& random)
    : LoadBalancer(std::move(hosts), config), random_(random) {
  const std::vector<Host>& list = hosts_->hosts();
  if (list.empty()) return;
  uint32_t min_weight = list.front().weight;
  for (const Host& host : list) min_weight = std::min(min_weight, host.weight);
  // Enough entries that the lightest host still gets one, within the bounds.
  const double total = static_cast<double>(hosts_->total_weight());
  const uint64_t wanted = static_cast<uint64_t>(std::ceil(total / min_weight));
  const uint64_t ring_size =
      std::min(config.max_ring_size, std::max(config.min_ring_size, wanted));
  for (const Host& host : list) {
    const uint64_t replicas = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::llround(ring_size * (host.weight / total))));
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
