#include "ca/openssl_util.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"

namespace meshgate::ca {

absl::string_view KeyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP256:
      return "ecdsa-p256";
    case KeyAlgorithm::kEcdsaP384:
      return "ecdsa-p384";
    case KeyAlgorithm::kRsa2048:
      return "rsa-2048";
    case KeyAlgorithm::kRsa3072:
      return "rsa-3072";
  }
  return "unknown";
}

absl::StatusOr<KeyAlgorithm> ParseKeyAlgorithm(absl::string_view name) {
  for (KeyAlgorithm a : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384, KeyAlgorithm::kRsa2048,
                         KeyAlgorithm::kRsa3072}) {
    if (KeyAlgorithmName(a) == name) return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown key algorithm \"", name,
                   "\"; expected one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072"));
}

absl::Status OpenSslError(absl::StatusCode code, absl::string_view context) {
  std::string message(context);
  unsigned long err;
  bool first = true;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    absl::StrAppend(&message, first ? ": " : "; ", buf);
    first = false;
  }
  return absl::Status(code, message);
}

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyAlgorithm algorithm) {
  EVP_PKEY* key = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyAlgorithm::kEcdsaP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyAlgorithm::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
      break;
    case KeyAlgorithm::kRsa3072:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
  }
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal,
                        absl::StrCat("generating a ", KeyAlgorithmName(algorithm), " key"));
  }
  return EvpPkeyPtr(key);
}

namespace {

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

BioPtr ReadOnlyBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

}  // namespace

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "encoding a private key");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "encoding a certificate");
  }
  return BioContents(bio.get());
}

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromPem(absl::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("private key PEM too large");
  }
  ERR_clear_error();
  BioPtr bio = ReadOnlyBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM private key");
  }
  return EvpPkeyPtr(key);
}

absl::StatusOr<X509Ptr> CertificateFromPem(absl::string_view pem) {
  auto certs = CertificatesFromPem(pem);
  if (!certs.ok()) return certs.status();
  return std::move(certs->front());
}

absl::StatusOr<std::vector<X509Ptr>> CertificatesFromPem(absl::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("certificate PEM too large");
  }
  ERR_clear_error();
  BioPtr bio = ReadOnlyBio(pem);
  std::vector<X509Ptr> certs;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    certs.emplace_back(cert);
  }
  unsigned long err = ERR_peek_last_error();
  if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE &&
      !certs.empty()) {
    ERR_clear_error();  // The normal end of a bundle.
  } else if (err != 0 || certs.empty()) {
    return OpenSslError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("not a PEM certificate bundle (certificate #", certs.size() + 1, ")"));
  }
  return certs;
}

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  struct tm tm_value = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm_value) != 1) return absl::InfinitePast();
  return absl::FromUnixSeconds(timegm(&tm_value));
}

absl::Time NotBefore(const X509* cert) { return Asn1TimeToAbsl(X509_get0_notBefore(cert)); }
absl::Time NotAfter(const X509* cert) { return Asn1TimeToAbsl(X509_get0_notAfter(cert)); }

std::vector<std::string> UriSans(const X509* cert) {
  std::vector<std::string> uris;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return uris;
}

absl::StatusOr<std::string> Sha256Fingerprint(const X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "certificate digest");
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(length * 3);
  for (unsigned int i = 0; i < length; ++i) {
    if (i > 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

absl::StatusOr<std::string> Sha256Fingerprint(absl::string_view pem) {
  absl::StatusOr<X509Ptr> cert = CertificateFromPem(pem);
  if (!cert.ok()) return cert.status();
  return Sha256Fingerprint(cert->get());
}

std::string SerialHex(const X509* cert) {
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  char* hex = serial != nullptr ? BN_bn2hex(serial.get()) : nullptr;
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  return out;
}

}  // namespace meshgate::ca
