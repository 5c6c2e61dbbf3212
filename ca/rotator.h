// Client-side certificate rotation, used by meshgate-proxy (and anything else
// that holds a workload identity).
//
//  * RenewalSchedule: the pure timing policy. Renew at `renew_fraction` of the
//    certificate's lifetime plus up to `jitter_fraction` (so a fleet issued at
//    once does not renew at once); after a failure retry with exponential
//    backoff (with jitter) capped at `max_backoff`.
//  * CertificateRotator: the state machine around it. Tick() does what is due
//    at clock.Now() — generate an ECDSA P-256 key, build a CSR for the SPIFFE
//    ID, ask the CA — and returns when it next wants to be called. The held
//    certificate is replaced only by a good new one and kept until it
//    actually expires, so a CA outage shorter than the remaining lifetime
//    causes no gap. Nothing sleeps; the caller's event loop schedules Tick().
//  * CsrClient / GrpcCsrClient: the transport to the CA's
//    IstioCertificateService over TLS, authenticated by the held certificate
//    (renewal) or a bootstrap bearer token (first issue).
//
// Thread-safety: Tick() must be called from one thread at a time; Current()
// may be called from any thread. GrpcCsrClient is safe for concurrent use.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/openssl_util.h"
#include "common/clock.h"

namespace meshgate::ca {

struct WorkloadCertificate {
  std::string private_key_pem;
  std::vector<std::string> chain_pem;  // leaf first, root last
  absl::Time not_before;
  absl::Time not_after;
  std::string ChainPem() const;
};

class CsrClient {
 public:
  virtual ~CsrClient() = default;
  // Sends `csr_pem`; `current` (may be null) is the certificate held now, for
  // callers that authenticate renewals with it. Returns the PEM chain.
  virtual absl::StatusOr<std::vector<std::string>> CreateCertificate(
      absl::string_view csr_pem, absl::Duration requested_ttl,
      const WorkloadCertificate* current) = 0;
};

class GrpcCsrClient final : public CsrClient {
 public:
  struct Options {
    std::string target;                // "host:port" of the CA service
    std::string root_pem;              // roots that sign the CA's serving certificate
    std::string bearer_token;          // sent when no certificate is held yet
    std::string server_name_override;  // TLS name to verify instead of the target host
    absl::Duration deadline = absl::Seconds(10);
  };
  explicit GrpcCsrClient(Options options) : options_(std::move(options)) {}
  absl::StatusOr<std::vector<std::string>> CreateCertificate(
      absl::string_view csr_pem, absl::Duration requested_ttl,
      const WorkloadCertificate* current) override;

  // Replaces the roots the CA's serving certificate is verified against from
  // the next call on. After a root rotation the CA serves a certificate of
  // the new root, which the mesh's trust bundle carries before it signs.
  // Thread-safe.
  void SetRootPem(std::string root_pem);
  std::string root_pem() const;

 private:
  Options options_;  // root_pem guarded by mu_
  mutable std::mutex mu_;
};

class RenewalSchedule {
 public:
  struct Options {
    double renew_fraction = 0.5;
    double jitter_fraction = 0.1;
    absl::Duration initial_backoff = absl::Seconds(1);
    absl::Duration max_backoff = absl::Minutes(5);
  };
  RenewalSchedule(Options options, uint64_t seed) : options_(options), random_(seed) {}

  // A certificate usable from `start` (its notBefore, or when it arrived if
  // later) to `not_after` was obtained; returns when to renew it.
  absl::Time OnIssued(absl::Time start, absl::Time not_after);
  // An attempt at `now` failed; returns when to retry.
  absl::Time OnFailure(absl::Time now);

 private:
  double Uniform(double low, double high);
  Options options_;
  std::mt19937_64 random_;
  absl::Duration backoff_ = absl::ZeroDuration();
};

class CertificateRotator {
 public:
  struct Options {
    std::string spiffe_id;
    absl::Duration requested_ttl = absl::ZeroDuration();  // 0: the CA's default
    KeyAlgorithm key_algorithm = KeyAlgorithm::kEcdsaP256;
    RenewalSchedule::Options schedule = {};
  };
  // REQUIRES: `client` and `clock` outlive the rotator.
  CertificateRotator(Options options, CsrClient& client, const Clock& clock, uint64_t seed);

  // Performs the work due at clock.Now() and returns when to call again.
  absl::Time Tick();

  // The held certificate while it is valid; null before the first success or
  // once it has expired without replacement.
  std::shared_ptr<const WorkloadCertificate> Current() const;
  absl::Status last_error() const;
  absl::Time next_attempt() const { return next_attempt_; }

 private:
  absl::StatusOr<std::shared_ptr<const WorkloadCertificate>> Request();

  const Options options_;
  CsrClient& client_;
  const Clock& clock_;
  RenewalSchedule schedule_;
  absl::Time next_attempt_ = absl::InfinitePast();
  mutable std::mutex mu_;
  std::shared_ptr<const WorkloadCertificate> current_;
  absl::Status last_error_;
};

}  // namespace meshgate::ca
