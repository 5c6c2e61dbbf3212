// TLS configuration in the proxy's ConfigStore: SDS secrets, resolution of
// filter-chain and cluster TLS contexts, warming while secrets are missing,
// NACK texts, context reuse and replacement.
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "ca/certificate_authority.h"
#include "ca/rotator.h"
#include "ca/storage.h"
#include "gtest/gtest.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/config/tls_translator.h"
#include "proxy/event/dispatcher.h"
#include "proxy/network/connection.h"
#include "proxy/network/listener.h"
#include "proxy/server/xds_config_handler.h"
#include "unit/proxy-tls/test_certs.h"

namespace meshgate::proxy::config {
namespace {

namespace tls = envoy::extensions::transport_sockets::tls::v3;
using testing::IssueLeaf;
using testing::LeafSpec;
using testing::MakeRootCa;
using testing::TestCa;
using testing::TestLeaf;

constexpr char kPeerId[] = "spiffe://cluster.local/ns/demo/sa/peer";

template <typename T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

tls::Secret CertSecret(const std::string& name, const TestLeaf& leaf) {
  tls::Secret s;
  s.set_name(name);
  s.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_bytes(leaf.chain_pem);
  s.mutable_tls_certificate()->mutable_private_key()->set_inline_bytes(leaf.key_pem);
  return s;
}

tls::Secret RootSecret(const std::string& name, const TestCa& ca) {
  tls::Secret s;
  s.set_name(name);
  s.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(ca.cert_pem);
  return s;
}

// A listener whose only chain terminates ISTIO_MUTUAL as the compiler emits
// it: certificate `default`, roots `ROOTCA`, a typed URI SAN matcher.
envoy::config::listener::v3::Listener MtlsListener(const std::string& name, bool require = true,
                                                   const std::string& peer_id = kPeerId) {
  return Parse<envoy::config::listener::v3::Listener>(R"(
    name: ")" + name + R"("
    address { socket_address { address: "127.0.0.1" port_value: 0 } }
    filter_chains {
      transport_socket {
        name: "envoy.transport_sockets.tls"
        typed_config {
          [type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext] {
            require_client_certificate { value: )" + (require ? "true" : "false") +
                                                      R"( }
            common_tls_context {
              alpn_protocols: "h2"
              alpn_protocols: "http/1.1"
              tls_certificate_sds_secret_configs { name: "default" sds_config { ads {} } }
              combined_validation_context {
                default_validation_context {
                  match_typed_subject_alt_names {
                    san_type: URI matcher { exact: ")" +
                                                      peer_id + R"(" }
                  }
                }
                validation_context_sds_secret_config { name: "ROOTCA" sds_config { ads {} } }
              }
            }
          }
        }
      }
      filters {
        name: "envoy.filters.network.http_connection_manager"
        typed_config {
          [type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager] {
            stat_prefix: "in"
            forward_client_cert_details: SANITIZE_SET
            set_current_client_cert_details { uri: true }
            route_config { name: "r" virtual_hosts { name: "v" domains: "*" routes { match { prefix: "/" } direct_response { status: 200 } } } }
            http_filters { name: "envoy.filters.http.router" typed_config { [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {} } }
          }
        }
      }
    })");
}

envoy::config::cluster::v3::Cluster MtlsCluster(
    const std::string& name, const std::string& peer_id = kPeerId,
    const std::string& sni = "outbound_.8080_._.peer.demo.svc.cluster.local") {
  return Parse<envoy::config::cluster::v3::Cluster>(
      R"(
    name: ")" +
      name + R"("
    type: STATIC
    connect_timeout { seconds: 1 }
    load_assignment { cluster_name: ")" +
      name +
      R"(" endpoints { lb_endpoints { endpoint { address { socket_address { address: "127.0.0.1" port_value: 9 } } } } } }
    transport_socket {
      name: "envoy.transport_sockets.tls"
      typed_config {
        [type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext] {
          sni: ")" +
      sni + R"("
          common_tls_context {
            alpn_protocols: "h2"
            alpn_protocols: "http/1.1"
            tls_certificate_sds_secret_configs { name: "default" sds_config { ads {} } }
            combined_validation_context {
              default_validation_context {
                match_typed_subject_alt_names { san_type: URI matcher { exact: ")" +
      peer_id + R"(" } }
              }
              validation_context_sds_secret_config { name: "ROOTCA" sds_config { ads {} } }
            }
          }
        }
      }
    })");
}

class TlsConfigTest : public ::testing::Test {
 protected:
  TestCa ca_ = MakeRootCa("mesh");
  TestLeaf own_ = IssueLeaf(ca_, LeafSpec{.uri_sans = {"spiffe://cluster.local/ns/demo/sa/me"}});
  ConfigStore store_;
};

TEST_F(TlsConfigTest, BadSecretsAreRefusedNamingSecretAndField) {
  TestLeaf other = IssueLeaf(ca_, LeafSpec{});
  TestLeaf mismatched{own_.chain_pem, other.key_pem};
  absl::Status s = store_.SetSecrets({CertSecret("gw-cred", mismatched)});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "Secret 'gw-cred'")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "does not match")) << s;

