// The CA's serving certificate across a root rotation, over real TLS: the
// server swaps its certificate for one of the new root on the same port, and
// a GrpcCsrClient told the new roots renews through it, while one that still
// trusts only the old root is refused; the keeper renews it at half its
// lifetime on an injected clock.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "ca/authenticator.h"
#include "ca/ca_server.h"
#include "ca/ca_service.h"
#include "ca/certificate_authority.h"
#include "ca/csr.h"
#include "ca/openssl_util.h"
#include "ca/rotator.h"
#include "ca/storage.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace meshgate::ca {
namespace {

constexpr char kId[] = "spiffe://cluster.local/ns/shop/sa/cart";
constexpr char kToken[] = "cart-bootstrap-token-42";
constexpr char kServerName[] = "meshgate-operator.meshgate-system.svc";

class CaServerReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(storage_, clock_, {});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(*ca);
    auto tokens = BootstrapTokenAuthenticator::Parse(absl::StrCat(kToken, " ", kId));
    ASSERT_TRUE(tokens.ok());
    tokens_ = std::move(*tokens);
    peers_ = std::make_unique<PeerCertificateAuthenticator>(*ca_);
    service_ = std::make_unique<CaService>(
        *ca_, std::vector<const Authenticator*>{peers_.get(), tokens_.get()}, clock_);
    auto serving = ca_->IssueServingCertificate({kServerName}, {});
    ASSERT_TRUE(serving.ok());
    auto server = CaServer::Start({.address = "127.0.0.1:0"}, *service_, *serving);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // A bootstrap CSR call (token, no client certificate) through `client`.
  absl::Status Call(GrpcCsrClient& client) {
    auto key = GenerateKey(KeyAlgorithm::kEcdsaP256);
    if (!key.ok()) return key.status();
    auto csr = BuildCsrPem(key->get(), {.uri_sans = {kId}});
    if (!csr.ok()) return csr.status();
    return client.CreateCertificate(*csr, absl::Hours(1), nullptr).status();
  }

  GrpcCsrClient::Options ClientOptions(std::string root_pem) const {
    return {.target = absl::StrCat("127.0.0.1:", server_->port()),
            .root_pem = std::move(root_pem),
            .bearer_token = kToken,
            .server_name_override = kServerName};
  }

  ManualClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  MemoryCaStorage storage_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<BootstrapTokenAuthenticator> tokens_;
  std::unique_ptr<PeerCertificateAuthenticator> peers_;
  std::unique_ptr<CaService> service_;
  std::unique_ptr<CaServer> server_;
};

TEST_F(CaServerReloadTest, ServesTheNewRootsCertificateOnTheSamePort) {
  const std::string old_root = ca_->ActiveRootPem();
  GrpcCsrClient old_only(ClientOptions(old_root));
  ASSERT_TRUE(Call(old_only).ok());

  auto staged = ca_->StageNextRoot();
  ASSERT_TRUE(staged.ok()) << staged.status();
  ASSERT_TRUE(ca_->RotateRoot().ok());
  const std::string new_root = ca_->ActiveRootPem();
  ASSERT_EQ(new_root, *staged);
  GrpcCsrClient new_only(ClientOptions(new_root));
  EXPECT_FALSE(Call(new_only).ok()) << "still the old root's serving certificate";

  const int port = server_->port();
  auto serving = ca_->IssueServingCertificate({kServerName}, {});
  ASSERT_TRUE(serving.ok());
  ASSERT_TRUE(server_->Reload(*serving).ok());
  EXPECT_EQ(server_->port(), port);
  EXPECT_TRUE(Call(new_only).ok()) << "the new root's certificate, on the same port";
  absl::Status refused = Call(old_only);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
}

TEST_F(CaServerReloadTest, AClientToldTheNewBundleFollowsTheRotation) {
  const std::string old_root = ca_->ActiveRootPem();
  GrpcCsrClient client(ClientOptions(old_root));
  ASSERT_TRUE(Call(client).ok());
  ASSERT_TRUE(ca_->StageNextRoot().ok());
  ASSERT_TRUE(ca_->RotateRoot().ok());
  auto serving = ca_->IssueServingCertificate({kServerName}, {});
  ASSERT_TRUE(serving.ok());
  ASSERT_TRUE(server_->Reload(*serving).ok());
  EXPECT_FALSE(Call(client).ok());
  // What a proxy does with the ROOTCA bundle it gets over SDS.
  client.SetRootPem(absl::StrCat(old_root, "\n", ca_->ActiveRootPem()));
  EXPECT_TRUE(Call(client).ok());
}

TEST_F(CaServerReloadTest, NoReloadAfterShutdown) {
  server_->Shutdown();
  auto serving = ca_->IssueServingCertificate({kServerName}, {});
  ASSERT_TRUE(serving.ok());
  EXPECT_EQ(server_->Reload(*serving).code(), absl::StatusCode::kFailedPrecondition);
  server_->Shutdown();  // again: harmless
}

TEST_F(CaServerReloadTest, KeeperRenewsAtHalfTheLifetimeOrWhenForced) {
  auto current = ca_->IssueServingCertificate({kServerName}, {}, absl::Hours(10));
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(server_->Reload(*current).ok());
  int issued = 0;
  bool fail = false;
  ServingCertificateKeeper keeper(
      *server_,
      [&]() -> absl::StatusOr<ServingCertificate> {
        ++issued;
        if (fail) return absl::UnavailableError("no signer");
        return ca_->IssueServingCertificate({kServerName}, {}, absl::Hours(10));
      },
      clock_, *current);
  auto leaf = CertificateFromPem(current->chain_pem.front());
  ASSERT_TRUE(leaf.ok());
  const absl::Time half =
      NotBefore(leaf->get()) + (NotAfter(leaf->get()) - NotBefore(leaf->get())) / 2;
  EXPECT_EQ(keeper.renew_at(), half);

  clock_.Advance(half - clock_.Now() - absl::Seconds(1));
  EXPECT_EQ(keeper.Refresh(/*force=*/false).value_or(true), false);
  EXPECT_EQ(issued, 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(keeper.Refresh(/*force=*/false).value_or(false), true);
  EXPECT_EQ(issued, 1);
  EXPECT_GT(keeper.renew_at(), clock_.Now() + absl::Hours(4)) << "half of the new lifetime";
  // (What the server presents after a Reload is checked over TLS above; here
  // the certificates are dated on the manual clock, hours ahead of OpenSSL's.)

  // A rotation forces one; a failure is retried a minute later.
  fail = true;
  EXPECT_FALSE(keeper.Refresh(/*force=*/true).ok());
  EXPECT_EQ(issued, 2);
  EXPECT_EQ(keeper.renew_at(), clock_.Now() + absl::Minutes(1));
  fail = false;
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(keeper.Refresh(/*force=*/false).value_or(false), true);
  EXPECT_EQ(issued, 3);
}

}  // namespace
}  // namespace meshgate::ca
