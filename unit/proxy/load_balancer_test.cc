// Load balancers: distribution by weight, health filtering, consistent-hash
// stability across rebuilds and under host removal, least-request preference
// and redraws that avoid excluded hosts.
#include "proxy/upstream/load_balancer.h"

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/upstream/hash.h"
#include "proxy/upstream/load_balancers.h"

namespace meshgate::proxy {
namespace {

std::vector<Endpoint> Endpoints(const std::vector<uint32_t>& weights) {
  std::vector<Endpoint> out;
  for (size_t i = 0; i < weights.size(); ++i) {
    Endpoint e;
    e.address = absl::StrCat("10.0.0.", i + 1);
    e.port = 8080;
    e.weight = weights[i];
    e.health = HostHealth::kHealthy;
    out.push_back(e);
  }
  return out;
}

std::unique_ptr<LoadBalancer> Make(LbPolicyConfig config, const std::vector<Endpoint>& endpoints,
                                   Random& random) {
  auto lb = CreateLoadBalancer(config, HostSet::FromEndpoints(endpoints), random);
  EXPECT_TRUE(lb.ok()) << lb.status();
  return *std::move(lb);
}

LbPolicyConfig Config(LbPolicy policy) {
  LbPolicyConfig config;
  config.policy = policy;
  return config;
}

std::map<std::string, int> Distribution(LoadBalancer& lb, int picks, bool hashed) {
  std::map<std::string, int> counts;
  for (int i = 0; i < picks; ++i) {
    LbContext context;
    if (hashed) context.hash = Hash64(absl::StrCat("key-", i));
    ++counts[lb.ChooseHost(context)->key];
  }
  return counts;
}

// ---- Host sets --------------------------------------------------------------

TEST(HostSetTest, OnlyHealthyAndUnknownOfTheBestPriority) {
  std::vector<Endpoint> endpoints = Endpoints({1, 1, 1, 1, 1, 1});
  endpoints[0].health = HostHealth::kUnknown;
  endpoints[1].health = HostHealth::kDraining;
  endpoints[2].health = HostHealth::kUnhealthy;
  endpoints[3].health = HostHealth::kDegraded;
  endpoints[4].health = HostHealth::kHealthy;
  endpoints[5].priority = 1;  // healthy, but a worse priority than host 4
  auto set = HostSet::FromEndpoints(endpoints);
  ASSERT_EQ(set->size(), 2u);
  EXPECT_EQ(set->hosts()[0].key, "10.0.0.1:8080");
  EXPECT_EQ(set->hosts()[1].key, "10.0.0.5:8080");

  // With priority 0 all unusable, priority 1 takes over.
  endpoints[0].health = HostHealth::kUnhealthy;
  endpoints[4].health = HostHealth::kDraining;
  set = HostSet::FromEndpoints(endpoints);
  ASSERT_EQ(set->size(), 1u);
  EXPECT_EQ(set->hosts()[0].key, "10.0.0.6:8080");
}

TEST(HostSetTest, Ipv6KeysAreBracketed) {
  Endpoint e;
  e.address = "fd00::1";
  e.port = 443;
  EXPECT_EQ(HostSet::FromEndpoints({e})->hosts()[0].key, "[fd00::1]:443");
}

TEST(LoadBalancerTest, EmptySetYieldsNoHost) {
  SeededRandom random(1);
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kRandom,
                          LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    auto lb = Make(Config(policy), {}, random);
    EXPECT_EQ(lb->ChooseHost({}), nullptr) << LbPolicyName(policy);
  }
}

TEST(LoadBalancerTest, RejectsInvalidParameters) {
  SeededRandom random(1);
  LbPolicyConfig maglev = Config(LbPolicy::kMaglev);
  maglev.maglev_table_size = 65536;  // not prime
  EXPECT_FALSE(CreateLoadBalancer(maglev, HostSet::FromEndpoints(Endpoints({1})), random).ok());
  LbPolicyConfig ring = Config(LbPolicy::kRingHash);
  ring.min_ring_size = 4096;
  ring.max_ring_size = 1024;
  EXPECT_FALSE(CreateLoadBalancer(ring, HostSet::FromEndpoints(Endpoints({1})), random).ok());
  LbPolicyConfig least = Config(LbPolicy::kLeastRequest);
  least.choice_count = 1;
  EXPECT_FALSE(CreateLoadBalancer(least, HostSet::FromEndpoints(Endpoints({1})), random).ok());
}

// ---- Distribution by weight -------------------------------------------------

TEST(LoadBalancerTest, RoundRobinIsExactPerCycle) {
  SeededRandom random(5);
  auto lb = Make(Config(LbPolicy::kRoundRobin), Endpoints({1, 2, 3}), random);
  auto counts = Distribution(*lb, 600, false);
  EXPECT_EQ(counts["10.0.0.1:8080"], 100);
  EXPECT_EQ(counts["10.0.0.2:8080"], 200);
  EXPECT_EQ(counts["10.0.0.3:8080"], 300);
}

TEST(LoadBalancerTest, RoundRobinInterleavesEqualWeights) {
  SeededRandom random(6);
  auto lb = Make(Config(LbPolicy::kRoundRobin), Endpoints({1, 1, 1}), random);
  std::vector<std::string> picks;
  for (int i = 0; i < 9; ++i) picks.push_back(lb->ChooseHost({})->key);
  for (size_t i = 3; i < picks.size(); ++i) EXPECT_EQ(picks[i], picks[i - 3]);
  EXPECT_NE(picks[0], picks[1]);
  EXPECT_NE(picks[1], picks[2]);
  EXPECT_NE(picks[0], picks[2]);
}

TEST(LoadBalancerTest, RoundRobinSmoothlySpreadsTheHeavyHost) {
  SeededRandom random(7);
  auto lb = Make(Config(LbPolicy::kRoundRobin), Endpoints({3, 1}), random);
  // Weights 3:1 -> the light host appears once in every window of four.
  std::vector<std::string> picks;
  for (int i = 0; i < 40; ++i) picks.push_back(lb->ChooseHost({})->key);
  for (size_t start = 0; start + 4 <= picks.size(); ++start) {
    EXPECT_EQ(std::count(picks.begin() + start, picks.begin() + start + 4, "10.0.0.2:8080"), 1)
        << "window at " << start;
  }
}

struct WeightCase {
  LbPolicy policy;
  bool hashed;
  double tolerance;  // absolute, as a fraction of all picks
};

class WeightedDistributionTest : public ::testing::TestWithParam<WeightCase> {};

TEST_P(WeightedDistributionTest, SharesFollowWeights) {
  const WeightCase& c = GetParam();
  SeededRandom random(11);
  LbPolicyConfig config = Config(c.policy);
  config.min_ring_size = 64 * 1024;
  auto lb = Make(config, Endpoints({1, 2, 5}), random);
  constexpr int kPicks = 80000;
  auto counts = Distribution(*lb, kPicks, c.hashed);
  EXPECT_NEAR(counts["10.0.0.1:8080"] / double(kPicks), 1 / 8.0, c.tolerance);
  EXPECT_NEAR(counts["10.0.0.2:8080"] / double(kPicks), 2 / 8.0, c.tolerance);
  EXPECT_NEAR(counts["10.0.0.3:8080"] / double(kPicks), 5 / 8.0, c.tolerance);
}

INSTANTIATE_TEST_SUITE_P(Policies, WeightedDistributionTest,
                         ::testing::Values(WeightCase{LbPolicy::kRandom, false, 0.01},
                                           WeightCase{LbPolicy::kRingHash, true, 0.02},
                                           WeightCase{LbPolicy::kRingHash, false, 0.02},
                                           WeightCase{LbPolicy::kMaglev, true, 0.01},
                                           WeightCase{LbPolicy::kMaglev, false, 0.01},
                                           WeightCase{LbPolicy::kLeastRequest, false, 0.01}),
                         [](const auto& info) {
                           return absl::StrCat(LbPolicyName(info.param.policy),
                                               info.param.hashed ? "_hashed" : "_random");
                         });

TEST(LoadBalancerTest, MaglevTableSharesFollowWeights) {
  SeededRandom random(12);
  auto lb = Make(Config(LbPolicy::kMaglev), Endpoints({1, 3}), random);
  const auto& table = static_cast<MaglevLoadBalancer&>(*lb).table();
  ASSERT_EQ(table.size(), 65537u);
  const double light = std::count(table.begin(), table.end(), 0u) / double(table.size());
  EXPECT_NEAR(light, 0.25, 0.001);
}

// ---- Consistent hashing stability -------------------------------------------

std::vector<std::string> MapKeys(LoadBalancer& lb, int keys) {
  std::vector<std::string> out;
  for (int i = 0; i < keys; ++i) {
    LbContext context;
    context.hash = Hash64(absl::StrCat("user-", i));
    out.push_back(lb.ChooseHost(context)->key);
  }
  return out;
}

class ConsistentHashTest : public ::testing::TestWithParam<LbPolicy> {};

TEST_P(ConsistentHashTest, SameKeysSameHostsAcrossRebuildsAndOrder) {
  SeededRandom a(1), b(2);
  std::vector<Endpoint> endpoints = Endpoints({1, 1, 2, 1, 3});
  auto first = Make(Config(GetParam()), endpoints, a);
  std::reverse(endpoints.begin(), endpoints.end());  // EDS may reorder
  auto second = Make(Config(GetParam()), endpoints, b);
  EXPECT_EQ(MapKeys(*first, 5000), MapKeys(*second, 5000));
}

TEST_P(ConsistentHashTest, RemovingAHostMovesLittleElse) {
  SeededRandom random(3);
  std::vector<Endpoint> endpoints = Endpoints({1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  auto before = MapKeys(*Make(Config(GetParam()), endpoints, random), 20000);
  const std::string removed = "10.0.0.4:8080";
  endpoints.erase(endpoints.begin() + 3);
  auto after = MapKeys(*Make(Config(GetParam()), endpoints, random), 20000);
  int kept_keys = 0, moved = 0, orphaned = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == removed) {
      ++orphaned;
      EXPECT_NE(after[i], removed);
      continue;
    }
    ++kept_keys;
    moved += before[i] != after[i];
  }
  EXPECT_GT(orphaned, 20000 / 10 / 2);  // the removed host had its share
  // Ring hash moves only the removed host's keys; maglev a little more.
  const double allowed = GetParam() == LbPolicy::kRingHash ? 0.0 : 0.05;
  EXPECT_LE(moved / double(kept_keys), allowed) << moved << " of " << kept_keys << " keys moved";
}

TEST_P(ConsistentHashTest, RedrawAvoidsExcludedHost) {
  SeededRandom random(4);
  auto lb = Make(Config(GetParam()), Endpoints({1, 1, 1}), random);
  for (int i = 0; i < 200; ++i) {
    LbContext context;
    context.hash = Hash64(absl::StrCat("k", i));
    const std::string first = lb->ChooseHost(context)->key;
    context.exclude = [&](const Host& h) { return h.key == first; };
    context.host_selection_attempts = 10;
    EXPECT_NE(lb->ChooseHost(context)->key, first);
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, ConsistentHashTest,
                         ::testing::Values(LbPolicy::kRingHash, LbPolicy::kMaglev),
                         [](const auto& info) { return std::string(LbPolicyName(info.param)); });

TEST(LoadBalancerTest, RingSizeRespectsBounds) {
  SeededRandom random(5);
  LbPolicyConfig config = Config(LbPolicy::kRingHash);
  config.min_ring_size = 100;
  config.max_ring_size = 200;
  auto lb = Make(config, Endpoints({1, 1000}), random);
  const auto& ring = static_cast<RingHashLoadBalancer&>(*lb).ring();
  // Capped at max (rounding may add one entry per host), and the light host
  // still owns an entry.
  EXPECT_LE(ring.size(), 202u);
  EXPECT_TRUE(
      std::any_of(ring.begin(), ring.end(), [](const auto& e) { return e.host_index == 0; }));
}

// ---- Least request ----------------------------------------------------------

TEST(LoadBalancerTest, LeastRequestPrefersTheLessLoadedHost) {
  SeededRandom random(21);
  auto lb = Make(Config(LbPolicy::kLeastRequest), Endpoints({1, 1}), random);
  const Host& busy = lb->host_set().hosts()[0];
  for (int i = 0; i < 10; ++i) lb->OnRequestStart(busy);
  auto counts = Distribution(*lb, 20000, false);
  // Two random candidates: the idle host wins unless both draws are the busy one.
  EXPECT_NEAR(counts["10.0.0.2:8080"] / 20000.0, 0.75, 0.015);

  LbPolicyConfig many = Config(LbPolicy::kLeastRequest);
  many.choice_count = 8;
  auto lb8 = Make(many, Endpoints({1, 1}), random);
  for (int i = 0; i < 10; ++i) lb8->OnRequestStart(lb8->host_set().hosts()[0]);
  counts = Distribution(*lb8, 20000, false);
  EXPECT_NEAR(counts["10.0.0.2:8080"] / 20000.0, 1 - 1.0 / 256, 0.005);

  // Once the load is gone, picks are even again.
  for (int i = 0; i < 10; ++i) lb->OnRequestEnd(busy);
  counts = Distribution(*lb, 20000, false);
  EXPECT_NEAR(counts["10.0.0.1:8080"] / 20000.0, 0.5, 0.015);
}

TEST(LoadBalancerTest, LeastRequestTracksLoadItCreates) {
  SeededRandom random(22);
  auto lb = Make(Config(LbPolicy::kLeastRequest), Endpoints({1, 1, 1, 1}), random);
  // Requests that never finish: the balancer keeps the load level.
  std::map<std::string, int> open;
  for (int i = 0; i < 400; ++i) {
    const Host* host = lb->ChooseHost({});
    lb->OnRequestStart(*host);
    ++open[host->key];
  }
  for (const auto& [key, count] : open) EXPECT_NEAR(count, 100, 10) << key;
}

TEST(LoadBalancerTest, RoundRobinRedrawSkipsExcludedHost) {
  SeededRandom random(23);
  auto lb = Make(Config(LbPolicy::kRoundRobin), Endpoints({1, 1, 1}), random);
  LbContext context;
  context.host_selection_attempts = 3;
  context.exclude = [](const Host& h) { return h.key == "10.0.0.2:8080"; };
  for (int i = 0; i < 30; ++i) EXPECT_NE(lb->ChooseHost(context)->key, "10.0.0.2:8080");
}

TEST(LoadBalancerTest, SameSeedSamePicks) {
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kRandom}) {
    SeededRandom a(77), b(77);
    auto first = Make(Config(policy), Endpoints({1, 2, 3, 4}), a);
    auto second = Make(Config(policy), Endpoints({1, 2, 3, 4}), b);
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(first->ChooseHost({})->key, second->ChooseHost({})->key) << LbPolicyName(policy);
    }
  }
}

}  // namespace
}  // namespace meshgate::proxy
