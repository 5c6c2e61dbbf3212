#include "proxy/config/tls_translator.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "ca/openssl_util.h"
#include "proxy/config/proto_checks.h"
#include "proxy/config/status_macros.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::config {
namespace {

namespace tls = envoy::extensions::transport_sockets::tls::v3;
namespace core = envoy::config::core::v3;
namespace matcher = envoy::type::matcher::v3;

absl::StatusOr<std::string> ReadDataSource(const core::DataSource& source, std::string_view path) {
  switch (source.specifier_case()) {
    case core::DataSource::kInlineBytes:
      return source.inline_bytes();
    case core::DataSource::kInlineString:
      return source.inline_string();
    case core::DataSource::kFilename: {
      std::ifstream in(source.filename(), std::ios::binary);
      if (!in) {
        return FieldError(Path(path, "filename"),
                          absl::StrCat("cannot read '", source.filename(), "'"));
      }
      std::stringstream content;
      content << in.rdbuf();
      return content.str();
    }
    case core::DataSource::kEnvironmentVariable:
      return FieldError(Path(path, "environment_variable"), "not supported");
    default:
      return FieldError(path, "empty data source");
  }
}

absl::StatusOr<StringMatcher> ToStringMatcher(const matcher::StringMatcher& m,
                                              std::string_view path) {
  using Kind = StringMatcher::Kind;
  switch (m.match_pattern_case()) {
    case matcher::StringMatcher::kExact:
      return StringMatcher::Create(Kind::kExact, m.exact(), m.ignore_case());
    case matcher::StringMatcher::kPrefix:
      return StringMatcher::Create(Kind::kPrefix, m.prefix(), m.ignore_case());
    case matcher::StringMatcher::kSuffix:
      return StringMatcher::Create(Kind::kSuffix, m.suffix(), m.ignore_case());
    case matcher::StringMatcher::kContains:
      return StringMatcher::Create(Kind::kContains, m.contains(), m.ignore_case());
    case matcher::StringMatcher::kSafeRegex: {
      auto out = StringMatcher::Create(Kind::kRegex, m.safe_regex().regex(), m.ignore_case());
      if (!out.ok()) return FieldError(Path(path, "safe_regex.regex"), out.status().message());
      return out;
    }
    default:
      return FieldError(path, "unsupported or empty match pattern");
  }
}

absl::StatusOr<network::TlsCertificateSpec> TranslateCertificate(const tls::TlsCertificate& cert,
                                                                 std::string_view path) {
  if (cert.has_pkcs12() || cert.has_private_key_provider() || cert.has_password() ||
      cert.has_watched_directory()) {
    return FieldError(path,
                      "only certificate_chain and private_key are supported (no pkcs12, "
                      "private_key_provider, password, watched_directory)");
  }
  network::TlsCertificateSpec out;
  MG_ASSIGN_OR_RETURN(out.chain_pem,
                      ReadDataSource(cert.certificate_chain(), Path(path, "certificate_chain")));
  MG_ASSIGN_OR_RETURN(out.private_key_pem,
                      ReadDataSource(cert.private_key(), Path(path, "private_key")));
  return out;
}

absl::StatusOr<network::TlsValidationSpec> TranslateValidation(
    const tls::CertificateValidationContext& v, std::string_view path) {
  if (v.has_crl()) return FieldError(Path(path, "crl"), "CRLs are not supported");
  if (v.allow_expired_certificate()) {
    return FieldError(Path(path, "allow_expired_certificate"), "not supported");
  }
  if (v.trust_chain_verification() != tls::CertificateValidationContext::VERIFY_TRUST_CHAIN) {
    return FieldError(Path(path, "trust_chain_verification"), "only VERIFY_TRUST_CHAIN");
  }
  if (v.has_custom_validator_config() || v.has_ca_certificate_provider_instance() ||
      v.has_system_root_certs() || v.has_watched_directory()) {
    return FieldError(path,
                      "custom validators, certificate providers, system roots and watched "
                      "directories are not supported");
  }
  network::TlsValidationSpec out;
  if (v.has_trusted_ca()) {
    MG_ASSIGN_OR_RETURN(out.trusted_ca_pem,
                        ReadDataSource(v.trusted_ca(), Path(path, "trusted_ca")));
  }
  for (int i = 0; i < v.match_typed_subject_alt_names_size(); ++i) {
    const tls::SubjectAltNameMatcher& m = v.match_typed_subject_alt_names(i);
    const std::string m_path = Path(path, "match_typed_subject_alt_names", i);
    network::SanMatcher::Type type;
    switch (m.san_type()) {
      case tls::SubjectAltNameMatcher::DNS:
        type = network::SanMatcher::Type::kDns;
        break;
      case tls::SubjectAltNameMatcher::URI:
        type = network::SanMatcher::Type::kUri;
        break;
      case tls::SubjectAltNameMatcher::EMAIL:
        type = network::SanMatcher::Type::kEmail;
        break;
      case tls::SubjectAltNameMatcher::IP_ADDRESS:
        type = network::SanMatcher::Type::kIpAddress;
        break;
      default:
        return FieldError(Path(m_path, "san_type"), "must be DNS, URI, EMAIL or IP_ADDRESS");
    }
    MG_ASSIGN_OR_RETURN(StringMatcher string_matcher,
                        ToStringMatcher(m.matcher(), Path(m_path, "matcher")));
    out.san_matchers.push_back(network::SanMatcher{type, std::move(string_matcher)});
  }
  // The untyped (deprecated) form is still what older control planes send.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  for (int i = 0; i < v.match_subject_alt_names_size(); ++i) {
    MG_ASSIGN_OR_RETURN(
        StringMatcher string_matcher,
        ToStringMatcher(v.match_subject_alt_names(i), Path(path, "match_subject_alt_names", i)));
    out.san_matchers.push_back(
        network::SanMatcher{network::SanMatcher::Type::kAny, std::move(string_matcher)});
  }
#pragma GCC diagnostic pop
  out.certificate_hashes.assign(v.verify_certificate_hash().begin(),
                                v.verify_certificate_hash().end());
  out.spki_hashes.assign(v.verify_certificate_spki().begin(), v.verify_certificate_spki().end());
  return out;
}

