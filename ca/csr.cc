#include "ca/csr.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace meshgate::ca {
namespace {

using ExtensionsPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), decltype([](STACK_OF(X509_EXTENSION) * s) {
                      sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
                    })>;

absl::Status AddName(GENERAL_NAMES* names, int type, absl::string_view value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* str = ASN1_IA5STRING_new();
  if (name == nullptr || str == nullptr ||
      ASN1_STRING_set(str, value.data(), static_cast<int>(value.size())) != 1) {
    GENERAL_NAME_free(name);
    ASN1_IA5STRING_free(str);
    return OpenSslError(absl::StatusCode::kInternal, "building a subjectAltName");
  }
  GENERAL_NAME_set0_value(name, type, str);
  sk_GENERAL_NAME_push(names, name);
  return absl::OkStatus();
}

const EVP_MD* DigestFor(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) > 256) return EVP_sha384();
  return EVP_sha256();
}

absl::string_view GeneralNameKind(int type) {
  switch (type) {
    case GEN_DNS:
      return "DNS";
    case GEN_IPADD:
      return "IP address";
    case GEN_EMAIL:
      return "email";
    case GEN_URI:
      return "URI";
    default:
      return "non-URI";
  }
}

absl::Status CheckKey(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                         &len) != 1) {
        ERR_clear_error();
        return absl::InvalidArgumentError("csr: EC key with explicit or unknown curve parameters");
      }
      absl::string_view name(group, len);
      if (name != "prime256v1" && name != "secp384r1") {
        return absl::InvalidArgumentError(
            absl::StrCat("csr: EC curve ", name, " is not accepted (use P-256 or P-384)"));
      }
      return absl::OkStatus();
    }
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key);
      if (bits < 2048) {
        return absl::InvalidArgumentError(
            absl::StrCat("csr: RSA key of ", bits, " bits is too small (minimum 2048)"));
      }
      if (bits > 4096) {
        return absl::InvalidArgumentError(
            absl::StrCat("csr: RSA key of ", bits, " bits is too large (maximum 4096)"));
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("csr: key type ", OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
                       " is not accepted (use ECDSA P-256/P-384 or RSA >= 2048)"));
  }
}

}  // namespace

absl::StatusOr<std::string> BuildCsrPem(EVP_PKEY* key, const CsrContents& contents) {
  X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "building a CSR");
  }
  if (!contents.common_name.empty()) {
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(contents.common_name.data()),
                               static_cast<int>(contents.common_name.size()), -1, 0);
  }
  if (!contents.uri_sans.empty() || !contents.dns_sans.empty()) {
    GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    for (const std::string& uri : contents.uri_sans) {
      if (auto s = AddName(names.get(), GEN_URI, uri); !s.ok()) return s;
    }
    for (const std::string& dns : contents.dns_sans) {
      if (auto s = AddName(names.get(), GEN_DNS, dns); !s.ok()) return s;
    }
    ExtensionsPtr exts(sk_X509_EXTENSION_new_null());
    X509_EXTENSION* ext =
        X509V3_EXT_i2d(NID_subject_alt_name, contents.common_name.empty() ? 1 : 0, names.get());
    if (ext == nullptr) return OpenSslError(absl::StatusCode::kInternal, "encoding SANs");
    sk_X509_EXTENSION_push(exts.get(), ext);
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "adding CSR extensions");
    }
  }
  if (X509_REQ_sign(req.get(), key, DigestFor(key)) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing a CSR");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "encoding a CSR");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> BuildWorkloadCsrPem(EVP_PKEY* key, const SpiffeId& id) {
  return BuildCsrPem(key, CsrContents{.uri_sans = {id.uri()}});
}

absl::StatusOr<ValidatedCsr> ParseWorkloadCsr(absl::string_view csr, absl::string_view trust_domain,
                                              size_t max_bytes) {
  if (csr.size() > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("csr: ", csr.size(), " bytes exceeds the ", max_bytes, "-byte limit"));
  }
  if (csr.empty()) return absl::InvalidArgumentError("csr: empty");
  ERR_clear_error();
  X509ReqPtr req;
  if (absl::StartsWith(csr, "-----BEGIN")) {
    BioPtr bio(BIO_new_mem_buf(csr.data(), static_cast<int>(csr.size())));
    req.reset(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(csr.data());
    req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr.size())));
  }
  if (!req) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "csr: not a well-formed PKCS#10 request");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "csr: unreadable public key");
  }
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("csr: signature does not verify with the CSR's own key");
  }

  ExtensionsPtr exts(X509_REQ_get_extensions(req.get()));
  ERR_clear_error();
  if (!exts) return absl::InvalidArgumentError("csr: requests no subjectAltName (SPIFFE ID)");
  int san_index = X509v3_get_ext_by_NID(exts.get(), NID_subject_alt_name, -1);
  if (san_index < 0) {
    return absl::InvalidArgumentError("csr: requests no subjectAltName (SPIFFE ID)");
  }
  if (X509v3_get_ext_by_NID(exts.get(), NID_subject_alt_name, san_index) >= 0) {
    return absl::InvalidArgumentError("csr: more than one subjectAltName extension");
  }
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts.get(), san_index))));
  if (!names) {
    ERR_clear_error();
    return absl::InvalidArgumentError("csr: malformed subjectAltName");
  }
  std::string uri;
  int uri_count = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) {
      return absl::InvalidArgumentError(
          absl::StrCat("csr: subjectAltName contains a ", GeneralNameKind(name->type),
                       " name; workload certificates carry only the SPIFFE ID URI"));
    }
    ++uri_count;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    uri.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
               static_cast<size_t>(ASN1_STRING_length(value)));
  }
  if (uri_count != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("csr: must request exactly one URI SAN, requests ", uri_count));
  }
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse(uri);
  if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("csr: ", id.status().message()));
  if (id->trust_domain() != trust_domain) {
    return absl::InvalidArgumentError(
        absl::StrCat("csr: SPIFFE ID ", id->uri(), " is outside the trust domain ", trust_domain));
  }
  EVP_PKEY_up_ref(key);
  return ValidatedCsr{std::move(req), EvpPkeyPtr(key), *std::move(id)};
}

}  // namespace meshgate::ca
