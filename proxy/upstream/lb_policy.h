// LbPolicyConfig: the load-balancing part of a cluster's runtime config, as
// translated from envoy.config.cluster.v3.Cluster (lb_policy + lb_config).
//
// Plain immutable value; safe to copy and share.
#pragma once

#include <cstdint>

namespace meshgate::proxy {

enum class LbPolicy { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev };

const char* LbPolicyName(LbPolicy policy);

struct LbPolicyConfig {
  LbPolicy policy = LbPolicy::kRoundRobin;
  // Least request: how many random candidates are compared.
  uint32_t choice_count = 2;
  // Ring hash: the ring holds between min and max entries in total.
  uint64_t min_ring_size = 1024;
  uint64_t max_ring_size = 8 * 1024 * 1024;
  // Maglev: lookup table size; must be prime.
  uint64_t maglev_table_size = 65537;
};

}  // namespace meshgate::proxy