absl::StatusOr<std::shared_ptr<const SecretConfig>> FindSecret(const SecretLookup& secrets,
                                                               const tls::SdsSecretConfig& sds,
                                                               std::string_view path) {
  if (sds.name().empty()) return FieldError(Path(path, "name"), "required");
  std::shared_ptr<const SecretConfig> secret = secrets ? secrets(sds.name()) : nullptr;
  if (secret == nullptr) {
    return absl::NotFoundError(absl::StrCat("waiting for secret '", sds.name(), "'"));
  }
  return secret;
}

int ToOpenSslVersion(tls::TlsParameters::TlsProtocol protocol, int fallback) {
  switch (protocol) {
    case tls::TlsParameters::TLSv1_3:
      return TLS1_3_VERSION;
    case tls::TlsParameters::TLSv1_2:
      return TLS1_2_VERSION;
    case tls::TlsParameters::TLSv1_1:
      return TLS1_1_VERSION;
    case tls::TlsParameters::TLSv1_0:
      return TLS1_VERSION;
    default:
      return fallback;
  }
}

// What a CommonTlsContext says, with its SDS references resolved.
absl::Status TranslateCommon(const tls::CommonTlsContext& common, const SecretLookup& secrets,
                             network::TlsContextOptions& out) {
  const std::string path = "common_tls_context";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const bool deprecated_providers = common.has_tls_certificate_certificate_provider() ||
                                    common.has_tls_certificate_certificate_provider_instance();
#pragma GCC diagnostic pop
  if (common.has_tls_certificate_provider_instance() || deprecated_providers ||
      common.has_custom_handshaker() || common.has_key_log()) {
    return FieldError(path,
                      "certificate providers, custom handshakers and key logs are not supported");
  }
  if (common.has_tls_params()) {
    const tls::TlsParameters& params = common.tls_params();
    // Below TLS 1.2 is never offered, whatever the minimum says.
    out.min_version = std::max(
        ToOpenSslVersion(params.tls_minimum_protocol_version(), TLS1_2_VERSION), TLS1_2_VERSION);
    out.max_version = ToOpenSslVersion(params.tls_maximum_protocol_version(), TLS1_3_VERSION);
    if (out.max_version < TLS1_2_VERSION) {
      return FieldError(Path(path, "tls_params.tls_maximum_protocol_version"),
                        "TLS 1.2 is the lowest version the proxy speaks");
    }
    out.cipher_suites.assign(params.cipher_suites().begin(), params.cipher_suites().end());
  }
  for (int i = 0; i < common.tls_certificates_size(); ++i) {
    MG_ASSIGN_OR_RETURN(
        network::TlsCertificateSpec cert,
        TranslateCertificate(common.tls_certificates(i), Path(path, "tls_certificates", i)));
    out.certificates.push_back(std::move(cert));
  }
  for (int i = 0; i < common.tls_certificate_sds_secret_configs_size(); ++i) {
    const std::string s_path = Path(path, "tls_certificate_sds_secret_configs", i);
    MG_ASSIGN_OR_RETURN(auto secret,
                        FindSecret(secrets, common.tls_certificate_sds_secret_configs(i), s_path));
    if (!secret->certificate) {
      return FieldError(s_path,
                        absl::StrCat("secret '", secret->name, "' holds no tls_certificate"));
    }
    out.certificates.push_back(*secret->certificate);
  }
  switch (common.validation_context_type_case()) {
    case tls::CommonTlsContext::kValidationContext: {
      MG_ASSIGN_OR_RETURN(out.validation, TranslateValidation(common.validation_context(),
                                                              Path(path, "validation_context")));
      break;
    }
    case tls::CommonTlsContext::kValidationContextSdsSecretConfig: {
      const std::string s_path = Path(path, "validation_context_sds_secret_config");
      MG_ASSIGN_OR_RETURN(
          auto secret, FindSecret(secrets, common.validation_context_sds_secret_config(), s_path));
      if (!secret->validation) {
        return FieldError(s_path,
                          absl::StrCat("secret '", secret->name, "' holds no validation_context"));
      }
      out.validation = *secret->validation;
      break;
    }
    case tls::CommonTlsContext::kCombinedValidationContext: {
      const auto& combined = common.combined_validation_context();
      const std::string c_path = Path(path, "combined_validation_context");
      MG_ASSIGN_OR_RETURN(network::TlsValidationSpec merged,
                          TranslateValidation(combined.default_validation_context(),
                                              Path(c_path, "default_validation_context")));
      MG_ASSIGN_OR_RETURN(auto secret,
                          FindSecret(secrets, combined.validation_context_sds_secret_config(),
                                     Path(c_path, "validation_context_sds_secret_config")));
      if (!secret->validation) {
        return FieldError(Path(c_path, "validation_context_sds_secret_config"),
                          absl::StrCat("secret '", secret->name, "' holds no validation_context"));
      }
      // Envoy's merge: the secret's roots, both sides' name and hash checks.
      const network::TlsValidationSpec& from_secret = *secret->validation;
      if (!from_secret.trusted_ca_pem.empty()) merged.trusted_ca_pem = from_secret.trusted_ca_pem;
      merged.san_matchers.insert(merged.san_matchers.end(), from_secret.san_matchers.begin(),
                                 from_secret.san_matchers.end());
      merged.certificate_hashes.insert(merged.certificate_hashes.end(),
                                       from_secret.certificate_hashes.begin(),
                                       from_secret.certificate_hashes.end());
      merged.spki_hashes.insert(merged.spki_hashes.end(), from_secret.spki_hashes.begin(),
                                from_secret.spki_hashes.end());
      out.validation = std::move(merged);
      break;
    }
    case tls::CommonTlsContext::VALIDATION_CONTEXT_TYPE_NOT_SET:
      break;
    default:
      return FieldError(path, "validation context certificate providers are not supported");
  }
  out.alpn_protocols.assign(common.alpn_protocols().begin(), common.alpn_protocols().end());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const SecretConfig>> TranslateSecret(const tls::Secret& secret) {
  auto out = std::make_shared<SecretConfig>();
  out->name = secret.name();
  absl::Status status;
  if (secret.name().empty()) {
    status = FieldError("name", "required");
  } else if (secret.has_tls_certificate()) {
    auto cert = TranslateCertificate(secret.tls_certificate(), "tls_certificate");
    if (!cert.ok()) {
      status = cert.status();
    } else {
      // Build a throw-away server context: the PEM must parse and the key
      // must belong to the certificate, or the secret is refused now rather
      // than at the first handshake.
      network::TlsContextOptions probe;
      probe.certificates = {*cert};
      auto context = network::TlsContext::Create(probe);
      if (!context.ok()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("tls_certificate: ", context.status().message()));
      } else {
        out->certificate = *std::move(cert);
      }
    }
  } else if (secret.has_validation_context()) {
    auto validation = TranslateValidation(secret.validation_context(), "validation_context");
    if (!validation.ok()) {
      status = validation.status();
    } else if (validation->trusted_ca_pem.empty()) {
      status = FieldError("validation_context.trusted_ca", "required in a secret");
    } else if (auto roots = ca::CertificatesFromPem(validation->trusted_ca_pem); !roots.ok()) {
      status = FieldError("validation_context.trusted_ca", roots.status().message());
    } else {
      out->validation = *std::move(validation);
    }
  } else {
    status = FieldError("", "only tls_certificate and validation_context secrets are supported");
  }
  if (!status.ok()) return ForResource(status, "Secret", secret.name());
  return std::shared_ptr<const SecretConfig>(std::move(out));
}

