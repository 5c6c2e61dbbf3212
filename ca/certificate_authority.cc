#include "ca/certificate_authority.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace meshgate::ca {
namespace {

constexpr absl::string_view kKeyFile = "ca-key.pem";
constexpr absl::string_view kCertFile = "ca-cert.pem";
constexpr absl::string_view kChainFile = "cert-chain.pem";
constexpr absl::string_view kRootFile = "root-cert.pem";
constexpr absl::string_view kRetiringFile = "retiring-roots.pem";

using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

struct RetiringRoot {
  X509Ptr cert;
  std::string pem;
  absl::Time drop_after;
};

}  // namespace

struct CertificateAuthority::SigningState {
  EvpPkeyPtr key;
  X509Ptr cert;  // the signer: the root itself in self-signed mode
  const EVP_MD* digest = nullptr;
  std::vector<std::string> chain_tail_pem;  // signer .. active root
  std::vector<X509Ptr> intermediates;       // untrusted certificates between leaves and the root
  STACK_OF(X509) * untrusted = nullptr;     // borrows `intermediates`
  X509Ptr active_root;
  std::string active_root_pem;
  std::vector<RetiringRoot> retiring;
  // The next root, trusted but not signing yet (StageNextRoot); in memory only.
  EvpPkeyPtr staged_key;
  X509Ptr staged_cert;
  std::string staged_pem;
  X509StorePtr trust;
  std::vector<ExtensionPtr> leaf_extensions;  // shared by every workload leaf (not keyUsage)
  ExtensionPtr key_usage_ec;
  ExtensionPtr key_usage_rsa;

  ~SigningState() { sk_X509_free(untrusted); }
};

namespace {

const EVP_MD* DigestForSigner(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) > 256) return EVP_sha384();
  return EVP_sha256();
}

absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "generating a serial number");
  }
  bytes[0] |= 0x01 << 6;  // never zero, always 16 significant bytes; BN keeps it positive
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "setting a serial number");
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "setting validity");
  }
  return absl::OkStatus();
}

ExtensionPtr ConfExtension(X509V3_CTX* ctx, int nid, const char* value) {
  return ExtensionPtr(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext = ConfExtension(ctx, nid, value);
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, absl::StrCat("adding ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

ExtensionPtr AuthorityKeyId(X509* issuer) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer);
  if (ski == nullptr) return nullptr;
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  akid->keyid = ASN1_OCTET_STRING_dup(ski);
  ExtensionPtr ext(X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid));
  AUTHORITY_KEYID_free(akid);
  return ext;
}

absl::StatusOr<X509Ptr> CreateSelfSignedRoot(EVP_PKEY* key, absl::string_view trust_domain,
                                             absl::Time now, const CaOptions& options) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "creating the root certificate");
  }
  if (auto s = SetRandomSerial(cert.get()); !s.ok()) return s;
  unsigned char tag[4];
  RAND_bytes(tag, sizeof(tag));
  // A distinct CN per root keeps the old and new root apart during rotation.
  std::string cn =
      absl::StrCat("meshgate root CA ", absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone()), "-",
                   absl::Hex(tag[0] << 24 | tag[1] << 16 | tag[2] << 8 | tag[3]));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(trust_domain.data()),
                             static_cast<int>(trust_domain.size()), -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             static_cast<int>(cn.size()), -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (auto s = SetValidity(cert.get(), now - options.backdate, now + options.root_validity);
      !s.ok()) {
    return s;
  }
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
        std::pair{NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
        std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto s = AddExtension(cert.get(), &ctx, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), key, DigestForSigner(key)) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "self-signing the root");
  }
  return cert;
}

