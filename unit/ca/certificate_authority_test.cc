#include "ca/certificate_authority.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <thread>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/ca/test_util.h"

namespace meshgate::ca {
namespace {

using ::meshgate::ca::testing::Cert;
using ::meshgate::ca::testing::NewKey;
using ::meshgate::ca::testing::ReadFile;
using ::meshgate::ca::testing::RunCommand;
using ::meshgate::ca::testing::TempDir;
using ::meshgate::ca::testing::WorkloadCsr;
using ::meshgate::ca::testing::WriteFile;
using ::testing::HasSubstr;

constexpr char kFrontend[] = "spiffe://cluster.local/ns/default/sa/frontend";

bool ExtensionCritical(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

int GeneralNameCount(X509* cert) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  return names ? sk_GENERAL_NAME_num(names.get()) : 0;
}

// Runs the real `openssl verify` on the chain: leaf checked against the last
// certificate (root) with the ones in between as untrusted intermediates.
testing::CommandResult OpenSslVerify(const TempDir& dir, const std::vector<std::string>& chain,
                                     absl::Time at, const std::string& extra = "",
                                     const std::string& ca_file_pem = "") {
  WriteFile(dir / "leaf.pem", chain.front());
  WriteFile(dir / "root.pem", ca_file_pem.empty() ? chain.back() : ca_file_pem);
  std::string untrusted;
  for (size_t i = 1; i + 1 < chain.size(); ++i) untrusted += chain[i];
  if (untrusted.empty()) untrusted = chain.back();  // self-signed mode: nothing in between
  WriteFile(dir / "chain.pem", untrusted);
  return RunCommand(absl::StrCat("openssl verify -attime ", absl::ToUnixSeconds(at), " ", extra,
                                 " -CAfile ", (dir / "root.pem").string(), " -untrusted ",
                                 (dir / "chain.pem").string(), " ", (dir / "leaf.pem").string()));
}

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(storage_, clock_, {});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
  }

  IssuedCertificate MustSign(EVP_PKEY* key, const std::string& id,
                             absl::Duration ttl = absl::ZeroDuration()) {
    auto issued = ca_->Sign(WorkloadCsr(key, id), ttl, id);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *std::move(issued) : IssuedCertificate{};
  }

  ManualClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  MemoryCaStorage storage_;
  std::unique_ptr<CertificateAuthority> ca_;
  TempDir dir_;
};

class WorkloadCertificateTest : public CertificateAuthorityTest,
                                public ::testing::WithParamInterface<KeyAlgorithm> {};

