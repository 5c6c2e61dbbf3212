#include "operator/trust_roots.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ca/certificate_authority.h"
#include "ca/openssl_util.h"
#include "ca/storage.h"
#include "common/clock.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "operator/operator.h"
#include "xds-server/resource.h"
#include "xds-server/status_tracker.h"

namespace meshgate::operator_ {
namespace {

using ::testing::HasSubstr;

// Standard output of a shell command.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  pclose(pipe);
  return out;
}

class TrustRootManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca::CaOptions options;
    options.max_ttl = absl::Hours(1);
    options.backdate = absl::Minutes(1);
    auto authority = ca::CertificateAuthority::LoadOrCreate(storage_, clock_, options);
    ASSERT_TRUE(authority.ok()) << authority.status();
    authority_ = std::move(*authority);
    manager_ = std::make_unique<TrustRootManager>(*authority_, [this] {
      // What XdsPublisher::Republish reads: the bundle at the time of the push.
      std::lock_guard lock(pushed_mu_);
      pushed_.push_back(authority_->TrustedRootsPem().size());
    });
  }

  ManualClock clock_;
  ca::MemoryCaStorage storage_;
  std::unique_ptr<ca::CertificateAuthority> authority_;
  std::unique_ptr<TrustRootManager> manager_;
  std::mutex pushed_mu_;        // the pruning thread pushes too
  std::vector<size_t> pushed_;  // bundle sizes seen by each republish
};

TEST_F(TrustRootManagerTest, RotateMakesTheNewRootTrustedEverywhereBeforeItSigns) {
  const std::string old_pem = authority_->ActiveRootPem();
  auto old_root = ca::Sha256Fingerprint(old_pem);
  int asked = 0;
  std::string staged_pem;
  TrustRootManager manager(
      *authority_,
      [this] {
        std::lock_guard lock(pushed_mu_);
        pushed_.push_back(authority_->TrustedRootsPem().size());
      },
      [&](const std::string& root_pem) {
        staged_pem = root_pem;
        // While the proxies catch up: both roots trusted, the old one signing.
        EXPECT_EQ(authority_->ActiveRootPem(), old_pem);
        EXPECT_EQ(authority_->TrustedRootsPem(), (std::vector<std::string>{old_pem, root_pem}));
        EXPECT_EQ(pushed_, std::vector<size_t>{2}) << "pushed before waiting";
        return ++asked == 3;  // the third look finds every proxy up to date
      });
  auto rotated = manager.Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(asked, 3);
  EXPECT_EQ(authority_->ActiveRootPem(), staged_pem);
  EXPECT_NE(*rotated, *old_root);
  EXPECT_EQ(*rotated, *ca::Sha256Fingerprint(staged_pem));
  EXPECT_EQ(pushed_, (std::vector<size_t>{2, 2}));
}

TEST_F(TrustRootManagerTest, RotateDoesNotWaitForeverForSilentProxies) {
  const std::string old_pem = authority_->ActiveRootPem();
  TrustRootManager manager(
      *authority_, [] {}, [](const std::string&) { return false; }, absl::Milliseconds(50));
  auto rotated = manager.Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(authority_->ActiveRootPem(), old_pem);
  EXPECT_EQ(authority_->TrustedRootsPem().size(), 2u);
}

TEST_F(TrustRootManagerTest, DescribeListsActiveAndRetiredRoots) {
  auto old_root = ca::Sha256Fingerprint(authority_->ActiveRootPem());
  auto rotated = manager_->Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(pushed_, (std::vector<size_t>{2, 2}));

  auto described = nlohmann::json::parse(manager_->Describe());
  ASSERT_EQ(described["roots"].size(), 2u);
  EXPECT_EQ(described["roots"][0]["sha256"], *rotated);
  EXPECT_EQ(described["roots"][0]["active"], true);
  EXPECT_FALSE(described["roots"][0].contains("drop_after"));
  EXPECT_EQ(described["roots"][1]["sha256"], *old_root);
  EXPECT_EQ(described["roots"][1]["active"], false);
  // Rotation time + max_ttl + backdate, on the manual clock.
  EXPECT_EQ(
      described["roots"][1]["drop_after"],
      absl::FormatTime(absl::RFC3339_sec, clock_.Now() + absl::Minutes(61), absl::UTCTimeZone()));
}