// Parses retiring-roots.pem: blocks of "drop-after: UNIX_SECONDS" followed by
// one PEM certificate.
absl::StatusOr<std::vector<RetiringRoot>> ParseRetiring(absl::string_view text) {
  std::vector<RetiringRoot> roots;
  std::optional<absl::Time> drop_after;
  std::string pem;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (absl::ConsumePrefix(&line, "drop-after: ")) {
      int64_t seconds;
      if (!absl::SimpleAtoi(line, &seconds)) {
        return absl::DataLossError(absl::StrCat("line ", line_number, ": bad drop-after time"));
      }
      drop_after = absl::FromUnixSeconds(seconds);
      continue;
    }
    if (line.empty() && pem.empty()) continue;
    absl::StrAppend(&pem, line, "\n");
    if (line == "-----END CERTIFICATE-----") {
      if (!drop_after) {
        return absl::DataLossError(absl::StrCat("line ", line_number, ": root without drop-after"));
      }
      auto cert = CertificateFromPem(pem);
      if (!cert.ok()) {
        return absl::DataLossError(
            absl::StrCat("line ", line_number, ": ", cert.status().message()));
      }
      roots.push_back(RetiringRoot{*std::move(cert), std::move(pem), *drop_after});
      pem.clear();
      drop_after.reset();
    }
  }
  if (!pem.empty()) return absl::DataLossError("truncated certificate at end of file");
  return roots;
}

std::string FormatRetiring(const std::vector<RetiringRoot>& roots) {
  std::string out;
  for (const RetiringRoot& root : roots) {
    absl::StrAppend(&out, "drop-after: ", absl::ToUnixSeconds(root.drop_after), "\n", root.pem);
  }
  return out;
}

absl::Status CorruptState(const CaStorage& storage, absl::string_view file, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(
      "CA state ", storage.Describe(), "/", file, " is unusable: ", why,
      ". Refusing to start (a new root would invalidate every workload certificate); restore the "
      "file, or move the CA state directory away to create a new CA deliberately"));
}

absl::StatusOr<X509Ptr> CopyCert(X509* cert) {
  X509_up_ref(cert);
  return X509Ptr(cert);
}

// The signer of `from` (key, certificate, chain, active root) into `to`, for
// a change of the trust bundle that keeps the signer.
void CopySigner(const CertificateAuthority::SigningState& from,
                CertificateAuthority::SigningState& to) {
  EVP_PKEY_up_ref(from.key.get());
  to.key.reset(from.key.get());
  to.cert = *CopyCert(from.cert.get());
  to.active_root = *CopyCert(from.active_root.get());
  to.chain_tail_pem = from.chain_tail_pem;
  for (const X509Ptr& c : from.intermediates) to.intermediates.push_back(*CopyCert(c.get()));
}

void CopyStaged(const CertificateAuthority::SigningState& from,
                CertificateAuthority::SigningState& to) {
  if (!from.staged_key) return;
  EVP_PKEY_up_ref(from.staged_key.get());
  to.staged_key.reset(from.staged_key.get());
  to.staged_cert = *CopyCert(from.staged_cert.get());
  to.staged_pem = from.staged_pem;
}

