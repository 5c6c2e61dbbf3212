// Hash64: the 64-bit string hash behind consistent hashing (ring hash and
// maglev placement, request hash policies).
//
// It is FNV-1a over the bytes followed by a murmur3-style avalanche so that
// similar keys ("10.0.0.1:80_0", "10.0.0.1:80_1") spread across the whole
// 64-bit space. The value is stable across processes and releases: changing it
// would move every sticky session, so treat it as a wire format.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace meshgate::proxy {

uint64_t Hash64(std::string_view bytes, uint64_t seed = 0);

// Combines hashes of several policy values, order-sensitive.
uint64_t CombineHash(uint64_t accumulated, uint64_t next);

}  // namespace meshgate::proxy
