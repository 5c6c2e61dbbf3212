#include <algorithm>
#include <numeric>

#include "proxy/upstream/hash.h"
#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {
namespace {

constexpr uint64_t kOffsetSeed = 0x6d61676c65764f66ULL;
constexpr uint64_t kSkipSeed = 0x6d61676c6576536bULL;
constexpr uint32_t kEmpty = UINT32_MAX;

}  // namespace

MaglevLoadBalancer::MaglevLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                       const LbPolicyConfig& config, Random& random)
    : LoadBalancer(std::move(hosts), config), random_(random) {
  const std::vector<Host>& list = hosts_->hosts();
  if (list.empty()) return;
  const uint64_t size = config.maglev_table_size;
  // Fill order by key, so the table does not depend on endpoint order.
  std::vector<size_t> order(list.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return list[a].key < list[b].key; });

  struct Permutation {
    uint64_t offset, skip, next = 0, assigned = 0;
  };
  std::vector<Permutation> perms(list.size());
  uint32_t max_weight = 0;
  for (const Host& host : list) {
    perms[host.index].offset = Hash64(host.key, kOffsetSeed) % size;
    perms[host.index].skip = Hash64(host.key, kSkipSeed) % (size - 1) + 1;
    max_weight = std::max(max_weight, host.weight);
  }
  table_.assign(size, kEmpty);
  uint64_t filled = 0;
  for (uint64_t round = 1; filled < size; ++round) {
    for (size_t index : order) {
      Permutation& p = perms[index];
      // A host of weight w may own round * w / max_weight entries after
      // `round` rounds, which makes table shares proportional to weight.
      if (round * list[index].weight < (p.assigned + 1) * max_weight) continue;
      uint64_t slot;
      do {
        slot = (p.offset + p.next * p.skip) % size;
        ++p.next;
      } while (table_[slot] != kEmpty);
      table_[slot] = static_cast<uint32_t>(index);
      ++p.assigned;
      if (++filled == size) break;
    }
  }
}

const Host& MaglevLoadBalancer::HostForHash(uint64_t hash) const {
  return hosts_->hosts()[table_[hash % table_.size()]];
}

const Host& MaglevLoadBalancer::Pick(const LbContext& context, uint32_t attempt) {
  uint64_t hash = context.hash.has_value() ? *context.hash : random_.Next();
  if (attempt > 0) hash = CombineHash(hash, attempt);
  return HostForHash(hash);
}

}  // namespace meshgate::proxy