// Fills in everything derived from key, signer, chain and roots.
absl::Status Finish(CertificateAuthority::SigningState& state) {
  state.digest = DigestForSigner(state.key.get());
  state.untrusted = sk_X509_new_null();
  for (const X509Ptr& cert : state.intermediates) sk_X509_push(state.untrusted, cert.get());
  auto root_pem = CertificateToPem(state.active_root.get());
  if (!root_pem.ok()) return root_pem.status();
  state.active_root_pem = *root_pem;
  state.trust.reset(X509_STORE_new());
  X509_STORE_add_cert(state.trust.get(), state.active_root.get());
  for (const RetiringRoot& root : state.retiring)
    X509_STORE_add_cert(state.trust.get(), root.cert.get());

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, state.cert.get(), nullptr, nullptr, nullptr, 0);
  auto basic = ConfExtension(&ctx, NID_basic_constraints, "critical,CA:FALSE");
  auto eku = ConfExtension(&ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  state.key_usage_ec = ConfExtension(&ctx, NID_key_usage, "critical,digitalSignature");
  state.key_usage_rsa =
      ConfExtension(&ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  if (!basic || !eku || !state.key_usage_ec || !state.key_usage_rsa) {
    return OpenSslError(absl::StatusCode::kInternal, "preparing leaf extensions");
  }
  state.leaf_extensions.push_back(std::move(basic));
  state.leaf_extensions.push_back(std::move(eku));
  if (auto akid = AuthorityKeyId(state.cert.get()))
    state.leaf_extensions.push_back(std::move(akid));
  return absl::OkStatus();
}

// The subject key comes from `csr` (workloads) or `public_key` (our own keys).
absl::StatusOr<X509Ptr> SignLeaf(const CertificateAuthority::SigningState& state,
                                 EVP_PKEY* public_key, const ValidatedCsr* csr, X509_NAME* subject,
                                 GENERAL_NAMES* names, bool san_critical, absl::Time not_before,
                                 absl::Time not_after) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "creating a certificate");
  }
  if (auto s = SetRandomSerial(cert.get()); !s.ok()) return s;
  if (auto s = SetValidity(cert.get(), not_before, not_after); !s.ok()) return s;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(state.cert.get()));
  if (subject != nullptr) X509_set_subject_name(cert.get(), subject);
  if (csr != nullptr) {
    if (auto s = CopySubjectPublicKeyInfo(*csr, cert.get()); !s.ok()) return s;
  } else if (X509_set_pubkey(cert.get(), public_key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "setting the subject public key");
  }
  for (const ExtensionPtr& ext : state.leaf_extensions) X509_add_ext(cert.get(), ext.get(), -1);
  bool rsa = EVP_PKEY_get_base_id(public_key) == EVP_PKEY_RSA;
  X509_add_ext(cert.get(), rsa ? state.key_usage_rsa.get() : state.key_usage_ec.get(), -1);
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names, san_critical ? 1 : 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "adding subjectAltName");
  }
  if (X509_sign(cert.get(), state.key.get(), state.digest) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing a certificate");
  }
  return cert;
}

absl::Status AddGeneralName(GENERAL_NAMES* names, int type, absl::string_view value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_STRING* str = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (type == GEN_IPADD) {
    unsigned char addr[16];
    int len = 0;
    std::string ip(value);
    if (inet_pton(AF_INET, ip.c_str(), addr) == 1) {
      len = 4;
    } else if (inet_pton(AF_INET6, ip.c_str(), addr) == 1) {
      len = 16;
    } else {
      GENERAL_NAME_free(name);
      ASN1_STRING_free(str);
      return absl::InvalidArgumentError(absl::StrCat("\"", value, "\" is not an IP address"));
    }
    ASN1_OCTET_STRING_set(str, addr, len);
  } else {
    ASN1_STRING_set(str, value.data(), static_cast<int>(value.size()));
  }
  GENERAL_NAME_set0_value(name, type, str);
  sk_GENERAL_NAME_push(names, name);
  return absl::OkStatus();
}

}  // namespace

std::string ServingCertificate::ChainPem() const { return absl::StrJoin(chain_pem, ""); }

CertificateAuthority::CertificateAuthority(CaStorage& state, const Clock& clock, CaOptions options,
                                           bool plugged)
    : storage_(state), clock_(clock), options_(std::move(options)), plugged_(plugged) {}

CertificateAuthority::~CertificateAuthority() = default;

std::shared_ptr<const CertificateAuthority::SigningState> CertificateAuthority::Snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

void CertificateAuthority::Publish(std::shared_ptr<const SigningState> state) {
  std::lock_guard lock(mu_);
  state_ = std::move(state);
}