  tls::Secret garbage = RootSecret("ROOTCA", ca_);
  garbage.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes("not a pem");
  s = store_.SetSecrets({garbage});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "validation_context.trusted_ca")) << s;

  tls::Secret empty;
  empty.set_name("nothing");
  EXPECT_FALSE(store_.SetSecrets({empty}).ok());
  EXPECT_EQ(store_.Current()->generation, 0u);  // nothing was published
}

TEST_F(TlsConfigTest, ListenerWaitsForItsSecretsThenGetsAContext) {
  ASSERT_TRUE(store_.SetListeners({MtlsListener("inbound")}).ok());
  auto snapshot = store_.Current();
  const ListenerConfig& listener = *snapshot->listeners.at("inbound");
  const ResolvedTls* tls = snapshot->ListenerTls(listener, listener.filter_chains[0]);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->context, nullptr);
  EXPECT_TRUE(absl::IsNotFound(tls->status));
  std::string missing;
  EXPECT_FALSE(server::XdsConfigHandler::IsComplete(*snapshot, &missing));
  EXPECT_TRUE(absl::StrContains(missing, "waiting for secret 'default'")) << missing;

  ASSERT_TRUE(store_.SetSecrets({CertSecret("default", own_), RootSecret("ROOTCA", ca_)}).ok());
  snapshot = store_.Current();
  const ListenerConfig& warmed = *snapshot->listeners.at("inbound");
  tls = snapshot->ListenerTls(warmed, warmed.filter_chains[0]);
  ASSERT_NE(tls, nullptr);
  ASSERT_NE(tls->context, nullptr) << tls->status;
  EXPECT_TRUE(server::XdsConfigHandler::IsComplete(*snapshot, &missing)) << missing;
  const network::TlsContextOptions& o = tls->context->options();
  EXPECT_TRUE(o.require_client_certificate);
  ASSERT_TRUE(o.validation.has_value());
  EXPECT_EQ(o.validation->trusted_ca_pem, ca_.cert_pem);
  ASSERT_EQ(o.validation->san_matchers.size(), 1u);
  EXPECT_EQ(o.validation->san_matchers[0].type, network::SanMatcher::Type::kUri);
  // Only what the proxy's codecs speak is offered.
  EXPECT_EQ(o.alpn_protocols, SupportedAlpn());
  EXPECT_EQ(tls->context->local_identity(), "spiffe://cluster.local/ns/demo/sa/me");
  EXPECT_EQ(warmed.filter_chains[0].http.forward_client_cert,
            HttpConnectionManagerConfig::ForwardClientCert::kSanitizeSet);
  EXPECT_TRUE(warmed.filter_chains[0].http.client_cert_uri);
}

