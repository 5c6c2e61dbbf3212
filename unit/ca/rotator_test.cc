// Client-side rotation driven by an injected clock: nothing sleeps.
#include "ca/rotator.h"

#include <set>

#include "ca/authenticator.h"
#include "ca/ca_server.h"
#include "ca/certificate_authority.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/ca/test_util.h"

namespace meshgate::ca {
namespace {

using ::meshgate::ca::testing::Cert;

constexpr char kId[] = "spiffe://cluster.local/ns/shop/sa/cart";

// Delivers CSRs straight to an in-process CA as `identity` (the transport's
// authentication is tested with the real gRPC service below and in
// ca_service_test); can be switched off to simulate an unreachable CA.
class InProcessCsrClient final : public CsrClient {
 public:
  InProcessCsrClient(const CertificateAuthority& ca, std::string identity)
      : ca_(ca), identity_(std::move(identity)) {}
  absl::StatusOr<std::vector<std::string>> CreateCertificate(absl::string_view csr_pem,
                                                             absl::Duration ttl,
                                                             const WorkloadCertificate*) override {
    ++attempts;
    if (!available) return absl::UnavailableError("connection refused");
    auto issued = ca_.Sign(csr_pem, ttl, identity_);
    if (!issued.ok()) return issued.status();
    return issued->chain_pem;
  }
  bool available = true;
  int attempts = 0;

 private:
  const CertificateAuthority& ca_;
  std::string identity_;
};

class RotatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(storage_, clock_, {});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    client_ = std::make_unique<InProcessCsrClient>(*ca_, kId);
    rotator_ = std::make_unique<CertificateRotator>(CertificateRotator::Options{.spiffe_id = kId},
                                                    *client_, clock_, /*seed=*/7);
  }

  // Moves the clock to `when` (if in the future) and ticks.
  absl::Time TickAt(absl::Time when) {
    if (when > clock_.Now()) clock_.Advance(when - clock_.Now());
    return rotator_->Tick();
  }

  ManualClock clock_;
  MemoryCaStorage storage_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<InProcessCsrClient> client_;
  std::unique_ptr<CertificateRotator> rotator_;
};

TEST_F(RotatorTest, RenewsAtAboutHalfTheLifetimeWithNoExpiryGap) {
  EXPECT_EQ(rotator_->Current(), nullptr);
  absl::Time next = rotator_->Tick();
  auto first = rotator_->Current();
  ASSERT_NE(first, nullptr) << rotator_->last_error();
  X509Ptr leaf = Cert(first->chain_pem.front());
  EXPECT_EQ(UriSans(leaf.get()), std::vector<std::string>{kId});
  auto key = PrivateKeyFromPem(first->private_key_pem);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(X509_check_private_key(leaf.get(), key->get()), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key->get()), EVP_PKEY_EC);
  const absl::Duration lifetime = first->not_after - first->not_before;
  EXPECT_GE(next, first->not_before + lifetime * 0.5);
  EXPECT_LE(next, first->not_before + lifetime * 0.6);

  // Ten days of simulated time: at every step the held certificate is valid,
  // and it is replaced while at least 40% of the lifetime it had on arrival
  // remains (notBefore is backdated; that part never counted).
  int renewals = 0;
  absl::Time held_since = clock_.Now();
  const absl::Time end = clock_.Now() + absl::Hours(240);
  while (clock_.Now() < end) {
    auto held = rotator_->Current();
    clock_.Advance(next - clock_.Now() - absl::Seconds(1));
    ASSERT_NE(rotator_->Current(), nullptr) << "gap before renewal at " << clock_.Now();
    EXPECT_EQ(rotator_->Current(), held);
    next = TickAt(next);
    auto renewed = rotator_->Current();
    ASSERT_NE(renewed, nullptr);
    ASSERT_NE(renewed, held);
    EXPECT_GE(held->not_after - clock_.Now(), (held->not_after - held_since) * 0.4);
    held_since = clock_.Now();
    EXPECT_GT(renewed->not_after, held->not_after);
    ++renewals;
  }
  EXPECT_GE(renewals, 16);  // 240 h / (0.5..0.6 of ~24 h)
  EXPECT_LE(renewals, 20);
  EXPECT_EQ(client_->attempts, renewals + 1);
}

