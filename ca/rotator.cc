#include "ca/rotator.h"

#include <grpcpp/grpcpp.h>
#include <openssl/err.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/csr.h"
#include "ca/proto/istio_ca.grpc.pb.h"
#include "ca/spiffe.h"

namespace meshgate::ca {

std::string WorkloadCertificate::ChainPem() const { return absl::StrJoin(chain_pem, ""); }

void GrpcCsrClient::SetRootPem(std::string root_pem) {
  std::lock_guard lock(mu_);
  options_.root_pem = std::move(root_pem);
}

std::string GrpcCsrClient::root_pem() const {
  std::lock_guard lock(mu_);
  return options_.root_pem;
}

absl::StatusOr<std::vector<std::string>> GrpcCsrClient::CreateCertificate(
    absl::string_view csr_pem, absl::Duration requested_ttl, const WorkloadCertificate* current) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = root_pem();
  if (current != nullptr) {
    ssl.pem_private_key = current->private_key_pem;
    ssl.pem_cert_chain = current->ChainPem();
  }
  grpc::ChannelArguments args;
  if (!options_.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options_.server_name_override);
  }
  auto channel = grpc::CreateCustomChannel(options_.target, grpc::SslCredentials(ssl), args);
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
  if (current == nullptr && !options_.bearer_token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.bearer_token));
  }
  istio::v1::auth::IstioCertificateRequest request;
  request.set_csr(std::string(csr_pem));
  request.set_validity_duration(absl::ToInt64Seconds(requested_ttl));
  istio::v1::auth::IstioCertificateResponse response;
  grpc::Status status = stub->CreateCertificate(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("CA ", options_.target, ": ", status.error_message()));
  }
  return std::vector<std::string>(response.cert_chain().begin(), response.cert_chain().end());
}

double RenewalSchedule::Uniform(double low, double high) {
  return std::uniform_real_distribution<double>(low, high)(random_);
}

absl::Time RenewalSchedule::OnIssued(absl::Time not_before, absl::Time not_after) {
  backoff_ = absl::ZeroDuration();
  double fraction =
      options_.renew_fraction + Uniform(0.0, std::max(options_.jitter_fraction, 1e-9));
  return not_before + (not_after - not_before) * std::min(fraction, 0.95);
}

absl::Time RenewalSchedule::OnFailure(absl::Time now) {
  backoff_ = backoff_ == absl::ZeroDuration() ? options_.initial_backoff
                                              : std::min(backoff_ * 2, options_.max_backoff);
  // Between half and all of the backoff, so retries of many clients spread out.
  return now + backoff_ * Uniform(0.5, 1.0);
}

CertificateRotator::CertificateRotator(Options options, CsrClient& client, const Clock& clock,
                                       uint64_t seed)
    : options_(std::move(options)),
      client_(client),
      clock_(clock),
      schedule_(options_.schedule, seed) {}

absl::StatusOr<std::shared_ptr<const WorkloadCertificate>> CertificateRotator::Request() {
  auto id = SpiffeId::Parse(options_.spiffe_id);
  if (!id.ok()) return id.status();
  auto key = GenerateKey(options_.key_algorithm);
  if (!key.ok()) return key.status();
  auto csr = BuildWorkloadCsrPem(key->get(), *id);
  if (!csr.ok()) return csr.status();
  std::shared_ptr<const WorkloadCertificate> held = Current();
  auto chain = client_.CreateCertificate(*csr, options_.requested_ttl, held.get());
  if (!chain.ok()) return chain.status();
  if (chain->empty()) return absl::InternalError("CA returned an empty certificate chain");
  auto leaf = CertificateFromPem(chain->front());
  if (!leaf.ok()) return absl::InternalError(absl::StrCat("CA returned ", leaf.status().message()));
  if (X509_check_private_key(leaf->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InternalError("CA returned a certificate for a different key");
  }
  std::vector<std::string> uris = UriSans(leaf->get());
  if (uris.size() != 1 || uris.front() != id->uri()) {
    return absl::InternalError("CA returned a certificate for a different identity");
  }
  auto key_pem = PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  auto cert = std::make_shared<WorkloadCertificate>();
  cert->private_key_pem = *std::move(key_pem);
  cert->chain_pem = *std::move(chain);
  cert->not_before = NotBefore(leaf->get());
  cert->not_after = NotAfter(leaf->get());
  return cert;
}

absl::Time CertificateRotator::Tick() {
  absl::Time now = clock_.Now();
  if (now < next_attempt_) return next_attempt_;
  auto issued = Request();
  std::lock_guard lock(mu_);
  if (issued.ok()) {
    current_ = *std::move(issued);
    last_error_ = absl::OkStatus();
    // The CA backdates notBefore for clock skew; the lifetime that counts is
    // what is left from now, or a TTL shorter than the backdating would be
    // "due" at once and renew on every tick.
    next_attempt_ = schedule_.OnIssued(std::max(current_->not_before, now), current_->not_after);
  } else {
    last_error_ = issued.status();
    next_attempt_ = schedule_.OnFailure(now);
  }
  return next_attempt_;
}

std::shared_ptr<const WorkloadCertificate> CertificateRotator::Current() const {
  std::lock_guard lock(mu_);
  if (current_ && clock_.Now() >= current_->not_after) return nullptr;
  return current_;
}

absl::Status CertificateRotator::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace meshgate::ca
