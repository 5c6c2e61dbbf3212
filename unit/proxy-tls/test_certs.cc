#include "unit/proxy-tls/test_certs.h"

#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace meshgate::proxy::testing {
namespace {

std::atomic<long> g_serial{1000};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test certificate: %s failed\n", what);
    std::abort();
  }
}

void SetName(X509_NAME* name, const std::string& cn) {
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

ca::X509Ptr NewCert(EVP_PKEY* subject_key, const std::string& cn, absl::Time not_before,
                    absl::Time not_after) {
  ca::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), g_serial.fetch_add(1));
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after));
  SetName(X509_get_subject_name(cert.get()), cn);
  X509_set_pubkey(cert.get(), subject_key);
  return cert;
}

}  // namespace

TestCa MakeRootCa(const std::string& common_name) {
  TestCa out;
  auto key = ca::GenerateKey(ca::KeyAlgorithm::kEcdsaP256);
  Check(key.ok(), "root key");
  out.key = *std::move(key);
  out.cert = NewCert(out.key.get(), common_name, absl::Now() - absl::Hours(2),
                     absl::Now() + absl::Hours(24 * 365));
  X509_set_issuer_name(out.cert.get(), X509_get_subject_name(out.cert.get()));
  AddExtension(out.cert.get(), out.cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(out.cert.get(), out.cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(out.cert.get(), out.cert.get(), NID_subject_key_identifier, "hash");
  Check(X509_sign(out.cert.get(), out.key.get(), EVP_sha256()) > 0, "root signature");
  auto pem = ca::CertificateToPem(out.cert.get());
  Check(pem.ok(), "root pem");
  out.cert_pem = *pem;
  return out;
}

TestLeaf IssueLeaf(const TestCa& ca, const LeafSpec& spec) {
  auto key = ca::GenerateKey(ca::KeyAlgorithm::kEcdsaP256);
  Check(key.ok(), "leaf key");
  ca::X509Ptr cert = NewCert(key->get(), spec.common_name, spec.not_before, spec.not_after);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get()));
  AddExtension(cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert.get(), ca.cert.get(), NID_key_usage,
               "critical,digitalSignature,keyEncipherment");
  AddExtension(cert.get(), ca.cert.get(), NID_authority_key_identifier, "keyid");
  switch (spec.eku) {
    case Eku::kServer:
      AddExtension(cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth");
      break;
    case Eku::kClient:
      AddExtension(cert.get(), ca.cert.get(), NID_ext_key_usage, "clientAuth");
      break;
    case Eku::kBoth:
      AddExtension(cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
      break;
    case Eku::kNone:
      break;
  }
  std::vector<std::string> sans;
  for (const auto& uri : spec.uri_sans) sans.push_back("URI:" + uri);
  for (const auto& dns : spec.dns_sans) sans.push_back("DNS:" + dns);
  if (!sans.empty()) {
    AddExtension(cert.get(), ca.cert.get(), NID_subject_alt_name, absl::StrJoin(sans, ","));
  }
  Check(X509_sign(cert.get(), ca.key.get(), EVP_sha256()) > 0, "leaf signature");
  TestLeaf out;
  auto cert_pem = ca::CertificateToPem(cert.get());
  auto key_pem = ca::PrivateKeyToPem(key->get());
  Check(cert_pem.ok() && key_pem.ok(), "leaf pem");
  out.chain_pem = *cert_pem;
  out.key_pem = *key_pem;
  return out;
}

}  // namespace meshgate::proxy::testing
