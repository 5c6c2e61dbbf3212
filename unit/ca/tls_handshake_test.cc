// Real TLS 1.3 mutual handshakes over loopback TCP between two OpenSSL
// endpoints holding certificates issued by the CA, each checking the other's
// SPIFFE ID with InstallSpiffePeerVerification.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_join.h"
#include "ca/certificate_authority.h"
#include "ca/spiffe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/ca/test_util.h"

namespace meshgate::ca {
namespace {

using ::meshgate::ca::testing::NewKey;
using ::meshgate::ca::testing::RunCommand;
using ::meshgate::ca::testing::TempDir;
using ::meshgate::ca::testing::WorkloadCsr;
using ::meshgate::ca::testing::WriteFile;
using ::testing::HasSubstr;

constexpr char kClientId[] = "spiffe://cluster.local/ns/shop/sa/frontend";
constexpr char kServerId[] = "spiffe://cluster.local/ns/shop/sa/cart";

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL_free>>;

struct Identity {
  std::string key_pem;
  std::string chain_pem;
};

struct Endpoint {
  Identity identity;
  std::string trust_bundle;
  SpiffePeerPolicy policy;
};

struct Side {
  bool ok = false;
  absl::StatusOr<std::string> peer_id = absl::UnknownError("no handshake");
  int version = 0;
};

SslCtxPtr MakeContext(const Endpoint& endpoint, bool server) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  auto key = PrivateKeyFromPem(endpoint.identity.key_pem);
  auto chain = CertificatesFromPem(endpoint.identity.chain_pem);
  EXPECT_TRUE(key.ok() && chain.ok());
  EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), chain->front().get()), 1);
  for (size_t i = 1; i < chain->size(); ++i) SSL_CTX_add1_chain_cert(ctx.get(), (*chain)[i].get());
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key->get()), 1);
  absl::Status installed =
      InstallSpiffePeerVerification(ctx.get(), endpoint.trust_bundle, &endpoint.policy);
  EXPECT_TRUE(installed.ok()) << installed;
  return ctx;
}