TEST_P(WorkloadCertificateTest, IssuedLeafHasEveryX509SvidProperty) {
  EvpPkeyPtr key = NewKey(GetParam());
  const absl::Time now = clock_.Now();
  IssuedCertificate issued = MustSign(key.get(), kFrontend);
  ASSERT_EQ(issued.chain_pem.size(), 2u);
  X509Ptr leaf = Cert(issued.chain_pem.front());
  X509Ptr root = Cert(issued.chain_pem.back());
  ASSERT_TRUE(leaf && root);

  // Identity: exactly one SAN, a URI, the SPIFFE ID; no DNS name spelling it.
  EXPECT_EQ(UriSans(leaf.get()), std::vector<std::string>{kFrontend});
  EXPECT_EQ(GeneralNameCount(leaf.get()), 1);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 0);
  EXPECT_TRUE(ExtensionCritical(leaf.get(), NID_subject_alt_name))
      << "empty subject => SAN critical";

  // Not a CA.
  EXPECT_NE(X509_get_extension_flags(leaf.get()) & EXFLAG_BCONS, 0u);
  EXPECT_EQ(X509_get_extension_flags(leaf.get()) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);

  // Key usage, critical; keyEncipherment only for RSA keys.
  EXPECT_TRUE(ExtensionCritical(leaf.get(), NID_key_usage));
  uint32_t expected_ku = KU_DIGITAL_SIGNATURE;
  if (GetParam() == KeyAlgorithm::kRsa2048) expected_ku |= KU_KEY_ENCIPHERMENT;
  EXPECT_EQ(X509_get_key_usage(leaf.get()), expected_ku);
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), uint32_t{XKU_SSL_SERVER | XKU_SSL_CLIENT});

  // Serial: positive, 128 random bits (top bits set by construction).
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
  EXPECT_FALSE(BN_is_negative(serial.get()));
  EXPECT_GE(BN_num_bits(serial.get()), 120);
  EXPECT_LE(BN_num_bits(serial.get()), 128);
  IssuedCertificate again = MustSign(key.get(), kFrontend);
  BignumPtr serial2(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(Cert(again.chain_pem[0]).get()), nullptr));
  EXPECT_NE(BN_cmp(serial.get(), serial2.get()), 0);

  // Validity from the injected clock: backdated 5 minutes, default TTL 24 h.
  EXPECT_EQ(NotBefore(leaf.get()), now - absl::Minutes(5));
  EXPECT_EQ(NotAfter(leaf.get()), now + absl::Hours(24));
  EXPECT_EQ(issued.granted_ttl, absl::Hours(24));
  EXPECT_FALSE(issued.ttl_clamped);

  // The workload's own key, signed by the root.
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(root.get())), 1);

  // -x509_strict also checks RFC 5280 rules: critical SAN with an empty
  // subject, positive serial, key identifiers, CA key usage.
  auto verify = OpenSslVerify(dir_, issued.chain_pem, now, "-x509_strict");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("leaf.pem: OK"));
  for (const char* purpose : {"sslclient", "sslserver"}) {
    auto with_purpose =
        OpenSslVerify(dir_, issued.chain_pem, now, absl::StrCat("-purpose ", purpose));
    EXPECT_EQ(with_purpose.exit_code, 0) << purpose << ": " << with_purpose.output;
  }
  // And the real tool agrees the certificate is expired a day later.
  auto expired = OpenSslVerify(dir_, issued.chain_pem, now + absl::Hours(25));
  EXPECT_NE(expired.exit_code, 0);
  EXPECT_THAT(expired.output, HasSubstr("expired"));
}

INSTANTIATE_TEST_SUITE_P(CsrKeys, WorkloadCertificateTest,
                         ::testing::Values(KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384,
                                           KeyAlgorithm::kRsa2048),
                         [](const auto& info) {
                           std::string name(KeyAlgorithmName(info.param));
                           std::erase(name, '-');
                           return name;
                         });

class RootTest : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(RootTest, SelfSignedRootIsATenYearCaForTheTrustDomain) {
  ManualClock clock(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())));
  MemoryCaStorage storage;
  CaOptions options;
  options.root_key_algorithm = GetParam();
  options.trust_domain = "example.org";
  auto ca = CertificateAuthority::LoadOrCreate(storage, clock, options);
  ASSERT_TRUE(ca.ok()) << ca.status();
  X509Ptr root = Cert((*ca)->ActiveRootPem());
  EXPECT_EQ(X509_check_ca(root.get()), 1);
  EXPECT_TRUE(ExtensionCritical(root.get(), NID_basic_constraints));
  EXPECT_TRUE(ExtensionCritical(root.get(), NID_key_usage));
  EXPECT_NE(X509_get_key_usage(root.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(X509_get_key_usage(root.get()) & KU_CRL_SIGN, 0u);
  EXPECT_EQ(X509_verify(root.get(), X509_get0_pubkey(root.get())), 1);
  EXPECT_EQ(NotAfter(root.get()) - clock.Now(), absl::Hours(24 * 3650));
  char org[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(root.get()), NID_organizationName, org,
                            sizeof(org));
  EXPECT_STREQ(org, "example.org");
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(root.get())),
            GetParam() == KeyAlgorithm::kEcdsaP256   ? 256
            : GetParam() == KeyAlgorithm::kEcdsaP384 ? 384
            : GetParam() == KeyAlgorithm::kRsa2048   ? 2048
                                                     : 3072);

  EvpPkeyPtr key = NewKey();
  const std::string id = "spiffe://example.org/ns/shop/sa/cart";
  auto issued = (*ca)->Sign(WorkloadCsr(key.get(), id), absl::Hours(1), id);
  ASSERT_TRUE(issued.ok()) << issued.status();
  TempDir dir;
  auto verify = OpenSslVerify(dir, issued->chain_pem, clock.Now());
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  // A cluster.local identity is not this CA's to sign.
  auto foreign = (*ca)->Sign(WorkloadCsr(key.get(), kFrontend), absl::Hours(1), kFrontend);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(foreign.status().message()), HasSubstr("outside the trust domain"));
}

