// TlsContext and TlsTransportSocket: real handshakes over loopback between
// our own server and client sockets, driven by a real Dispatcher, and against
// the `openssl s_client` / `openssl s_server` binaries.
#include "proxy/network/tls_transport_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/event/dispatcher.h"
#include "proxy/network/connection.h"
#include "proxy/network/listener.h"
#include "unit/proxy-tls/test_certs.h"

namespace meshgate::proxy::network {
namespace {

using namespace std::chrono_literals;
using testing::Eku;
using testing::IssueLeaf;
using testing::LeafSpec;
using testing::MakeRootCa;
using testing::TestCa;
using testing::TestLeaf;

constexpr char kClientId[] = "spiffe://cluster.local/ns/default/sa/client";
constexpr char kServerId[] = "spiffe://cluster.local/ns/default/sa/server";

SanMatcher Uri(const std::string& exact) {
  return SanMatcher{SanMatcher::Type::kUri,
                    *StringMatcher::Create(StringMatcher::Kind::kExact, exact)};
}

std::string Sha256OfPem(const std::string& pem) {
  auto cert = ca::CertificateFromPem(pem);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert->get(), EVP_sha256(), digest, &len);
  std::string out;
  char hex[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    out += hex;
  }
  return out;
}

std::shared_ptr<const TlsContext> MustCreate(TlsContextOptions options) {
  auto context = TlsContext::Create(std::move(options));
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *context : nullptr;
}

// A mesh identity: a leaf for `id` issued by `ca`, usable on both ends.
TlsCertificateSpec Identity(const TestCa& ca, const std::string& id, Eku eku = Eku::kBoth) {
  TestLeaf leaf = IssueLeaf(ca, LeafSpec{.uri_sans = {id}, .eku = eku});
  return TlsCertificateSpec{leaf.chain_pem, leaf.key_pem, {}};
}

TlsContextOptions MeshServer(const TestCa& ca, TlsCertificateSpec cert,
                             std::vector<SanMatcher> allowed) {
  TlsContextOptions o;
  o.side = TlsContextOptions::Side::kServer;
  o.certificates = {std::move(cert)};
  o.validation = TlsValidationSpec{.trusted_ca_pem = ca.cert_pem, .san_matchers = allowed};
  o.require_client_certificate = true;
  return o;
}

TlsContextOptions MeshClient(const TestCa& ca, std::optional<TlsCertificateSpec> cert,
                             std::vector<SanMatcher> allowed) {
  TlsContextOptions o;
  o.side = TlsContextOptions::Side::kClient;
  if (cert) o.certificates = {std::move(*cert)};
  o.validation = TlsValidationSpec{.trusted_ca_pem = ca.cert_pem, .san_matchers = allowed};
  return o;
}

// Echoes what it reads; remembers what its transport saw.
class EchoSession : public ConnectionCallbacks {
 public:
  EchoSession(std::unique_ptr<Connection> c, bool close_after_echo)
      : conn(std::move(c)), close_after_echo_(close_after_echo) {
    conn->SetCallbacks(this);
  }
  void OnData(Buffer& data, bool) override {
    peer_identity = conn->transport().PeerIdentity();
    alpn = conn->transport().NegotiatedProtocol();
    conn->Write(data);
    if (close_after_echo_) conn->Close(Connection::CloseType::kFlushWrite);
  }
  void OnEvent(ConnectionEvent e) override {
    if (e != ConnectionEvent::kLocalClose) {
      failure = static_cast<TlsTransportSocket&>(conn->transport()).failure();
    }
  }
  std::unique_ptr<Connection> conn;
  std::string peer_identity;
  std::string alpn;
  absl::Status failure;

 private:
  bool close_after_echo_;
};

// A TLS echo server on 127.0.0.1; the context for new connections can be
// swapped at any time, as a certificate rotation does.
class TlsEchoServer {
 public:
  TlsEchoServer(event::Dispatcher& d, std::shared_ptr<const TlsContext> context,
                bool close_after_echo = false)
      : context_(std::move(context)) {
    auto listener = TcpListener::Create(
        d, *Address::Parse("127.0.0.1", 0), true, [&, close_after_echo](int fd) {
          sessions.push_back(std::make_unique<EchoSession>(
              Connection::FromAccepted(d, fd, context_->NewTransportSocket()), close_after_echo));
        });
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
  }
  void SetContext(std::shared_ptr<const TlsContext> context) { context_ = std::move(context); }
  const Address& address() const { return listener_->address(); }
  uint16_t port() const { return listener_->address().port(); }
  std::vector<std::unique_ptr<EchoSession>> sessions;

 private:
  std::shared_ptr<const TlsContext> context_;
  std::unique_ptr<TcpListener> listener_;
};

// One client connection that sends "ping" and waits for the echo or a close.
struct ClientOutcome {
  bool echoed = false;
  std::string peer_identity;
  std::string peer_certificate_sha256;
  std::string alpn;
  absl::Status failure;
};

class PingClient : public ConnectionCallbacks {
 public:
  // `sni`: the connection's own, instead of the context's.
  PingClient(event::Dispatcher& d, const Address& to, const TlsContext& context,
             std::string_view sni = {})
      : d_(d) {
    conn = Connection::Connect(d, to, context.NewTransportSocket(sni), 2000ms);
    conn->SetCallbacks(this);
    conn->Write("ping");
  }
  void OnData(Buffer& data, bool) override {
    received += std::string(data.View());
    data.Clear();
    if (received == "ping") {
      outcome.echoed = true;
      Capture();
      if (exit_on_done) d_.Exit();
    }
  }
  void OnEvent(ConnectionEvent e) override {
    if (e == ConnectionEvent::kConnected) return;
    Capture();
    outcome.failure = static_cast<TlsTransportSocket&>(conn->transport()).failure();
    closed = true;
    if (exit_on_done) d_.Exit();
  }
  void Capture() {
    outcome.peer_identity = conn->transport().PeerIdentity();
    outcome.peer_certificate_sha256 = conn->transport().PeerCertificateSha256();
    outcome.alpn = conn->transport().NegotiatedProtocol();
  }
  std::unique_ptr<Connection> conn;
  std::string received;
  ClientOutcome outcome;
  bool closed = false;
  bool exit_on_done = true;