absl::Status CertificateAuthority::PersistTrust(const SigningState& state) {
  std::string bundle = state.active_root_pem;
  for (const RetiringRoot& root : state.retiring) bundle += root.pem;
  if (!plugged_) {
    if (auto s = storage_.Write(kRetiringFile, FormatRetiring(state.retiring), false); !s.ok()) {
      return s;
    }
  }
  return storage_.Write(kRootFile, bundle, false);
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::LoadOrCreate(
    CaStorage& storage, const Clock& clock, CaOptions options) {
  if (auto s = ValidateTrustDomain(options.trust_domain); !s.ok()) return s;
  auto ca = std::unique_ptr<CertificateAuthority>(
      new CertificateAuthority(storage, clock, std::move(options), false));
  const CaOptions& opts = ca->options_;
  auto state = std::make_shared<SigningState>();
  absl::StatusOr<std::string> key_pem = storage.Read(kKeyFile);
  absl::StatusOr<std::string> cert_pem = storage.Read(kCertFile);
  bool key_missing = absl::IsNotFound(key_pem.status());
  bool cert_missing = absl::IsNotFound(cert_pem.status());
  if (key_missing && cert_missing) {
    auto key = GenerateKey(opts.root_key_algorithm);
    if (!key.ok()) return key.status();
    auto cert = CreateSelfSignedRoot(key->get(), opts.trust_domain, clock.Now(), opts);
    if (!cert.ok()) return cert.status();
    auto key_out = PrivateKeyToPem(key->get());
    auto cert_out = CertificateToPem(cert->get());
    if (!key_out.ok()) return key_out.status();
    if (!cert_out.ok()) return cert_out.status();
    // The key goes first: a crash between the two writes leaves a key without
    // a certificate, which start-up reports instead of overwriting.
    if (auto s = storage.Write(kKeyFile, *key_out, true); !s.ok()) return s;
    if (auto s = storage.Write(kCertFile, *cert_out, false); !s.ok()) return s;
    state->key = *std::move(key);
    state->cert = *std::move(cert);
  } else {
    if (key_missing) return CorruptState(storage, kKeyFile, "missing while ca-cert.pem exists");
    if (cert_missing) return CorruptState(storage, kCertFile, "missing while ca-key.pem exists");
    if (!key_pem.ok()) return key_pem.status();
    if (!cert_pem.ok()) return cert_pem.status();
    auto key = PrivateKeyFromPem(*key_pem);
    if (!key.ok()) return CorruptState(storage, kKeyFile, key.status().message());
    auto cert = CertificateFromPem(*cert_pem);
    if (!cert.ok()) return CorruptState(storage, kCertFile, cert.status().message());
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      ERR_clear_error();
      return CorruptState(storage, kKeyFile, "the key does not match ca-cert.pem");
    }
    if (NotAfter(cert->get()) <= clock.Now()) {
      return CorruptState(storage, kCertFile, "the root certificate has expired");
    }
    state->key = *std::move(key);
    state->cert = *std::move(cert);
    absl::StatusOr<std::string> retiring = storage.Read(kRetiringFile);
    if (retiring.ok()) {
      auto roots = ParseRetiring(*retiring);
      if (!roots.ok()) return CorruptState(storage, kRetiringFile, roots.status().message());
      state->retiring = *std::move(roots);
    } else if (!absl::IsNotFound(retiring.status())) {
      return retiring.status();
    }
  }
  state->active_root = *CopyCert(state->cert.get());
  auto signer_pem = CertificateToPem(state->cert.get());
  if (!signer_pem.ok()) return signer_pem.status();
  state->chain_tail_pem = {*signer_pem};
  if (auto s = Finish(*state); !s.ok()) return s;
  if (auto s = ca->PersistTrust(*state); !s.ok()) return s;
  ca->Publish(std::move(state));
  if (auto pruned = ca->PruneRetiredRoots(); !pruned.ok()) return pruned.status();
  return ca;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::LoadPlugged(
    const CaStorage& cacerts, CaStorage& storage, const Clock& clock, CaOptions options) {
  if (auto s = ValidateTrustDomain(options.trust_domain); !s.ok()) return s;
  auto invalid = [&](absl::string_view file, absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugged-in CA ", cacerts.Describe(), "/", file, ": ", why));
  };
  std::map<absl::string_view, std::string> files;
  for (absl::string_view name : {kCertFile, kKeyFile, kChainFile, kRootFile}) {
    auto contents = cacerts.Read(name);
    if (!contents.ok()) return invalid(name, contents.status().message());
    files[name] = *std::move(contents);
  }
  auto key = PrivateKeyFromPem(files[kKeyFile]);
  if (!key.ok()) return invalid(kKeyFile, key.status().message());
  auto cert = CertificateFromPem(files[kCertFile]);
  if (!cert.ok()) return invalid(kCertFile, cert.status().message());
  auto chain = CertificatesFromPem(files[kChainFile]);
  if (!chain.ok()) return invalid(kChainFile, chain.status().message());
  auto roots = CertificatesFromPem(files[kRootFile]);
  if (!roots.ok()) return invalid(kRootFile, roots.status().message());
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return invalid(kKeyFile, "does not match ca-cert.pem");
  }
  if ((X509_get_extension_flags(cert->get()) & EXFLAG_CA) == 0 || X509_check_ca(cert->get()) < 1) {
    return invalid(kCertFile, "is not a CA certificate (basicConstraints CA:TRUE required)");
  }
  absl::Time now = clock.Now();
  if (NotBefore(cert->get()) > now || NotAfter(cert->get()) <= now) {
    return invalid(kCertFile, absl::StrCat("is not valid now (valid ",
                                           absl::FormatTime(NotBefore(cert->get())), " to ",
                                           absl::FormatTime(NotAfter(cert->get())), ")"));
  }

  auto state = std::make_shared<SigningState>();
  state->key = *std::move(key);
  state->cert = *std::move(cert);
  // Intermediates: everything in cert-chain.pem that is not the signer or a root.
  for (X509Ptr& c : *chain) {
    bool is_root = false;
    for (const X509Ptr& r : *roots) is_root |= X509_cmp(c.get(), r.get()) == 0;
    if (!is_root && X509_cmp(c.get(), state->cert.get()) != 0) {
      state->intermediates.push_back(std::move(c));
    }
  }
  state->intermediates.insert(state->intermediates.begin(), *CopyCert(state->cert.get()));

  X509StorePtr store(X509_STORE_new());
  for (const X509Ptr& r : *roots) X509_STORE_add_cert(store.get(), r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const X509Ptr& c : state->intermediates) sk_X509_push(untrusted, c.get());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), state->cert.get(), untrusted);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), absl::ToTimeT(now));
  int verified = X509_verify_cert(ctx.get());
  int verify_error = X509_STORE_CTX_get_error(ctx.get());
  STACK_OF(X509)* path = verified == 1 ? X509_STORE_CTX_get0_chain(ctx.get()) : nullptr;
  if (path != nullptr) {
    state->active_root = *CopyCert(sk_X509_value(path, sk_X509_num(path) - 1));
  }
  sk_X509_free(untrusted);
  if (verified != 1) {
    ERR_clear_error();
    return invalid(kCertFile,
                   absl::StrCat("does not chain to root-cert.pem through cert-chain.pem: ",
                                X509_verify_cert_error_string(verify_error)));
  }
  for (X509Ptr& r : *roots) {
    if (X509_cmp(r.get(), state->active_root.get()) != 0) {
      // Other roots in root-cert.pem stay trusted for as long as they are valid.
      auto pem = CertificateToPem(r.get());
      if (!pem.ok()) return pem.status();
      absl::Time until = NotAfter(r.get());
      state->retiring.push_back(RetiringRoot{std::move(r), *std::move(pem), until});
    }
  }
  for (const X509Ptr& c : state->intermediates) {
    auto pem = CertificateToPem(c.get());
    if (!pem.ok()) return pem.status();
    state->chain_tail_pem.push_back(*std::move(pem));
  }
  auto root_pem = CertificateToPem(state->active_root.get());
  if (!root_pem.ok()) return root_pem.status();
  state->chain_tail_pem.push_back(*root_pem);
  if (auto s = Finish(*state); !s.ok()) return s;
  auto ca = std::unique_ptr<CertificateAuthority>(
      new CertificateAuthority(storage, clock, std::move(options), true));
  if (auto s = ca->PersistTrust(*state); !s.ok()) return s;
  ca->Publish(std::move(state));
  return ca;
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::Sign(
    absl::string_view csr_pem, absl::Duration requested_ttl,
    absl::string_view authenticated_identity) const {
  if (requested_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity_duration: negative (", absl::FormatDuration(requested_ttl), ")"));
  }
  if (requested_ttl > absl::ZeroDuration() && requested_ttl < options_.min_ttl) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity_duration: ", absl::FormatDuration(requested_ttl),
                     " is below the minimum ", absl::FormatDuration(options_.min_ttl)));
  }
  absl::StatusOr<ValidatedCsr> csr =
      ParseWorkloadCsr(csr_pem, options_.trust_domain, options_.max_csr_bytes);
  if (!csr.ok()) return csr.status();
  if (csr->identity.uri() != authenticated_identity) {
    return absl::PermissionDeniedError(absl::StrCat("csr requests identity ", csr->identity.uri(),
                                                    " but the caller is authenticated as ",
                                                    authenticated_identity));
  }
  std::shared_ptr<const SigningState> state = Snapshot();
  absl::Time now = clock_.Now();
  absl::Duration ttl = requested_ttl == absl::ZeroDuration() ? options_.default_ttl : requested_ttl;
  bool clamped = false;
  if (ttl > options_.max_ttl) {
    ttl = options_.max_ttl;
    clamped = true;
  }
  absl::Time not_after = now + ttl;
  absl::Time signer_expiry = NotAfter(state->cert.get());
  if (not_after > signer_expiry) {
    not_after = signer_expiry;
    clamped = true;
  }
  if (not_after - now < options_.min_ttl) {
    return absl::FailedPreconditionError("the CA's signing certificate expires too soon to sign");
  }

  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (auto s = AddGeneralName(names.get(), GEN_URI, csr->identity.uri()); !s.ok()) return s;
  absl::Time not_before = now - options_.backdate;
  auto leaf = SignLeaf(*state, csr->public_key.get(), &*csr, nullptr, names.get(),
                       /*san_critical=*/true, not_before, not_after);
  if (!leaf.ok()) return leaf.status();
  auto leaf_pem = CertificateToPem(leaf->get());
  if (!leaf_pem.ok()) return leaf_pem.status();

  IssuedCertificate issued;
  issued.spiffe_id = csr->identity.uri();
  issued.chain_pem.reserve(1 + state->chain_tail_pem.size());
  issued.chain_pem.push_back(*std::move(leaf_pem));
  issued.chain_pem.insert(issued.chain_pem.end(), state->chain_tail_pem.begin(),
                          state->chain_tail_pem.end());
  issued.not_before = not_before;
  issued.not_after = not_after;
  issued.granted_ttl = not_after - now;
  issued.ttl_clamped = clamped;
  return issued;
}