TEST_F(TrustRootManagerTest, PruneDropsRetiredRootsOnlyAfterTheirDropTime) {
  ASSERT_TRUE(manager_->Rotate().ok());
  pushed_.clear();
  clock_.Advance(absl::Minutes(60));
  auto pruned = manager_->PruneDue();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 0);
  EXPECT_TRUE(pushed_.empty()) << "nothing changed, nothing to push";
  EXPECT_EQ(authority_->TrustedRootsPem().size(), 2u);

  clock_.Advance(absl::Minutes(1));
  pruned = manager_->PruneDue();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(pushed_, std::vector<size_t>{1});
  EXPECT_EQ(authority_->TrustedRootsPem(), std::vector<std::string>{authority_->ActiveRootPem()});
}

TEST_F(TrustRootManagerTest, TwoRotationsKeepEachRetiredRootUntilItsOwnDropTime) {
  ASSERT_TRUE(manager_->Rotate().ok());
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(manager_->Rotate().ok());
  EXPECT_EQ(authority_->TrustedRootsPem().size(), 3u);
  clock_.Advance(absl::Minutes(31));  // the first root is due, the second not
  ASSERT_EQ(*manager_->PruneDue(), 1);
  EXPECT_EQ(authority_->TrustedRootsPem().size(), 2u);
  clock_.Advance(absl::Minutes(30));
  ASSERT_EQ(*manager_->PruneDue(), 1);
  EXPECT_EQ(authority_->TrustedRootsPem().size(), 1u);
  EXPECT_EQ(pushed_, (std::vector<size_t>{2, 2, 3, 3, 2, 1}));
}

TEST_F(TrustRootManagerTest, ThePruningThreadDropsDueRootsByItself) {
  ASSERT_TRUE(manager_->Rotate().ok());
  manager_->StartPruning(absl::Milliseconds(5));
  clock_.Advance(absl::Minutes(61));
  // The thread wakes in real time; the drop is decided on the manual clock.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (authority_->TrustedRootsPem().size() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  manager_->Stop();
  EXPECT_EQ(authority_->TrustedRootsPem().size(), 1u);
  std::lock_guard lock(pushed_mu_);
  EXPECT_EQ(pushed_, (std::vector<size_t>{2, 2, 1}));
}

// ROOTCA as the publisher sends it, holding `pem`.
xds::ResourcePtr RootCaSecret(const std::string& pem) {
  envoy::extensions::transport_sockets::tls::v3::Secret secret;
  secret.set_name("ROOTCA");
  secret.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(pem);
  return *xds::MakeResource("ROOTCA", secret);
}

TEST(EveryProxyTrustsTest, WaitsForEveryProxyToAckABundleWithTheRoot) {
  const std::string kType(xds::kSecretType);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  const std::string old_root = "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n";
  const std::string new_root = "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n";
  xds::StatusTracker tracker;
  EXPECT_TRUE(EveryProxyTrusts(tracker, new_root)) << "no proxy, nobody to wait for";
  tracker.Connect(1, "gateway", "g", "{}", "sotw", now);
  tracker.Connect(2, "sidecar", "s", "{}", "delta", now);
  tracker.Connect(3, "grpc-client", "p", "{}", "sotw", now);  // takes no secrets
  tracker.RecordSent(1, kType, "v1", "n1", now, {RootCaSecret(old_root)});
  tracker.RecordAck(1, kType, "v1", now);
  tracker.RecordSent(2, kType, "v1", "n1", now, {RootCaSecret(old_root)});
  tracker.RecordAck(2, kType, "v1", now);
  EXPECT_FALSE(EveryProxyTrusts(tracker, new_root));

  tracker.RecordSent(1, kType, "v2", "n2", now, {RootCaSecret(new_root + old_root)});
  tracker.RecordSent(2, kType, "v2", "n2", now, {RootCaSecret(new_root + old_root)});
  EXPECT_FALSE(EveryProxyTrusts(tracker, new_root)) << "sent is not accepted";
  tracker.RecordAck(1, kType, "v2", now);
  EXPECT_FALSE(EveryProxyTrusts(tracker, new_root)) << "one proxy is still behind";
  tracker.RecordAck(2, kType, "v2", now);
  EXPECT_TRUE(EveryProxyTrusts(tracker, new_root));

  tracker.RecordSent(2, kType, "v3", "n3", now, {RootCaSecret(new_root)});
  tracker.RecordNack(2, kType, "v3", "bad", now);
  EXPECT_FALSE(EveryProxyTrusts(tracker, new_root)) << "a NACK is no acceptance";
  tracker.Disconnect(2);
  EXPECT_TRUE(EveryProxyTrusts(tracker, new_root)) << "gone proxies do not hold rotation up";
}