 private:
  event::Dispatcher& d_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = event::Dispatcher::Create();
    ASSERT_TRUE(d.ok());
    dispatcher_ = std::move(*d);
  }

  // Runs one client against `server` until echo or close (5 s guard).
  ClientOutcome Exchange(TlsEchoServer& server, const TlsContext& client_context,
                         std::string_view sni = {}) {
    PingClient client(*dispatcher_, server.address(), client_context, sni);
    auto guard = dispatcher_->CreateTimer([&] { dispatcher_->Exit(); });
    guard->Enable(5000ms);
    dispatcher_->Run();
    // Let the server side see the outcome too.
    auto settle = dispatcher_->CreateTimer([&] { dispatcher_->Exit(); });
    settle->Enable(20ms);
    dispatcher_->Run();
    return client.outcome;
  }

  // Runs `command` (through sh) on another thread while the dispatcher
  // serves; returns its combined output.
  std::string RunWhileServing(const std::string& command) {
    std::string output;
    std::thread runner([&] {
      FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
      if (pipe != nullptr) {
        char buffer[4096];
        size_t n;
        while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
        ::pclose(pipe);
      }
      dispatcher_->Post([this] { dispatcher_->Exit(); });
    });
    dispatcher_->Run();
    runner.join();
    return output;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                 absl::StrCat("proxy_tls_", ::getpid(), "_", name);
    std::ofstream(path) << content;
    return path.string();
  }

  std::unique_ptr<event::Dispatcher> dispatcher_;
  TestCa mesh_ca_ = MakeRootCa("mesh root");
};

TEST_F(TlsTest, MutualTlsWithSpiffeUriSansMatchingOnBothSides) {
  TlsCertificateSpec server_cert = Identity(mesh_ca_, kServerId);
  TlsEchoServer server(*dispatcher_,
                       MustCreate(MeshServer(mesh_ca_, server_cert, {Uri(kClientId)})));
  auto client = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {Uri(kServerId)}));
  EXPECT_EQ(client->local_identity(), kClientId);

  ClientOutcome out = Exchange(server, *client);
  ASSERT_TRUE(out.echoed) << out.failure;
  EXPECT_EQ(out.peer_identity, kServerId);
  EXPECT_EQ(out.peer_certificate_sha256, Sha256OfPem(server_cert.chain_pem));
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_EQ(server.sessions[0]->peer_identity, kClientId);
}

TEST_F(TlsTest, DnsSanSpelledLikeTheSpiffeIdDoesNotMatchAUriMatcher) {
  // CVE-2022-21656: the text is right, the SAN type is not.
  TestLeaf impostor = IssueLeaf(mesh_ca_, LeafSpec{.dns_sans = {kClientId}});
  TlsCertificateSpec impostor_cert{impostor.chain_pem, impostor.key_pem, {}};
  TlsEchoServer server(*dispatcher_, MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId),
                                                           {Uri(kClientId)})));
  auto client = MustCreate(MeshClient(mesh_ca_, impostor_cert, {}));
  ClientOutcome out = Exchange(server, *client);
  EXPECT_FALSE(out.echoed);
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_TRUE(absl::StrContains(server.sessions[0]->failure.message(), "subject alt name"))
      << server.sessions[0]->failure;

  // The untyped matcher (match_subject_alt_names) compares every SAN type,
  // so the same certificate passes it: the typed check above is what refused.
  SanMatcher untyped{SanMatcher::Type::kAny,
                     *StringMatcher::Create(StringMatcher::Kind::kExact, kClientId)};
  TlsEchoServer lenient(*dispatcher_,
                        MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {untyped})));
  EXPECT_TRUE(Exchange(lenient, *client).echoed);
}

TEST_F(TlsTest, ServerWithAnotherSpiffeIdIsRefusedByTheClient) {
  TlsEchoServer server(
      *dispatcher_, MustCreate(MeshServer(
                        mesh_ca_, Identity(mesh_ca_, "spiffe://cluster.local/ns/other/sa/x"), {})));
  auto client = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {Uri(kServerId)}));
  ClientOutcome out = Exchange(server, *client);
  EXPECT_FALSE(out.echoed);
  EXPECT_TRUE(absl::StrContains(out.failure.message(), "ns/other/sa/x")) << out.failure;
}

TEST_F(TlsTest, ExpiredPeerCertificateIsRefused) {
  TestLeaf expired = IssueLeaf(mesh_ca_, LeafSpec{.uri_sans = {kClientId},
                                                  .not_before = absl::Now() - absl::Hours(48),
                                                  .not_after = absl::Now() - absl::Hours(1)});
  TlsEchoServer server(*dispatcher_, MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId),
                                                           {Uri(kClientId)})));
  auto client = MustCreate(
      MeshClient(mesh_ca_, TlsCertificateSpec{expired.chain_pem, expired.key_pem, {}}, {}));
  EXPECT_FALSE(Exchange(server, *client).echoed);
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_TRUE(absl::StrContains(server.sessions[0]->failure.message(), "expired"))
      << server.sessions[0]->failure;
}

