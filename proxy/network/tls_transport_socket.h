// TLS for meshgate-proxy: TlsContext (one OpenSSL SSL_CTX built from config
// and secrets) and TlsTransportSocket (one SSL on one Connection).
//
// A TlsContext is immutable once built and shared (std::shared_ptr<const>)
// by every socket made from it; a certificate or trust change builds a new
// context, which applies to new handshakes only, while established
// connections keep the context they started with. Each context has its own
// generation number, session-id context and random ticket keys, so a session
// resumed under one context can never be accepted by another: after a trust
// change every peer is verified again (Envoy CVE-2022-21654). A server issues
// one TLS 1.3 session ticket per full handshake (OpenSSL's default is two):
// enough for a client to resume its next connection, at half the ticket cost
// of a handshake; `session_tickets = false` issues none.
//
// Verification (when a validation config is present) replaces OpenSSL's
// default: the chain must reach a trusted root at the clock's time, the leaf
// must allow the peer's role by its extendedKeyUsage (clientAuth for clients,
// serverAuth for servers, CVE-2022-21657), and, when SAN matchers are given,
// one of them must match a subject alternative name of its own type only — a
// URI matcher never matches a DNS SAN with the same text (CVE-2022-21656).
// The peer identity is the verified certificate's spiffe:// URI SAN.
//
// The server picks its certificate by SNI among several: exact name first,
// then a wildcard, else the first certificate. ALPN: the server takes the
// first protocol of its own list the client offered (none when there is no
// overlap); the client offers its list in order and sends `sni`.
//
// Reads cost what plaintext reads cost in syscalls: OpenSSL reads ahead (one
// recv(2) for a burst of records, not a header and a body per record), and a
// short recv(2) ends a read like on a plaintext socket, with no EAGAIN probe.
//
// Thread-safety: a TlsContext may be used from any thread. A
// TlsTransportSocket belongs to one Connection on one worker thread.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "proxy/network/transport_socket.h"
#include "proxy/router/string_matcher.h"

namespace meshgate::proxy::network {

// One subject-alternative-name matcher. kAny is the untyped form
// (match_subject_alt_names): DNS, URI, e-mail and IP SANs are all compared.
struct SanMatcher {
  enum class Type { kAny, kDns, kUri, kEmail, kIpAddress };
  Type type = Type::kAny;
  StringMatcher matcher;
};

// A certificate chain (leaf first) and its private key, PEM.
struct TlsCertificateSpec {
  std::string chain_pem;
  std::string private_key_pem;
  // SNI names this certificate is for; empty: the DNS SANs of the leaf.
  std::vector<std::string> server_names;
};

struct TlsValidationSpec {
  // PEM roots; empty means the chain is not verified (only the checks below).
  std::string trusted_ca_pem;
  std::vector<SanMatcher> san_matchers;  // any one must match; empty: any name
  // Lower-case hex SHA-256 of the leaf's DER (colons allowed in the config).
  std::vector<std::string> certificate_hashes;
  // Base64 SHA-256 of the leaf's SubjectPublicKeyInfo.
  std::vector<std::string> spki_hashes;
};

struct TlsContextOptions {
  enum class Side { kServer, kClient };
  Side side = Side::kServer;
  // Server: at least one. Client: none, or one (mTLS).
  std::vector<TlsCertificateSpec> certificates;
  std::optional<TlsValidationSpec> validation;
  // Server only: refuse clients without a certificate (only with validation).
  bool require_client_certificate = false;
  // Server: what it accepts, in preference order. Client: what it offers.
  std::vector<std::string> alpn_protocols;
  std::string sni;  // client only
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::vector<std::string> cipher_suites;  // TLS 1.2 suites (OpenSSL names); empty: defaults
  // Server only: issue session tickets so clients can resume (Envoy's
  // !disable_stateless_session_resumption). Off, every handshake is a full one.
  bool session_tickets = true;
  // Time for certificate validity; null: the system clock. Must outlive the
  // context.
  const Clock* clock = nullptr;
};

class TlsContext : public std::enable_shared_from_this<TlsContext> {
 public:
  // Fails with INVALID_ARGUMENT naming the certificate or setting at fault.
  static absl::StatusOr<std::shared_ptr<const TlsContext>> Create(TlsContextOptions options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A client connection sends `sni` when given, else the context's own: one
  // client context serves every cluster that differs only in SNI.
  std::unique_ptr<TransportSocket> NewTransportSocket(std::string_view sni = {}) const;

  bool is_server() const { return options_.side == TlsContextOptions::Side::kServer; }
  uint64_t generation() const { return generation_; }
  const TlsContextOptions& options() const { return options_; }
  // The spiffe:// URI SAN of the first certificate, empty if none.
  const std::string& local_identity() const { return local_identity_; }
  // Earliest notAfter among the certificates (for stats and logs).
  absl::Time certificates_expire() const { return certificates_expire_; }

 private:
  struct LoadedCertificate;
  explicit TlsContext(TlsContextOptions options);
  absl::Status Init();
  absl::Status VerifyPeer(X509_STORE_CTX* store_ctx) const;
  bool PeerNameMatches(X509* leaf) const;
  const LoadedCertificate* SelectCertificate(std::string_view server_name) const;

  static int VerifyCallback(X509_STORE_CTX* store_ctx, void* arg);
  static int CertificateCallback(SSL* ssl, void* arg);
  static int AlpnSelectCallback(SSL* ssl, const unsigned char** out, unsigned char* out_len,
                                const unsigned char* in, unsigned int in_len, void* arg);

  friend class TlsTransportSocket;

  TlsContextOptions options_;
  uint64_t generation_;
  SSL_CTX* ctx_ = nullptr;
  std::vector<std::unique_ptr<LoadedCertificate>> certificates_;
  std::string alpn_wire_;  // length-prefixed protocol list
  std::string local_identity_;
  absl::Time certificates_expire_ = absl::InfiniteFuture();
};

class TlsTransportSocket final : public TransportSocket {
 public:
  explicit TlsTransportSocket(std::shared_ptr<const TlsContext> context, std::string_view sni = {});
  ~TlsTransportSocket() override;

  IoResult DoRead(int fd, Buffer& out, bool until_eagain) override;
  IoResult DoWrite(int fd, Buffer& in, bool end_stream) override;
  void OnClose(int fd) override;
  std::string NegotiatedProtocol() const override;
  std::string PeerIdentity() const override { return peer_identity_; }
  std::string PeerCertificateSha256() const override { return peer_certificate_sha256_; }
  std::string LocalIdentity() const override { return context_->local_identity(); }
  bool Ready() const override { return handshake_done_; }

  // Why the handshake failed (peer verification or protocol), for logs and
  // tests; OK while none failed.
  const absl::Status& failure() const { return failure_; }
  // Whether the handshake resumed an earlier session.
  bool session_reused() const;
  const TlsContext& context() const { return *context_; }

 private:
  enum class Step { kDone, kBlocked, kFailed };
  Step Handshake(int fd);
  void OnHandshakeDone();
  void Fail(absl::Status status);

  friend class TlsContext;
  std::shared_ptr<const TlsContext> context_;
  SSL* ssl_ = nullptr;
  bool fd_attached_ = false;
  bool handshake_done_ = false;
  bool shutdown_sent_ = false;
  absl::Status failure_;
  absl::Status verify_failure_;
  std::string peer_identity_;
  std::string peer_certificate_sha256_;
};

}  // namespace meshgate::proxy::network
