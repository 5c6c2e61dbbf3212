// CaService: the CA's gRPC surface.
//
//  * istio.v1.auth.IstioCertificateService/CreateCertificate — wire-compatible
//    with Istio's agent: PEM CSR in, PEM chain out (leaf first, root last).
//  * meshgate.ca.v1.TrustBundleService/GetTrustBundle — every trusted root.
//
// Every CSR call is authenticated (the authenticators in order), rate limited
// per caller, size limited, and answered with a precise status:
//   UNAUTHENTICATED    no or invalid credentials
//   PERMISSION_DENIED  CSR identity differs from the authenticated identity
//   INVALID_ARGUMENT   malformed CSR, bad key, bad SANs, bad validity_duration
//   RESOURCE_EXHAUSTED rate limit, or CSR larger than the limit
// When the requested validity was clamped, the response's initial metadata
// carries `x-meshgate-ttl-clamped: true`; it always carries
// `x-meshgate-granted-ttl-seconds`.
//
// Ownership: borrows the CA, authenticators and clock; all must outlive it.
// Thread-safety: the handlers run concurrently on gRPC's threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "ca/authenticator.h"
#include "ca/certificate_authority.h"
#include "ca/proto/istio_ca.grpc.pb.h"
#include "ca/proto/trust_bundle.grpc.pb.h"
#include "ca/rate_limiter.h"

namespace meshgate::ca {

inline constexpr absl::string_view kTtlClampedHeader = "x-meshgate-ttl-clamped";
inline constexpr absl::string_view kGrantedTtlHeader = "x-meshgate-granted-ttl-seconds";

struct CaServiceOptions {
  RateLimiter::Options per_caller_rate = {};
  // Failed authentications per peer address, to slow down token guessing.
  RateLimiter::Options unauthenticated_rate = {.per_second = 1.0, .burst = 10.0};
};

class CaService {
 public:
  CaService(const CertificateAuthority& authority, std::vector<const Authenticator*> authenticators,
            const Clock& clock, CaServiceOptions options = {});
  ~CaService();

  // Adds both services to `builder`. REQUIRES: this outlives the server.
  void Register(grpc::ServerBuilder& builder);

  // The transport-independent core of CreateCertificate. `peer` keys the
  // unauthenticated rate limit.
  grpc::Status CreateCertificate(const CallerCredentials& credentials, absl::string_view peer,
                                 const istio::v1::auth::IstioCertificateRequest& request,
                                 istio::v1::auth::IstioCertificateResponse& response,
                                 IssuedCertificate* issued = nullptr);

  // Extracts the TLS client certificate and bearer token of a call.
  static CallerCredentials CredentialsOf(const grpc::ServerContext& context);

 private:
  class IstioService;
  class BundleService;

  const CertificateAuthority& authority_;
  const std::vector<const Authenticator*> authenticators_;
  RateLimiter per_caller_;
  RateLimiter unauthenticated_;
  std::unique_ptr<IstioService> istio_service_;
  std::unique_ptr<BundleService> bundle_service_;
};

}  // namespace meshgate::ca