TEST_F(TlsTest, ValidityIsJudgedByTheInjectedClock) {
  // A certificate valid now is expired on a clock two days ahead.
  ManualClock later(absl::Now() + absl::Hours(48));
  TlsContextOptions server_options =
      MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {Uri(kClientId)});
  server_options.clock = &later;
  TlsEchoServer server(*dispatcher_, MustCreate(server_options));
  auto client = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {}));
  EXPECT_FALSE(Exchange(server, *client).echoed);
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_TRUE(absl::StrContains(server.sessions[0]->failure.message(), "expired"));
}

TEST_F(TlsTest, PeerFromAForeignRootIsRefused) {
  TestCa foreign = MakeRootCa("foreign root");
  TlsEchoServer server(*dispatcher_, MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId),
                                                           {Uri(kClientId)})));
  auto client = MustCreate(MeshClient(mesh_ca_, Identity(foreign, kClientId), {}));
  EXPECT_FALSE(Exchange(server, *client).echoed);
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_TRUE(absl::StrContains(server.sessions[0]->failure.message(), "issuer certificate"))
      << server.sessions[0]->failure;
}

TEST_F(TlsTest, ClientCertificateWithoutClientAuthUsageIsRefused) {
  // CVE-2022-21657: a server certificate must not authenticate a client.
  TlsEchoServer server(*dispatcher_, MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId),
                                                           {Uri(kClientId)})));
  auto client = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId, Eku::kServer), {}));
  EXPECT_FALSE(Exchange(server, *client).echoed);
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_TRUE(absl::StrContains(server.sessions[0]->failure.message(), "clientAuth"))
      << server.sessions[0]->failure;
}

TEST_F(TlsTest, ServerCertificateWithoutServerAuthUsageIsRefused) {
  TlsEchoServer server(
      *dispatcher_,
      MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId, Eku::kClient), {})));
  auto client = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {}));
  ClientOutcome out = Exchange(server, *client);
  EXPECT_FALSE(out.echoed);
  EXPECT_TRUE(absl::StrContains(out.failure.message(), "serverAuth")) << out.failure;
}

TEST_F(TlsTest, RequireClientCertificateIsHonoured) {
  auto no_cert_client = MustCreate(MeshClient(mesh_ca_, std::nullopt, {}));
  TlsEchoServer strict(*dispatcher_,
                       MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {})));
  EXPECT_FALSE(Exchange(strict, *no_cert_client).echoed);

  TlsContextOptions optional = MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {});
  optional.require_client_certificate = false;
  TlsEchoServer lenient(*dispatcher_, MustCreate(optional));
  EXPECT_TRUE(Exchange(lenient, *no_cert_client).echoed);
  ASSERT_EQ(lenient.sessions.size(), 1u);
  EXPECT_EQ(lenient.sessions[0]->peer_identity, "");  // nobody was authenticated
}

TEST_F(TlsTest, AlpnPrefersH2WhenBothSidesAllowIt) {
  auto server_with = [&](std::vector<std::string> alpn) {
    TlsContextOptions o;
    o.certificates = {Identity(mesh_ca_, kServerId)};
    o.alpn_protocols = std::move(alpn);
    return MustCreate(o);
  };
  auto client_offering = [&](std::vector<std::string> alpn) {
    TlsContextOptions o;
    o.side = TlsContextOptions::Side::kClient;
    o.alpn_protocols = std::move(alpn);
    return MustCreate(o);
  };
  TlsEchoServer h2_server(*dispatcher_, server_with({"h2", "http/1.1"}));
  EXPECT_EQ(Exchange(h2_server, *client_offering({"http/1.1", "h2"})).alpn, "h2");
  EXPECT_EQ(Exchange(h2_server, *client_offering({"http/1.1"})).alpn, "http/1.1");

  TlsEchoServer http1_server(*dispatcher_, server_with({"http/1.1"}));
  EXPECT_EQ(Exchange(http1_server, *client_offering({"h2", "http/1.1"})).alpn, "http/1.1");
  ClientOutcome no_overlap = Exchange(http1_server, *client_offering({"h2"}));
  EXPECT_TRUE(no_overlap.echoed);
  EXPECT_EQ(no_overlap.alpn, "");
}

TEST_F(TlsTest, ServerChoosesItsCertificateBySni) {
  TestLeaf a = IssueLeaf(mesh_ca_, LeafSpec{.dns_sans = {"a.example.com"}});
  TestLeaf b = IssueLeaf(mesh_ca_, LeafSpec{.dns_sans = {"*.b.example.com"}});
  TlsContextOptions o;
  o.certificates = {{a.chain_pem, a.key_pem, {}}, {b.chain_pem, b.key_pem, {}}};
  TlsEchoServer server(*dispatcher_, MustCreate(o));
  auto client_for = [&](const std::string& sni) {
    TlsContextOptions c;
    c.side = TlsContextOptions::Side::kClient;
    c.sni = sni;
    return MustCreate(c);
  };
  EXPECT_EQ(Exchange(server, *client_for("x.b.example.com")).peer_certificate_sha256,
            Sha256OfPem(b.chain_pem));
  EXPECT_EQ(Exchange(server, *client_for("a.example.com")).peer_certificate_sha256,
            Sha256OfPem(a.chain_pem));
  // No match (the wildcard covers one label only): the first certificate.
  EXPECT_EQ(Exchange(server, *client_for("x.y.b.example.com")).peer_certificate_sha256,
            Sha256OfPem(a.chain_pem));
  EXPECT_EQ(Exchange(server, *client_for("")).peer_certificate_sha256, Sha256OfPem(a.chain_pem));
}

