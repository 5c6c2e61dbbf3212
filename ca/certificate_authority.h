// CertificateAuthority: meshgate's built-in SPIFFE CA.
//
// It owns one signing key and certificate (a self-signed root it created, or
// an intermediate plugged in by the user in Istio's `cacerts` layout) and the
// set of roots workloads must trust. It issues X.509-SVIDs from workload CSRs
// (the private key never leaves the workload) and a serving certificate for
// the control plane's own TLS endpoints.
//
// Issued workload certificates: exactly one URI SAN (the SPIFFE ID, critical,
// empty subject), CA:FALSE, keyUsage critical digitalSignature (+
// keyEncipherment for RSA keys), extendedKeyUsage serverAuth + clientAuth,
// random positive 128-bit serial, notBefore backdated by `backdate` for clock
// skew. TTL: 0 means `default_ttl`; negative or below `min_ttl` is rejected;
// above `max_ttl` (or beyond the signer's own expiry) is clamped and reported.
//
// Storage layout (CaStorage names), self-signed mode:
//   ca-key.pem            signing key (secret, 0600 in file mode)
//   ca-cert.pem           active self-signed root
//   retiring-roots.pem    roots still trusted after a rotation, with drop times
//   root-cert.pem         the trust bundle (every trusted root), written by us
// Plugged-in mode reads ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem
// from a separate (read-only) storage and writes only root-cert.pem to state.
//
// Operator wiring (the whole job; each step returns a Status to check):
//   auto state = ca::FileCaStorage::Open(state_dir / "ca");
//   auto authority = ca::CertificateAuthority::LoadOrCreate(**state, clock, {});
//       // or LoadPlugged(*cacerts_storage, **state, clock, {}) with --ca-cacerts DIR
//   auto serving = (*authority)->IssueServingCertificate(
//       {"meshgate.meshgate-system.svc", "localhost"}, {"127.0.0.1"});
//   auto tokens = ca::BootstrapTokenAuthenticator::LoadFile(flags.ca_tokens);
//   ca::PeerCertificateAuthenticator peers(**authority);
//   ca::CaService service(**authority, {&peers, tokens->get()}, clock);
//   auto server = ca::CaServer::Start({.address = "0.0.0.0:15012"}, service, *serving);
//   // The xDS ROOTCA secret comes from (*authority)->TrustBundlePem().
//   ... (*server)->Shutdown() on exit; objects are destroyed in reverse order.
//
// Thread-safety: every method is safe to call concurrently. Sign() takes no
// lock while signing; RotateRoot() swaps the signer atomically.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/csr.h"
#include "ca/openssl_util.h"
#include "ca/spiffe.h"
#include "ca/storage.h"
#include "common/clock.h"

