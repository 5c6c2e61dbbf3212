// How the CSR service learns who is calling.
//
// An Authenticator maps the credentials of one call (TLS client certificate,
// bearer token) to a SPIFFE ID, or says it does not apply (NOT_FOUND: "no
// credentials of my kind") or rejects them (UNAUTHENTICATED). The service
// tries its authenticators in order and takes the first decision.
//
//  * PeerCertificateAuthenticator: renewal with a certificate this CA issued
//    (still valid, clientAuth); the identity is its SPIFFE URI SAN.
//  * BootstrapTokenAuthenticator: `authorization: Bearer TOKEN` metadata
//    checked against a file of `TOKEN SPIFFE_ID` lines. Only SHA-256 digests of
//    the tokens are kept, compared with CRYPTO_memcmp; tokens are never logged.
//
// Thread-safety: Authenticate() is const and safe to call concurrently.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ca/certificate_authority.h"

namespace meshgate::ca {

// What one call presented, extracted from the gRPC context by the service.
struct CallerCredentials {
  std::optional<std::string> peer_certificate_pem;  // TLS client certificate (leaf)
  std::optional<std::string> bearer_token;          // from `authorization: Bearer ...`
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The caller's SPIFFE ID; NOT_FOUND when this authenticator's kind of
  // credential is absent, UNAUTHENTICATED when it is present but invalid.
  virtual absl::StatusOr<std::string> Authenticate(const CallerCredentials& credentials) const = 0;
  virtual absl::string_view Name() const = 0;
};

class PeerCertificateAuthenticator final : public Authenticator {
 public:
  // REQUIRES: `authority` outlives this object.
  explicit PeerCertificateAuthenticator(const CertificateAuthority& authority)
      : authority_(authority) {}
  absl::StatusOr<std::string> Authenticate(const CallerCredentials& credentials) const override;
  absl::string_view Name() const override { return "peer-certificate"; }

 private:
  const CertificateAuthority& authority_;
};

class BootstrapTokenAuthenticator final : public Authenticator {
 public:
  // Format: one `TOKEN SPIFFE_ID` per line; blank lines and lines starting
  // with '#' are ignored. Errors name the line, never the token.
  static absl::StatusOr<std::unique_ptr<BootstrapTokenAuthenticator>> Parse(absl::string_view text);
  static absl::StatusOr<std::unique_ptr<BootstrapTokenAuthenticator>> LoadFile(
      const std::filesystem::path& path);

  absl::StatusOr<std::string> Authenticate(const CallerCredentials& credentials) const override;
  absl::string_view Name() const override { return "bootstrap-token"; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    std::string spiffe_id;
  };
  std::vector<Entry> entries_;
};

}  // namespace meshgate::ca
