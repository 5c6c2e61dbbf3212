// Certificates issued per second on one core, for ECDSA P-256 CSRs, through
// CertificateAuthority::Sign (PEM parse, CSR signature verification, key and
// SAN checks, certificate build, ECDSA P-256 signature, PEM encode), next to
// the physical reference measured in the same run: raw OpenSSL ECDSA P-256
// sign and verify (EVP_DigestSign / EVP_DigestVerify) on a same-sized message,
// and `openssl speed ecdsap256` when the binary is present.
//
// Usage: ca_bench [seconds-per-measurement, default 3]
#include <openssl/evp.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/certificate_authority.h"
#include "ca/csr.h"
#include "common/clock.h"

namespace {

using meshgate::ca::EvpPkeyPtr;
using Seconds = std::chrono::duration<double>;

// CPU time of this thread: "per core" throughput that stays meaningful on a
// loaded machine (`openssl speed` also divides by CPU time by default).
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

template <typename Fn>
double OpsPerSecond(double seconds, Fn&& op) {
  for (int i = 0; i < 200; ++i) op(i);  // warm-up
  double start = ThreadCpuSeconds();
  long ops = 0;
  while (true) {
    for (int i = 0; i < 64; ++i) op(static_cast<int>(ops++));
    double elapsed = ThreadCpuSeconds() - start;
    if (elapsed >= seconds) return static_cast<double>(ops) / elapsed;
  }
}

std::string OpensslSpeedLine(int seconds) {
  std::string command =
      absl::StrCat("openssl speed -seconds ", seconds, " ecdsap256 2>/dev/null | grep nistp256");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char buf[512] = {};
  std::string line = fgets(buf, sizeof(buf), pipe) ? buf : "";
  pclose(pipe);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  if (seconds <= 0) seconds = 3.0;

  meshgate::ca::MemoryCaStorage storage;
  auto ca =
      meshgate::ca::CertificateAuthority::LoadOrCreate(storage, meshgate::SystemClock::Get(), {});
  if (!ca.ok()) {
    std::fprintf(stderr, "CA: %s\n", std::string(ca.status().message()).c_str());
    return 1;
  }

  // Distinct workloads, keys and CSRs prepared up front: key generation is
  // the workload's cost, not the CA's.
  constexpr int kCsrs = 256;
  std::vector<std::string> ids, csrs;
  for (int i = 0; i < kCsrs; ++i) {
    auto key = meshgate::ca::GenerateKey(meshgate::ca::KeyAlgorithm::kEcdsaP256);
    auto id = meshgate::ca::SpiffeId::ForWorkload("cluster.local", absl::StrCat("ns", i % 7),
                                                  absl::StrCat("sa", i));
    auto csr = meshgate::ca::BuildWorkloadCsrPem(key->get(), *id);
    ids.push_back(id->uri());
    csrs.push_back(*csr);
  }
  size_t issued_bytes = 0;
  double certs_per_second = OpsPerSecond(seconds, [&](int i) {
    auto issued = (*ca)->Sign(csrs[i % kCsrs], absl::Hours(24), ids[i % kCsrs]);
    if (!issued.ok()) {
      std::fprintf(stderr, "sign: %s\n", std::string(issued.status().message()).c_str());
      std::exit(1);
    }
    issued_bytes = issued->chain_pem.front().size();
  });

  // Reference: OpenSSL alone, P-256 + SHA-256 over a message the size of a
  // leaf's to-be-signed part.
  EvpPkeyPtr key = *meshgate::ca::GenerateKey(meshgate::ca::KeyAlgorithm::kEcdsaP256);
  std::vector<unsigned char> message(400, 0x5a);
  unsigned char signature[128];
  size_t signature_len = sizeof(signature);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  double signs_per_second = OpsPerSecond(seconds, [&](int) {
    signature_len = sizeof(signature);
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key.get());
    if (EVP_DigestSign(md, signature, &signature_len, message.data(), message.size()) != 1) {
      std::exit(1);
    }
  });
  double verifies_per_second = OpsPerSecond(seconds, [&](int) {
    EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key.get());
    if (EVP_DigestVerify(md, signature, signature_len, message.data(), message.size()) != 1) {
      std::exit(1);
    }
  });
  EVP_MD_CTX_free(md);
  // Issuing needs one verify (the CSR) and one sign (the certificate).
  double sign_plus_verify = 1.0 / (1.0 / signs_per_second + 1.0 / verifies_per_second);
  std::string speed = OpensslSpeedLine(static_cast<int>(seconds + 0.5));

  std::printf("meshgate CA issuance, ECDSA P-256 CSRs, 1 thread, %.0f CPU-s per measurement\n",
              seconds);
  std::printf("  certificates issued/s (incl. CSR verify)  %10.0f   (leaf %zu bytes PEM)\n",
              certs_per_second, issued_bytes);
  std::printf("  openssl EVP_DigestSign P-256/s            %10.0f\n", signs_per_second);
  std::printf("  openssl EVP_DigestVerify P-256/s          %10.0f\n", verifies_per_second);
  std::printf("  openssl sign+verify pairs/s (bound)       %10.0f\n", sign_plus_verify);
  if (!speed.empty()) std::printf("  openssl speed: %s\n", speed.c_str());
  std::printf("  ratio issued / raw sign                   %10.2f\n",
              certs_per_second / signs_per_second);
  std::printf("  ratio issued / (sign+verify) bound        %10.2f\n",
              certs_per_second / sign_plus_verify);
  std::printf("  target >= 5000 certs/s/core: %s\n", certs_per_second >= 5000 ? "met" : "NOT met");
  return 0;
}
