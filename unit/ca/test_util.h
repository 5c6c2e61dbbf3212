// Helpers shared by the CA tests: temp directories, files, running the real
// `openssl` binary, and building CSRs/keys.
#pragma once

#include <openssl/pem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/csr.h"
#include "ca/openssl_util.h"
#include "gtest/gtest.h"

namespace meshgate::ca::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meshgate-ca-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::filesystem::path WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return path;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline EvpPkeyPtr NewKey(KeyAlgorithm algorithm = KeyAlgorithm::kEcdsaP256) {
  auto key = GenerateKey(algorithm);
  EXPECT_TRUE(key.ok()) << key.status();
  return *std::move(key);
}

inline EvpPkeyPtr NewKeyOfType(const char* type, const char* param) {
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, type, param));
}

inline EvpPkeyPtr NewRsaKey(size_t bits) {
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}

inline std::string Csr(EVP_PKEY* key, const CsrContents& contents) {
  auto csr = BuildCsrPem(key, contents);
  EXPECT_TRUE(csr.ok()) << csr.status();
  return csr.ok() ? *csr : std::string();
}

inline std::string WorkloadCsr(EVP_PKEY* key, const std::string& spiffe_id) {
  return Csr(key, CsrContents{.uri_sans = {spiffe_id}});
}

// The CSR with one bit of its signature flipped: well-formed, but forged.
inline std::string CorruptSignature(const std::string& csr_pem) {
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  const ASN1_BIT_STRING* sig = nullptr;
  X509_REQ_get0_signature(req.get(), &sig, nullptr);
  // ECDSA signatures are DER (r, s); flip a bit inside s, keeping the DER valid.
  const_cast<unsigned char*>(ASN1_STRING_get0_data(sig))[ASN1_STRING_length(sig) - 2] ^= 0x01;
  BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

inline std::string PemToDer(const std::string& csr_pem) {
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

inline X509Ptr Cert(const std::string& pem) {
  auto cert = CertificateFromPem(pem);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? *std::move(cert) : nullptr;
}

}  // namespace meshgate::ca::testing