TEST_F(TlsConfigTest, UnchangedInputsKeepTheirContextChangedSecretsGetANewOne) {
  ASSERT_TRUE(store_.SetSecrets({CertSecret("default", own_), RootSecret("ROOTCA", ca_)}).ok());
  ASSERT_TRUE(store_.SetClusters({MtlsCluster("outbound")}).ok());
  auto before = store_.Current()->ClusterTls("outbound");
  ASSERT_NE(before, nullptr);
  ASSERT_NE(before->context, nullptr) << before->status;
  // The SNI is the cluster's, sent per connection; the context has none.
  EXPECT_EQ(store_.Current()->FindCluster("outbound")->sni,
            "outbound_.8080_._.peer.demo.svc.cluster.local");
  EXPECT_EQ(before->context->options().sni, "");

  // An unrelated update: same context object (its sessions stay valid).
  ASSERT_TRUE(store_.SetListeners({}).ok());
  EXPECT_EQ(store_.Current()->ClusterTls("outbound")->context, before->context);

  // A renewed certificate: a new context with a new generation.
  TestLeaf renewed = IssueLeaf(ca_, LeafSpec{.uri_sans = {"spiffe://cluster.local/ns/demo/sa/me"}});
  ASSERT_TRUE(store_.SetSecrets({CertSecret("default", renewed), RootSecret("ROOTCA", ca_)}).ok());
  auto after = store_.Current()->ClusterTls("outbound");
  ASSERT_NE(after->context, nullptr);
  EXPECT_NE(after->context, before->context);
  EXPECT_GT(after->context->generation(), before->context->generation());
  EXPECT_EQ(after->context->options().certificates[0].chain_pem, renewed.chain_pem);
}

TEST_F(TlsConfigTest, ClustersDifferingOnlyInSniShareOneContext) {
  // A mesh's clusters to one peer identity: one TLS context (one SSL_CTX,
  // one parsed certificate), not one per cluster.
  ASSERT_TRUE(store_.SetSecrets({CertSecret("default", own_), RootSecret("ROOTCA", ca_)}).ok());
  ASSERT_TRUE(store_
                  .SetClusters({MtlsCluster("v1", kPeerId, "outbound_.8080_.v1_.peer"),
                                MtlsCluster("v2", kPeerId, "outbound_.8080_.v2_.peer"),
                                MtlsCluster("other", "spiffe://cluster.local/ns/demo/sa/other",
                                            "outbound_.8080_._.other")})
                  .ok());
  auto snapshot = store_.Current();
  const ResolvedTls* v1 = snapshot->ClusterTls("v1");
  const ResolvedTls* v2 = snapshot->ClusterTls("v2");
  const ResolvedTls* other = snapshot->ClusterTls("other");
  ASSERT_TRUE(v1 != nullptr && v2 != nullptr && other != nullptr);
  ASSERT_NE(v1->context, nullptr) << v1->status;
  EXPECT_EQ(v1->context, v2->context);
  EXPECT_EQ(snapshot->FindCluster("v1")->tls, snapshot->FindCluster("v2")->tls);
  EXPECT_EQ(snapshot->FindCluster("v1")->sni, "outbound_.8080_.v1_.peer");
  EXPECT_EQ(snapshot->FindCluster("v2")->sni, "outbound_.8080_.v2_.peer");
  // Another peer identity is another context.
  ASSERT_NE(other->context, nullptr) << other->status;
  EXPECT_NE(other->context, v1->context);
}

TEST_F(TlsConfigTest, LocalSecretWinsOverTheControlPlanesOfTheSameName) {
  TestLeaf from_cp = IssueLeaf(ca_, LeafSpec{.uri_sans = {"spiffe://cluster.local/ns/x/sa/cp"}});
  ASSERT_TRUE(store_.SetSecrets({CertSecret("default", from_cp), RootSecret("ROOTCA", ca_)}).ok());
  ASSERT_TRUE(store_.SetClusters({MtlsCluster("outbound")}).ok());
  EXPECT_EQ(store_.Current()->ClusterTls("outbound")->context->local_identity(),
            "spiffe://cluster.local/ns/x/sa/cp");
  auto local = std::make_shared<SecretConfig>();
  local->name = "default";
  local->certificate = network::TlsCertificateSpec{own_.chain_pem, own_.key_pem, {}};
  ASSERT_TRUE(store_.SetLocalSecret(local).ok());
  EXPECT_EQ(store_.Current()->ClusterTls("outbound")->context->local_identity(),
            "spiffe://cluster.local/ns/demo/sa/me");
}

