// meshgate-tls-handshakes: a load generator of full TLS handshakes against
// one HOST:PORT, as cheap per handshake as OpenSSL lets a client be, that
// reports its own CPU next to the server's so a reader sees which side bound
// the run. (With OpenSSL 3.0 a client handshake still costs about twice a
// server's: see --memory.)
//
// Each of --threads threads runs its own epoll loop over --connections /
// --threads non-blocking connections at once. A connection: TCP connect, full
// handshake (the client never offers a session: no cache, the session dropped
// before each reuse, a resumed handshake counted as a failure), close_notify,
// then read until the server closes — so the server has processed the
// client's Finished and the connection's TIME_WAIT stays on the server side
// instead of exhausting the client's ephemeral ports. The SSL_CTX is shared;
// each slot keeps its SSL and socket BIO and reuses them with SSL_clear.
// The server's certificate is not verified (it is the server's cost being
// measured), but its handshake signature is, as TLS requires.
//
// The window (--seconds, after --warmup) reports the rate and who paid for it:
// the client's own CPU (getrusage), how busy the client's CPUs were
// (/proc/stat over its affinity mask), and with --server-pid the server's CPU
// (the scheduler's per-thread nanoseconds) and the rate per server
// CPU-second ("per core").
//
//   meshgate-tls-handshakes --target 127.0.0.1:8443 [--seconds 5] [--warmup 1]
//       [--connections 64] [--threads 1] [--tls13|--tls12] [--sni NAME]
//       [--server-pid PID]
//   meshgate-tls-handshakes --crypto
//   meshgate-tls-handshakes --memory --cert CERT.pem --key KEY.pem [--tls12]
//       [--tickets N]
//
// --crypto times, on this thread, the public-key operations of one full
// handshake with this library — X25519 key generation and derivation, ECDSA
// P-256 sign and verify (SHA-256), P-256 ECDHE for comparison — and prints
// the per-handshake cost of each side and the handshakes per second per core
// that the crypto alone would allow (the ceiling no server can pass).
//
// --memory runs full handshakes between an OpenSSL client and server on this
// thread over an in-memory BIO pair — no sockets, no event loop — with the
// server set up as meshgate-proxy sets up its contexts (session cache off,
// one ticket unless --tickets says otherwise, released buffers), and prints
// the time each side spent per handshake: the server's is what the TLS
// library costs, crypto included, before the proxy adds anything.
//
// Output, one line of key=value: handshakes failed resumed seconds rate
// tickets_per_handshake client_cpu client_user client_sys client_cpus_busy
// [server_cpu rate_per_server_core].
//
// Independent of the proxy it measures: links OpenSSL only.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double seconds = 5;
  double warmup = 1;
  int connections = 64;
  int threads = 1;
  int version = TLS1_3_VERSION;
  std::string sni = "bench.example.com";
  int server_pid = 0;
  bool crypto = false;
  bool memory = false;
  std::string cert_file;
  std::string key_file;
  int tickets = 1;  // --memory: session tickets the server issues per handshake
};

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--crypto") {
      o.crypto = true;
    } else if (a == "--memory") {
      o.memory = true;
    } else if (a == "--tls12") {
      o.version = TLS1_2_VERSION;
    } else if (a == "--tls13") {
      o.version = TLS1_3_VERSION;
    } else if ((v = next()) == nullptr) {
      return false;
    } else if (a == "--target") {
      std::string t = v;
      size_t colon = t.rfind(':');
      if (colon == std::string::npos) return false;
      o.host = t.substr(0, colon);
      o.port = std::atoi(t.c_str() + colon + 1);
    } else if (a == "--seconds") {
      o.seconds = std::atof(v);
    } else if (a == "--warmup") {
      o.warmup = std::atof(v);
    } else if (a == "--connections") {
      o.connections = std::atoi(v);
    } else if (a == "--threads") {
      o.threads = std::atoi(v);
    } else if (a == "--sni") {
      o.sni = v;
    } else if (a == "--tickets") {
      o.tickets = std::atoi(v);
    } else if (a == "--cert") {
      o.cert_file = v;
    } else if (a == "--key") {
      o.key_file = v;
    } else if (a == "--server-pid") {
      o.server_pid = std::atoi(v);
    } else {
      return false;
    }
  }
  if (o.crypto) return true;
  if (o.memory) return !o.cert_file.empty() && !o.key_file.empty();
  return o.port > 0 && o.seconds > 0 && o.warmup >= 0 && o.threads > 0 &&
         o.connections >= o.threads;
}