INSTANTIATE_TEST_SUITE_P(RootKeys, RootTest,
                         ::testing::Values(KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384,
                                           KeyAlgorithm::kRsa2048, KeyAlgorithm::kRsa3072),
                         [](const auto& info) {
                           std::string name(KeyAlgorithmName(info.param));
                           std::erase(name, '-');
                           return name;
                         });

TEST_F(CertificateAuthorityTest, TtlDefaultsClampsAndRejects) {
  EvpPkeyPtr key = NewKey();
  std::string csr = WorkloadCsr(key.get(), kFrontend);

  auto one_hour = ca_->Sign(csr, absl::Hours(1), kFrontend);
  ASSERT_TRUE(one_hour.ok());
  EXPECT_EQ(one_hour->not_after, clock_.Now() + absl::Hours(1));
  EXPECT_FALSE(one_hour->ttl_clamped);

  auto ten_years = ca_->Sign(csr, absl::Hours(24 * 3650), kFrontend);
  ASSERT_TRUE(ten_years.ok());
  EXPECT_TRUE(ten_years->ttl_clamped);
  EXPECT_EQ(ten_years->granted_ttl, absl::Hours(24 * 90));
  EXPECT_EQ(NotAfter(Cert(ten_years->chain_pem[0]).get()), clock_.Now() + absl::Hours(24 * 90));

  auto negative = ca_->Sign(csr, absl::Seconds(-1), kFrontend);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(negative.status().message()), HasSubstr("validity_duration"));

  auto too_short = ca_->Sign(csr, absl::Minutes(9), kFrontend);
  EXPECT_EQ(too_short.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_short.status().message()), HasSubstr("below the minimum"));

  auto minimum = ca_->Sign(csr, absl::Minutes(10), kFrontend);
  EXPECT_TRUE(minimum.ok()) << minimum.status();
}

TEST_F(CertificateAuthorityTest, CsrIdentityMustEqualCallerIdentity) {
  EvpPkeyPtr key = NewKey();
  auto issued = ca_->Sign(WorkloadCsr(key.get(), kFrontend), absl::ZeroDuration(),
                          "spiffe://cluster.local/ns/default/sa/backend");
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(issued.status().message()), HasSubstr(kFrontend));
  EXPECT_THAT(std::string(issued.status().message()), HasSubstr("sa/backend"));
}

TEST_F(CertificateAuthorityTest, ServingCertificateForTheControlPlane) {
  auto serving = ca_->IssueServingCertificate(
      {"meshgate-operator.meshgate-system.svc", "localhost"}, {"127.0.0.1"});
  ASSERT_TRUE(serving.ok()) << serving.status();
  X509Ptr leaf = Cert(serving->chain_pem.front());
  EXPECT_EQ(X509_check_host(leaf.get(), "meshgate-operator.meshgate-system.svc", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "evil.example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  auto key = PrivateKeyFromPem(serving->private_key_pem);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(X509_check_private_key(leaf.get(), key->get()), 1);
  auto verify =
      OpenSslVerify(dir_, serving->chain_pem, clock_.Now(),
                    "-purpose sslserver -verify_hostname meshgate-operator.meshgate-system.svc");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_FALSE(ca_->IssueServingCertificate({}, {}).ok());
  EXPECT_FALSE(ca_->IssueServingCertificate({}, {"not-an-ip"}).ok());
}

TEST_F(CertificateAuthorityTest, VerifiesItsOwnWorkloadCertificatesOnly) {
  EvpPkeyPtr key = NewKey();
  IssuedCertificate issued = MustSign(key.get(), kFrontend, absl::Hours(1));
  auto id = ca_->VerifyWorkloadCertificate(issued.chain_pem.front());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->uri(), kFrontend);

  MemoryCaStorage other_storage;
  auto other = CertificateAuthority::LoadOrCreate(other_storage, clock_, {});
  ASSERT_TRUE(other.ok());
  auto foreign = (*other)->Sign(WorkloadCsr(key.get(), kFrontend), absl::Hours(1), kFrontend);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(ca_->VerifyWorkloadCertificate(foreign->chain_pem.front()).status().code(),
            absl::StatusCode::kUnauthenticated);

  clock_.Advance(absl::Hours(2));
  auto expired = ca_->VerifyWorkloadCertificate(issued.chain_pem.front());
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(expired.status().message()), HasSubstr("expired"));
}

