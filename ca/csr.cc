#include "ca/csr.h"

#include <openssl/asn1t.h>
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

// PKCS#10 with the SubjectPublicKeyInfo kept as raw fields (algorithm + bit
// string) instead of being decoded into an EVP_PKEY at parse time.
struct CsrSpki {
  X509_ALGOR* algorithm;
  ASN1_BIT_STRING* public_key;
};
struct CsrInfo {
  ASN1_INTEGER* version;
  X509_NAME* subject;
  CsrSpki* spki;
  STACK_OF(X509_ATTRIBUTE) * attributes;
};
struct CsrDoc {
  CsrInfo* info;
  X509_ALGOR* signature_algorithm;
  ASN1_BIT_STRING* signature;
};

ASN1_SEQUENCE(CsrSpki) =
    {
        ASN1_SIMPLE(CsrSpki, algorithm, X509_ALGOR),
        ASN1_SIMPLE(CsrSpki, public_key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CsrSpki)

        ASN1_SEQUENCE(CsrInfo) =
            {
                ASN1_SIMPLE(CsrInfo, version, ASN1_INTEGER),
                ASN1_SIMPLE(CsrInfo, subject, X509_NAME),
                ASN1_SIMPLE(CsrInfo, spki, CsrSpki),
                ASN1_IMP_SET_OF_OPT(CsrInfo, attributes, X509_ATTRIBUTE, 0),
} ASN1_SEQUENCE_END(CsrInfo)

                ASN1_SEQUENCE(CsrDoc) =
                    {
                        ASN1_SIMPLE(CsrDoc, info, CsrInfo),
                        ASN1_SIMPLE(CsrDoc, signature_algorithm, X509_ALGOR),
                        ASN1_SIMPLE(CsrDoc, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CsrDoc)

                        struct CsrDocFree {
  void operator()(CsrDoc* doc) const {
    ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(doc), ASN1_ITEM_rptr(CsrDoc));
  }
};
using CsrDocPtr = std::unique_ptr<CsrDoc, CsrDocFree>;

// The DER bytes of the CertificationRequestInfo (what the signature covers).
absl::StatusOr<absl::string_view> SignedPart(absl::string_view der) {
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = begin;
  long length = 0;
  int tag = 0, xclass = 0;
  int outer = ASN1_get_object(&p, &length, &tag, &xclass, static_cast<long>(der.size()));
  if ((outer & 0x80) != 0 || outer == 0x21) {
    return absl::InvalidArgumentError("csr: malformed outer SEQUENCE");
  }
  const unsigned char* info_start = p;
  long remaining = static_cast<long>(der.size()) - (p - begin);
  int inner = ASN1_get_object(&p, &length, &tag, &xclass, remaining);
  if ((inner & 0x80) != 0 || inner == 0x21 || length > remaining - (p - info_start)) {
    return absl::InvalidArgumentError("csr: malformed CertificationRequestInfo");
  }
  return der.substr(static_cast<size_t>(info_start - begin),
                    static_cast<size_t>((p - info_start) + length));
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

  // PEM armour off; everything below works on the DER bytes.
  std::string pem_der;
  absl::string_view der = csr;
  if (absl::StartsWith(csr, "-----BEGIN")) {
    BioPtr bio(BIO_new_mem_buf(csr.data(), static_cast<int>(csr.size())));
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "csr: not a well-formed PKCS#10 request (bad PEM)");
    }
    std::string label = name;
    pem_der.assign(reinterpret_cast<char*>(data), static_cast<size_t>(len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST") {
      return absl::InvalidArgumentError(
          absl::StrCat("csr: not a well-formed PKCS#10 request (PEM label \"", label, "\")"));
    }
    der = pem_der;
  }

  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = begin;
  CsrDocPtr doc(reinterpret_cast<CsrDoc*>(
      ASN1_item_d2i(nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(CsrDoc))));
  if (!doc) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "csr: not a well-formed PKCS#10 request");
  }
  if (p != begin + der.size()) {
    return absl::InvalidArgumentError("csr: trailing bytes after the PKCS#10 request");
  }
  absl::StatusOr<absl::string_view> tbs = SignedPart(der);
  if (!tbs.ok()) return tbs.status();
  if (ASN1_INTEGER_get(doc->info->version) != 0) {
    return absl::InvalidArgumentError("csr: unsupported PKCS#10 version");
  }

  // Public key: built straight from the SubjectPublicKeyInfo fields; OpenSSL's
  // generic key decoder costs more than the signature check itself.
  const CsrSpki* spki = doc->info->spki;
  if ((spki->public_key->flags & 0x07) != 0) {
    return absl::InvalidArgumentError("csr: public key bit string has unused bits");
  }
  const ASN1_OBJECT* algorithm = nullptr;
  int parameter_type = 0;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&algorithm, &parameter_type, &parameter, spki->algorithm);
  const int key_nid = OBJ_obj2nid(algorithm);
  EvpPkeyPtr key;
  if (key_nid == NID_X9_62_id_ecPublicKey) {
    if (parameter_type != V_ASN1_OBJECT) {
      return absl::InvalidArgumentError("csr: EC key with explicit or missing curve parameters");
    }
    int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(parameter));
    if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1) {
      const char* curve_name = curve == NID_undef ? nullptr : OBJ_nid2sn(curve);
      return absl::InvalidArgumentError(absl::StrCat("csr: EC curve ",
                                                     curve_name ? curve_name : "(unknown)",
                                                     " is not accepted (use P-256 or P-384)"));
    }
    char* group = const_cast<char*>(OBJ_nid2sn(curve));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, spki->public_key->data,
                                          static_cast<size_t>(spki->public_key->length)),
        OSSL_PARAM_construct_end()};
    std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("csr: EC public key is not a point on its curve");
    }
    key.reset(raw);
  } else if (key_nid == NID_rsaEncryption) {
    unsigned char* spki_der = nullptr;
    int spki_len = ASN1_item_i2d(reinterpret_cast<const ASN1_VALUE*>(spki), &spki_der,
                                 ASN1_ITEM_rptr(CsrSpki));
    const unsigned char* q = spki_der;
    key.reset(spki_len > 0 ? d2i_PUBKEY(nullptr, &q, spki_len) : nullptr);
    OPENSSL_free(spki_der);
    if (!key) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "csr: unreadable RSA public key");
    }
  } else {
    const char* name = key_nid == NID_undef ? nullptr : OBJ_nid2sn(key_nid);
    return absl::InvalidArgumentError(
        absl::StrCat("csr: key type ", name ? name : "(unknown)",
                     " is not accepted (use ECDSA P-256/P-384 or RSA >= 2048)"));
  }
  if (absl::Status s = CheckKey(key.get()); !s.ok()) return s;

  // Signature over the CertificationRequestInfo bytes as received.
  const ASN1_OBJECT* signature_algorithm = nullptr;
  X509_ALGOR_get0(&signature_algorithm, nullptr, nullptr, doc->signature_algorithm);
  int digest_nid = NID_undef, signature_key_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(signature_algorithm), &digest_nid, &signature_key_nid) != 1) {
    return absl::InvalidArgumentError("csr: unsupported signature algorithm");
  }
  if (signature_key_nid != key_nid) {
    return absl::InvalidArgumentError("csr: signature algorithm does not match the key type");
  }
  if (digest_nid != NID_sha256 && digest_nid != NID_sha384 && digest_nid != NID_sha512) {
    return absl::InvalidArgumentError("csr: signature digest must be SHA-256, SHA-384 or SHA-512");
  }
  if ((doc->signature->flags & 0x07) != 0) {
    return absl::InvalidArgumentError("csr: signature bit string has unused bits");
  }
  std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>> md(EVP_MD_CTX_new());
  if (!md ||
      EVP_DigestVerifyInit(md.get(), nullptr, EVP_get_digestbynid(digest_nid), nullptr,
                           key.get()) != 1 ||
      EVP_DigestVerify(md.get(), doc->signature->data, static_cast<size_t>(doc->signature->length),
                       reinterpret_cast<const unsigned char*>(tbs->data()), tbs->size()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("csr: signature does not verify with the CSR's own key");
  }

  ExtensionsPtr exts;
  for (int i = 0; i < sk_X509_ATTRIBUTE_num(doc->info->attributes); ++i) {
    X509_ATTRIBUTE* attribute = sk_X509_ATTRIBUTE_value(doc->info->attributes, i);
    int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attribute));
    if (nid != NID_ext_req && nid != NID_ms_ext_req) continue;
    if (exts || X509_ATTRIBUTE_count(attribute) != 1) {
      return absl::InvalidArgumentError("csr: more than one extensionRequest");
    }
    ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attribute, 0);
    if (value == nullptr || value->type != V_ASN1_SEQUENCE) {
      return absl::InvalidArgumentError("csr: malformed extensionRequest");
    }
    exts.reset(static_cast<STACK_OF(X509_EXTENSION)*>(
        ASN1_item_unpack(value->value.sequence, ASN1_ITEM_rptr(X509_EXTENSIONS))));
    if (!exts) {
      ERR_clear_error();
      return absl::InvalidArgumentError("csr: malformed extensionRequest");
    }
  }
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
  ValidatedCsr validated;
  validated.public_key = std::move(key);
  validated.identity = *std::move(id);
  validated.key_algorithm.reset(X509_ALGOR_dup(spki->algorithm));
  validated.public_key_bits.assign(reinterpret_cast<const char*>(spki->public_key->data),
                                   static_cast<size_t>(spki->public_key->length));
  if (!validated.key_algorithm) return OpenSslError(absl::StatusCode::kInternal, "copying a key");
  return validated;
}

