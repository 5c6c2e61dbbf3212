// Test certificates made with the OpenSSL API: a root CA and leaves with
// chosen SANs, extendedKeyUsage and validity, so tests can build exactly the
// certificates a verifier must refuse (wrong usage, DNS SAN spelled like a
// SPIFFE URI, expired, foreign root). ECDSA P-256 throughout.
//
// Thread-compatible: plain values.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ca/openssl_util.h"

namespace meshgate::proxy::testing {

struct TestCa {
  ca::EvpPkeyPtr key;
  ca::X509Ptr cert;
  std::string cert_pem;
};

enum class Eku { kServer, kClient, kBoth, kNone };

struct LeafSpec {
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  Eku eku = Eku::kBoth;
  absl::Time not_before = absl::Now() - absl::Hours(1);
  absl::Time not_after = absl::Now() + absl::Hours(24);
  std::string common_name = "meshgate-test";
};

struct TestLeaf {
  std::string chain_pem;  // leaf only
  std::string key_pem;
};

TestCa MakeRootCa(const std::string& common_name);
TestLeaf IssueLeaf(const TestCa& ca, const LeafSpec& spec);

}  // namespace meshgate::proxy::testing