TEST_F(CertificateAuthorityTest, ConcurrentSigningDuringRootRotation) {
  std::vector<EvpPkeyPtr> keys;
  std::vector<std::string> csrs;
  for (int i = 0; i < 4; ++i) {
    keys.push_back(NewKey());
    csrs.push_back(WorkloadCsr(keys.back().get(), kFrontend));
  }
  std::vector<std::vector<IssuedCertificate>> issued(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        auto result = ca_->Sign(csrs[t], absl::Hours(1), kFrontend);
        if (result.ok()) issued[t].push_back(*std::move(result));
      }
    });
  }
  for (int r = 0; r < 3; ++r) ASSERT_TRUE(ca_->RotateRoot().ok());
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ca_->TrustedRootsPem().size(), 4u);
  for (const auto& per_thread : issued) {
    ASSERT_EQ(per_thread.size(), 40u);
    for (const IssuedCertificate& cert : per_thread) {
      // Each chain is internally consistent (leaf signed by the root it ships
      // with) and trusted by the bundle.
      X509Ptr leaf = Cert(cert.chain_pem.front());
      X509Ptr root = Cert(cert.chain_pem.back());
      EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(root.get())), 1);
      EXPECT_TRUE(ca_->VerifyWorkloadCertificate(cert.chain_pem.front()).ok());
    }
  }
}

// --- File storage, restart, corruption -------------------------------------

TEST(CaStorageTest, RestartReusesTheRootAndKeepsTheKeyPrivate) {
  TempDir dir;
  ManualClock clock;
  std::string root_pem;
  {
    auto storage = FileCaStorage::Open(dir / "ca");
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto ca = CertificateAuthority::LoadOrCreate(**storage, clock, {});
    ASSERT_TRUE(ca.ok()) << ca.status();
    root_pem = (*ca)->ActiveRootPem();
  }
  struct stat st;
  ASSERT_EQ(stat((dir / "ca" / "ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(dir / "ca" / "root-cert.pem"), root_pem);
  for (const auto& entry : std::filesystem::directory_iterator(dir / "ca")) {
    EXPECT_NE(entry.path().filename().string().front(), '.')
        << "leftover temp file " << entry.path();
  }
  std::string key_before = ReadFile(dir / "ca" / "ca-key.pem");

  clock.Advance(absl::Hours(24 * 400));
  auto storage = FileCaStorage::Open(dir / "ca");
  ASSERT_TRUE(storage.ok());
  auto ca = CertificateAuthority::LoadOrCreate(**storage, clock, {});
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ((*ca)->ActiveRootPem(), root_pem);
  EXPECT_EQ(ReadFile(dir / "ca" / "ca-key.pem"), key_before);
}

TEST(CaStorageTest, CorruptedKeyIsAClearErrorAndIsNeverOverwritten) {
  TempDir dir;
  ManualClock clock;
  {
    auto storage = FileCaStorage::Open(dir.path());
    ASSERT_TRUE(CertificateAuthority::LoadOrCreate(**storage, clock, {}).ok());
  }
  std::string key = ReadFile(dir / "ca-key.pem");
  std::string corrupted = key.substr(0, key.size() / 2);  // a torn write
  WriteFile(dir / "ca-key.pem", corrupted);
  auto storage = FileCaStorage::Open(dir.path());
  auto ca = CertificateAuthority::LoadOrCreate(**storage, clock, {});
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr((dir / "ca-key.pem").string()));
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr("Refusing to start"));
  EXPECT_EQ(ReadFile(dir / "ca-key.pem"), corrupted);

  // A key from another CA: parses, but does not match the certificate.
  TempDir other;
  {
    auto other_storage = FileCaStorage::Open(other.path());
    ASSERT_TRUE(CertificateAuthority::LoadOrCreate(**other_storage, clock, {}).ok());
  }
  WriteFile(dir / "ca-key.pem", ReadFile(other / "ca-key.pem"));
  auto mismatched = CertificateAuthority::LoadOrCreate(**storage, clock, {});
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(mismatched.status().message()), HasSubstr("does not match"));

  // A key whose certificate is gone.
  std::filesystem::remove(dir / "ca-cert.pem");
  auto orphan = CertificateAuthority::LoadOrCreate(**storage, clock, {});
  EXPECT_EQ(orphan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(dir / "ca-cert.pem"));
}