TEST(ShortLivedRotatorTest, ALifetimeShorterThanTheBackdatingRenewsAtHalfWhatIsLeft) {
  // 12 s certificates backdated by 5 min: timed from notBefore, renewal
  // would be overdue on arrival and repeat on every tick.
  ManualClock clock;
  MemoryCaStorage storage;
  CaOptions options;
  options.min_ttl = absl::Seconds(10);
  auto ca = CertificateAuthority::LoadOrCreate(storage, clock, options);
  ASSERT_TRUE(ca.ok()) << ca.status();
  InProcessCsrClient client(**ca, kId);
  CertificateRotator rotator({.spiffe_id = kId, .requested_ttl = absl::Seconds(12)}, client, clock,
                             /*seed=*/7);
  const absl::Time start = clock.Now();
  absl::Time next = rotator.Tick();
  auto held = rotator.Current();
  ASSERT_NE(held, nullptr) << rotator.last_error();
  EXPECT_LT(held->not_before, start - absl::Seconds(12)) << "backdated by more than the TTL";
  EXPECT_GE(next, start + absl::Seconds(6));
  EXPECT_LE(next, start + absl::Seconds(8));
  // Ticks before then do nothing; one at `next` renews once.
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(rotator.Tick(), next);
  EXPECT_EQ(client.attempts, 1);
  clock.Advance(next - clock.Now());
  rotator.Tick();
  EXPECT_EQ(client.attempts, 2);
  EXPECT_NE(rotator.Current(), held);
}

TEST_F(RotatorTest, RetriesWithBackoffWhileTheCaIsDownAndKeepsTheCertificate) {
  absl::Time next = rotator_->Tick();
  auto held = rotator_->Current();
  ASSERT_NE(held, nullptr);
  client_->available = false;

  std::vector<absl::Duration> intervals;
  absl::Time attempt = next;
  while (attempt < held->not_after - absl::Hours(1)) {
    absl::Time retry = TickAt(attempt);
    EXPECT_EQ(rotator_->last_error().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(rotator_->Current(), held) << "the held certificate is kept while valid";
    intervals.push_back(retry - attempt);
    attempt = retry;
  }
  ASSERT_GE(intervals.size(), 10u);
  // Exponential: 1 s, 2 s, 4 s, ... each with jitter in [50%, 100%], capped at 5 min.
  absl::Duration ceiling = absl::Seconds(1);
  for (size_t i = 0; i < intervals.size(); ++i) {
    EXPECT_GE(intervals[i], ceiling / 2) << "retry " << i;
    EXPECT_LE(intervals[i], ceiling) << "retry " << i;
    ceiling = std::min(ceiling * 2, absl::Minutes(5));
  }

  client_->available = true;
  TickAt(attempt);
  auto renewed = rotator_->Current();
  ASSERT_NE(renewed, nullptr);
  EXPECT_NE(renewed, held);
  EXPECT_TRUE(rotator_->last_error().ok());
  EXPECT_GT(renewed->not_after, held->not_after);
  EXPECT_LT(clock_.Now(), held->not_after) << "renewed before the old one expired: no gap";
}

TEST_F(RotatorTest, CertificateIsDroppedOnlyWhenItActuallyExpires) {
  rotator_->Tick();
  auto held = rotator_->Current();
  ASSERT_NE(held, nullptr);
  client_->available = false;
  absl::Time attempt = rotator_->next_attempt();
  while (attempt < held->not_after + absl::Minutes(30)) {
    if (attempt < held->not_after) {
      clock_.Advance(attempt - clock_.Now());
      EXPECT_EQ(rotator_->Current(), held);
    }
    attempt = TickAt(attempt);
  }
  clock_.Advance(held->not_after - clock_.Now() - absl::Seconds(1));
  EXPECT_EQ(rotator_->Current(), held);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(rotator_->Current(), nullptr) << "an expired certificate is useless to peers";
  client_->available = true;
  TickAt(attempt);
  EXPECT_NE(rotator_->Current(), nullptr);
}

TEST(RenewalScheduleTest, JitterStaysInItsWindowAndDependsOnTheSeed) {
  const absl::Time nb = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time na = nb + absl::Hours(24);
  std::set<int64_t> distinct;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    RenewalSchedule schedule({}, seed);
    absl::Time at = schedule.OnIssued(nb, na);
    EXPECT_GE(at, nb + absl::Hours(12));
    EXPECT_LE(at, nb + absl::Hours(24) * 0.6);
    distinct.insert(absl::ToUnixSeconds(at));
  }
  EXPECT_GT(distinct.size(), 150u) << "a fleet must not renew in lock-step";
  RenewalSchedule a({}, 5), b({}, 5);
  EXPECT_EQ(a.OnIssued(nb, na), b.OnIssued(nb, na));
  // Success resets the backoff.
  RenewalSchedule s({}, 1);
  for (int i = 0; i < 12; ++i) s.OnFailure(nb);
  EXPECT_GE(s.OnFailure(nb) - nb, absl::Minutes(2.5));
  s.OnIssued(nb, na);
  EXPECT_LE(s.OnFailure(nb) - nb, absl::Seconds(1));
}

