#include "ca/csr.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/ca/test_util.h"

namespace meshgate::ca {
namespace {

using ::meshgate::ca::testing::CorruptSignature;
using ::meshgate::ca::testing::Csr;
using ::meshgate::ca::testing::NewKey;
using ::meshgate::ca::testing::NewKeyOfType;
using ::meshgate::ca::testing::NewRsaKey;
using ::meshgate::ca::testing::PemToDer;
using ::meshgate::ca::testing::WorkloadCsr;
using ::testing::HasSubstr;

constexpr char kId[] = "spiffe://cluster.local/ns/default/sa/frontend";

void ExpectRejected(const std::string& csr, absl::StatusCode code, const std::string& reason) {
  auto parsed = ParseWorkloadCsr(csr, "cluster.local");
  ASSERT_FALSE(parsed.ok()) << "accepted a CSR that should fail with: " << reason;
  EXPECT_EQ(parsed.status().code(), code) << parsed.status();
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(reason));
  EXPECT_THAT(std::string(parsed.status().message()), ::testing::StartsWith("csr"));
}

TEST(CsrTest, AcceptsWorkloadCsrInPemAndDer) {
  for (KeyAlgorithm algorithm : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384,
                                 KeyAlgorithm::kRsa2048, KeyAlgorithm::kRsa3072}) {
    EvpPkeyPtr key = NewKey(algorithm);
    std::string pem = WorkloadCsr(key.get(), kId);
    for (const std::string& encoded : {pem, PemToDer(pem)}) {
      auto parsed = ParseWorkloadCsr(encoded, "cluster.local");
      ASSERT_TRUE(parsed.ok()) << KeyAlgorithmName(algorithm) << ": " << parsed.status();
      EXPECT_EQ(parsed->identity.uri(), kId);
      EXPECT_EQ(EVP_PKEY_eq(parsed->public_key.get(), key.get()), 1);
    }
  }
}

TEST(CsrTest, RejectsWeakOrUnknownKeys) {
  EvpPkeyPtr rsa1024 = NewRsaKey(1024);
  ExpectRejected(WorkloadCsr(rsa1024.get(), kId), absl::StatusCode::kInvalidArgument,
                 "RSA key of 1024 bits is too small");
  EvpPkeyPtr p521 = NewKeyOfType("EC", "P-521");
  ExpectRejected(WorkloadCsr(p521.get(), kId), absl::StatusCode::kInvalidArgument,
                 "EC curve secp521r1 is not accepted");
  EvpPkeyPtr secp256k1 = NewKeyOfType("EC", "secp256k1");
  ExpectRejected(WorkloadCsr(secp256k1.get(), kId), absl::StatusCode::kInvalidArgument,
                 "EC curve secp256k1 is not accepted");
}

TEST(CsrTest, RejectsEd25519) {
  EvpPkeyPtr ed = NewKeyOfType("ED25519", nullptr);
  ASSERT_TRUE(ed);
  // X509_REQ_sign needs a null digest for Ed25519, so build it by hand here.
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), ed.get());
  ASSERT_GT(X509_REQ_sign(req.get(), ed.get(), nullptr), 0);
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  ExpectRejected(std::string(data, static_cast<size_t>(len)), absl::StatusCode::kInvalidArgument,
                 "key type ED25519 is not accepted");
}

TEST(CsrTest, RejectsBadSubjectAltNames) {
  EvpPkeyPtr key = NewKey();
  ExpectRejected(Csr(key.get(), {.uri_sans = {kId, "spiffe://cluster.local/ns/default/sa/other"}}),
                 absl::StatusCode::kInvalidArgument, "exactly one URI SAN, requests 2");
  ExpectRejected(Csr(key.get(), {.uri_sans = {kId}, .dns_sans = {"frontend.default.svc"}}),
                 absl::StatusCode::kInvalidArgument, "contains a DNS name");
  ExpectRejected(Csr(key.get(), {.dns_sans = {kId}}), absl::StatusCode::kInvalidArgument,
                 "contains a DNS name");
  ExpectRejected(Csr(key.get(), {.common_name = "frontend"}), absl::StatusCode::kInvalidArgument,
                 "requests no subjectAltName");
  ExpectRejected(WorkloadCsr(key.get(), "https://cluster.local/ns/default/sa/frontend"),
                 absl::StatusCode::kInvalidArgument, "must start with spiffe://");
  ExpectRejected(WorkloadCsr(key.get(), "spiffe://cluster.local/ns/default"),
                 absl::StatusCode::kInvalidArgument, "does not have the form");
  ExpectRejected(WorkloadCsr(key.get(), "spiffe://evil.example/ns/default/sa/frontend"),
                 absl::StatusCode::kInvalidArgument, "outside the trust domain cluster.local");
}

TEST(CsrTest, RejectsForgedSignature) {
  EvpPkeyPtr key = NewKey();
  std::string forged = CorruptSignature(WorkloadCsr(key.get(), kId));
  ExpectRejected(forged, absl::StatusCode::kInvalidArgument, "signature does not verify");
  ExpectRejected(PemToDer(forged), absl::StatusCode::kInvalidArgument, "signature does not verify");
}

TEST(CsrTest, RejectsGarbageAndOversizedInput) {
  ExpectRejected("", absl::StatusCode::kInvalidArgument, "empty");
  ExpectRejected("hello", absl::StatusCode::kInvalidArgument, "not a well-formed PKCS#10 request");
  ExpectRejected("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                 absl::StatusCode::kInvalidArgument, "not a well-formed");
  EvpPkeyPtr key = NewKey();
  std::string pem = WorkloadCsr(key.get(), kId);
  ExpectRejected(pem.substr(0, pem.size() / 2), absl::StatusCode::kInvalidArgument,
                 "not a well-formed");
  ExpectRejected(std::string(kDefaultMaxCsrBytes + 1, 'A'), absl::StatusCode::kResourceExhausted,
                 "exceeds the 16384-byte limit");
}

TEST(SpiffeIdTest, ParsesWorkloadIdentities) {
  auto id = SpiffeId::Parse("spiffe://cluster.local/ns/shop-1/sa/cart_v2.x");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain(), "cluster.local");
  EXPECT_EQ(id->ns(), "shop-1");
  EXPECT_EQ(id->service_account(), "cart_v2.x");
  auto built = SpiffeId::ForWorkload("example.org", "a", "b");
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->uri(), "spiffe://example.org/ns/a/sa/b");
}

TEST(SpiffeIdTest, RejectsMalformedIds) {
  for (const char* bad :
       {"", "spiffe://", "spiffe://cluster.local", "spiffe:///ns/a/sa/b",
        "SPIFFE://cluster.local/ns/a/sa/b", "spiffe://Cluster.local/ns/a/sa/b",
        "spiffe://cluster.local:8080/ns/a/sa/b", "spiffe://u@cluster.local/ns/a/sa/b",
        "spiffe://cluster.local/ns/a/sa/b/", "spiffe://cluster.local/ns//sa/b",
        "spiffe://cluster.local/ns/../sa/b", "spiffe://cluster.local/ns/a/sa/b?x=1",
        "spiffe://cluster.local/ns/a/sa/b#f", "spiffe://cluster.local/sa/b/ns/a",
        "spiffe://cluster.local/ns/a b/sa/c"}) {
    EXPECT_FALSE(SpiffeId::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(
      SpiffeId::Parse(std::string("spiffe://cluster.local/ns/a/sa/") + std::string(3000, 'x'))
          .ok());
}

}  // namespace
}  // namespace meshgate::ca