// --- Plugged-in CA (Istio cacerts layout) ----------------------------------

class PluggedCaTest : public ::testing::Test {
 protected:
  // Builds a user root and an intermediate with the real openssl CLI.
  void SetUp() override {
    Openssl(
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root-key.pem "
        "-out root-cert.pem -days 3650 -subj /O=example/CN=user-root "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    MakeIntermediate("ca", "root", "CA:TRUE");
    WriteFile(dir_ / "cert-chain.pem",
              ReadFile(dir_ / "ca-cert.pem") + ReadFile(dir_ / "root-cert.pem"));
    clock_.Advance(absl::Minutes(1));  // openssl stamped notBefore with the current second
  }

  void Openssl(const std::string& args) {
    auto result = RunCommand(absl::StrCat("cd ", dir_.path().string(), " && openssl ", args));
    ASSERT_EQ(result.exit_code, 0) << args << "\n" << result.output;
  }

  void MakeIntermediate(const std::string& name, const std::string& issuer,
                        const std::string& basic_constraints, int days = 365) {
    WriteFile(dir_ / "ext.cnf",
              absl::StrCat("basicConstraints=critical,", basic_constraints,
                           "\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                           "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"));
    Openssl(absl::StrCat("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ", name,
                         "-key.pem -out ", name, ".csr -subj /O=example/CN=", name));
    Openssl(absl::StrCat("x509 -req -in ", name, ".csr -CA ", issuer, "-cert.pem -CAkey ", issuer,
                         "-key.pem -CAcreateserial -days ", days, " -extfile ext.cnf -out ", name,
                         "-cert.pem"));
  }

  absl::StatusOr<std::unique_ptr<CertificateAuthority>> Load() {
    auto cacerts = FileCaStorage::Open(dir_.path());
    if (!cacerts.ok()) return cacerts.status();
    return CertificateAuthority::LoadPlugged(**cacerts, state_, clock_, {});
  }

  TempDir dir_;
  ManualClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  MemoryCaStorage state_;
};

TEST_F(PluggedCaTest, IssuesUnderTheUsersIntermediate) {
  auto ca = Load();
  ASSERT_TRUE(ca.ok()) << ca.status();
  EvpPkeyPtr key = NewKey();
  auto issued = (*ca)->Sign(WorkloadCsr(key.get(), kFrontend), absl::Hours(1), kFrontend);
  ASSERT_TRUE(issued.ok()) << issued.status();
  ASSERT_EQ(issued->chain_pem.size(), 3u) << "leaf, intermediate, root";
  EXPECT_EQ(issued->chain_pem[2], ReadFile(dir_ / "root-cert.pem"));
  EXPECT_EQ((*ca)->TrustBundlePem(), ReadFile(dir_ / "root-cert.pem"));
  EXPECT_EQ(*state_.Read("root-cert.pem"), ReadFile(dir_ / "root-cert.pem"));
  TempDir verify_dir;
  auto verify = OpenSslVerify(verify_dir, issued->chain_pem, clock_.Now());
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  // Without the intermediate the leaf does not verify: it really is signed by it.
  auto without =
      RunCommand(absl::StrCat("openssl verify -CAfile ", (verify_dir / "root.pem").string(), " ",
                              (verify_dir / "leaf.pem").string()));
  EXPECT_NE(without.exit_code, 0);
  EXPECT_TRUE((*ca)->VerifyWorkloadCertificate(issued->chain_pem[0]).ok());
  EXPECT_EQ((*ca)->RotateRoot().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PluggedCaTest, KeyNotMatchingCertificate) {
  Openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem");
  auto ca = Load();
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ca.status().message()),
              HasSubstr("ca-key.pem: does not match ca-cert.pem"));
}

TEST_F(PluggedCaTest, IntermediateThatIsNotACa) {
  MakeIntermediate("ca", "root", "CA:FALSE");
  auto ca = Load();
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr("not a CA certificate"));
}

TEST_F(PluggedCaTest, IntermediateFromAnotherRoot) {
  Openssl(
      "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-key.pem "
      "-out other-cert.pem -days 3650 -subj /O=example/CN=user-root "
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
  MakeIntermediate("ca", "other", "CA:TRUE");
  auto ca = Load();
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr("does not chain to root-cert.pem"));
}

TEST_F(PluggedCaTest, ExpiredIntermediate) {
  clock_.Advance(absl::Hours(24 * 400));
  auto ca = Load();
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr("is not valid now"));
}

