#include "proxy/network/tls_transport_socket.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "ca/openssl_util.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::network {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

std::atomic<uint64_t> g_next_generation{1};

// The OpenSSL error queue of this thread as text (and cleared).
std::string DrainOpenSslErrors() {
  std::vector<std::string> parts;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    parts.emplace_back(text);
  }
  return absl::StrJoin(parts, "; ");
}

// A socket BIO that sends with MSG_NOSIGNAL: a peer that reset the
// connection must cost an error, never a SIGPIPE.
struct SocketBioState {
  int fd = -1;
  bool eof = false;
  // The last recv(2) returned less than asked (or nothing): the socket had
  // no more bytes at that moment, and edge-triggered epoll reports any that
  // arrive later as a new edge.
  bool drained = false;
};

int BioWrite(BIO* bio, const char* data, int len) {
  auto* state = static_cast<SocketBioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::send(state->fd, data, static_cast<size_t>(len), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int BioRead(BIO* bio, char* out, int len) {
  auto* state = static_cast<SocketBioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::recv(state->fd, out, static_cast<size_t>(len), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
  if (n == 0) state->eof = true;
  state->drained = n < len;
  return static_cast<int>(n);
}

long BioCtrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return static_cast<SocketBioState*>(BIO_get_data(bio))->eof ? 1 : 0;
    default:
      return 0;
  }
}

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* SocketBioMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "meshgate_socket");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    return m;
  }();
  return method;
}

std::string HexLower(const unsigned char* data, size_t len) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(data), len));
}

// SHA-256 fetched from the provider once: EVP_sha256() makes OpenSSL 3 look
// the implementation up again (name map, method store, locks) at every use,
// and a peer certificate is hashed on every mutual-TLS handshake.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

std::string CertificateSha256(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, Sha256(), digest, &len) != 1) return {};
  return HexLower(digest, len);
}

