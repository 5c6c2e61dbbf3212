#include "ca/ca_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace meshgate::ca {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// "ipv4:127.0.0.1:5555" -> "ipv4:127.0.0.1": the port changes per connection.
std::string PeerAddress(absl::string_view peer) {
  size_t colon = peer.rfind(':');
  size_t first = peer.find(':');
  if (colon != absl::string_view::npos && colon != first) peer = peer.substr(0, colon);
  return std::string(peer);
}

}  // namespace

class CaService::IstioService final : public istio::v1::auth::IstioCertificateService::Service {
 public:
  explicit IstioService(CaService& owner) : owner_(owner) {}
  grpc::Status CreateCertificate(grpc::ServerContext* context,
                                 const istio::v1::auth::IstioCertificateRequest* request,
                                 istio::v1::auth::IstioCertificateResponse* response) override {
    IssuedCertificate issued;
    grpc::Status status = owner_.CreateCertificate(CredentialsOf(*context), context->peer(),
                                                   *request, *response, &issued);
    if (status.ok()) {
      context->AddInitialMetadata(std::string(kGrantedTtlHeader),
                                  absl::StrCat(absl::ToInt64Seconds(issued.granted_ttl)));
      if (issued.ttl_clamped) context->AddInitialMetadata(std::string(kTtlClampedHeader), "true");
    }
    return status;
  }

 private:
  CaService& owner_;
};

class CaService::BundleService final : public meshgate::ca::v1::TrustBundleService::Service {
 public:
  explicit BundleService(const CertificateAuthority& authority) : authority_(authority) {}
  grpc::Status GetTrustBundle(grpc::ServerContext*, const meshgate::ca::v1::GetTrustBundleRequest*,
                              meshgate::ca::v1::GetTrustBundleResponse* response) override {
    for (std::string& root : authority_.TrustedRootsPem()) response->add_roots(std::move(root));
    response->set_trust_domain(authority_.trust_domain());
    return grpc::Status::OK;
  }

 private:
  const CertificateAuthority& authority_;
};

CaService::CaService(const CertificateAuthority& authority,
                     std::vector<const Authenticator*> authenticators, const Clock& clock,
                     CaServiceOptions options)
    : authority_(authority),
      authenticators_(std::move(authenticators)),
      per_caller_(clock, options.per_caller_rate),
      unauthenticated_(clock, options.unauthenticated_rate),
      istio_service_(std::make_unique<IstioService>(*this)),
      bundle_service_(std::make_unique<BundleService>(authority)) {}

CaService::~CaService() = default;

void CaService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(istio_service_.get());
  builder.RegisterService(bundle_service_.get());
}

CallerCredentials CaService::CredentialsOf(const grpc::ServerContext& context) {
  CallerCredentials credentials;
  if (auto auth = context.auth_context()) {
    std::vector<grpc::string_ref> certs = auth->FindPropertyValues("x509_pem_cert");
    if (!certs.empty())
      credentials.peer_certificate_pem.emplace(certs.front().data(), certs.front().size());
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
      credentials.bearer_token.emplace(absl::StripAsciiWhitespace(value.substr(7)));
    } else {
      credentials.bearer_token.emplace();  // present but unusable: never matches
    }
  }
  return credentials;
}

grpc::Status CaService::CreateCertificate(const CallerCredentials& credentials,
                                          absl::string_view peer,
                                          const istio::v1::auth::IstioCertificateRequest& request,
                                          istio::v1::auth::IstioCertificateResponse& response,
                                          IssuedCertificate* issued_out) {
  std::string identity;
  absl::Status auth_status = absl::UnauthenticatedError(
      "no credentials: present a certificate issued by this CA or `authorization: Bearer TOKEN`");
  for (const Authenticator* authenticator : authenticators_) {
    absl::StatusOr<std::string> result = authenticator->Authenticate(credentials);
    if (absl::IsNotFound(result.status())) continue;
    if (result.ok()) {
      identity = *std::move(result);
      auth_status = absl::OkStatus();
    } else {
      auth_status = absl::UnauthenticatedError(
          absl::StrCat(authenticator->Name(), ": ", result.status().message()));
    }
    break;
  }
  if (!auth_status.ok()) {
    std::string address = PeerAddress(peer);
    if (!unauthenticated_.TryAcquire(address)) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "too many failed authentications from this address");
    }
    spdlog::warn("ca: rejected CSR from {}: {}", address, std::string(auth_status.message()));
    return ToGrpc(auth_status);
  }
  if (!per_caller_.TryAcquire(identity)) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("rate limit exceeded for ", identity));
  }
  absl::StatusOr<IssuedCertificate> issued =
      authority_.Sign(request.csr(), absl::Seconds(request.validity_duration()), identity);
  if (!issued.ok()) {
    spdlog::warn("ca: refused CSR of {}: {}", identity, std::string(issued.status().message()));
    return ToGrpc(issued.status());
  }
  for (const std::string& pem : issued->chain_pem) response.add_cert_chain(pem);
  spdlog::info("ca: issued {} valid until {}{}", identity, absl::FormatTime(issued->not_after),
               issued->ttl_clamped ? " (requested validity clamped)" : "");
  if (issued_out != nullptr) *issued_out = *std::move(issued);
  return grpc::Status::OK;
}

}  // namespace meshgate::ca
