// Translation of TLS config: SDS Secrets (envoy.extensions.transport_sockets.
// tls.v3.Secret) into SecretConfig, and a listener's DownstreamTlsContext or a
// cluster's UpstreamTlsContext plus the secrets it names into the options of
// a network::TlsContext.
//
// Secrets named by SDS (tls_certificate_sds_secret_configs,
// validation_context_sds_secret_config, combined_validation_context) are
// looked up through a SecretLookup; one that has not arrived makes the
// resolution fail with NOT_FOUND ("waiting for secret 'X'"), which callers
// treat as "not warmed yet", not as an error. Everything else that cannot be
// honoured fails with INVALID_ARGUMENT naming the field.
//
// The minimum TLS version is never below 1.2: lower configured minimums are
// raised to 1.2. A listener's disable_stateless_session_resumption turns its
// session tickets off.
//
// Thread-safety: pure functions; results are immutable and shareable.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/network/tls_transport_socket.h"

namespace meshgate::proxy::config {

struct SecretConfig {
  std::string name;
  std::optional<network::TlsCertificateSpec> certificate;  // tls_certificate
  std::optional<network::TlsValidationSpec> validation;    // validation_context
};

// Checks the secret's PEM (a certificate must parse and match its key).
absl::StatusOr<std::shared_ptr<const SecretConfig>> TranslateSecret(
    const envoy::extensions::transport_sockets::tls::v3::Secret& secret);

// The SDS secret names a TLS context refers to.
std::vector<std::string> SdsSecretNames(
    const envoy::extensions::transport_sockets::tls::v3::CommonTlsContext& common);

using SecretLookup = std::function<std::shared_ptr<const SecretConfig>(const std::string& name)>;

// Istio's file-mounted credentials, which the proxy reads itself instead of
// asking the control plane: "file-cert:CERT_PATH~KEY_PATH" and
// "file-root:CA_PATH". True for such names.
bool IsFileSecretName(std::string_view name);
// Reads a file-mounted credential. REQUIRES: IsFileSecretName(name).
absl::StatusOr<std::shared_ptr<const SecretConfig>> ReadFileSecret(const std::string& name);

// `alpn_allowed`: the protocols the listener's connection manager can serve,
// in preference order; the context's alpn_protocols are filtered by it (or
// it is used as is when the context lists none).
absl::StatusOr<network::TlsContextOptions> DownstreamTlsOptions(
    const envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext& tls,
    const std::vector<std::string>& alpn_allowed, const SecretLookup& secrets);

absl::StatusOr<network::TlsContextOptions> UpstreamTlsOptions(
    const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext& tls,
    const SecretLookup& secrets);

}  // namespace meshgate::proxy::config