absl::Status CopySubjectPublicKeyInfo(const ValidatedCsr& csr, X509* cert) {
  const ASN1_OBJECT* algorithm = nullptr;
  int parameter_type = 0;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&algorithm, &parameter_type, &parameter, csr.key_algorithm.get());
  void* parameter_copy = nullptr;
  if (parameter_type == V_ASN1_OBJECT) {
    parameter_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(parameter));
  } else if (parameter_type != V_ASN1_NULL && parameter_type != V_ASN1_UNDEF) {
    return absl::InternalError("unexpected public key parameters");
  }
  auto* bits = static_cast<unsigned char*>(
      OPENSSL_memdup(csr.public_key_bits.data(), csr.public_key_bits.size()));
  ASN1_OBJECT* algorithm_copy = OBJ_dup(algorithm);
  if (bits == nullptr || algorithm_copy == nullptr ||
      X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), algorithm_copy, parameter_type,
                             parameter_copy, bits,
                             static_cast<int>(csr.public_key_bits.size())) != 1) {
    OPENSSL_free(bits);
    ASN1_OBJECT_free(algorithm_copy);
    if (parameter_type == V_ASN1_OBJECT)
      ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(parameter_copy));
    return OpenSslError(absl::StatusCode::kInternal, "setting the subject public key");
  }
  return absl::OkStatus();
}

}  // namespace meshgate::ca