absl::StatusOr<ServingCertificate> CertificateAuthority::IssueServingCertificate(
    const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses,
    absl::Duration ttl) const {
  if (dns_names.empty() && ip_addresses.empty()) {
    return absl::InvalidArgumentError("a serving certificate needs a DNS name or IP address");
  }
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  for (const std::string& dns : dns_names) {
    if (auto s = AddGeneralName(names.get(), GEN_DNS, dns); !s.ok()) return s;
  }
  for (const std::string& ip : ip_addresses) {
    if (auto s = AddGeneralName(names.get(), GEN_IPADD, ip); !s.ok()) return s;
  }
  auto key = GenerateKey(KeyAlgorithm::kEcdsaP256);
  if (!key.ok()) return key.status();
  std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>> subject(X509_NAME_new());
  const std::string& cn = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  X509_NAME_add_entry_by_txt(subject.get(), "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(options_.trust_domain.data()),
                             static_cast<int>(options_.trust_domain.size()), -1, 0);
  X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             static_cast<int>(cn.size()), -1, 0);
  std::shared_ptr<const SigningState> state = Snapshot();
  absl::Time now = clock_.Now();
  absl::Time not_after = std::min(now + ttl, NotAfter(state->cert.get()));
  auto leaf = SignLeaf(*state, key->get(), nullptr, subject.get(), names.get(),
                       /*san_critical=*/false, now - options_.backdate, not_after);
  if (!leaf.ok()) return leaf.status();
  ServingCertificate serving;
  auto key_pem = PrivateKeyToPem(key->get());
  auto leaf_pem = CertificateToPem(leaf->get());
  if (!key_pem.ok()) return key_pem.status();
  if (!leaf_pem.ok()) return leaf_pem.status();
  serving.private_key_pem = *std::move(key_pem);
  serving.chain_pem.push_back(*std::move(leaf_pem));
  serving.chain_pem.insert(serving.chain_pem.end(), state->chain_tail_pem.begin(),
                           state->chain_tail_pem.end());
  return serving;
}