namespace meshgate::ca {

struct CaOptions {
  std::string trust_domain = std::string(kDefaultTrustDomain);
  KeyAlgorithm root_key_algorithm = KeyAlgorithm::kEcdsaP256;
  absl::Duration root_validity = absl::Hours(24 * 3650);
  absl::Duration default_ttl = absl::Hours(24);
  absl::Duration max_ttl = absl::Hours(24 * 90);
  absl::Duration min_ttl = absl::Minutes(10);
  absl::Duration backdate = absl::Minutes(5);
  size_t max_csr_bytes = kDefaultMaxCsrBytes;
};

struct IssuedCertificate {
  std::string spiffe_id;
  std::vector<std::string> chain_pem;  // leaf first, root last
  absl::Time not_before;
  absl::Time not_after;
  absl::Duration granted_ttl;  // not_after - issuance time
  bool ttl_clamped = false;    // the request asked for more than granted_ttl
};

// One root of the trust bundle; `drop_after` is set for a root retired by a
// rotation (it leaves the bundle at PruneRetiredRoots() after that time). A
// staged root (StageNextRoot) is neither active nor retiring.
struct TrustedRoot {
  std::string pem;
  bool active = false;
  absl::Time drop_after = absl::InfiniteFuture();
  bool staged = false;
};

// The control plane's own TLS identity; the key is generated inside the CA.
struct ServingCertificate {
  std::string private_key_pem;
  std::vector<std::string> chain_pem;  // leaf first, root last
  std::string ChainPem() const;
};

class CertificateAuthority {
 public:
  // Self-signed mode: loads the root from `state`, or creates one when the
  // storage holds neither key nor certificate. Any other state (a corrupt or
  // mismatched key, a key without certificate) is an error and nothing is
  // overwritten. REQUIRES: `state` and `clock` outlive the CA.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> LoadOrCreate(CaStorage& state,
                                                                            const Clock& clock,
                                                                            CaOptions options);
  // Plugged-in intermediate: validates the cacerts files (key matches
  // certificate, certificate is a CA, chains to root-cert.pem, currently
  // valid) and writes the trust bundle to `state`.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> LoadPlugged(const CaStorage& cacerts,
                                                                           CaStorage& state,
                                                                           const Clock& clock,
                                                                           CaOptions options);

  ~CertificateAuthority();

  // Issues a workload certificate for a PEM CSR. The CSR's SPIFFE ID must equal
  // `authenticated_identity` (PERMISSION_DENIED otherwise); CSR defects are
  // INVALID_ARGUMENT, an oversized CSR RESOURCE_EXHAUSTED.
  absl::StatusOr<IssuedCertificate> Sign(absl::string_view csr_pem, absl::Duration requested_ttl,
                                         absl::string_view authenticated_identity) const;

  // REQUIRES: at least one DNS name or IP address.
  absl::StatusOr<ServingCertificate> IssueServingCertificate(
      const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses,
      absl::Duration ttl = absl::Hours(24 * 30)) const;

  // Verifies a client certificate this CA issued (chain to a trusted root,
  // valid now, clientAuth) and returns its SPIFFE ID; used to authenticate
  // renewals. UNAUTHENTICATED on failure.
  absl::StatusOr<SpiffeId> VerifyWorkloadCertificate(absl::string_view leaf_pem) const;

  // Every trusted root (active first), concatenated PEM / one PEM per root.
  std::string TrustBundlePem() const;
  std::vector<std::string> TrustedRootsPem() const;
  // The same roots (active first) with their drop times.
  std::vector<TrustedRoot> TrustedRoots() const;
  // PEM of the root the current signer chains to.
  std::string ActiveRootPem() const;

  // Root rotation (self-signed mode only): a new root becomes the signer; the
  // old one stays in the trust bundle until every leaf it could have signed
  // has expired (rotation time + max_ttl + backdate). Persists before it
  // switches. The new root is the staged one when there is one.
  absl::Status RotateRoot();
  // The first half of a rotation without a window of distrust: creates the
  // next root and adds it to the trust bundle (after the active root) without
  // signing with it, so it can reach every peer before any leaf chains to
  // it; RotateRoot() then switches to it. Returns its PEM (the same one until
  // the rotation). In memory only: a restart forgets it, which is harmless
  // since nothing was signed by it. Self-signed mode only.
  absl::StatusOr<std::string> StageNextRoot();
  // Drops retiring roots whose drop time has passed; returns how many.
  absl::StatusOr<int> PruneRetiredRoots();

  const std::string& trust_domain() const { return options_.trust_domain; }
  const CaOptions& options() const { return options_; }

  struct SigningState;  // implementation detail, immutable once published

 private:
  CertificateAuthority(CaStorage& state, const Clock& clock, CaOptions options, bool plugged);
  std::shared_ptr<const SigningState> Snapshot() const;
  void Publish(std::shared_ptr<const SigningState> state);
  absl::Status PersistTrust(const SigningState& state);

  CaStorage& storage_;
  const Clock& clock_;
  const CaOptions options_;
  const bool plugged_;
  std::mutex rotation_mu_;  // serialises RotateRoot/PruneRetiredRoots
  mutable std::mutex mu_;   // guards state_
  std::shared_ptr<const SigningState> state_;
};

}  // namespace meshgate::ca