namespace {
constexpr std::string_view kFileCertPrefix = "file-cert:";
constexpr std::string_view kFileRootPrefix = "file-root:";

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}
}  // namespace

bool IsFileSecretName(std::string_view name) {
  return name.substr(0, kFileCertPrefix.size()) == kFileCertPrefix ||
         name.substr(0, kFileRootPrefix.size()) == kFileRootPrefix;
}

absl::StatusOr<std::shared_ptr<const SecretConfig>> ReadFileSecret(const std::string& name) {
  auto out = std::make_shared<SecretConfig>();
  out->name = name;
  std::string_view spec(name);
  if (spec.substr(0, kFileCertPrefix.size()) == kFileCertPrefix) {
    spec.remove_prefix(kFileCertPrefix.size());
    size_t tilde = spec.find('~');
    if (tilde == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret '", name, "': expected file-cert:CERT~KEY"));
    }
    network::TlsCertificateSpec cert;
    MG_ASSIGN_OR_RETURN(cert.chain_pem, ReadWholeFile(std::string(spec.substr(0, tilde))));
    MG_ASSIGN_OR_RETURN(cert.private_key_pem, ReadWholeFile(std::string(spec.substr(tilde + 1))));
    out->certificate = std::move(cert);
  } else {
    spec.remove_prefix(kFileRootPrefix.size());
    network::TlsValidationSpec validation;
    MG_ASSIGN_OR_RETURN(validation.trusted_ca_pem, ReadWholeFile(std::string(spec)));
    out->validation = std::move(validation);
  }
  return std::shared_ptr<const SecretConfig>(std::move(out));
}

