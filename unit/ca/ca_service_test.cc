// The CSR service through real gRPC: an in-process server on 127.0.0.1:0 with
// TLS (the CA's own serving certificate) and real client stubs.
#include "ca/ca_service.h"

#include <grpcpp/grpcpp.h>

#include <map>

#include "absl/strings/str_join.h"
#include "ca/ca_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/ca/test_util.h"

namespace meshgate::ca {
namespace {

using ::meshgate::ca::testing::Cert;
using ::meshgate::ca::testing::CorruptSignature;
using ::meshgate::ca::testing::Csr;
using ::meshgate::ca::testing::NewKey;
using ::meshgate::ca::testing::NewRsaKey;
using ::meshgate::ca::testing::RunCommand;
using ::meshgate::ca::testing::TempDir;
using ::meshgate::ca::testing::WorkloadCsr;
using ::meshgate::ca::testing::WriteFile;
using ::testing::HasSubstr;

constexpr char kFrontend[] = "spiffe://cluster.local/ns/default/sa/frontend";
constexpr char kBackend[] = "spiffe://cluster.local/ns/default/sa/backend";
constexpr char kFrontendToken[] = "frontend-token-0123456789abcdef";

struct ClientCert {
  std::string key_pem;
  std::string chain_pem;
};

struct CallResult {
  grpc::Status status;
  istio::v1::auth::IstioCertificateResponse response;
  std::map<std::string, std::string> headers;
};

class CaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(storage_, clock_, {});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    auto tokens = BootstrapTokenAuthenticator::Parse(
        absl::StrCat("# bootstrap tokens\n", kFrontendToken, " ", kFrontend, "\n",
                     "backend-token-0123456789abcdef ", kBackend, "\n"));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    peers_ = std::make_unique<PeerCertificateAuthenticator>(*ca_);
  }

  void StartServer(CaServiceOptions options = {}) {
    service_ = std::make_unique<CaService>(
        *ca_, std::vector<const Authenticator*>{peers_.get(), tokens_.get()}, clock_, options);
    auto serving = ca_->IssueServingCertificate({"localhost"}, {"127.0.0.1"});
    ASSERT_TRUE(serving.ok()) << serving.status();
    auto server = CaServer::Start({.address = "127.0.0.1:0"}, *service_, *serving);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::shared_ptr<grpc::Channel> Channel(const ClientCert* client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_->TrustBundlePem();
    if (client_cert != nullptr) {
      ssl.pem_private_key = client_cert->key_pem;
      ssl.pem_cert_chain = client_cert->chain_pem;
    }
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                               grpc::SslCredentials(ssl));
  }

  CallResult Call(const std::string& csr, int64_t ttl_seconds,
                  std::optional<std::string> authorization = absl::StrCat("Bearer ",
                                                                          kFrontendToken),
                  const ClientCert* client_cert = nullptr) {
    auto stub = istio::v1::auth::IstioCertificateService::NewStub(Channel(client_cert));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (authorization) context.AddMetadata("authorization", *authorization);
    istio::v1::auth::IstioCertificateRequest request;
    request.set_csr(csr);
    request.set_validity_duration(ttl_seconds);
    CallResult result;
    result.status = stub->CreateCertificate(&context, request, &result.response);
    for (const auto& [key, value] : context.GetServerInitialMetadata()) {
      result.headers[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
    }
    return result;
  }

  // A certificate + key for `id` obtained through the service with a token.
  ClientCert Obtain(const std::string& id, const std::string& token) {
    EvpPkeyPtr key = NewKey();
    CallResult result = Call(WorkloadCsr(key.get(), id), 3600, absl::StrCat("Bearer ", token));
    EXPECT_TRUE(result.status.ok()) << result.status.error_message();
    return ClientCert{*PrivateKeyToPem(key.get()), absl::StrJoin(result.response.cert_chain(), "")};
  }

  void ExpectStillServing() {
    EvpPkeyPtr key = NewKey();
    CallResult ok = Call(WorkloadCsr(key.get(), kFrontend), 0);
    EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  }

  ManualClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  MemoryCaStorage storage_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<BootstrapTokenAuthenticator> tokens_;
  std::unique_ptr<PeerCertificateAuthenticator> peers_;
  std::unique_ptr<CaService> service_;
  std::unique_ptr<CaServer> server_;
};

TEST_F(CaServiceTest, IssuesWorkloadCertificateOverTls) {
  StartServer();
  EvpPkeyPtr key = NewKey();
  CallResult result = Call(WorkloadCsr(key.get(), kFrontend), 3600);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.response.cert_chain_size(), 2);
  X509Ptr leaf = Cert(result.response.cert_chain(0));
  EXPECT_EQ(UriSans(leaf.get()), std::vector<std::string>{kFrontend});
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(result.response.cert_chain(1), ca_->ActiveRootPem());
  EXPECT_EQ(result.headers[std::string(kGrantedTtlHeader)], "3600");
  EXPECT_EQ(result.headers.count(std::string(kTtlClampedHeader)), 0u);

