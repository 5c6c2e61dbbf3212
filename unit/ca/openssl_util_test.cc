// Certificate descriptions the logs and the admin pages print, checked
// against the real `openssl` binary's spelling of the same certificate.
#include "ca/openssl_util.h"

#include <string>

#include "absl/strings/ascii.h"
#include "ca/certificate_authority.h"
#include "ca/storage.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "unit/ca/test_util.h"

namespace meshgate::ca {
namespace {

using testing::RunCommand;
using testing::TempDir;
using testing::WriteFile;

// The value after '=' in a line such as "sha256 Fingerprint=AB:CD" or
// "serial=0123" (the label's case varies across openssl versions).
std::string OpensslValue(const std::string& command) {
  testing::CommandResult r = RunCommand(command);
  EXPECT_EQ(r.exit_code, 0) << command << ": " << r.output;
  return std::string(absl::StripAsciiWhitespace(r.output.substr(r.output.find('=') + 1)));
}

TEST(OpensslUtilTest, FingerprintAndSerialAreOpensslsSpelling) {
  ManualClock clock;
  MemoryCaStorage storage;
  auto authority = CertificateAuthority::LoadOrCreate(storage, clock, {});
  ASSERT_TRUE(authority.ok()) << authority.status();
  auto serving = (*authority)->IssueServingCertificate({"a.example"}, {});
  ASSERT_TRUE(serving.ok()) << serving.status();
  TempDir dir;
  for (const std::string& pem : {(*authority)->ActiveRootPem(), serving->chain_pem.front()}) {
    const std::string path = WriteFile(dir / "cert.pem", pem).string();
    auto fingerprint = Sha256Fingerprint(pem);
    ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
    EXPECT_EQ(*fingerprint, OpensslValue("openssl x509 -noout -fingerprint -sha256 -in " + path));
    auto cert = CertificateFromPem(pem);
    ASSERT_TRUE(cert.ok());
    EXPECT_EQ(SerialHex(cert->get()), OpensslValue("openssl x509 -noout -serial -in " + path));
  }
  EXPECT_FALSE(Sha256Fingerprint("not a certificate").ok());
}

}  // namespace
}  // namespace meshgate::ca