// Counters of one generator thread, written by it alone, read by main.
struct alignas(64) Counters {
  std::atomic<uint64_t> handshakes{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> resumed{0};
  std::atomic<uint64_t> tickets{0};
};

// A ticket arriving is counted, never kept: SSL_SESS_CACHE_NO_INTERNAL_STORE
// and returning 0 leave the session to OpenSSL, which frees it. (TLS 1.2
// reports every new session here, with or without a ticket.)
int CountTicket(SSL* ssl, SSL_SESSION* session) {
  if (SSL_SESSION_has_ticket(session) != 1) return 0;
  auto* counters = static_cast<Counters*>(SSL_get_app_data(ssl));
  counters->tickets.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

// The server's certificate is taken as is; the CertificateVerify signature
// is still checked by OpenSSL.
int AcceptAnyChain(X509_STORE_CTX* /*store_ctx*/, void* /*arg*/) { return 1; }

class Generator {
 public:
  Generator(SSL_CTX* ctx, const sockaddr_in& target, const std::string& sni, int connections,
            Counters& counters)
      : ctx_(ctx), target_(target), sni_(sni), slots_(connections), counters_(counters) {}

  ~Generator() {
    for (Slot& slot : slots_) {
      if (slot.fd >= 0) ::close(slot.fd);
      if (slot.ssl != nullptr) SSL_free(slot.ssl);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  void Run(const std::atomic<bool>& stop) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
      std::perror("epoll_create1");
      return;
    }
    for (uint32_t i = 0; i < slots_.size(); ++i) Start(i);
    std::vector<epoll_event> events(slots_.size());
    auto next_scan = SteadyClock::now() + kStuckAfter;
    while (!stop.load(std::memory_order_relaxed)) {
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
      for (int e = 0; e < n; ++e) Drive(events[e].data.u32, events[e].events);
      // Slots whose connect failed (ports, backlog) retry here, not in a
      // tight loop.
      for (uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].fd < 0) Start(i);
      }
      if (SteadyClock::now() >= next_scan) {
        FailStuck();
        next_scan = SteadyClock::now() + kStuckAfter;
      }
    }
  }

 private:
  static constexpr auto kStuckAfter = std::chrono::seconds(5);
  enum class Phase { kIdle, kHandshaking, kClosing };
  struct Slot {
    int fd = -1;
    SSL* ssl = nullptr;
    Phase phase = Phase::kIdle;
    SteadyClock::time_point started;
  };