TEST(LoopbackTest, TellsLoopbackCallersApart) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("fe80::1"));
  EXPECT_FALSE(IsLoopbackAddress(""));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The admin endpoint of a real operator (CA on, xDS off), driven with curl.
class RotateRootEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(mkdtemp(config_), nullptr);
    ASSERT_NE(mkdtemp(state_), nullptr);
    options_.config_dir = config_;
    options_.state_dir = state_;
    options_.xds_port = 0;
    options_.admin_port = FreePort();
    options_.ca_port = FreePort();
    operator_ = std::make_unique<Operator>(options_, out_);
    ASSERT_TRUE(operator_->Start().ok()) << out_.str();
  }
  void TearDown() override {
    if (operator_) operator_->Stop();
    operator_.reset();
    std::filesystem::remove_all(config_);
    std::filesystem::remove_all(state_);
  }

  std::string AdminUrl(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", options_.admin_port, path);
  }
  // The bundle file proxies read at startup (--ca-root-file).
  std::string BundleFile() const {
    std::ifstream in(std::string(state_) + "/ca/root-cert.pem");
    std::stringstream pem;
    pem << in.rdbuf();
    return pem.str();
  }

  char config_[32] = "/tmp/meshgate-operator-XXXXXX";
  char state_[40] = "/tmp/meshgate-operator-state-XXXXXX";
  OperatorOptions options_;
  std::ostringstream out_;
  std::unique_ptr<Operator> operator_;
};

TEST_F(RotateRootEndpointTest, RotatesOnPostAndReportsTheNewRoot) {
  auto before =
      nlohmann::json::parse(Shell("curl -s " + AdminUrl("/debug/ca/roots")), nullptr, false);
  ASSERT_FALSE(before.is_discarded());
  ASSERT_EQ(before["roots"].size(), 1u);
  std::string old_root = before["roots"][0]["sha256"];

  // A GET changes nothing.
  EXPECT_EQ(Shell("curl -s -o /dev/null -w '%{http_code}' " + AdminUrl("/debug/ca/rotate-root")),
            "405");
  auto rotated = nlohmann::json::parse(
      Shell("curl -s -X POST " + AdminUrl("/debug/ca/rotate-root")), nullptr, false);
  ASSERT_FALSE(rotated.is_discarded());
  std::string new_root = rotated.value("active_root_sha256", "");
  EXPECT_NE(new_root, old_root);
  EXPECT_EQ(rotated["bundle"]["roots"].size(), 2u);

  auto after = nlohmann::json::parse(Shell("curl -s " + AdminUrl("/debug/ca/roots")));
  ASSERT_EQ(after["roots"].size(), 2u);
  EXPECT_EQ(after["roots"][0]["sha256"], new_root);
  EXPECT_EQ(after["roots"][1]["sha256"], old_root);
  EXPECT_TRUE(after["roots"][1].contains("drop_after"));

  // The bundle file proxies read at startup has both roots as well.
  auto first = ca::Sha256Fingerprint(BundleFile());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, new_root);
}