TEST_F(TlsTest, OneClientContextSendsEachConnectionsOwnSni) {
  // Clusters that differ only in SNI share a client context; each
  // connection names its own server.
  TestLeaf a = IssueLeaf(mesh_ca_, LeafSpec{.dns_sans = {"a.example.com"}});
  TestLeaf b = IssueLeaf(mesh_ca_, LeafSpec{.dns_sans = {"b.example.com"}});
  TlsContextOptions o;
  o.certificates = {{a.chain_pem, a.key_pem, {}}, {b.chain_pem, b.key_pem, {}}};
  TlsEchoServer server(*dispatcher_, MustCreate(o));
  TlsContextOptions c;
  c.side = TlsContextOptions::Side::kClient;
  c.sni = "a.example.com";
  auto shared = MustCreate(c);
  EXPECT_EQ(Exchange(server, *shared, "b.example.com").peer_certificate_sha256,
            Sha256OfPem(b.chain_pem));
  EXPECT_EQ(Exchange(server, *shared, "a.example.com").peer_certificate_sha256,
            Sha256OfPem(a.chain_pem));
  // Without one, the context's own.
  EXPECT_EQ(Exchange(server, *shared).peer_certificate_sha256, Sha256OfPem(a.chain_pem));
}

TEST_F(TlsTest, NewContextAppliesToNewHandshakesWhileEstablishedConnectionsContinue) {
  TlsCertificateSpec old_cert = Identity(mesh_ca_, kServerId);
  TlsCertificateSpec new_cert = Identity(mesh_ca_, kServerId);
  TlsEchoServer server(*dispatcher_, MustCreate(MeshServer(mesh_ca_, old_cert, {})));
  auto client_context = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {}));

  PingClient established(*dispatcher_, server.address(), *client_context);
  auto guard = dispatcher_->CreateTimer([&] { dispatcher_->Exit(); });
  guard->Enable(5000ms);
  dispatcher_->Run();
  ASSERT_TRUE(established.outcome.echoed);
  EXPECT_EQ(established.outcome.peer_certificate_sha256, Sha256OfPem(old_cert.chain_pem));

  // Rotation: the listener's context is replaced.
  server.SetContext(MustCreate(MeshServer(mesh_ca_, new_cert, {})));
  ClientOutcome fresh = Exchange(server, *client_context);
  ASSERT_TRUE(fresh.echoed) << fresh.failure;
  EXPECT_EQ(fresh.peer_certificate_sha256, Sha256OfPem(new_cert.chain_pem));

  // The first connection still works, on its original session.
  established.received.clear();
  established.outcome.echoed = false;
  established.conn->Write("ping");
  dispatcher_->Run();
  EXPECT_TRUE(established.outcome.echoed);
  EXPECT_FALSE(established.closed);
  EXPECT_EQ(established.conn->transport().PeerCertificateSha256(), Sha256OfPem(old_cert.chain_pem));
}

TEST_F(TlsTest, LargeTransfersSurvivePartialWrites) {
  TlsEchoServer server(*dispatcher_,
                       MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {})));
  auto client_context = MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {}));
  PingClient client(*dispatcher_, server.address(), *client_context);
  client.exit_on_done = false;
  std::string big(3 * 1024 * 1024, 'z');
  client.conn->Write(big);
  std::string got;
  auto poll = dispatcher_->CreateTimer([] {});
  client.received.reserve(big.size() + 4);
  auto guard = dispatcher_->CreateTimer([&] { dispatcher_->Exit(); });
  guard->Enable(10000ms);
  std::function<void()> check;
  auto checker = dispatcher_->CreateTimer([&] { check(); });
  check = [&] {
    if (client.received.size() >= big.size() + 4 || client.closed) {
      dispatcher_->Exit();
    } else {
      checker->Enable(5ms);
    }
  };
  checker->Enable(5ms);
  dispatcher_->Run();
  ASSERT_EQ(client.received.size(), big.size() + 4);
  EXPECT_EQ(client.received.substr(0, 4), "ping");
  EXPECT_EQ(client.received.substr(4), big);
}

TEST_F(TlsTest, InvalidConfigurationIsRefusedWithTheFieldAtFault) {
  TlsContextOptions no_cert;
  auto s1 = TlsContext::Create(no_cert);
  ASSERT_FALSE(s1.ok());
  EXPECT_TRUE(absl::StrContains(s1.status().message(), "tls_certificates"));

  TlsContextOptions bad_key;
  TestLeaf leaf = IssueLeaf(mesh_ca_, LeafSpec{});
  TestLeaf other = IssueLeaf(mesh_ca_, LeafSpec{});
  bad_key.certificates = {{leaf.chain_pem, other.key_pem, {}}};
  auto s2 = TlsContext::Create(bad_key);
  ASSERT_FALSE(s2.ok());
  EXPECT_TRUE(absl::StrContains(s2.status().message(), "does not match")) << s2.status();

  TlsContextOptions garbage;
  garbage.certificates = {{"not a pem", leaf.key_pem, {}}};
  auto s3 = TlsContext::Create(garbage);
  ASSERT_FALSE(s3.ok());
  EXPECT_TRUE(absl::StrContains(s3.status().message(), "tls_certificates[0].certificate_chain"));

  TlsContextOptions old_tls;
  old_tls.certificates = {{leaf.chain_pem, leaf.key_pem, {}}};
  old_tls.min_version = TLS1_1_VERSION;
  EXPECT_FALSE(TlsContext::Create(old_tls).ok());
}

// --- against the openssl binaries -------------------------------------------

