// Random: the injectable source of randomness for the proxy's per-request
// decisions (weighted cluster draws, load-balancer picks, retry jitter).
//
// Production code seeds one SeededRandom per worker from the OS; tests seed it
// with a constant so every draw is reproducible. The generator is a 64-bit
// xoshiro256** state expanded from the seed with splitmix64.
//
// Thread-safety: an instance is owned by one worker thread and is not
// thread-safe; give every thread its own.
#pragma once

#include <array>
#include <cstdint>

namespace meshgate::proxy {

class Random {
 public:
  virtual ~Random() = default;
  // A uniformly distributed 64-bit value.
  virtual uint64_t Next() = 0;
  // A value uniformly distributed in [0, bound).
  // REQUIRES: bound > 0.
  uint64_t Uniform(uint64_t bound);
  // A value uniformly distributed in [0, 1).
  double UniformDouble();
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed);
  // Seeded from std::random_device, for production workers.
  static SeededRandom FromEntropy();
  uint64_t Next() override;

 private:
  std::array<uint64_t, 4> state_;
};

}  // namespace meshgate::proxy
