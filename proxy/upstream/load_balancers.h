// The concrete load balancers behind CreateLoadBalancer. Exposed so tests and
// benchmarks can reach policy-specific details (ring and table contents).
//
// RoundRobinLoadBalancer   smooth weighted round robin: each pick adds every
//                          host's weight to its credit and takes the host with
//                          the most credit, which interleaves heavy hosts
//                          instead of sending them bursts. O(hosts) per pick.
// LeastRequestLoadBalancer power of `choice_count` choices: draws candidates
//                          (by weight when weights differ) and takes the one
//                          with the fewest active requests per unit of weight
//                          (ties: the first drawn).
// RandomLoadBalancer       weighted random draw.
// RingHashLoadBalancer     consistent hashing on a ring of virtual nodes whose
//                          count per host is proportional to its weight; the
//                          entries per unit of weight are a power of two, so a
//                          host change moves only that host's keys unless the
//                          total weight crosses a power-of-two boundary. The
//                          hash is meshgate's own (Hash64), so placement is
//                          not bit-compatible with Envoy's xxHash/murmur ring.
// MaglevLoadBalancer       Maglev lookup table (weighted population), O(1)
//                          lookup, near-minimal disruption on host changes.
//
// Thread-safety: as LoadBalancer — one instance per worker thread. The ring
// and the maglev table are immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/upstream/load_balancer.h"

namespace meshgate::proxy {

class RoundRobinLoadBalancer final : public LoadBalancer {
 public:
  RoundRobinLoadBalancer(std::shared_ptr<const HostSet> hosts, const LbPolicyConfig& config,
                         Random& random);

 protected:
  const Host& Pick(const LbContext& context, uint32_t attempt) override;

 private:
  std::vector<int64_t> credit_;
};

class LeastRequestLoadBalancer final : public LoadBalancer {
 public:
  LeastRequestLoadBalancer(std::shared_ptr<const HostSet> hosts, const LbPolicyConfig& config,
                           Random& random);
  void OnRequestStart(const Host& host) override;
  void OnRequestEnd(const Host& host) override;
  uint32_t active_requests(const Host& host) const { return active_[host.index]; }

 protected:
  const Host& Pick(const LbContext& context, uint32_t attempt) override;

 private:
  const Host& DrawCandidate();
  Random& random_;
  std::vector<uint32_t> active_;
  std::vector<uint64_t> cumulative_weight_;
};

class RandomLoadBalancer final : public LoadBalancer {
 public:
  RandomLoadBalancer(std::shared_ptr<const HostSet> hosts, const LbPolicyConfig& config,
                     Random& random);

 protected:
  const Host& Pick(const LbContext& context, uint32_t attempt) override;

 private:
  Random& random_;
  std::vector<uint64_t> cumulative_weight_;
};

class RingHashLoadBalancer final : public LoadBalancer {
 public:
  struct RingEntry {
    uint64_t hash;
    uint32_t host_index;
  };
  RingHashLoadBalancer(std::shared_ptr<const HostSet> hosts, const LbPolicyConfig& config,
                       Random& random);
  const std::vector<RingEntry>& ring() const { return ring_; }
  // The host owning `hash` on the ring.
  const Host& HostForHash(uint64_t hash) const;

 protected:
  const Host& Pick(const LbContext& context, uint32_t attempt) override;

 private:
  Random& random_;
  std::vector<RingEntry> ring_;
};

class MaglevLoadBalancer final : public LoadBalancer {
 public:
  MaglevLoadBalancer(std::shared_ptr<const HostSet> hosts, const LbPolicyConfig& config,
                     Random& random);
  const std::vector<uint32_t>& table() const { return table_; }
  const Host& HostForHash(uint64_t hash) const;

 protected:
  const Host& Pick(const LbContext& context, uint32_t attempt) override;

 private:
  Random& random_;
  std::vector<uint32_t> table_;
};

// Index into `cumulative` (running sums of weights) for a draw in
// [0, cumulative.back()).
size_t WeightedIndex(const std::vector<uint64_t>& cumulative, uint64_t draw);

}  // namespace meshgate::proxy