void SetTimeouts(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Server writes "s" and reads "c"; client reads "s" and writes "c". A side is
// ok only when its handshake and both messages went through.
std::pair<Side, Side> Handshake(const Endpoint& server, const Endpoint& client) {
  SslCtxPtr server_ctx = MakeContext(server, true);
  SslCtxPtr client_ctx = MakeContext(client, false);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  Side server_side, client_side;
  std::thread server_thread([&] {
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    SetTimeouts(fd);
    SslPtr ssl(SSL_new(server_ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    char byte = 0;
    bool ok = SSL_accept(ssl.get()) == 1;
    server_side.peer_id = VerifiedPeerSpiffeId(ssl.get());
    server_side.version = SSL_version(ssl.get());
    ok = ok && SSL_write(ssl.get(), "s", 1) == 1 && SSL_read(ssl.get(), &byte, 1) == 1 &&
         byte == 'c';
    server_side.ok = ok;
    if (ok) SSL_shutdown(ssl.get());
    close(fd);
  });
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  SetTimeouts(fd);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  SslPtr ssl(SSL_new(client_ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  char byte = 0;
  bool ok = SSL_connect(ssl.get()) == 1;
  client_side.peer_id = VerifiedPeerSpiffeId(ssl.get());
  client_side.version = SSL_version(ssl.get());
  ok = ok && SSL_read(ssl.get(), &byte, 1) == 1 && byte == 's' && SSL_write(ssl.get(), "c", 1) == 1;
  client_side.ok = ok;
  close(fd);
  server_thread.join();
  close(listener);
  return {std::move(server_side), std::move(client_side)};
}

class TlsHandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(ca_storage_, ca_clock_, {});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    // Issued three days ago for one hour: expired now.
    expired_server_ = Issue(*ca_, kServerId, absl::Hours(1));
    ca_clock_.Advance(absl::Hours(72));
    client_ = Issue(*ca_, kClientId, absl::Hours(24));
    server_ = Issue(*ca_, kServerId, absl::Hours(24));
    auto other = CertificateAuthority::LoadOrCreate(other_storage_, ca_clock_, {});
    ASSERT_TRUE(other.ok());
    other_ca_ = *std::move(other);
    foreign_server_ = Issue(*other_ca_, kServerId, absl::Hours(24));
  }

  static Identity Issue(const CertificateAuthority& ca, const std::string& id, absl::Duration ttl) {
    EvpPkeyPtr key = NewKey();
    auto issued = ca.Sign(WorkloadCsr(key.get(), id), ttl, id);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return Identity{*PrivateKeyToPem(key.get()), absl::StrJoin(issued->chain_pem, "")};
  }

  Endpoint Server(Identity identity, std::vector<std::string> allowed_clients = {kClientId}) {
    return Endpoint{std::move(identity),
                    ca_->TrustBundlePem(),
                    {std::move(allowed_clients), PeerRole::kClient, &SystemClock::Get()}};
  }
  Endpoint Client(Identity identity, std::vector<std::string> allowed_servers = {kServerId}) {
    return Endpoint{std::move(identity),
                    ca_->TrustBundlePem(),
                    {std::move(allowed_servers), PeerRole::kServer, &SystemClock::Get()}};
  }

  ManualClock ca_clock_{absl::Now() - absl::Hours(72)};
  MemoryCaStorage ca_storage_, other_storage_;
  std::unique_ptr<CertificateAuthority> ca_, other_ca_;
  Identity client_, server_, expired_server_, foreign_server_;
};

TEST_F(TlsHandshakeTest, MutualTls13VerifiesBothSpiffeIds) {
  auto [server, client] = Handshake(Server(server_), Client(client_));
  EXPECT_TRUE(server.ok);
  EXPECT_TRUE(client.ok);
  EXPECT_EQ(server.version, TLS1_3_VERSION);
  ASSERT_TRUE(server.peer_id.ok()) << server.peer_id.status();
  ASSERT_TRUE(client.peer_id.ok()) << client.peer_id.status();
  EXPECT_EQ(*server.peer_id, kClientId);
  EXPECT_EQ(*client.peer_id, kServerId);
}

TEST_F(TlsHandshakeTest, ClientRejectsServerWithUnexpectedId) {
  auto [server, client] =
      Handshake(Server(server_), Client(client_, {"spiffe://cluster.local/ns/shop/sa/payments"}));
  EXPECT_FALSE(client.ok);
  EXPECT_FALSE(server.ok);
  EXPECT_EQ(client.peer_id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(client.peer_id.status().message()), HasSubstr(kServerId));
}

TEST_F(TlsHandshakeTest, ServerRejectsClientWithUnexpectedId) {
  auto [server, client] =
      Handshake(Server(server_, {"spiffe://cluster.local/ns/shop/sa/admin"}), Client(client_));
  EXPECT_FALSE(server.ok);
  EXPECT_FALSE(client.ok);
  EXPECT_EQ(server.peer_id.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(TlsHandshakeTest, ClientRejectsExpiredServerCertificate) {
  auto [server, client] = Handshake(Server(expired_server_), Client(client_));
  EXPECT_FALSE(client.ok);
  EXPECT_FALSE(server.ok);
  EXPECT_THAT(std::string(client.peer_id.status().message()), HasSubstr("expired"));
}

TEST_F(TlsHandshakeTest, ClientRejectsServerFromAnotherRoot) {
  auto [server, client] = Handshake(Server(foreign_server_), Client(client_));
  EXPECT_FALSE(client.ok);
  EXPECT_FALSE(server.ok);
  // The foreign root travels in the chain; it is not one of ours.
  EXPECT_THAT(std::string(client.peer_id.status().message()),
              ::testing::AnyOf(HasSubstr("local issuer"),
                               HasSubstr("self-signed certificate in certificate chain")));
}

TEST_F(TlsHandshakeTest, ServerRejectsClientLeafWithoutClientAuth) {
  // A leaf for the right identity from the right CA, but serverAuth only;
  // signed with the real openssl CLI using the CA's own key.
  TempDir dir;
  EvpPkeyPtr key = NewKey();
  WriteFile(dir / "leaf.csr", WorkloadCsr(key.get(), kClientId));
  WriteFile(dir / "ca-key.pem", *ca_storage_.Read("ca-key.pem"));
  WriteFile(dir / "ca-cert.pem", *ca_storage_.Read("ca-cert.pem"));
  WriteFile(dir / "ext.cnf", absl::StrCat("basicConstraints=critical,CA:FALSE\n"
                                          "keyUsage=critical,digitalSignature\n"
                                          "extendedKeyUsage=serverAuth\n"
                                          "subjectAltName=critical,URI:",
                                          kClientId, "\n"));
  auto signed_leaf = RunCommand(absl::StrCat(
      "cd ", dir.path().string(),
      " && openssl x509 -req -in leaf.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial "
      "-days 1 -extfile ext.cnf -out leaf.pem"));
  ASSERT_EQ(signed_leaf.exit_code, 0) << signed_leaf.output;
  Identity server_auth_only{*PrivateKeyToPem(key.get()), testing::ReadFile(dir / "leaf.pem")};

  auto [server, client] = Handshake(Server(server_), Client(server_auth_only));
  EXPECT_FALSE(server.ok);
  EXPECT_FALSE(client.ok);
  EXPECT_EQ(server.peer_id.status().code(), absl::StatusCode::kUnauthenticated);
  // Control: the same construction with clientAuth is accepted.
  WriteFile(dir / "ext.cnf", absl::StrCat("extendedKeyUsage=serverAuth,clientAuth\n"
                                          "subjectAltName=critical,URI:",
                                          kClientId, "\n"));
  ASSERT_EQ(
      RunCommand(absl::StrCat("cd ", dir.path().string(),
                              " && openssl x509 -req -in leaf.csr -CA ca-cert.pem -CAkey "
                              "ca-key.pem -CAcreateserial -days 1 -extfile ext.cnf -out leaf.pem"))
          .exit_code,
      0);
  Identity with_client_auth{*PrivateKeyToPem(key.get()), testing::ReadFile(dir / "leaf.pem")};
  auto [server2, client2] = Handshake(Server(server_), Client(with_client_auth));
  EXPECT_TRUE(server2.ok) << server2.peer_id.status();
  EXPECT_TRUE(client2.ok);
}

}  // namespace
}  // namespace meshgate::ca
