// SPIFFE identities and X.509-SVID peer verification.
//
// SpiffeId is a parsed, validated `spiffe://TRUST_DOMAIN/ns/NS/sa/SA` workload
// identity. VerifySvid checks an X.509-SVID chain against a set of roots at a
// given time, and InstallSpiffePeerVerification makes an SSL_CTX do that on
// every handshake, accepting only peers whose single URI SAN is one of the
// expected IDs (DNS names and the subject are never consulted). The proxy uses
// the latter for mTLS between sidecars; the CA uses VerifySvid to authenticate
// renewals.
//
// Thread-safety: SpiffeId is a value type. A SpiffePeerPolicy is immutable
// after installation and may be shared by any number of SSL objects/threads.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace meshgate::ca {

inline constexpr absl::string_view kDefaultTrustDomain = "cluster.local";

class SpiffeId {
 public:
  // Accepts exactly `spiffe://TD/ns/NS/sa/SA`: lowercase trust domain of
  // [a-z0-9.-_], path segments of [A-Za-z0-9.-_], none empty, "." or "..";
  // no query, fragment, port or user info.
  static absl::StatusOr<SpiffeId> Parse(absl::string_view uri);
  static absl::StatusOr<SpiffeId> ForWorkload(absl::string_view trust_domain, absl::string_view ns,
                                              absl::string_view service_account);

  const std::string& uri() const { return uri_; }
  const std::string& trust_domain() const { return trust_domain_; }
  const std::string& ns() const { return ns_; }
  const std::string& service_account() const { return service_account_; }

  friend bool operator==(const SpiffeId& a, const SpiffeId& b) { return a.uri_ == b.uri_; }

 private:
  std::string uri_, trust_domain_, ns_, service_account_;
};

// Validates a trust domain name ("cluster.local", "example.org").
absl::Status ValidateTrustDomain(absl::string_view trust_domain);

// Which end of a TLS connection the certificate is presented by; selects the
// extendedKeyUsage the leaf must carry (clientAuth or serverAuth).
enum class PeerRole { kClient, kServer };

// Verifies `leaf` (plus `untrusted` intermediates, may be null) chains to a
// root in `roots` and is valid at `now`, carries the EKU for `role`, and has
// exactly one URI SAN that is a SPIFFE ID. Returns that ID.
absl::StatusOr<SpiffeId> VerifySvid(X509* leaf, STACK_OF(X509) * untrusted, X509_STORE* roots,
                                    absl::Time now, PeerRole role);

// What InstallSpiffePeerVerification accepts. `clock` must outlive every SSL
// created from the context.
struct SpiffePeerPolicy {
  std::vector<std::string> allowed_ids;  // exact SPIFFE URIs; empty = any valid SVID
  PeerRole peer_role = PeerRole::kServer;
  const Clock* clock = nullptr;
};

// Makes `ctx` require and verify the peer's certificate: chain to the roots in
// `trust_bundle_pem`, time from policy->clock, EKU per policy->peer_role, and
// the URI SAN in policy->allowed_ids. Failing peers abort the handshake.
// REQUIRES: `policy` outlives `ctx` and every SSL made from it.
absl::Status InstallSpiffePeerVerification(SSL_CTX* ctx, absl::string_view trust_bundle_pem,
                                           const SpiffePeerPolicy* policy);

// After a handshake on an SSL whose context has the verification above: the
// verified peer SPIFFE ID, or why the handshake's verification failed.
absl::StatusOr<std::string> VerifiedPeerSpiffeId(const SSL* ssl);

}  // namespace meshgate::ca