std::string SpkiSha256Base64(X509* cert) {
  unsigned char* der = nullptr;
  int der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (der_len <= 0) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = EVP_Digest(der, static_cast<size_t>(der_len), digest, &len, Sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return {};
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

// The text of a SAN string; empty when it embeds a NUL (a name forged to
// read as something else to C string functions).
std::string_view AsnText(const ASN1_STRING* s) {
  std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
  return text.find('\0') == std::string_view::npos ? text : std::string_view();
}

std::vector<std::string> DnsSans(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS) continue;
    std::string_view text = AsnText(name->d.dNSName);
    if (!text.empty()) out.push_back(absl::AsciiStrToLower(std::string(text)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string SpiffeUriSan(const X509* cert) {
  for (const std::string& uri : ca::UriSans(cert)) {
    if (absl::StartsWith(uri, "spiffe://")) return uri;
  }
  return {};
}

// "*.example.com" covers exactly one more label: "a.example.com".
bool WildcardCovers(std::string_view wildcard, std::string_view name) {
  if (!proxy::StartsWith(wildcard, "*.")) return false;
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  return proxy::EqualsIgnoreCase(name.substr(dot + 1), wildcard.substr(2));
}

}  // namespace

struct TlsContext::LoadedCertificate {
  ca::X509Ptr leaf;
  STACK_OF(X509) * chain = nullptr;  // intermediates, owned
  ca::EvpPkeyPtr key;
  std::vector<std::string> names;  // lower-case SNI names, maybe wildcards
  ~LoadedCertificate() {
    if (chain != nullptr) sk_X509_pop_free(chain, X509_free);
  }
};

TlsContext::TlsContext(TlsContextOptions options)
    : options_(std::move(options)),
      generation_(g_next_generation.fetch_add(1, std::memory_order_relaxed)) {}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::Create(TlsContextOptions options) {
  std::shared_ptr<TlsContext> context(new TlsContext(std::move(options)));
  if (absl::Status s = context->Init(); !s.ok()) return s;
  return std::shared_ptr<const TlsContext>(std::move(context));
}

absl::Status TlsContext::Init() {
  ERR_clear_error();
  if (options_.clock == nullptr) options_.clock = &SystemClock::Get();
  ctx_ = SSL_CTX_new(TLS_method());
  if (ctx_ == nullptr) return absl::InternalError("SSL_CTX_new: " + DrainOpenSslErrors());
  if (options_.min_version < TLS1_2_VERSION) {
    return absl::InvalidArgumentError("tls_minimum_protocol_version: below TLS 1.2 is refused");
  }
  if (options_.max_version < options_.min_version) {
    return absl::InvalidArgumentError(
        "tls_maximum_protocol_version: lower than tls_minimum_protocol_version");
  }
  SSL_CTX_set_min_proto_version(ctx_, options_.min_version);
  SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                             SSL_MODE_RELEASE_BUFFERS);
  // Read ahead: one recv(2) takes whatever the socket holds, up to a full
  // buffer, instead of each record's 5-byte header and then its body — a
  // syscall less per record on keep-alive connections, and half the recv
  // calls of a handshake, whose flights are several records.
  SSL_CTX_set_read_ahead(ctx_, 1);
  // A peer closing without close_notify ends the stream like a FIN does;
  // HTTP framing, not TLS, decides whether a message was complete.
  SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                SSL_OP_IGNORE_UNEXPECTED_EOF |
                                (is_server() ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  if (!options_.cipher_suites.empty()) {
    std::string list = absl::StrJoin(options_.cipher_suites, ":");
    if (SSL_CTX_set_cipher_list(ctx_, list.c_str()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls_params.cipher_suites: none usable in '", list, "'"));
    }
  }

  if (is_server() && options_.certificates.empty()) {
    return absl::InvalidArgumentError("tls_certificates: a server needs at least one certificate");
  }
  if (!is_server() && options_.certificates.size() > 1) {
    return absl::InvalidArgumentError("tls_certificates: a client presents at most one");
  }
  for (size_t i = 0; i < options_.certificates.size(); ++i) {
    const TlsCertificateSpec& spec = options_.certificates[i];
    const std::string where = absl::StrCat("tls_certificates[", i, "]");
    auto chain = ca::CertificatesFromPem(spec.chain_pem);
    if (!chain.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".certificate_chain: ", chain.status().message()));
    }
    auto key = ca::PrivateKeyFromPem(spec.private_key_pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".private_key: ", key.status().message()));
    }
    auto loaded = std::make_unique<LoadedCertificate>();
    loaded->leaf = std::move((*chain)[0]);
    loaded->key = *std::move(key);
    if (X509_check_private_key(loaded->leaf.get(), loaded->key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the private key does not match the certificate"));
    }
    loaded->chain = sk_X509_new_null();
    for (size_t c = 1; c < chain->size(); ++c) {
      sk_X509_push(loaded->chain, (*chain)[c].release());
    }
    if (!spec.server_names.empty()) {
      for (const std::string& name : spec.server_names) {
        loaded->names.push_back(absl::AsciiStrToLower(name));
      }
    } else {
      loaded->names = DnsSans(loaded->leaf.get());
    }
    certificates_expire_ = std::min(certificates_expire_, ca::NotAfter(loaded->leaf.get()));
    if (i == 0) {
      local_identity_ = SpiffeUriSan(loaded->leaf.get());
      if (SSL_CTX_use_cert_and_key(ctx_, loaded->leaf.get(), loaded->key.get(), loaded->chain, 1) !=
          1) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", DrainOpenSslErrors()));
      }
    }
    certificates_.push_back(std::move(loaded));
  }
  if (is_server() && certificates_.size() > 1) {
    SSL_CTX_set_cert_cb(ctx_, CertificateCallback, this);
  }

  // Sessions belong to this context alone: the id context is its generation,
  // and OpenSSL gives every SSL_CTX its own random ticket keys.
  uint64_t generation = generation_;
  SSL_CTX_set_session_id_context(ctx_, reinterpret_cast<const unsigned char*>(&generation),
                                 sizeof(generation));
  // Resumption is by ticket only: no server-side session store to grow and
  // lock, and a ticket decrypts only under the context that issued it.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  if (is_server()) {
    if (options_.session_tickets) {
      SSL_CTX_set_num_tickets(ctx_, 1);
    } else {
      // With the cache off, a TLS 1.3 ticket without SSL_OP_NO_TICKET would
      // name a session nobody stored: send none at all.
      SSL_CTX_set_num_tickets(ctx_, 0);
      SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    }
  }

  for (const std::string& protocol : options_.alpn_protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("alpn_protocols: invalid protocol name '", protocol, "'"));
    }
    alpn_wire_.push_back(static_cast<char>(protocol.size()));
    alpn_wire_ += protocol;
  }
  if (!alpn_wire_.empty()) {
    if (is_server()) {
      SSL_CTX_set_alpn_select_cb(ctx_, AlpnSelectCallback, this);
    } else if (SSL_CTX_set_alpn_protos(ctx_,
                                       reinterpret_cast<const unsigned char*>(alpn_wire_.data()),
                                       static_cast<unsigned int>(alpn_wire_.size())) != 0) {
      return absl::InvalidArgumentError("alpn_protocols: " + DrainOpenSslErrors());
    }
  }

  if (options_.validation) {
    const TlsValidationSpec& v = *options_.validation;
    if (!v.trusted_ca_pem.empty()) {
      auto roots = ca::CertificatesFromPem(v.trusted_ca_pem);
      if (!roots.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("validation_context.trusted_ca: ", roots.status().message()));
      }
      X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
      for (const ca::X509Ptr& root : *roots) {
        if (X509_STORE_add_cert(store, root.get()) != 1) {
          return absl::InvalidArgumentError("validation_context.trusted_ca: " +
                                            DrainOpenSslErrors());
        }
      }
    }
    int mode = SSL_VERIFY_PEER;
    if (is_server() && options_.require_client_certificate) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx_, mode, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx_, VerifyCallback, this);
  } else if (is_server() && options_.require_client_certificate) {
    return absl::InvalidArgumentError(
        "require_client_certificate: needs a validation context to verify the certificate with");
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  ERR_clear_error();
  return absl::OkStatus();
}