TEST_F(TlsConfigTest, SecretOfTheWrongKindRefusesTheUpdateWithThePath) {
  // ROOTCA holding a certificate instead of roots: the listener cannot be
  // honoured, and the update that made it so is refused.
  ASSERT_TRUE(store_.SetListeners({MtlsListener("inbound")}).ok());
  absl::Status s = store_.SetSecrets({CertSecret("default", own_), CertSecret("ROOTCA", own_)});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "listener/inbound/0")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(),
                                "combined_validation_context.validation_context_sds_secret_config"))
      << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "holds no validation_context")) << s;
}

TEST_F(TlsConfigTest, UnsupportedTlsSettingsNameTheirField) {
  auto listener = MtlsListener("inbound", /*require=*/false);
  ASSERT_TRUE(store_.SetSecrets({CertSecret("default", own_), RootSecret("ROOTCA", ca_)}).ok());
  auto* any = listener.mutable_filter_chains(0)->mutable_transport_socket()->mutable_typed_config();
  tls::DownstreamTlsContext ctx;
  ASSERT_TRUE(any->UnpackTo(&ctx));
  ctx.mutable_common_tls_context()
      ->mutable_combined_validation_context()
      ->mutable_default_validation_context()
      ->mutable_crl()
      ->set_inline_string("x");
  any->PackFrom(ctx);
  absl::Status s = store_.SetListeners({listener});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "default_validation_context.crl")) << s;
}

TEST(DownstreamTlsOptionsTest, DisableStatelessSessionResumptionTurnsTicketsOff) {
  tls::DownstreamTlsContext tls_context;
  tls::TlsCertificate* cert = tls_context.mutable_common_tls_context()->add_tls_certificates();
  cert->mutable_certificate_chain()->set_inline_string("chain");
  cert->mutable_private_key()->set_inline_string("key");
  auto with_tickets = DownstreamTlsOptions(tls_context, {"http/1.1"}, nullptr);
  ASSERT_TRUE(with_tickets.ok()) << with_tickets.status();
  EXPECT_TRUE(with_tickets->session_tickets);
  tls_context.set_disable_stateless_session_resumption(true);
  auto without = DownstreamTlsOptions(tls_context, {"http/1.1"}, nullptr);
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE(without->session_tickets);
}

TEST_F(TlsConfigTest, FileMountedCredentialsAreReadByTheProxy) {
  // Istio's Gateway serverCertificate/privateKey/caCertificates paths arrive
  // as the SDS names "file-cert:CERT~KEY" and "file-root:CA".
  const std::string dir = ::testing::TempDir() + "/proxy_tls_files_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto listener = MtlsListener("files");
  auto* any = listener.mutable_filter_chains(0)->mutable_transport_socket()->mutable_typed_config();
  tls::DownstreamTlsContext ctx;
  ASSERT_TRUE(any->UnpackTo(&ctx));
  auto* common = ctx.mutable_common_tls_context();
  common->mutable_tls_certificate_sds_secret_configs(0)->set_name("file-cert:" + dir +
                                                                  "/cert.pem~" + dir + "/key.pem");
  common->mutable_combined_validation_context()
      ->mutable_validation_context_sds_secret_config()
      ->set_name("file-root:" + dir + "/ca.pem");
  any->PackFrom(ctx);

  ASSERT_TRUE(store_.SetListeners({listener}).ok());
  auto snapshot = store_.Current();
  const ListenerConfig& waiting = *snapshot->listeners.at("files");
  const ResolvedTls* tls = snapshot->ListenerTls(waiting, waiting.filter_chains[0]);
  ASSERT_NE(tls, nullptr);
  EXPECT_TRUE(absl::IsNotFound(tls->status)) << tls->status;  // files not there yet

  std::ofstream(dir + "/cert.pem") << own_.chain_pem;
  std::ofstream(dir + "/key.pem") << own_.key_pem;
  std::ofstream(dir + "/ca.pem") << ca_.cert_pem;
  ASSERT_TRUE(store_.SetListeners({listener}).ok());
  snapshot = store_.Current();
  const ListenerConfig& ready = *snapshot->listeners.at("files");
  tls = snapshot->ListenerTls(ready, ready.filter_chains[0]);
  ASSERT_NE(tls->context, nullptr) << tls->status;
  EXPECT_EQ(tls->context->options().validation->trusted_ca_pem, ca_.cert_pem);
  // Unchanged files, unrelated update: the same context.
  ASSERT_TRUE(store_.SetClusters({}).ok());
  auto again = store_.Current();
  const ListenerConfig& same = *again->listeners.at("files");
  EXPECT_EQ(again->ListenerTls(same, same.filter_chains[0])->context, tls->context);
  std::filesystem::remove_all(dir);
}

