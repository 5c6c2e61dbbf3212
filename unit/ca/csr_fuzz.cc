// Fuzz target for the CA's parser of untrusted CSR bytes (PEM or DER).
// Anything may be rejected; nothing may crash, leak or hang.
#include <cstddef>
#include <cstdint>

#include "ca/csr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = meshgate::ca::ParseWorkloadCsr(input, "cluster.local");
  if (parsed.ok()) {
    // Whatever passed must be a consistent SPIFFE workload request.
    if (parsed->identity.trust_domain() != "cluster.local" || !parsed->public_key) __builtin_trap();
  }
  return 0;
}