  void Start(uint32_t index) {
    Slot& slot = slots_[index];
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&target_), sizeof(target_)) != 0 &&
        errno != EINPROGRESS) {
      ::close(fd);
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (slot.ssl == nullptr) {
      slot.ssl = SSL_new(ctx_);
      SSL_set_app_data(slot.ssl, &counters_);
      BIO* bio = BIO_new(BIO_s_socket());
      SSL_set_bio(slot.ssl, bio, bio);
    } else {
      SSL_clear(slot.ssl);
      // SSL_clear keeps the last session (with its ticket): dropping it
      // keeps every handshake a full one.
      SSL_set_session(slot.ssl, nullptr);
    }
    BIO_set_fd(SSL_get_rbio(slot.ssl), fd, BIO_NOCLOSE);
    SSL_set_connect_state(slot.ssl);
    SSL_set_tlsext_host_name(slot.ssl, sni_.c_str());
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = index;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    slot.fd = fd;
    slot.phase = Phase::kHandshaking;
    slot.started = SteadyClock::now();
  }

  // Edge-triggered: every step runs until OpenSSL wants the socket again.
  void Drive(uint32_t index, uint32_t events) {
    Slot& slot = slots_[index];
    if (slot.fd < 0) return;
    if (slot.phase == Phase::kHandshaking) {
      ERR_clear_error();
      int rc = SSL_do_handshake(slot.ssl);
      if (rc != 1) {
        int error = SSL_get_error(slot.ssl, rc);
        if ((error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) &&
            (events & EPOLLERR) == 0) {
          return;
        }
        Finish(index, /*ok=*/false);
        return;
      }
      if (SSL_session_reused(slot.ssl)) {
        counters_.resumed.fetch_add(1, std::memory_order_relaxed);
        Finish(index, /*ok=*/false);
        return;
      }
      counters_.handshakes.fetch_add(1, std::memory_order_relaxed);
      SSL_shutdown(slot.ssl);  // close_notify; the server answers by closing
      slot.phase = Phase::kClosing;
    }
    // Closing: read (and so count) what the server still sends — session
    // tickets, its close_notify — until it closes.
    char scratch[4096];
    while (true) {
      ERR_clear_error();
      int n = SSL_read(slot.ssl, scratch, sizeof(scratch));
      if (n > 0) continue;
      int error = SSL_get_error(slot.ssl, n);
      if (error == SSL_ERROR_WANT_READ && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) {
        return;
      }
      if (error == SSL_ERROR_ZERO_RETURN && (events & (EPOLLRDHUP | EPOLLHUP)) == 0) {
        // close_notify read; wait for the FIN so that the server closes first.
        ssize_t r = ::recv(slot.fd, scratch, sizeof(scratch), 0);
        if (r < 0 && errno == EAGAIN) return;
      }
      Finish(index, /*ok=*/true);
      return;
    }
  }

  void Finish(uint32_t index, bool ok) {
    Slot& slot = slots_[index];
    if (!ok) counters_.failed.fetch_add(1, std::memory_order_relaxed);
    ::close(slot.fd);  // also leaves the epoll set
    slot.fd = -1;
    slot.phase = Phase::kIdle;
    Start(index);
  }

  void FailStuck() {
    auto now = SteadyClock::now();
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].fd >= 0 && now - slots_[i].started > kStuckAfter) Finish(i, /*ok=*/false);
    }
  }

  SSL_CTX* ctx_;
  sockaddr_in target_;
  std::string sni_;
  std::vector<Slot> slots_;
  Counters& counters_;
  int epoll_fd_ = -1;
};

// Process CPU seconds (user, system) of this process.
std::pair<double, double> OwnCpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

// CPU seconds used so far by all threads of another process, from the
// scheduler's nanosecond accounting (/proc/PID/task/*/schedstat); nullopt
// when unreadable.
std::optional<double> ProcessCpu(int pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  struct CloseDir {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> dir(::opendir(tasks.c_str()));
  if (dir == nullptr) return std::nullopt;
  unsigned long long total_ns = 0;
  while (dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream in(tasks + "/" + entry->d_name + "/schedstat");
    unsigned long long on_cpu_ns = 0;
    if (in >> on_cpu_ns) total_ns += on_cpu_ns;
  }
  return static_cast<double>(total_ns) / 1e9;
}

// Busy and total jiffies summed over the CPUs in `cpus` (from /proc/stat).
std::pair<unsigned long long, unsigned long long> CpuJiffies(const cpu_set_t& cpus) {
  std::ifstream in("/proc/stat");
  std::string line;
  unsigned long long busy = 0, total = 0;
  while (std::getline(in, line)) {
    int cpu = -1;
    if (std::sscanf(line.c_str(), "cpu%d", &cpu) != 1 || cpu < 0 || !CPU_ISSET(cpu, &cpus)) {
      continue;
    }
    std::istringstream fields(line.substr(line.find(' ')));
    unsigned long long value = 0;
    for (int column = 0; fields >> value; ++column) {
      total += value;
      if (column != 3 && column != 4) busy += value;  // idle, iowait
    }
  }
  return {busy, total};
}

// --- the crypto ceiling ------------------------------------------------------

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

EvpPkeyPtr NewKey(const char* algorithm, const char* curve) {
  EVP_PKEY* key = curve == nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm)
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm, curve);
  return EvpPkeyPtr(key, EVP_PKEY_free);
}