// --- certificate renewal under load -------------------------------------------

using namespace std::chrono_literals;

// Hands CSRs to an in-process CA as `identity`.
class InProcessCsrClient final : public ca::CsrClient {
 public:
  InProcessCsrClient(const ca::CertificateAuthority& authority, std::string identity)
      : authority_(authority), identity_(std::move(identity)) {}
  absl::StatusOr<std::vector<std::string>> CreateCertificate(
      absl::string_view csr_pem, absl::Duration ttl, const ca::WorkloadCertificate*) override {
    auto issued = authority_.Sign(csr_pem, ttl, identity_);
    if (!issued.ok()) return issued.status();
    return issued->chain_pem;
  }

 private:
  const ca::CertificateAuthority& authority_;
  std::string identity_;
};

// Echoes; the context for each accepted connection is the store's current
// one for the listener's chain, as the worker does.
class StoreBackedServer {
 public:
  StoreBackedServer(event::Dispatcher& d, ConfigStore& store) {
    auto listener = network::TcpListener::Create(
        d, *network::Address::Parse("127.0.0.1", 0), true, [&d, &store, this](int fd) {
          auto snapshot = store.Current();
          const ListenerConfig& l = *snapshot->listeners.at("inbound");
          const ResolvedTls* tls = snapshot->ListenerTls(l, l.filter_chains[0]);
          sessions_.push_back(std::make_unique<Session>(
              network::Connection::FromAccepted(d, fd, tls->context->NewTransportSocket())));
        });
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
  }
  const network::Address& address() const { return listener_->address(); }

 private:
  struct Session : network::ConnectionCallbacks {
    explicit Session(std::unique_ptr<network::Connection> c) : conn(std::move(c)) {
      conn->SetCallbacks(this);
    }
    void OnData(network::Buffer& data, bool) override { conn->Write(data); }
    void OnEvent(network::ConnectionEvent) override {}
    std::unique_ptr<network::Connection> conn;
  };
  std::unique_ptr<network::TcpListener> listener_;
  std::vector<std::unique_ptr<Session>> sessions_;
};

struct Pinger : network::ConnectionCallbacks {
  Pinger(event::Dispatcher& d, const network::Address& to, const network::TlsContext& context) {
    conn = network::Connection::Connect(d, to, context.NewTransportSocket(), 2000ms);
    conn->SetCallbacks(this);
  }
  void Ping() {
    received.clear();
    conn->Write("ping");
  }
  void OnData(network::Buffer& data, bool) override {
    received += std::string(data.View());
    data.Clear();
  }
  void OnEvent(network::ConnectionEvent e) override {
    if (e != network::ConnectionEvent::kConnected) closed = true;
  }
  bool done() const { return closed || received == "ping"; }
  bool ok() const { return !closed && received == "ping"; }
  std::unique_ptr<network::Connection> conn;
  std::string received;
  bool closed = false;
};

