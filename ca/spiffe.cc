#include "ca/spiffe.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ca/openssl_util.h"

namespace meshgate::ca {
namespace {

constexpr absl::string_view kScheme = "spiffe://";
constexpr size_t kMaxSpiffeIdLength = 2048;

bool IsTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

absl::Status ValidateSegment(absl::string_view segment, absl::string_view what) {
  if (segment.empty() || segment == "." || segment == "..") {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", segment, "\" is not allowed"));
  }
  for (char c : segment) {
    if (!IsPathChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " \"", segment, "\" contains a character outside [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTrustDomain(absl::string_view trust_domain) {
  if (trust_domain.empty() || trust_domain.size() > 255) {
    return absl::InvalidArgumentError("trust domain must be 1..255 characters");
  }
  for (char c : trust_domain) {
    if (!IsTrustDomainChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trust domain \"", trust_domain, "\" contains a character outside [a-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SpiffeId> SpiffeId::Parse(absl::string_view uri) {
  if (uri.size() > kMaxSpiffeIdLength) {
    return absl::InvalidArgumentError("SPIFFE ID longer than 2048 characters");
  }
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", uri, "\" is not a SPIFFE ID (must start with spiffe://)"));
  }
  absl::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPIFFE ID \"", uri, "\" has no /ns/NAMESPACE/sa/SERVICE_ACCOUNT path"));
  }
  absl::string_view trust_domain = rest.substr(0, slash);
  if (absl::Status s = ValidateTrustDomain(trust_domain); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("SPIFFE ID \"", uri, "\": ", s.message()));
  }
  std::vector<absl::string_view> segments = absl::StrSplit(rest.substr(slash + 1), '/');
  if (segments.size() != 4 || segments[0] != "ns" || segments[2] != "sa") {
    return absl::InvalidArgumentError(absl::StrCat(
        "SPIFFE ID \"", uri, "\" does not have the form spiffe://TRUST_DOMAIN/ns/NS/sa/SA"));
  }
  for (absl::string_view segment : segments) {
    if (absl::Status s = ValidateSegment(segment, "path segment"); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("SPIFFE ID \"", uri, "\": ", s.message()));
    }
  }
  SpiffeId id;
  id.uri_ = std::string(uri);
  id.trust_domain_ = std::string(trust_domain);
  id.ns_ = std::string(segments[1]);
  id.service_account_ = std::string(segments[3]);
  return id;
}

absl::StatusOr<SpiffeId> SpiffeId::ForWorkload(absl::string_view trust_domain, absl::string_view ns,
                                               absl::string_view service_account) {
  return Parse(absl::StrCat(kScheme, trust_domain, "/ns/", ns, "/sa/", service_account));
}

absl::StatusOr<SpiffeId> VerifySvid(X509* leaf, STACK_OF(X509) * untrusted, X509_STORE* roots,
                                    absl::Time now, PeerRole role) {
  if (leaf == nullptr) return absl::UnauthenticatedError("no peer certificate");
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), roots, leaf, untrusted) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "preparing certificate verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), absl::ToTimeT(now));
  X509_STORE_CTX_set_purpose(
      ctx.get(), role == PeerRole::kClient ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::UnauthenticatedError(
        absl::StrCat("certificate verification failed: ", X509_verify_cert_error_string(err)));
  }
  // OpenSSL's purpose check lets a leaf without any extendedKeyUsage through;
  // an SVID must state its use explicitly.
  uint32_t usage = X509_get_extended_key_usage(leaf);
  uint32_t needed = role == PeerRole::kClient ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
  if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) == 0 || (usage & needed) == 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate lacks extendedKeyUsage ",
                     role == PeerRole::kClient ? "clientAuth" : "serverAuth"));
  }
  std::vector<std::string> uris = UriSans(leaf);
  if (uris.size() != 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate must carry exactly one URI SAN, has ", uris.size()));
  }
  auto id = SpiffeId::Parse(uris.front());
  if (!id.ok()) return absl::UnauthenticatedError(id.status().message());
  return id;
}

namespace {

struct PeerVerdict {
  absl::Status status;
  std::string spiffe_id;
};

void FreeVerdict(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<PeerVerdict*>(ptr);
}

int VerdictIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeVerdict);
  return index;
}

void SetVerdict(SSL* ssl, PeerVerdict verdict) {
  delete static_cast<PeerVerdict*>(SSL_get_ex_data(ssl, VerdictIndex()));
  SSL_set_ex_data(ssl, VerdictIndex(), new PeerVerdict(std::move(verdict)));
}

int VerifyCallback(X509_STORE_CTX* store_ctx, void* arg) {
  const auto* policy = static_cast<const SpiffePeerPolicy*>(arg);
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  absl::StatusOr<SpiffeId> id =
      VerifySvid(X509_STORE_CTX_get0_cert(store_ctx), X509_STORE_CTX_get0_untrusted(store_ctx),
                 X509_STORE_CTX_get0_store(store_ctx), policy->clock->Now(), policy->peer_role);
  PeerVerdict verdict;
  if (!id.ok()) {
    verdict.status = id.status();
  } else {
    bool allowed = policy->allowed_ids.empty();
    for (const std::string& expected : policy->allowed_ids) allowed |= expected == id->uri();
    if (allowed) {
      verdict.spiffe_id = id->uri();
    } else {
      verdict.status =
          absl::PermissionDeniedError(absl::StrCat("peer SPIFFE ID ", id->uri(), " is not one of [",
                                                   absl::StrJoin(policy->allowed_ids, ", "), "]"));
    }
  }
  bool ok = verdict.status.ok();
  if (ssl != nullptr) SetVerdict(ssl, std::move(verdict));
  X509_STORE_CTX_set_error(store_ctx, ok ? X509_V_OK : X509_V_ERR_APPLICATION_VERIFICATION);
  return ok ? 1 : 0;
}

}  // namespace

absl::Status InstallSpiffePeerVerification(SSL_CTX* ctx, absl::string_view trust_bundle_pem,
                                           const SpiffePeerPolicy* policy) {
  if (policy == nullptr || policy->clock == nullptr) {
    return absl::InvalidArgumentError("SPIFFE peer policy needs a clock");
  }
  auto roots = CertificatesFromPem(trust_bundle_pem);
  if (!roots.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("trust bundle: ", roots.status().message()));
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const X509Ptr& root : *roots) {
    if (X509_STORE_add_cert(store, root.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "adding a root to the trust store");
    }
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, VerifyCallback, const_cast<SpiffePeerPolicy*>(policy));
  return absl::OkStatus();
}

absl::StatusOr<std::string> VerifiedPeerSpiffeId(const SSL* ssl) {
  const auto* verdict = static_cast<const PeerVerdict*>(SSL_get_ex_data(ssl, VerdictIndex()));
  if (verdict == nullptr) return absl::UnauthenticatedError("peer presented no certificate");
  if (!verdict->status.ok()) return verdict->status;
  return verdict->spiffe_id;
}

}  // namespace meshgate::ca