absl::StatusOr<SpiffeId> CertificateAuthority::VerifyWorkloadCertificate(
    absl::string_view leaf_pem) const {
  auto leaf = CertificateFromPem(leaf_pem);
  if (!leaf.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate: ", leaf.status().message()));
  }
  std::shared_ptr<const SigningState> state = Snapshot();
  auto id = VerifySvid(leaf->get(), state->untrusted, state->trust.get(), clock_.Now(),
                       PeerRole::kClient);
  if (!id.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("client certificate: ", id.status().message()));
  }
  if (id->trust_domain() != options_.trust_domain) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client certificate: ", id->uri(), " is outside trust domain ", options_.trust_domain));
  }
  return id;
}

std::string CertificateAuthority::TrustBundlePem() const {
  return absl::StrJoin(TrustedRootsPem(), "");
}

std::vector<std::string> CertificateAuthority::TrustedRootsPem() const {
  std::vector<std::string> pems;
  for (TrustedRoot& root : TrustedRoots()) pems.push_back(std::move(root.pem));
  return pems;
}

std::vector<TrustedRoot> CertificateAuthority::TrustedRoots() const {
  std::shared_ptr<const SigningState> state = Snapshot();
  std::vector<TrustedRoot> roots = {TrustedRoot{state->active_root_pem, true}};
  if (state->staged_cert) {
    roots.push_back(TrustedRoot{state->staged_pem, false, absl::InfiniteFuture(), true});
  }
  for (const RetiringRoot& root : state->retiring) {
    roots.push_back(TrustedRoot{root.pem, false, root.drop_after});
  }
  return roots;
}