TEST(TlsRotationTest, RenewalsUnderLoadFailNoRequestAndKeepEstablishedConnections) {
  constexpr char kId[] = "spiffe://cluster.local/ns/demo/sa/me";
  // One clock for the CA, the rotator and certificate validity in the proxy:
  // the test moves time across many short certificate lifetimes.
  ManualClock clock(absl::Now());
  ca::MemoryCaStorage storage;
  auto authority = ca::CertificateAuthority::LoadOrCreate(storage, clock, {});
  ASSERT_TRUE(authority.ok()) << authority.status();
  InProcessCsrClient csr_client(**authority, kId);
  ca::CertificateRotator rotator({.spiffe_id = kId, .requested_ttl = absl::Minutes(20)}, csr_client,
                                 clock, /*seed=*/11);

  ConfigStore store(clock);
  tls::Secret roots;
  roots.set_name("ROOTCA");
  roots.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(
      (*authority)->TrustBundlePem());
  ASSERT_TRUE(store.SetSecrets({roots}).ok());
  ASSERT_TRUE(store.SetListeners({MtlsListener("inbound", true, kId)}).ok());
  ASSERT_TRUE(store.SetClusters({MtlsCluster("outbound", kId)}).ok());

  // The proxy's identity timer, as in main: tick when due, install anew.
  std::shared_ptr<const ca::WorkloadCertificate> installed;
  absl::Time next_tick = absl::InfinitePast();
  int renewals = 0;
  auto tick = [&] {
    if (clock.Now() < next_tick) return;
    next_tick = rotator.Tick();
    auto current = rotator.Current();
    ASSERT_NE(current, nullptr) << rotator.last_error();
    if (current == installed) return;
    auto secret = std::make_shared<SecretConfig>();
    secret->name = "default";
    secret->certificate =
        network::TlsCertificateSpec{current->ChainPem(), current->private_key_pem, {}};
    ASSERT_TRUE(store.SetLocalSecret(secret).ok());
    installed = current;
    ++renewals;
  };
  tick();

  auto d = event::Dispatcher::Create();
  ASSERT_TRUE(d.ok());
  StoreBackedServer server(**d, store);
  auto client_context = [&] { return store.Current()->ClusterTls("outbound")->context; };

  auto run_until_done = [&](std::vector<Pinger*> pingers) {
    std::function<void()> check;
    auto checker = (*d)->CreateTimer([&] { check(); });
    auto guard = (*d)->CreateTimer([&] { (*d)->Exit(); });
    guard->Enable(5000ms);
    check = [&] {
      bool all = true;
      for (Pinger* p : pingers) all &= p->done();
      if (all) {
        (*d)->Exit();
      } else {
        checker->Enable(1ms);
      }
    };
    checker->Enable(1ms);
    (*d)->Run();
  };

  // Connections opened at the start and used throughout.
  std::vector<std::unique_ptr<Pinger>> established;
  for (int i = 0; i < 4; ++i) {
    established.push_back(std::make_unique<Pinger>(**d, server.address(), *client_context()));
  }
  std::set<std::string> server_certs_seen;
  int requests = 0, failures = 0;
  for (int round = 0; round < 30; ++round) {
    std::vector<std::unique_ptr<Pinger>> fresh;
    for (int i = 0; i < 4; ++i) {
      fresh.push_back(std::make_unique<Pinger>(**d, server.address(), *client_context()));
    }
    std::vector<Pinger*> all;
    for (auto& p : established) {
      p->Ping();
      all.push_back(p.get());
    }
    for (auto& p : fresh) {
      p->Ping();
      all.push_back(p.get());
    }
    run_until_done(all);
    for (Pinger* p : all) {
      ++requests;
      if (!p->ok()) ++failures;
    }
    for (auto& p : fresh) {
      server_certs_seen.insert(p->conn->transport().PeerCertificateSha256());
      EXPECT_EQ(p->conn->transport().PeerIdentity(), kId);
      p->conn->Close(network::Connection::CloseType::kNoFlush);
    }
    clock.Advance(absl::Minutes(3));
    tick();
  }
  EXPECT_EQ(failures, 0) << "of " << requests;
  // 90 minutes of 20-minute certificates renewed at about half-life.
  EXPECT_GE(renewals, 6);
  EXPECT_GE(server_certs_seen.size(), 6u);
  for (auto& p : established) EXPECT_FALSE(p->closed);
}

}  // namespace
}  // namespace meshgate::proxy::config