std::vector<std::string> SdsSecretNames(const tls::CommonTlsContext& common) {
  std::vector<std::string> names;
  for (const auto& sds : common.tls_certificate_sds_secret_configs()) names.push_back(sds.name());
  if (common.has_validation_context_sds_secret_config()) {
    names.push_back(common.validation_context_sds_secret_config().name());
  }
  if (common.has_combined_validation_context()) {
    names.push_back(
        common.combined_validation_context().validation_context_sds_secret_config().name());
  }
  return names;
}

absl::StatusOr<network::TlsContextOptions> DownstreamTlsOptions(
    const tls::DownstreamTlsContext& tls, const std::vector<std::string>& alpn_allowed,
    const SecretLookup& secrets) {
  network::TlsContextOptions out;
  out.side = network::TlsContextOptions::Side::kServer;
  MG_RETURN_IF_ERROR(TranslateCommon(tls.common_tls_context(), secrets, out));
  if (out.certificates.empty()) {
    return FieldError("common_tls_context.tls_certificates", "a server needs a certificate");
  }
  if (tls.require_sni().value()) {
    return FieldError("require_sni", "not supported");
  }
  out.require_client_certificate = tls.require_client_certificate().value();
  out.session_tickets = !tls.disable_stateless_session_resumption();
  if (out.require_client_certificate && !out.validation) {
    return FieldError("require_client_certificate", "needs a validation context");
  }
  std::vector<std::string> alpn;
  if (out.alpn_protocols.empty()) {
    alpn = alpn_allowed;
  } else {
    for (const std::string& p : out.alpn_protocols) {
      if (std::find(alpn_allowed.begin(), alpn_allowed.end(), p) != alpn_allowed.end()) {
        alpn.push_back(p);
      }
    }
  }
  out.alpn_protocols = std::move(alpn);
  return out;
}

absl::StatusOr<network::TlsContextOptions> UpstreamTlsOptions(const tls::UpstreamTlsContext& tls,
                                                              const SecretLookup& secrets) {
  network::TlsContextOptions out;
  out.side = network::TlsContextOptions::Side::kClient;
  MG_RETURN_IF_ERROR(TranslateCommon(tls.common_tls_context(), secrets, out));
  if (out.certificates.size() > 1) {
    return FieldError("common_tls_context.tls_certificates", "a client presents one certificate");
  }
  if (tls.allow_renegotiation()) return FieldError("allow_renegotiation", "not supported");
  out.sni = tls.sni();
  return out;
}

}  // namespace meshgate::proxy::config