const TlsContext::LoadedCertificate* TlsContext::SelectCertificate(
    std::string_view server_name) const {
  if (!server_name.empty()) {
    for (const auto& c : certificates_) {
      for (const std::string& name : c->names) {
        if (proxy::EqualsIgnoreCase(name, server_name)) return c.get();
      }
    }
    for (const auto& c : certificates_) {
      for (const std::string& name : c->names) {
        if (WildcardCovers(name, server_name)) return c.get();
      }
    }
  }
  return certificates_.front().get();
}

int TlsContext::CertificateCallback(SSL* ssl, void* arg) {
  const auto* context = static_cast<const TlsContext*>(arg);
  const char* server_name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const LoadedCertificate* chosen =
      context->SelectCertificate(server_name == nullptr ? "" : server_name);
  if (chosen == context->certificates_.front().get()) return 1;  // the context's default
  return SSL_use_cert_and_key(ssl, chosen->leaf.get(), chosen->key.get(), chosen->chain, 1) == 1
             ? 1
             : 0;
}

int TlsContext::AlpnSelectCallback(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len,
                                   const unsigned char* in, unsigned int in_len, void* arg) {
  const auto* context = static_cast<const TlsContext*>(arg);
  for (const std::string& ours : context->options_.alpn_protocols) {
    for (unsigned int i = 0; i < in_len;) {
      unsigned int len = in[i];
      if (i + 1 + len > in_len) break;  // malformed list: stop reading it
      if (len == ours.size() && std::memcmp(in + i + 1, ours.data(), len) == 0) {
        *out = in + i + 1;
        *out_len = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool TlsContext::PeerNameMatches(X509* leaf) const {
  const auto& matchers = options_.validation->san_matchers;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool matched = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !matched; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    SanMatcher::Type type;
    std::string text;
    switch (name->type) {
      case GEN_DNS:
        type = SanMatcher::Type::kDns;
        text = AsnText(name->d.dNSName);
        break;
      case GEN_URI:
        type = SanMatcher::Type::kUri;
        text = AsnText(name->d.uniformResourceIdentifier);
        break;
      case GEN_EMAIL:
        type = SanMatcher::Type::kEmail;
        text = AsnText(name->d.rfc822Name);
        break;
      case GEN_IPADD: {
        type = SanMatcher::Type::kIpAddress;
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        char buffer[INET6_ADDRSTRLEN] = {};
        int length = ASN1_STRING_length(ip);
        int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : AF_UNSPEC;
        if (family == AF_UNSPEC ||
            inet_ntop(family, ASN1_STRING_get0_data(ip), buffer, sizeof(buffer)) == nullptr) {
          continue;
        }
        text = buffer;
        break;
      }
      default:
        continue;
    }
    if (text.empty()) continue;
    for (const SanMatcher& m : matchers) {
      // A typed matcher sees only names of its own type: a DNS name spelled
      // like a SPIFFE URI is not that identity.
      if (m.type != SanMatcher::Type::kAny && m.type != type) continue;
      if (m.matcher.Matches(text) ||
          (type == SanMatcher::Type::kDns && m.matcher.kind() == StringMatcher::Kind::kExact &&
           WildcardCovers(text, m.matcher.pattern()))) {
        matched = true;
        break;
      }
    }
  }
  GENERAL_NAMES_free(names);
  return matched;
}

absl::Status TlsContext::VerifyPeer(X509_STORE_CTX* store_ctx) const {
  const TlsValidationSpec& v = *options_.validation;
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (leaf == nullptr) return absl::UnauthenticatedError("peer presented no certificate");
  // The peer's role decides the usage its certificate must allow.
  const int purpose = is_server() ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER;
  const char* usage = is_server() ? "clientAuth" : "serverAuth";
  if (X509_check_purpose(leaf, purpose, 0) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError(
        absl::StrCat("peer certificate is not valid for TLS ", is_server() ? "client" : "server",
                     " authentication (extendedKeyUsage lacks ", usage, ")"));
  }
  if (!v.trusted_ca_pem.empty()) {
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(store_ctx),
                               absl::ToTimeT(options_.clock->Now()));
    X509_STORE_CTX_set_purpose(store_ctx, purpose);
    if (X509_verify_cert(store_ctx) != 1) {
      int error = X509_STORE_CTX_get_error(store_ctx);
      ERR_clear_error();
      return absl::UnauthenticatedError(absl::StrCat("peer certificate verification failed: ",
                                                     X509_verify_cert_error_string(error)));
    }
  }
  if (!v.certificate_hashes.empty() || !v.spki_hashes.empty()) {
    bool pinned = false;
    if (!v.certificate_hashes.empty()) {
      std::string hash = CertificateSha256(leaf);
      for (const std::string& expected : v.certificate_hashes) {
        pinned |= absl::AsciiStrToLower(absl::StrReplaceAll(expected, {{":", ""}})) == hash;
      }
    }
    if (!pinned && !v.spki_hashes.empty()) {
      std::string spki = SpkiSha256Base64(leaf);
      for (const std::string& expected : v.spki_hashes) pinned |= expected == spki;
    }
    if (!pinned) {
      return absl::PermissionDeniedError("peer certificate matches no pinned hash");
    }
  }
  if (!v.san_matchers.empty() && !PeerNameMatches(leaf)) {
    std::vector<std::string> uris = ca::UriSans(leaf);
    return absl::PermissionDeniedError(
        absl::StrCat("peer certificate matches no subject alt name matcher (URI SANs: [",
                     absl::StrJoin(uris, ", "), "])"));
  }
  return absl::OkStatus();
}

int TlsContext::VerifyCallback(X509_STORE_CTX* store_ctx, void* arg) {
  const auto* context = static_cast<const TlsContext*>(arg);
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  absl::Status status = context->VerifyPeer(store_ctx);
  if (status.ok()) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
    return 1;
  }
  if (ssl != nullptr) {
    if (auto* socket = static_cast<TlsTransportSocket*>(SSL_get_app_data(ssl))) {
      socket->verify_failure_ = status;
    }
  }
  if (X509_STORE_CTX_get_error(store_ctx) == X509_V_OK) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
  }
  return 0;
}

