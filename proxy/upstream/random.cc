#include "proxy/upstream/random.h"

#include <random>

namespace meshgate::proxy {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t RotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t Random::Uniform(uint64_t bound) {
  // Rejection sampling removes the modulo bias that matters for statistical
  // tests of small weights.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  uint64_t value;
  do {
    value = Next();
  } while (value >= limit);
  return value % bound;
}

double Random::UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

SeededRandom::SeededRandom(uint64_t seed) {
  for (auto& word : state_) word = SplitMix64(seed);
}

SeededRandom SeededRandom::FromEntropy() {
  std::random_device device;
  return SeededRandom((static_cast<uint64_t>(device()) << 32) ^ device());
}

uint64_t SeededRandom::Next() {
  const uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = RotateLeft(state_[3], 45);
  return result;
}

}  // namespace meshgate::proxy