bool Derive(EVP_PKEY* ours, EVP_PKEY* theirs) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(ours, nullptr);
  unsigned char secret[64];
  size_t len = sizeof(secret);
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
            EVP_PKEY_derive_set_peer(ctx, theirs) == 1 && EVP_PKEY_derive(ctx, secret, &len) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

// Microseconds per call of `op`, run for about `seconds`; negative if it
// ever fails.
template <typename Op>
double MicrosPerOp(double seconds, Op op) {
  auto start = SteadyClock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  uint64_t count = 0;
  for (; count < 20 || SteadyClock::now() < until; ++count) {
    if (!op()) return -1;
  }
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count() /
         static_cast<double>(count);
}

int CryptoCeiling() {
  EvpPkeyPtr x25519_peer = NewKey("X25519", nullptr);
  EvpPkeyPtr p256_peer = NewKey("EC", "P-256");
  EvpPkeyPtr signing = NewKey("EC", "P-256");
  if (!x25519_peer || !p256_peer || !signing) {
    std::fprintf(stderr, "meshgate-tls-handshakes: key generation failed\n");
    return 1;
  }
  // What a handshake signs: the 130-odd bytes of the TLS 1.3 CertificateVerify
  // input (64 spaces, the context string, a SHA-256 transcript hash).
  const std::string message(130, 'm');
  unsigned char signature[128];
  size_t signature_len = sizeof(signature);
  auto sign = [&] {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    signature_len = sizeof(signature);
    bool ok =
        EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, signing.get()) == 1 &&
        EVP_DigestSign(md, signature, &signature_len,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    EVP_MD_CTX_free(md);
    return ok;
  };
  auto verify = [&] {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, signing.get()) == 1 &&
              EVP_DigestVerify(md, signature, signature_len,
                               reinterpret_cast<const unsigned char*>(message.data()),
                               message.size()) == 1;
    EVP_MD_CTX_free(md);
    return ok;
  };
  const double budget = 0.5;
  double x25519_keygen = MicrosPerOp(budget, [] { return NewKey("X25519", nullptr) != nullptr; });
  double x25519_derive = MicrosPerOp(budget, [&] {
    static EvpPkeyPtr ours = NewKey("X25519", nullptr);
    return Derive(ours.get(), x25519_peer.get());
  });
  double p256_keygen = MicrosPerOp(budget, [] { return NewKey("EC", "P-256") != nullptr; });
  double p256_derive = MicrosPerOp(budget, [&] {
    static EvpPkeyPtr ours = NewKey("EC", "P-256");
    return Derive(ours.get(), p256_peer.get());
  });
  double sign_us = MicrosPerOp(budget, sign);
  if (!sign()) return 1;
  double verify_us = MicrosPerOp(budget, verify);
  if (x25519_keygen < 0 || x25519_derive < 0 || p256_keygen < 0 || p256_derive < 0 || sign_us < 0 ||
      verify_us < 0) {
    std::fprintf(stderr, "meshgate-tls-handshakes: a crypto operation failed\n");
    return 1;
  }
  std::printf(
      "x25519_keygen_us=%.1f x25519_derive_us=%.1f p256_keygen_us=%.1f p256_derive_us=%.1f "
      "ecdsa_p256_sign_us=%.1f ecdsa_p256_verify_us=%.1f\n",
      x25519_keygen, x25519_derive, p256_keygen, p256_derive, sign_us, verify_us);
  // Per full handshake, either version (ECDHE-ECDSA in TLS 1.2 signs the
  // ServerKeyExchange instead of a CertificateVerify: the same operations).
  double server_x25519 = x25519_keygen + x25519_derive + sign_us;
  double client_x25519 = x25519_keygen + x25519_derive + verify_us;
  double server_p256 = p256_keygen + p256_derive + sign_us;
  double client_p256 = p256_keygen + p256_derive + verify_us;
  std::printf(
      "server_x25519_us=%.1f server_ceiling_x25519=%.0f client_x25519_us=%.1f "
      "client_ceiling_x25519=%.0f server_p256_us=%.1f server_ceiling_p256=%.0f "
      "client_p256_us=%.1f client_ceiling_p256=%.0f\n",
      server_x25519, 1e6 / server_x25519, client_x25519, 1e6 / client_x25519, server_p256,
      1e6 / server_p256, client_p256, 1e6 / client_p256);
  return 0;
}

