#include "proxy/upstream/hash.h"

namespace meshgate::proxy {
namespace {

uint64_t Avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

uint64_t Hash64(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ Avalanche(seed + 0x9e3779b97f4a7c15ULL);
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Avalanche(h ^ bytes.size());
}

uint64_t CombineHash(uint64_t accumulated, uint64_t next) {
  return Avalanche(((accumulated << 1) | (accumulated >> 63)) ^ next);
}

}  // namespace meshgate::proxy