TEST_F(PluggedCaTest, MissingFile) {
  std::filesystem::remove(dir_ / "cert-chain.pem");
  auto ca = Load();
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ca.status().message()), HasSubstr("cert-chain.pem"));
}

// --- Root rotation ----------------------------------------------------------

TEST(RootRotationTest, OldRootTrustedUntilItsLastLeafExpires) {
  TempDir dir;
  ManualClock clock(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())));
  auto storage = FileCaStorage::Open(dir.path());
  ASSERT_TRUE(storage.ok());
  auto ca = CertificateAuthority::LoadOrCreate(**storage, clock, {});
  ASSERT_TRUE(ca.ok());
  EvpPkeyPtr key = NewKey();
  std::string csr = WorkloadCsr(key.get(), kFrontend);
  std::string old_root = (*ca)->ActiveRootPem();
  auto old_leaf = (*ca)->Sign(csr, absl::Hours(24 * 90), kFrontend);  // the longest possible
  ASSERT_TRUE(old_leaf.ok());

  clock.Advance(absl::Hours(1));
  ASSERT_TRUE((*ca)->RotateRoot().ok());
  std::string new_root = (*ca)->ActiveRootPem();
  EXPECT_NE(new_root, old_root);
  EXPECT_EQ((*ca)->TrustedRootsPem(), (std::vector<std::string>{new_root, old_root}));
  EXPECT_EQ(ReadFile(dir / "root-cert.pem"), new_root + old_root);

  // Re-issued workloads chain to the new root; both generations verify
  // against the bundle, with the real openssl and with the CA itself.
  auto new_leaf = (*ca)->Sign(csr, absl::Hours(24), kFrontend);
  ASSERT_TRUE(new_leaf.ok());
  EXPECT_EQ(new_leaf->chain_pem.back(), new_root);
  TempDir verify_dir;
  for (const auto* leaf : {&*old_leaf, &*new_leaf}) {
    auto verify =
        OpenSslVerify(verify_dir, leaf->chain_pem, clock.Now(), "", (*ca)->TrustBundlePem());
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_TRUE((*ca)->VerifyWorkloadCertificate(leaf->chain_pem[0]).ok());
  }
  auto only_new = OpenSslVerify(verify_dir, old_leaf->chain_pem, clock.Now(), "", new_root);
  EXPECT_NE(only_new.exit_code, 0) << "old leaves really need the old root";

  // A restart keeps both roots and the new signer.
  auto reloaded = CertificateAuthority::LoadOrCreate(**storage, clock, {});
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->TrustedRootsPem(), (std::vector<std::string>{new_root, old_root}));

  // Still trusted the moment before the last old leaf expires...
  clock.Advance(NotAfter(Cert(old_leaf->chain_pem[0]).get()) - clock.Now() - absl::Seconds(1));
  ASSERT_TRUE((*ca)->PruneRetiredRoots().ok());
  EXPECT_EQ((*ca)->TrustedRootsPem().size(), 2u);
  EXPECT_TRUE((*ca)->VerifyWorkloadCertificate(old_leaf->chain_pem[0]).ok());
  // ... and dropped once every leaf it could have signed has expired.
  clock.Advance(absl::Hours(2));
  auto dropped = (*ca)->PruneRetiredRoots();
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 1);
  EXPECT_EQ((*ca)->TrustedRootsPem(), std::vector<std::string>{new_root});
  EXPECT_EQ(ReadFile(dir / "root-cert.pem"), new_root);
}

}  // namespace
}  // namespace meshgate::ca