  TempDir dir;
  WriteFile(dir / "leaf.pem", result.response.cert_chain(0));
  WriteFile(dir / "root.pem", result.response.cert_chain(1));
  auto verify = RunCommand(absl::StrCat("openssl verify -CAfile ", (dir / "root.pem").string(),
                                        " -untrusted ", (dir / "root.pem").string(), " ",
                                        (dir / "leaf.pem").string()));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

TEST_F(CaServiceTest, BadInputGetsItsStatusAndTheServiceKeepsServing) {
  StartServer({.per_caller_rate = {.per_second = 0, .burst = 1000},
               .unauthenticated_rate = {.per_second = 0, .burst = 1000}});
  EvpPkeyPtr key = NewKey();
  EvpPkeyPtr rsa1024 = NewRsaKey(1024);
  const std::string bearer = absl::StrCat("Bearer ", kFrontendToken);
  struct Case {
    std::string name;
    std::string csr;
    int64_t ttl;
    std::optional<std::string> authorization;
    grpc::StatusCode code;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"malformed CSR bytes", "MIIBgarbage; not a CSR", 0, bearer, grpc::INVALID_ARGUMENT,
       "not a well-formed PKCS#10"},
      {"identity of another workload", WorkloadCsr(key.get(), kBackend), 0, bearer,
       grpc::PERMISSION_DENIED, "but the caller is authenticated as"},
      {"two URI SANs", Csr(key.get(), {.uri_sans = {kFrontend, kBackend}}), 0, bearer,
       grpc::INVALID_ARGUMENT, "exactly one URI SAN"},
      {"DNS SAN", Csr(key.get(), {.uri_sans = {kFrontend}, .dns_sans = {"frontend.default.svc"}}),
       0, bearer, grpc::INVALID_ARGUMENT, "DNS name"},
      {"RSA-1024", WorkloadCsr(rsa1024.get(), kFrontend), 0, bearer, grpc::INVALID_ARGUMENT,
       "1024 bits is too small"},
      {"invalid signature", CorruptSignature(WorkloadCsr(key.get(), kFrontend)), 0, bearer,
       grpc::INVALID_ARGUMENT, "signature does not verify"},
      {"negative TTL", WorkloadCsr(key.get(), kFrontend), -60, bearer, grpc::INVALID_ARGUMENT,
       "validity_duration: negative"},
      {"TTL below minimum", WorkloadCsr(key.get(), kFrontend), 60, bearer, grpc::INVALID_ARGUMENT,
       "below the minimum"},
      {"no credentials", WorkloadCsr(key.get(), kFrontend), 0, std::nullopt, grpc::UNAUTHENTICATED,
       "no credentials"},
      {"unknown token", WorkloadCsr(key.get(), kFrontend), 0, "Bearer not-a-real-token-xxxxxxxx",
       grpc::UNAUTHENTICATED, "bearer token not recognised"},
      {"not a bearer scheme", WorkloadCsr(key.get(), kFrontend), 0,
       absl::StrCat("Basic ", kFrontendToken), grpc::UNAUTHENTICATED, "not recognised"},
      {"CSR over the size limit", std::string(20000, 'A'), 0, bearer, grpc::RESOURCE_EXHAUSTED,
       "exceeds the 16384-byte limit"},
      {"request over the message limit", std::string(200000, 'A'), 0, bearer,
       grpc::RESOURCE_EXHAUSTED, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CallResult result = Call(c.csr, c.ttl, c.authorization);
    EXPECT_EQ(result.status.error_code(), c.code) << result.status.error_message();
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.reason));
    EXPECT_EQ(result.response.cert_chain_size(), 0);
    EXPECT_THAT(result.status.error_message(), ::testing::Not(HasSubstr(kFrontendToken)));
    ExpectStillServing();
  }
}