TEST_F(TlsTest, OpensslClientNegotiatesH2AndIsVerifiedByOurServer) {
  TestLeaf client_leaf =
      IssueLeaf(mesh_ca_, LeafSpec{.uri_sans = {kClientId}, .eku = Eku::kClient});
  TlsContextOptions o = MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {Uri(kClientId)});
  o.alpn_protocols = {"h2", "http/1.1"};
  TlsEchoServer server(*dispatcher_, MustCreate(o), /*close_after_echo=*/true);
  std::string ca = WriteFile("ca.pem", mesh_ca_.cert_pem);
  std::string cert = WriteFile("client.pem", client_leaf.chain_pem);
  std::string key = WriteFile("client.key", client_leaf.key_pem);
  std::string output = RunWhileServing(absl::StrCat(
      "printf 'hello-tls\\n' | timeout 10 openssl s_client -connect 127.0.0.1:", server.port(),
      " -CAfile ", ca, " -cert ", cert, " -key ", key, " -alpn h2,http/1.1 -ign_eof"));
  EXPECT_TRUE(absl::StrContains(output, "ALPN protocol: h2")) << output;
  EXPECT_TRUE(absl::StrContains(output, "hello-tls")) << output;
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_EQ(server.sessions[0]->peer_identity, kClientId);
  EXPECT_EQ(server.sessions[0]->alpn, "h2");
}

TEST_F(TlsTest, OpensslClientWithoutCertificateIsRefused) {
  TlsEchoServer server(
      *dispatcher_,
      MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {Uri(kClientId)})), true);
  std::string ca = WriteFile("ca2.pem", mesh_ca_.cert_pem);
  std::string output = RunWhileServing(absl::StrCat(
      "printf 'hello-tls\\n' | timeout 10 openssl s_client -connect 127.0.0.1:", server.port(),
      " -CAfile ", ca, " -ign_eof"));
  EXPECT_FALSE(absl::StrContains(output, "hello-tls")) << output;
  EXPECT_TRUE(absl::StrContains(output, "alert")) << output;
}

TEST_F(TlsTest, ResumedSessionsDoNotCrossContexts) {
  // CVE-2022-21654: a ticket from the context before a trust change must
  // not skip verification under the new one.
  TlsCertificateSpec cert = Identity(mesh_ca_, kServerId);
  TestLeaf client_leaf = IssueLeaf(mesh_ca_, LeafSpec{.uri_sans = {kClientId}});
  TlsEchoServer server(*dispatcher_, MustCreate(MeshServer(mesh_ca_, cert, {})), true);
  std::string ca = WriteFile("ca3.pem", mesh_ca_.cert_pem);
  std::string crt = WriteFile("c3.pem", client_leaf.chain_pem);
  std::string key = WriteFile("c3.key", client_leaf.key_pem);
  std::string session = WriteFile("session.pem", "");
  std::string base =
      absl::StrCat("printf 'x\\n' | timeout 10 openssl s_client -connect 127.0.0.1:", server.port(),
                   " -CAfile ", ca, " -cert ", crt, " -key ", key, " -ign_eof ");
  std::string first = RunWhileServing(base + "-sess_out " + session);
  ASSERT_TRUE(absl::StrContains(first, "New,")) << first;
  std::string again = RunWhileServing(base + "-sess_in " + session);
  EXPECT_TRUE(absl::StrContains(again, "Reused,")) << again;  // same context: resumption works

  server.SetContext(MustCreate(MeshServer(mesh_ca_, cert, {})));  // same inputs, new generation
  std::string after = RunWhileServing(base + "-sess_in " + session);
  EXPECT_TRUE(absl::StrContains(after, "New,")) << after;
  EXPECT_FALSE(absl::StrContains(after, "Reused,")) << after;
}

// TLS 1.3 session tickets as `openssl s_client` sees them: how many arrived
// after the handshake, and whether the saved session then resumes.
struct TicketOutcome {
  int tickets = 0;
  bool resumed = false;
};

TEST_F(TlsTest, ServerIssuesOneTicketPerHandshakeOrNoneWhenDisabled) {
  TlsContextOptions o;
  o.certificates = {Identity(mesh_ca_, kServerId, Eku::kServer)};
  std::string ca = WriteFile("ca5.pem", mesh_ca_.cert_pem);
  auto probe = [&](const TlsContextOptions& options, const std::string& version,
                   const std::string& name) {
    TlsEchoServer server(*dispatcher_, MustCreate(options), /*close_after_echo=*/true);
    std::string session = WriteFile(name, "");
    std::string base = absl::StrCat(
        "printf 'x\\n' | timeout 10 openssl s_client -connect 127.0.0.1:", server.port(),
        " -CAfile ", ca, " -ign_eof ", version, " ");
    std::string first = RunWhileServing(base + "-sess_out " + session);
    EXPECT_TRUE(absl::StrContains(first, "New,")) << first;
    TicketOutcome out;
    for (size_t at = 0; (at = first.find("New Session Ticket arrived", at)) != std::string::npos;
         ++at) {
      ++out.tickets;
    }
    // s_client saves a session only when it got something to resume with.
    if (std::filesystem::file_size(session) > 0) {
      std::string again = RunWhileServing(base + "-sess_in " + session);
      out.resumed = absl::StrContains(again, "Reused,");
      EXPECT_TRUE(out.resumed || absl::StrContains(again, "New,")) << again;
    }
    return out;
  };
  TicketOutcome with_tickets = probe(o, "-tls1_3", "sess5a.pem");
  EXPECT_EQ(with_tickets.tickets, 1);
  EXPECT_TRUE(with_tickets.resumed);
  EXPECT_TRUE(probe(o, "-tls1_2", "sess5b.pem").resumed);

  o.session_tickets = false;
  TicketOutcome without = probe(o, "-tls1_3", "sess5c.pem");
  EXPECT_EQ(without.tickets, 0);
  EXPECT_FALSE(without.resumed);
  EXPECT_FALSE(probe(o, "-tls1_2", "sess5d.pem").resumed);
}