std::unique_ptr<TransportSocket> TlsContext::NewTransportSocket(std::string_view sni) const {
  return std::make_unique<TlsTransportSocket>(shared_from_this(), sni);
}

// ---------------------------------------------------------------------------

namespace {

SocketBioState* BioStateOf(SSL* ssl) {
  return static_cast<SocketBioState*>(BIO_get_data(SSL_get_rbio(ssl)));
}

}  // namespace

TlsTransportSocket::TlsTransportSocket(std::shared_ptr<const TlsContext> context,
                                       std::string_view sni)
    : context_(std::move(context)) {
  ssl_ = SSL_new(context_->ctx_);
  SSL_set_app_data(ssl_, this);
  BIO* bio = BIO_new(SocketBioMethod());
  BIO_set_data(bio, new SocketBioState());
  SSL_set_bio(ssl_, bio, bio);
  if (context_->is_server()) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    const std::string& own = context_->options().sni;
    const std::string name(sni.empty() ? std::string_view(own) : sni);
    if (!name.empty()) SSL_set_tlsext_host_name(ssl_, name.c_str());
  }
}

TlsTransportSocket::~TlsTransportSocket() {
  SocketBioState* state = BioStateOf(ssl_);
  SSL_free(ssl_);
  delete state;
}

void TlsTransportSocket::Fail(absl::Status status) {
  if (failure_.ok()) failure_ = std::move(status);
}