TEST_F(TrustRootManagerTest, SignerChangedRunsOnceTheNewRootSigns) {
  const std::string old_pem = authority_->ActiveRootPem();
  std::vector<std::string> signers;
  TrustRootManager manager(
      *authority_, [] {}, {}, absl::Seconds(1),
      [&] { signers.push_back(authority_->ActiveRootPem()); });
  ASSERT_TRUE(manager.Rotate().ok());
  ASSERT_EQ(signers.size(), 1u);
  EXPECT_NE(signers[0], old_pem) << "called after the switch, not before";
  ASSERT_TRUE(manager.PruneDue().ok());
  EXPECT_EQ(signers.size(), 1u) << "pruning changes no signer";
}

// openssl's verification of the certificate the TLS server on `port`
// presents, against `root_pem` alone (and `name_check`, s_client's
// -verify_hostname / -verify_ip): "0" when it verifies (s_client prints the
// code once per session ticket; the first is the handshake's).
std::string VerifyServerAgainst(int port, const std::string& root_pem,
                                const std::string& name_check = "") {
  char path[] = "/tmp/meshgate-root-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  close(fd);
  std::ofstream(path) << root_pem;
  std::string out =
      Shell(absl::StrCat("openssl s_client -connect 127.0.0.1:", port,
                         " -alpn h2 -servername localhost ", name_check, " -CAfile ", path,
                         " </dev/null 2>/dev/null | sed -n 's/^ *Verify return code: "
                         "\\([0-9]*\\).*/\\1/p' | head -n 1"));
  std::filesystem::remove(path);
  return std::string(absl::StripAsciiWhitespace(out));
}

TEST_F(RotateRootEndpointTest, TheCaServesACertificateOfTheNewRootAfterARotation) {
  // Proxies that start after the old root was pruned trust the new one only;
  // they must still be able to reach the CA for their first certificate.
  const std::string old_root = BundleFile();
  ASSERT_EQ(VerifyServerAgainst(options_.ca_port, old_root), "0");
  Shell("curl -s -X POST " + AdminUrl("/debug/ca/rotate-root"));
  const std::string bundle = BundleFile();  // the new root first, then the old one
  const std::string new_root = bundle.substr(0, bundle.find(old_root));
  ASSERT_FALSE(new_root.empty());
  ASSERT_NE(new_root, old_root);
  EXPECT_EQ(VerifyServerAgainst(options_.ca_port, new_root), "0");
  EXPECT_NE(VerifyServerAgainst(options_.ca_port, old_root), "0");
}

TEST(CaServingNamesTest, TheCaCertificateNamesWhatProxiesDialItBy) {
  // A CA reached from other hosts: by its Service's DNS name (the chart
  // passes it) or by an address; loopback names are always there.
  char config[] = "/tmp/meshgate-operator-XXXXXX";
  char state[] = "/tmp/meshgate-operator-state-XXXXXX";
  ASSERT_NE(mkdtemp(config), nullptr);
  ASSERT_NE(mkdtemp(state), nullptr);
  OperatorOptions options;
  options.config_dir = config;
  options.state_dir = state;
  options.xds_port = 0;
  options.admin_port = 0;
  options.ca_port = FreePort();
  options.ca_names = {"meshgate.meshgate-system.svc", "10.77.0.1"};
  std::ostringstream out;
  auto op = std::make_unique<Operator>(options, out);
  ASSERT_TRUE(op->Start().ok()) << out.str();
  std::ifstream in(std::string(state) + "/ca/root-cert.pem");
  std::stringstream root;
  root << in.rdbuf();
  for (const char* check :
       {"-verify_hostname meshgate.meshgate-system.svc", "-verify_hostname localhost",
        "-verify_ip 10.77.0.1", "-verify_ip 127.0.0.1"}) {
    EXPECT_EQ(VerifyServerAgainst(options.ca_port, root.str(), check), "0") << check;
  }
  // 62: hostname mismatch; 64: IP address mismatch.
  EXPECT_EQ(VerifyServerAgainst(options.ca_port, root.str(), "-verify_hostname other.svc"), "62");
  EXPECT_EQ(VerifyServerAgainst(options.ca_port, root.str(), "-verify_ip 10.77.0.2"), "64");
  op->Stop();
  std::filesystem::remove_all(config);
  std::filesystem::remove_all(state);
}

}  // namespace
}  // namespace meshgate::operator_