TEST_F(TlsTest, DataSentWithTheClientFinishedReachesTheServerSession) {
  // The same through a Connection on the event loop: the request that came
  // with the client's Finished reaches the session whichever event (the
  // readable or the writable edge) completes the handshake.
  TlsEchoServer server(*dispatcher_, MustCreate([&] {
    TlsContextOptions o;
    o.certificates = {Identity(mesh_ca_, kServerId, Eku::kServer)};
    return o;
  }()));
  std::string echoed;
  std::string error;
  std::thread client([&] {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL* ssl = SSL_new(ctx);
    BIO* from_server = BIO_new(BIO_s_mem());
    BIO* to_server = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, from_server, to_server);
    SSL_set_connect_state(ssl);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(server.port());
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto flush = [&] {  // everything pending, in one send
      char* data = nullptr;
      long len = BIO_get_mem_data(to_server, &data);
      bool ok = len <= 0 || ::send(fd, data, static_cast<size_t>(len), MSG_NOSIGNAL) == len;
      (void)BIO_reset(to_server);
      return ok;
    };
    auto receive = [&] {
      char buffer[16384];
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) BIO_write(from_server, buffer, static_cast<int>(n));
      return n > 0;
    };
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
      error = "connect failed";
    }
    while (error.empty()) {
      int rc = SSL_do_handshake(ssl);
      if (rc == 1) break;  // the Finished waits in to_server for the request
      if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ || !flush() || !receive()) {
        error = "handshake failed";
      }
    }
    if (error.empty() && (SSL_write(ssl, "ping", 4) != 4 || !flush())) error = "write failed";
    while (error.empty() && echoed.size() < 4) {
      char buffer[64];
      int n = SSL_read(ssl, buffer, sizeof(buffer));
      if (n > 0) {
        echoed.append(buffer, static_cast<size_t>(n));
      } else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ || !receive()) {
        error = "no echo";
      }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    dispatcher_->Post([this] { dispatcher_->Exit(); });
  });
  dispatcher_->Run();
  client.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(echoed, "ping");
}

// A TLS 1.3 client on OpenSSL memory BIOs over one end of a socket pair, in
// front of a server TlsTransportSocket on the other end: the test decides
// exactly which bytes reach the server's socket, and when.
class SocketPairTlsClient {
 public:
  SocketPairTlsClient() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    client_fd_ = fds[0];
    server_fd_ = fds[1];
    // Room for a whole burst in the socket (root may exceed wmem_max).
    int bytes = 8 << 20;
    ::setsockopt(client_fd_, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes));
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    from_server_ = BIO_new(BIO_s_mem());
    to_server_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, from_server_, to_server_);
    SSL_set_connect_state(ssl_);
  }
  ~SocketPairTlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(client_fd_);
    ::close(server_fd_);
  }
  int server_fd() const { return server_fd_; }

  // Runs the handshake against `server` up to the client's Finished, which
  // stays unsent (Flush sends it with whatever is written next).
  void HandshakeUntilFinished(TransportSocket& server) {
    Buffer ignored;
    for (int round = 0; round < 10; ++round) {
      int rc = SSL_do_handshake(ssl_);
      if (rc == 1) return;
      ASSERT_EQ(SSL_get_error(ssl_, rc), SSL_ERROR_WANT_READ);
      Flush();
      IoResult result = server.DoRead(server_fd_, ignored, /*until_eagain=*/false);
      ASSERT_EQ(result.action, IoResult::Action::kKeepOpen);
      ASSERT_EQ(result.bytes, 0u);
      char chunk[16384];
      ssize_t n;
      while ((n = ::recv(client_fd_, chunk, sizeof(chunk), 0)) > 0) {
        BIO_write(from_server_, chunk, static_cast<int>(n));
      }
    }
    FAIL() << "no handshake in 10 rounds";
  }
  void Write(std::string_view bytes) {
    while (!bytes.empty()) {
      int n =
          SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 16384)));
      ASSERT_GT(n, 0);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Everything written so far, to the socket in one send.
  void Flush() {
    char* data = nullptr;
    long len = BIO_get_mem_data(to_server_, &data);
    if (len > 0) {
      ASSERT_EQ(::send(client_fd_, data, static_cast<size_t>(len), MSG_NOSIGNAL), len);
    }
    (void)BIO_reset(to_server_);
  }

 private:
  int client_fd_ = -1;
  int server_fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* from_server_ = nullptr;
  BIO* to_server_ = nullptr;
};

// A server transport with the mesh identity kServerId.
std::unique_ptr<TransportSocket> ServerTransport(const TestCa& ca) {
  TlsContextOptions o;
  o.certificates = {Identity(ca, kServerId, Eku::kServer)};
  return MustCreate(std::move(o))->NewTransportSocket();
}

TEST_F(TlsTest, ServerReadReturnsDataThatArrivedWithTheClientFinished) {
  // The client's Finished and its first record arrive in one segment and
  // read-ahead takes both in one recv. The read that completes the handshake
  // must hand the record over — nothing else would announce bytes that
  // already left the kernel.
  std::unique_ptr<TransportSocket> server = ServerTransport(mesh_ca_);
  SocketPairTlsClient client;
  ASSERT_NO_FATAL_FAILURE(client.HandshakeUntilFinished(*server));
  client.Write("ping");
  client.Flush();

  Buffer received;
  IoResult result = server->DoRead(client.server_fd(), received, /*until_eagain=*/false);
  EXPECT_TRUE(server->Ready());
  EXPECT_EQ(result.bytes, 4u);
  EXPECT_EQ(received.View(), "ping");
}