// --- handshakes in memory ----------------------------------------------------

int MemoryHandshakes(const Options& o) {
  SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_use_certificate_chain_file(server_ctx, o.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(server_ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "meshgate-tls-handshakes: cannot load %s / %s\n", o.cert_file.c_str(),
                 o.key_file.c_str());
    return 2;
  }
  for (SSL_CTX* ctx : {server_ctx, client_ctx}) {
    SSL_CTX_set_min_proto_version(ctx, o.version);
    SSL_CTX_set_max_proto_version(ctx, o.version);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  }
  SSL_CTX_set_num_tickets(server_ctx, static_cast<size_t>(o.tickets));
  SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_cert_verify_callback(client_ctx, AcceptAnyChain, nullptr);
  SSL_CTX_set1_groups_list(client_ctx, "X25519:P-256");

  // Batches of handshakes; the median batch stands for the run, so that a
  // preempted batch on a busy machine does not.
  constexpr int kBatch = 100;
  std::vector<double> server_us, client_us;
  auto until = SteadyClock::now() + std::chrono::duration<double>(o.seconds);
  while (SteadyClock::now() < until || server_us.size() < 5) {
    SteadyClock::duration server{}, client{};
    for (int i = 0; i < kBatch; ++i) {
      auto t0 = SteadyClock::now();
      SSL* s = SSL_new(server_ctx);
      auto t1 = SteadyClock::now();
      SSL* c = SSL_new(client_ctx);
      BIO *client_end = nullptr, *server_end = nullptr;
      BIO_new_bio_pair(&client_end, 0, &server_end, 0);
      SSL_set_bio(c, client_end, client_end);
      SSL_set_bio(s, server_end, server_end);
      SSL_set_connect_state(c);
      SSL_set_accept_state(s);
      SSL_set_tlsext_host_name(c, o.sni.c_str());
      auto t2 = SteadyClock::now();
      server += t1 - t0;
      client += t2 - t1;
      bool client_done = false, server_done = false;
      for (int round = 0; round < 10 && !(client_done && server_done); ++round) {
        auto a = SteadyClock::now();
        if (!client_done) client_done = SSL_do_handshake(c) == 1;
        auto b = SteadyClock::now();
        if (!server_done) server_done = SSL_do_handshake(s) == 1;
        auto d = SteadyClock::now();
        client += b - a;
        server += d - b;
      }
      if (!client_done || !server_done || SSL_session_reused(c)) {
        std::fprintf(stderr, "meshgate-tls-handshakes: in-memory handshake failed\n");
        return 1;
      }
      auto a = SteadyClock::now();
      char ticket[4096];
      while (SSL_read(c, ticket, sizeof(ticket)) > 0) {
      }
      SSL_free(c);
      auto b = SteadyClock::now();
      SSL_free(s);
      auto d = SteadyClock::now();
      client += b - a;
      server += d - b;
      ERR_clear_error();
    }
    server_us.push_back(std::chrono::duration<double, std::micro>(server).count() / kBatch);
    client_us.push_back(std::chrono::duration<double, std::micro>(client).count() / kBatch);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double server = median(server_us), client = median(client_us);
  std::printf(
      "memory_handshakes=%zu tickets=%d memory_server_us=%.1f memory_server_ceiling=%.0f "
      "memory_client_us=%.1f memory_client_ceiling=%.0f\n",
      server_us.size() * kBatch, o.tickets, server, 1e6 / server, client, 1e6 / client);
  SSL_CTX_free(server_ctx);
  SSL_CTX_free(client_ctx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: meshgate-tls-handshakes --target HOST:PORT [--seconds N] [--warmup N] "
                 "[--connections N] [--threads N] [--tls12|--tls13] [--sni NAME] "
                 "[--server-pid PID]\n");
    return 2;
  }
  if (o.crypto) return CryptoCeiling();
  if (o.memory) return MemoryHandshakes(o);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "meshgate-tls-handshakes: %s is not an IPv4 address\n", o.host.c_str());
    return 2;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, o.version);
  SSL_CTX_set_max_proto_version(ctx, o.version);
  // Sessions are never stored nor offered; the new-session callback only
  // counts the tickets the server sends.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, CountTicket);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, AcceptAnyChain, nullptr);
  // X25519 is the one key share sent; P-256 only if the server insists.
  if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) {
    std::fprintf(stderr, "meshgate-tls-handshakes: X25519 not available\n");
    return 2;
  }
  cpu_set_t own_cpus;
  CPU_ZERO(&own_cpus);
  ::sched_getaffinity(0, sizeof(own_cpus), &own_cpus);

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<std::unique_ptr<Generator>> generators;
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    int share = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    counters.push_back(std::make_unique<Counters>());
    generators.push_back(std::make_unique<Generator>(ctx, addr, o.sni, share, *counters.back()));
  }
  for (auto& generator : generators) {
    threads.emplace_back([&stop, g = generator.get()] { g->Run(stop); });
  }

  struct Sample {
    uint64_t handshakes = 0, failed = 0, resumed = 0, tickets = 0;
    std::pair<double, double> cpu;
    std::pair<unsigned long long, unsigned long long> jiffies;
    std::optional<double> server_cpu;
    SteadyClock::time_point at;
  };
  auto sample = [&] {
    Sample s;
    for (const auto& c : counters) {
      s.handshakes += c->handshakes.load(std::memory_order_relaxed);
      s.failed += c->failed.load(std::memory_order_relaxed);
      s.resumed += c->resumed.load(std::memory_order_relaxed);
      s.tickets += c->tickets.load(std::memory_order_relaxed);
    }
    s.cpu = OwnCpu();
    s.jiffies = CpuJiffies(own_cpus);
    if (o.server_pid > 0) s.server_cpu = ProcessCpu(o.server_pid);
    s.at = SteadyClock::now();
    return s;
  };
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  Sample begin = sample();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));  // the window
  Sample end = sample();
  stop = true;
  for (auto& t : threads) t.join();
  generators.clear();

  double elapsed = std::chrono::duration<double>(end.at - begin.at).count();
  uint64_t handshakes = end.handshakes - begin.handshakes;
  uint64_t failed = end.failed - begin.failed;
  uint64_t resumed = end.resumed - begin.resumed;
  double rate = static_cast<double>(handshakes) / elapsed;
  double user = (end.cpu.first - begin.cpu.first) / elapsed;
  double sys = (end.cpu.second - begin.cpu.second) / elapsed;
  unsigned long long total_jiffies = end.jiffies.second - begin.jiffies.second;
  double cpus_busy = total_jiffies == 0
                         ? 0
                         : static_cast<double>(end.jiffies.first - begin.jiffies.first) /
                               static_cast<double>(total_jiffies) * CPU_COUNT(&own_cpus);
  std::printf(
      "handshakes=%llu failed=%llu resumed=%llu seconds=%.2f rate=%.1f "
      "tickets_per_handshake=%.2f client_cpu=%.2f client_user=%.2f client_sys=%.2f "
      "client_cpus_busy=%.2f/%d",
      static_cast<unsigned long long>(handshakes), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(resumed), elapsed, rate,
      handshakes == 0
          ? 0.0
          : static_cast<double>(end.tickets - begin.tickets) / static_cast<double>(handshakes),
      user + sys, user, sys, cpus_busy, CPU_COUNT(&own_cpus));
  if (begin.server_cpu && end.server_cpu) {
    double server = (*end.server_cpu - *begin.server_cpu) / elapsed;
    std::printf(" server_cpu=%.2f rate_per_server_core=%.1f", server,
                server > 0 ? rate / server : 0.0);
  }
  std::printf("\n");
  SSL_CTX_free(ctx);
  return failed == 0 && resumed == 0 && handshakes > 0 ? 0 : 1;
}
