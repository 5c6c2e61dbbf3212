// OpenSSL plumbing shared by the CA, its service and the rotation client:
// owning smart pointers for OpenSSL objects, PEM/DER conversion, key
// generation, and turning the OpenSSL error queue into an absl::Status.
//
// Ownership: every `*Ptr` owns its object and frees it with the matching
// OpenSSL free function. Functions that take raw pointers borrow them.
// Thread-safety: all functions are safe to call concurrently on distinct
// objects (OpenSSL 3 is thread-safe for that use).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace meshgate::ca {

template <auto FreeFn>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, OpenSslDeleter<X509_ALGOR_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;

// Key algorithms the CA generates and accepts in CSRs.
enum class KeyAlgorithm { kEcdsaP256, kEcdsaP384, kRsa2048, kRsa3072 };

absl::string_view KeyAlgorithmName(KeyAlgorithm algorithm);
// Accepts "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072".
absl::StatusOr<KeyAlgorithm> ParseKeyAlgorithm(absl::string_view name);

// Drains the OpenSSL error queue of this thread into `code` with `context`
// prepended, e.g. "parsing ca-key.pem: PEM routines::no start line".
absl::Status OpenSslError(absl::StatusCode code, absl::string_view context);

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyAlgorithm algorithm);

// PEM encoders. Private keys are written as unencrypted PKCS#8.
absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key);
absl::StatusOr<std::string> CertificateToPem(X509* cert);

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromPem(absl::string_view pem);
absl::StatusOr<X509Ptr> CertificateFromPem(absl::string_view pem);
// Every certificate in a PEM bundle, in order. An empty bundle is an error.
absl::StatusOr<std::vector<X509Ptr>> CertificatesFromPem(absl::string_view pem);

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t);
// The certificate's validity window.
absl::Time NotBefore(const X509* cert);
absl::Time NotAfter(const X509* cert);

// URI subject alternative names of `cert`, in order.
std::vector<std::string> UriSans(const X509* cert);

// SHA-256 of the certificate's DER in openssl's notation ("AB:CD:..."), the
// way `openssl x509 -noout -fingerprint -sha256` prints it.
absl::StatusOr<std::string> Sha256Fingerprint(const X509* cert);
absl::StatusOr<std::string> Sha256Fingerprint(absl::string_view pem);
// The serial number in upper-case hex, as `openssl x509 -noout -serial`.
std::string SerialHex(const X509* cert);

}  // namespace meshgate::ca