TEST_F(TlsTest, OneReadTakesAtMostItsShareOfAFastPeersBurst) {
  // A peer that sends faster than the proxy forwards gets one share of the
  // loop per event, as on plaintext; the rest stays in the socket (or in
  // OpenSSL's buffer) for the next round, and nothing is lost.
  std::unique_ptr<TransportSocket> server = ServerTransport(mesh_ca_);
  SocketPairTlsClient client;
  ASSERT_NO_FATAL_FAILURE(client.HandshakeUntilFinished(*server));
  std::string burst(4 * kMaxReadBytesPerCall, '\0');
  for (size_t i = 0; i < burst.size(); ++i) burst[i] = static_cast<char>('a' + i % 26);
  client.Write(burst);
  client.Flush();

  Buffer received;
  int reads = 0;
  while (received.size() < burst.size() && reads < 100) {
    IoResult result = server->DoRead(client.server_fd(), received, /*until_eagain=*/false);
    ++reads;
    ASSERT_EQ(result.action, IoResult::Action::kKeepOpen);
    // One TLS record may complete the share.
    EXPECT_LE(result.bytes, kMaxReadBytesPerCall + 16 * 1024);
    if (received.size() < burst.size()) {
      EXPECT_TRUE(result.more_available) << "after " << received.size() << " bytes";
    }
  }
  EXPECT_GE(reads, 4);
  EXPECT_EQ(received.View(), burst);
}

TEST(PlaintextTransportTest, OneReadTakesAtMostItsShareOfAFastPeersBurst) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  int bytes = 8 << 20;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes));
  std::string burst(4 * kMaxReadBytesPerCall, 'x');
  ASSERT_EQ(::send(fds[0], burst.data(), burst.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(burst.size()));
  PlaintextTransportSocket server;
  Buffer received;
  IoResult first = server.DoRead(fds[1], received, /*until_eagain=*/false);
  EXPECT_GE(first.bytes, kMaxReadBytesPerCall);
  EXPECT_LT(first.bytes, burst.size());
  EXPECT_TRUE(first.more_available);
  while (received.size() < burst.size()) {
    ASSERT_GT(server.DoRead(fds[1], received, /*until_eagain=*/false).bytes, 0u);
  }
  EXPECT_EQ(received.size(), burst.size());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(TlsTest, OurClientSendsSniAndVerifiesOpensslServer) {
  // s_server presents the right identity only to clients that send the SNI
  // name; everyone else gets a certificate for another workload.
  TestLeaf fallback = IssueLeaf(
      mesh_ca_,
      LeafSpec{.uri_sans = {"spiffe://cluster.local/ns/default/sa/fallback"}, .eku = Eku::kServer});
  TestLeaf named = IssueLeaf(
      mesh_ca_,
      LeafSpec{.uri_sans = {kServerId}, .dns_sans = {"svc.example.com"}, .eku = Eku::kServer});
  std::string ca = WriteFile("ca4.pem", mesh_ca_.cert_pem);
  std::string crt = WriteFile("s4.pem", fallback.chain_pem);
  std::string key = WriteFile("s4.key", fallback.key_pem);
  std::string crt2 = WriteFile("s4b.pem", named.chain_pem);
  std::string key2 = WriteFile("s4b.key", named.key_pem);
  auto probe = ListenTcp(*Address::Parse("127.0.0.1", 0), false);
  ASSERT_TRUE(probe.ok());
  uint16_t port = LocalAddress(*probe)->port();
  ::close(*probe);
  std::string command =
      absl::StrCat("timeout 30 openssl s_server -accept 127.0.0.1:", port, " -cert ", crt, " -key ",
                   key, " -servername svc.example.com -cert2 ", crt2, " -key2 ", key2, " -CAfile ",
                   ca, " -Verify 1 -rev >/dev/null 2>&1 & echo $!");
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  int pid = 0;
  ASSERT_EQ(std::fscanf(pipe, "%d", &pid), 1);
  ::pclose(pipe);
  // Bounded wait until it listens.
  bool listening = false;
  for (int i = 0; i < 400 && !listening; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listening = ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0;
    ::close(fd);
    if (!listening) std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(listening);

  auto handshake = [&](const std::string& sni) {
    TlsContextOptions o = MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {Uri(kServerId)});
    o.sni = sni;
    o.alpn_protocols = {"h2", "http/1.1"};
    auto client = MustCreate(o);
    PingClient ping(*dispatcher_, *Address::Parse("127.0.0.1", port), *client);
    ping.exit_on_done = false;
    auto guard = dispatcher_->CreateTimer([&] { dispatcher_->Exit(); });
    guard->Enable(5000ms);
    std::function<void()> check;
    auto checker = dispatcher_->CreateTimer([&] { check(); });
    check = [&] {
      if (ping.conn->transport().Ready() || ping.closed) {
        dispatcher_->Exit();
      } else {
        checker->Enable(2ms);
      }
    };
    checker->Enable(2ms);
    dispatcher_->Run();
    if (!ping.closed) ping.Capture();
    ping.conn->Close(Connection::CloseType::kNoFlush);
    return ping.outcome;
  };
  ClientOutcome with_sni = handshake("svc.example.com");
  ClientOutcome without_sni = handshake("");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(with_sni.peer_identity, kServerId) << with_sni.failure;
  EXPECT_EQ(without_sni.peer_identity, "");
  EXPECT_TRUE(absl::StrContains(without_sni.failure.message(), "sa/fallback"))
      << without_sni.failure;
}

// A TLS client and server socket joined by a relay the test drives byte by
// byte: client <-> [socketpair] <-> relay <-> [socketpair] <-> server. The
// test decides when (and in what pieces) the client's records reach the
// server, so reads can be checked against every way bytes arrive.
class RelayedPair {
 public:
  RelayedPair(std::shared_ptr<const TlsContext> client, std::shared_ptr<const TlsContext> server)
      : client_(client->NewTransportSocket()), server_(server->NewTransportSocket()) {
    MakePair(client_fd_, client_far_);
    MakePair(server_fd_, server_far_);
  }
  ~RelayedPair() {
    for (int fd : {client_fd_, client_far_, server_fd_, server_far_}) ::close(fd);
  }

  // Completes the handshake, relaying every byte as soon as it is written.
  bool Handshake() {
    for (int round = 0; round < 50 && !(client_->Ready() && server_->Ready()); ++round) {
      Buffer none;
      client_->DoWrite(client_fd_, none, false);
      client_->DoRead(client_fd_, none, false);
      RelayToServer(SIZE_MAX);
      server_->DoRead(server_fd_, none, false);
      server_->DoWrite(server_fd_, none, false);
      RelayToClient();
    }
    // TLS 1.3 session tickets follow the server's Finished: let the client
    // read them so they are not mistaken for data later.
    Buffer none;
    client_->DoRead(client_fd_, none, false);
    return client_->Ready() && server_->Ready();
  }

  // The client writes `message` as one record of its own.
  void ClientWrites(const std::string& message) {
    Buffer b;
    b.Append(message);
    ASSERT_EQ(client_->DoWrite(client_fd_, b, false).action, IoResult::Action::kKeepOpen);
    ASSERT_TRUE(b.empty());
  }
  void ClientCloses() {
    Buffer none;
    client_->DoWrite(client_fd_, none, true);
  }

  // Moves up to `limit` of the client's bytes to the server; returns how many.
  size_t RelayToServer(size_t limit) {
    char chunk[64 * 1024];
    size_t moved = 0;
    while (moved < limit) {
      ssize_t n = ::recv(client_far_, chunk, std::min(sizeof(chunk), limit - moved), 0);
      if (n <= 0) break;
      EXPECT_EQ(::send(server_far_, chunk, static_cast<size_t>(n), 0), n);
      moved += static_cast<size_t>(n);
    }
    return moved;
  }
  void RelayToClient() {
    char chunk[64 * 1024];
    ssize_t n;
    while ((n = ::recv(server_far_, chunk, sizeof(chunk), 0)) > 0) {
      EXPECT_EQ(::send(client_far_, chunk, static_cast<size_t>(n), 0), n);
    }
  }
  // Bytes the client wrote that have not been relayed yet.
  size_t Unrelayed() const {
    int queued = 0;
    ::ioctl(client_far_, FIONREAD, &queued);
    return static_cast<size_t>(queued);
  }

  // One read by the server as the connection does on a readable edge.
  IoResult ServerReads(Buffer& out) { return server_->DoRead(server_fd_, out, false); }

 private:
  static void MakePair(int& near, int& far) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    near = fds[0];
    far = fds[1];
  }

  std::unique_ptr<TransportSocket> client_;
  std::unique_ptr<TransportSocket> server_;
  int client_fd_ = -1, client_far_ = -1, server_fd_ = -1, server_far_ = -1;
};