TEST(GrpcRotationTest, BootstrapsWithTokenAndRenewsOverTls) {
  ManualClock clock{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  MemoryCaStorage storage;
  auto ca = CertificateAuthority::LoadOrCreate(storage, clock, {});
  ASSERT_TRUE(ca.ok());
  auto tokens = BootstrapTokenAuthenticator::Parse(absl::StrCat("cart-bootstrap-token-42 ", kId));
  ASSERT_TRUE(tokens.ok());
  PeerCertificateAuthenticator peers(**ca);
  CaService service(**ca, {&peers, tokens->get()}, clock);
  auto serving = (*ca)->IssueServingCertificate({"meshgate-operator.meshgate-system.svc"}, {});
  ASSERT_TRUE(serving.ok());
  auto server = CaServer::Start({.address = "127.0.0.1:0"}, service, *serving);
  ASSERT_TRUE(server.ok()) << server.status();

  GrpcCsrClient client({.target = absl::StrCat("127.0.0.1:", (*server)->port()),
                        .root_pem = (*ca)->TrustBundlePem(),
                        .bearer_token = "cart-bootstrap-token-42",
                        .server_name_override = "meshgate-operator.meshgate-system.svc"});
  CertificateRotator rotator({.spiffe_id = kId, .requested_ttl = absl::Hours(2)}, client, clock, 1);
  absl::Time next = rotator.Tick();
  auto first = rotator.Current();
  ASSERT_NE(first, nullptr) << rotator.last_error();
  EXPECT_EQ(first->not_after - clock.Now(), absl::Hours(2));
  EXPECT_EQ(first->chain_pem.back(), (*ca)->ActiveRootPem());

  clock.Advance(next - clock.Now());
  rotator.Tick();
  auto second = rotator.Current();
  ASSERT_NE(second, nullptr) << rotator.last_error();
  EXPECT_NE(second->chain_pem.front(), first->chain_pem.front());
  EXPECT_TRUE(rotator.last_error().ok());

  // The CA going away leaves the current certificate in place and a retry scheduled.
  (*server)->Shutdown();
  clock.Advance(rotator.next_attempt() - clock.Now());
  absl::Time retry = rotator.Tick();
  EXPECT_EQ(rotator.last_error().code(), absl::StatusCode::kUnavailable) << rotator.last_error();
  EXPECT_EQ(rotator.Current(), second);
  EXPECT_LE(retry - clock.Now(), absl::Seconds(1));
}

}  // namespace
}  // namespace meshgate::ca
