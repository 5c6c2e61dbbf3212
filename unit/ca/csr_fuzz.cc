// Fuzz target for the CA's parser of untrusted CSR bytes (PEM or DER).
// Anything may be rejected; nothing may crash, leak or hang.
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>

#include "ca/csr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = meshgate::ca::ParseWorkloadCsr(input, "cluster.local");
  if (parsed.ok()) {
    // Whatever passed must be a consistent SPIFFE workload request.
    if (parsed->identity.trust_domain() != "cluster.local" || !parsed->public_key) __builtin_trap();
    // The key the CA would put into the certificate must encode to the same key.
    X509* cert = X509_new();
    if (!meshgate::ca::CopySubjectPublicKeyInfo(*parsed, cert).ok()) __builtin_trap();
    unsigned char* der = nullptr;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    const unsigned char* p = der;
    EVP_PKEY* copied = len > 0 ? d2i_PUBKEY(nullptr, &p, len) : nullptr;
    if (copied == nullptr || EVP_PKEY_eq(copied, parsed->public_key.get()) != 1) __builtin_trap();
    EVP_PKEY_free(copied);
    OPENSSL_free(der);
    X509_free(cert);
  }
  return 0;
}
