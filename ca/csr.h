// PKCS#10 certificate signing requests: building them (workload side) and
// parsing + validating untrusted ones (CA side).
//
// ParseWorkloadCsr is the one parser of untrusted CSR bytes; it has a fuzz
// target (unit/ca/csr_fuzz.cc). It never trusts anything a CSR says except the
// public key (after checking the CSR's self-signature) and its single SPIFFE
// URI SAN; everything else the CA puts into a certificate is its own choice.
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ca/openssl_util.h"
#include "ca/spiffe.h"

namespace meshgate::ca {

inline constexpr size_t kDefaultMaxCsrBytes = 16 * 1024;

// What a CSR asks for. Workloads set one URI SAN (their SPIFFE ID); the other
// fields exist so tests can build the requests the CA must refuse.
struct CsrContents {
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  std::string common_name;  // empty: empty subject
};

// Builds a PEM CSR signed by `key` (SHA-256, or SHA-384 for P-384 keys).
absl::StatusOr<std::string> BuildCsrPem(EVP_PKEY* key, const CsrContents& contents);
// The usual workload CSR: exactly `id` as URI SAN, empty subject.
absl::StatusOr<std::string> BuildWorkloadCsrPem(EVP_PKEY* key, const SpiffeId& id);

// A CSR that passed every check.
struct ValidatedCsr {
  EvpPkeyPtr public_key;
  SpiffeId identity;
  // The SubjectPublicKeyInfo as received, for CopySubjectPublicKeyInfo.
  X509AlgorPtr key_algorithm;
  std::string public_key_bits;
};

// Parses `csr` (PEM, or DER when it does not start with "-----BEGIN") and
// checks: size <= max_bytes; well-formed; key is ECDSA P-256/P-384 or RSA
// 2048..4096 bits; the self-signature verifies; the only SAN is exactly one
// URI that is a SPIFFE ID in `trust_domain`. Errors are INVALID_ARGUMENT
// (RESOURCE_EXHAUSTED for size) with a message that starts with "csr".
absl::StatusOr<ValidatedCsr> ParseWorkloadCsr(absl::string_view csr, absl::string_view trust_domain,
                                              size_t max_bytes = kDefaultMaxCsrBytes);

// Sets `cert`'s subject public key to the CSR's SubjectPublicKeyInfo by
// copying its fields, without re-encoding the key (X509_set_pubkey goes
// through OpenSSL's encoder framework, the slowest step of issuance).
absl::Status CopySubjectPublicKeyInfo(const ValidatedCsr& csr, X509* cert);

}  // namespace meshgate::ca