std::string CertificateAuthority::ActiveRootPem() const { return Snapshot()->active_root_pem; }

absl::Status CertificateAuthority::RotateRoot() {
  if (plugged_) {
    return absl::FailedPreconditionError(
        "root rotation of a plugged-in CA is done by replacing its cacerts files");
  }
  std::lock_guard rotation(rotation_mu_);
  std::shared_ptr<const SigningState> old = Snapshot();
  absl::Time now = clock_.Now();
  auto next = std::make_shared<SigningState>();
  if (old->staged_key) {
    // Peers were given this root before it signs anything.
    EVP_PKEY_up_ref(old->staged_key.get());
    next->key.reset(old->staged_key.get());
    next->cert = *CopyCert(old->staged_cert.get());
  } else {
    auto key = GenerateKey(options_.root_key_algorithm);
    if (!key.ok()) return key.status();
    auto cert = CreateSelfSignedRoot(key->get(), options_.trust_domain, now, options_);
    if (!cert.ok()) return cert.status();
    next->key = *std::move(key);
    next->cert = *std::move(cert);
  }
  next->active_root = *CopyCert(next->cert.get());
  // No leaf signed by the old root can outlive this moment + max_ttl.
  next->retiring.push_back(RetiringRoot{*CopyCert(old->active_root.get()), old->active_root_pem,
                                        now + options_.max_ttl + options_.backdate});
  for (const RetiringRoot& r : old->retiring) {
    next->retiring.push_back(RetiringRoot{*CopyCert(r.cert.get()), r.pem, r.drop_after});
  }
  auto cert_pem = CertificateToPem(next->cert.get());
  auto key_pem = PrivateKeyToPem(next->key.get());
  if (!cert_pem.ok()) return cert_pem.status();
  if (!key_pem.ok()) return key_pem.status();
  next->chain_tail_pem = {*cert_pem};
  if (auto s = Finish(*next); !s.ok()) return s;
  // Trust first, then the signer: a crash in between leaves the new root
  // trusted but unused, never an unknown issuer.
  std::string bundle = next->active_root_pem;
  for (const RetiringRoot& root : next->retiring) bundle += root.pem;
  if (auto s = storage_.Write(kRetiringFile, FormatRetiring(next->retiring), false); !s.ok()) {
    return s;
  }
  if (auto s = storage_.Write(kRootFile, bundle, false); !s.ok()) return s;
  if (auto s = storage_.Write(kKeyFile, *key_pem, true); !s.ok()) return s;
  if (auto s = storage_.Write(kCertFile, *cert_pem, false); !s.ok()) return s;
  Publish(std::move(next));
  return absl::OkStatus();
}