TlsTransportSocket::Step TlsTransportSocket::Handshake(int fd) {
  BioStateOf(ssl_)->fd = fd;
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    OnHandshakeDone();
    return Step::kDone;
  }
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Step::kBlocked;
  if (!verify_failure_.ok()) {
    Fail(verify_failure_);
  } else {
    std::string detail = DrainOpenSslErrors();
    if (detail.empty()) detail = "connection closed during the handshake";
    Fail(absl::UnavailableError(absl::StrCat("TLS handshake failed: ", detail)));
  }
  return Step::kFailed;
}

void TlsTransportSocket::OnHandshakeDone() {
  handshake_done_ = true;
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr) return;
  peer_certificate_sha256_ = CertificateSha256(peer);
  // Only a verified certificate names anyone.
  if (context_->options().validation && SSL_get_verify_result(ssl_) == X509_V_OK) {
    peer_identity_ = SpiffeUriSan(peer);
  }
}

IoResult TlsTransportSocket::DoRead(int fd, Buffer& out, bool until_eagain) {
  IoResult result;
  BioStateOf(ssl_)->fd = fd;
  if (!handshake_done_) {
    Step step = Handshake(fd);
    if (step == Step::kFailed) result.action = IoResult::Action::kClose;
    if (step != Step::kDone) return result;
  }
  // Read until the socket is drained and OpenSSL holds nothing more:
  // records it buffered produce no further epoll edge. As on a plaintext
  // socket, a short recv(2) means drained (no EAGAIN round trip), unless the
  // caller asked to read until EAGAIN to see the end of the stream.
  SocketBioState* bio_state = BioStateOf(ssl_);
  bio_state->drained = false;
  thread_local char scratch[kReadChunk];
  while (true) {
    ERR_clear_error();
    int n = SSL_read(ssl_, scratch, static_cast<int>(kReadChunk));
    if (n > 0) {
      out.Append(std::string_view(scratch, static_cast<size_t>(n)));
      result.bytes += static_cast<size_t>(n);
      if (!until_eagain && bio_state->drained && SSL_has_pending(ssl_) == 0) return result;
      if (result.bytes >= kMaxReadBytesPerCall) {
        // As on a plaintext socket: a fast peer gets one share of the loop;
        // the rest (in the socket or OpenSSL's buffer) is read next round.
        result.more_available = true;
        return result;
      }
      continue;
    }
    switch (SSL_get_error(ssl_, n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return result;
      case SSL_ERROR_ZERO_RETURN:
        result.end_stream = true;
        return result;
      default:
        Fail(absl::UnavailableError("TLS read failed: " + DrainOpenSslErrors()));
        result.action = IoResult::Action::kClose;
        return result;
    }
  }
}

IoResult TlsTransportSocket::DoWrite(int fd, Buffer& in, bool end_stream) {
  IoResult result;
  BioStateOf(ssl_)->fd = fd;
  if (!handshake_done_) {
    Step step = Handshake(fd);
    if (step == Step::kFailed) result.action = IoResult::Action::kClose;
    if (step != Step::kDone) return result;
  }
  while (!in.empty()) {
    std::string_view pending = in.View();
    ERR_clear_error();
    int n = SSL_write(ssl_, pending.data(),
                      static_cast<int>(std::min<size_t>(pending.size(), INT_MAX)));
    if (n > 0) {
      in.Drain(static_cast<size_t>(n));
      result.bytes += static_cast<size_t>(n);
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return result;
    Fail(absl::UnavailableError("TLS write failed: " + DrainOpenSslErrors()));
    result.action = IoResult::Action::kClose;
    return result;
  }
  if (end_stream && !shutdown_sent_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify; the peer's is not awaited
    ERR_clear_error();
    ::shutdown(fd, SHUT_WR);
    shutdown_sent_ = true;
    result.end_stream = true;
  }
  return result;
}

void TlsTransportSocket::OnClose(int fd) {
  if (!handshake_done_ || shutdown_sent_) return;
  BioStateOf(ssl_)->fd = fd;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
  shutdown_sent_ = true;
}

std::string TlsTransportSocket::NegotiatedProtocol() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  if (data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(data), len);
}

bool TlsTransportSocket::session_reused() const { return SSL_session_reused(ssl_) == 1; }

}  // namespace meshgate::proxy::network