class TlsReadTest : public TlsTest {
 protected:
  std::unique_ptr<RelayedPair> Connected() {
    auto pair = std::make_unique<RelayedPair>(
        MustCreate(MeshClient(mesh_ca_, Identity(mesh_ca_, kClientId), {Uri(kServerId)})),
        MustCreate(MeshServer(mesh_ca_, Identity(mesh_ca_, kServerId), {Uri(kClientId)})));
    EXPECT_TRUE(pair->Handshake());
    return pair;
  }
};

TEST_F(TlsReadTest, RecordsArrivingTogetherAreAllReadOnOneEdge) {
  // Requests pipelined on a keep-alive connection: many records in one
  // arrival. No further edge comes for them, so one read must take them all.
  auto pair = Connected();
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    std::string message = absl::StrCat("GET /", i, " HTTP/1.1\r\nhost: a\r\n\r\n");
    pair->ClientWrites(message);
    expected += message;
  }
  pair->RelayToServer(SIZE_MAX);
  Buffer got;
  IoResult result = pair->ServerReads(got);
  EXPECT_EQ(result.action, IoResult::Action::kKeepOpen);
  EXPECT_EQ(result.bytes, expected.size());
  EXPECT_EQ(got.View(), expected);
}

TEST_F(TlsReadTest, MessagesLargerThanOneSocketReadArriveWhole) {
  // Larger than OpenSSL's read-ahead buffer and than one read chunk (but
  // within what a socketpair buffers): many records, several recv(2)s, still
  // one edge.
  auto pair = Connected();
  std::string big(150 * 1024, 'b');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  pair->ClientWrites(big);
  pair->RelayToServer(SIZE_MAX);
  Buffer got;
  IoResult result = pair->ServerReads(got);
  EXPECT_EQ(result.action, IoResult::Action::kKeepOpen);
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got.View() == big);
}

TEST_F(TlsReadTest, RecordsSplitAcrossArrivalsAreDeliveredAsTheyComplete) {
  // Each arrival is one edge; a record is readable once its last byte came.
  for (size_t piece : {1u, 3u, 5u, 6u, 100u, 1000u}) {
    SCOPED_TRACE(absl::StrCat("arrivals of ", piece, " bytes"));
    auto pair = Connected();
    std::string expected;
    for (int i = 0; i < 3; ++i) {
      std::string message(1500 + i * 700, static_cast<char>('x' + i));
      pair->ClientWrites(message);
      expected += message;
    }
    Buffer got;
    while (pair->Unrelayed() > 0) {
      pair->RelayToServer(piece);
      IoResult result = pair->ServerReads(got);
      ASSERT_EQ(result.action, IoResult::Action::kKeepOpen);
      ASSERT_FALSE(result.end_stream);
    }
    EXPECT_EQ(got.View(), expected);
  }
}

TEST_F(TlsReadTest, CloseNotifyArrivingWithTheLastDataEndsTheStreamOnTheSameEdge) {
  auto pair = Connected();
  pair->ClientWrites("last words");
  pair->ClientCloses();
  pair->RelayToServer(SIZE_MAX);
  Buffer got;
  IoResult result = pair->ServerReads(got);
  EXPECT_EQ(got.View(), "last words");
  EXPECT_TRUE(result.end_stream);
}

}  // namespace
}  // namespace meshgate::proxy::network