TEST_F(CaServiceTest, ZeroTtlMeansDefaultAndTenYearsIsClamped) {
  StartServer();
  EvpPkeyPtr key = NewKey();
  CallResult by_default = Call(WorkloadCsr(key.get(), kFrontend), 0);
  ASSERT_TRUE(by_default.status.ok()) << by_default.status.error_message();
  EXPECT_EQ(by_default.headers[std::string(kGrantedTtlHeader)], "86400");
  EXPECT_EQ(NotAfter(Cert(by_default.response.cert_chain(0)).get()),
            clock_.Now() + absl::Hours(24));

  CallResult ten_years = Call(WorkloadCsr(key.get(), kFrontend), int64_t{10} * 365 * 24 * 3600);
  ASSERT_TRUE(ten_years.status.ok()) << ten_years.status.error_message();
  EXPECT_EQ(ten_years.headers[std::string(kTtlClampedHeader)], "true");
  EXPECT_EQ(ten_years.headers[std::string(kGrantedTtlHeader)], "7776000");
  EXPECT_EQ(NotAfter(Cert(ten_years.response.cert_chain(0)).get()),
            clock_.Now() + absl::Hours(24 * 90));
}

TEST_F(CaServiceTest, RenewalAuthenticatedByThePreviouslyIssuedCertificate) {
  StartServer();
  ClientCert frontend = Obtain(kFrontend, kFrontendToken);
  EvpPkeyPtr key = NewKey();
  CallResult renewed = Call(WorkloadCsr(key.get(), kFrontend), 3600, std::nullopt, &frontend);
  ASSERT_TRUE(renewed.status.ok()) << renewed.status.error_message();
  EXPECT_EQ(UriSans(Cert(renewed.response.cert_chain(0)).get()),
            std::vector<std::string>{kFrontend});

  // The certificate speaks for its own identity only.
  CallResult other = Call(WorkloadCsr(key.get(), kBackend), 3600, std::nullopt, &frontend);
  EXPECT_EQ(other.status.error_code(), grpc::PERMISSION_DENIED);

  // A certificate from another CA is not a credential here, even with a
  // matching SPIFFE ID.
  MemoryCaStorage other_storage;
  auto other_ca = CertificateAuthority::LoadOrCreate(other_storage, clock_, {});
  ASSERT_TRUE(other_ca.ok());
  EvpPkeyPtr foreign_key = NewKey();
  auto foreign =
      (*other_ca)->Sign(WorkloadCsr(foreign_key.get(), kFrontend), absl::Hours(1), kFrontend);
  ASSERT_TRUE(foreign.ok());
  ClientCert foreign_cert{*PrivateKeyToPem(foreign_key.get()),
                          absl::StrJoin(foreign->chain_pem, "")};
  CallResult rejected = Call(WorkloadCsr(key.get(), kFrontend), 3600, std::nullopt, &foreign_cert);
  EXPECT_EQ(rejected.status.error_code(), grpc::UNAUTHENTICATED) << rejected.status.error_message();
  EXPECT_THAT(rejected.status.error_message(), HasSubstr("peer-certificate"));

  // Once the held certificate has expired (CA clock), it no longer renews.
  clock_.Advance(absl::Hours(2));
  CallResult expired = Call(WorkloadCsr(key.get(), kFrontend), 3600, std::nullopt, &frontend);
  EXPECT_EQ(expired.status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(expired.status.error_message(), HasSubstr("expired"));
}

TEST_F(CaServiceTest, RateLimitsPerCallerOnTheInjectedClock) {
  StartServer({.per_caller_rate = {.per_second = 1, .burst = 3},
               .unauthenticated_rate = {.per_second = 1, .burst = 2}});
  EvpPkeyPtr key = NewKey();
  std::string csr = WorkloadCsr(key.get(), kFrontend);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Call(csr, 0).status.ok()) << i;
  CallResult limited = Call(csr, 0);
  EXPECT_EQ(limited.status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_THAT(limited.status.error_message(), HasSubstr("rate limit exceeded for"));
  // Another caller has its own bucket.
  EvpPkeyPtr backend_key = NewKey();
  EXPECT_TRUE(
      Call(WorkloadCsr(backend_key.get(), kBackend), 0, "Bearer backend-token-0123456789abcdef")
          .status.ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(Call(csr, 0).status.ok());
  EXPECT_EQ(Call(csr, 0).status.error_code(), grpc::RESOURCE_EXHAUSTED);

  // Failed authentications are limited per address.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Call(csr, 0, "Bearer wrong-token-0123456789").status.error_code(),
              grpc::UNAUTHENTICATED);
  }
  EXPECT_EQ(Call(csr, 0, "Bearer wrong-token-0123456789").status.error_code(),
            grpc::RESOURCE_EXHAUSTED);
}