absl::StatusOr<std::string> CertificateAuthority::StageNextRoot() {
  if (plugged_) {
    return absl::FailedPreconditionError(
        "root rotation of a plugged-in CA is done by replacing its cacerts files");
  }
  std::lock_guard rotation(rotation_mu_);
  std::shared_ptr<const SigningState> old = Snapshot();
  if (old->staged_cert) return old->staged_pem;
  auto key = GenerateKey(options_.root_key_algorithm);
  if (!key.ok()) return key.status();
  auto cert = CreateSelfSignedRoot(key->get(), options_.trust_domain, clock_.Now(), options_);
  if (!cert.ok()) return cert.status();
  auto pem = CertificateToPem(cert->get());
  if (!pem.ok()) return pem.status();

  auto next = std::make_shared<SigningState>();
  CopySigner(*old, *next);
  for (const RetiringRoot& r : old->retiring) {
    next->retiring.push_back(RetiringRoot{*CopyCert(r.cert.get()), r.pem, r.drop_after});
  }
  next->staged_key = *std::move(key);
  next->staged_cert = *std::move(cert);
  next->staged_pem = *pem;
  if (auto s = Finish(*next); !s.ok()) return s;
  Publish(next);
  return next->staged_pem;
}

absl::StatusOr<int> CertificateAuthority::PruneRetiredRoots() {
  std::lock_guard rotation(rotation_mu_);
  std::shared_ptr<const SigningState> old = Snapshot();
  absl::Time now = clock_.Now();
  int dropped = 0;
  for (const RetiringRoot& r : old->retiring) dropped += r.drop_after <= now ? 1 : 0;
  if (dropped == 0) return 0;
  auto next = std::make_shared<SigningState>();
  CopySigner(*old, *next);
  CopyStaged(*old, *next);
  for (const RetiringRoot& r : old->retiring) {
    if (r.drop_after > now) {
      next->retiring.push_back(RetiringRoot{*CopyCert(r.cert.get()), r.pem, r.drop_after});
    }
  }
  if (auto s = Finish(*next); !s.ok()) return s;
  if (auto s = PersistTrust(*next); !s.ok()) return s;
  Publish(std::move(next));
  return dropped;
}

}  // namespace meshgate::ca