TEST_F(CaServiceTest, TrustBundleServiceFollowsRootRotation) {
  StartServer();
  auto stub = meshgate::ca::v1::TrustBundleService::NewStub(Channel(nullptr));
  auto fetch = [&] {
    grpc::ClientContext context;
    meshgate::ca::v1::GetTrustBundleResponse response;
    grpc::Status status = stub->GetTrustBundle(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  auto before = fetch();
  EXPECT_EQ(before.trust_domain(), "cluster.local");
  ASSERT_EQ(before.roots_size(), 1);
  EXPECT_EQ(before.roots(0), ca_->ActiveRootPem());
  ASSERT_TRUE(ca_->RotateRoot().ok());
  auto after = fetch();
  ASSERT_EQ(after.roots_size(), 2);
  EXPECT_EQ(after.roots(0), ca_->ActiveRootPem());
  EXPECT_EQ(after.roots(1), before.roots(0));
}

TEST(BootstrapTokenTest, FileErrorsNameTheLineAndNeverTheToken) {
  auto bad = BootstrapTokenAuthenticator::Parse("\n# comment\nsecret-token-abcdefghijkl\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 3"));
  EXPECT_THAT(std::string(bad.status().message()), ::testing::Not(HasSubstr("secret-token")));
  auto bad_id = BootstrapTokenAuthenticator::Parse("secret-token-abcdefghijkl spiffe://x/y\n");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_THAT(std::string(bad_id.status().message()), HasSubstr("line 1"));
  EXPECT_THAT(std::string(bad_id.status().message()), ::testing::Not(HasSubstr("secret-token")));
  EXPECT_FALSE(BootstrapTokenAuthenticator::Parse("short spiffe://cluster.local/ns/a/sa/b").ok());

  TempDir dir;
  WriteFile(dir / "tokens",
            "aaaaaaaaaaaaaaaa1 spiffe://cluster.local/ns/a/sa/one\n"
            "aaaaaaaaaaaaaaaa2\tspiffe://cluster.local/ns/a/sa/two\n");
  auto tokens = BootstrapTokenAuthenticator::LoadFile(dir / "tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ((*tokens)->size(), 2u);
  EXPECT_EQ(*(*tokens)->Authenticate({.bearer_token = "aaaaaaaaaaaaaaaa2"}),
            "spiffe://cluster.local/ns/a/sa/two");
  EXPECT_EQ((*tokens)->Authenticate({.bearer_token = "aaaaaaaaaaaaaaaa"}).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*tokens)->Authenticate({}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(BootstrapTokenAuthenticator::LoadFile(dir / "missing").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace meshgate::ca
