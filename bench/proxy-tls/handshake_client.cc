// meshgate-tls-handshakes: full TLS handshakes per second against one
// HOST:PORT. Each of --connections threads loops: TCP connect, full handshake
// (no session resumption), close_notify, close. Prints the rate; the peer
// comparison is done by run.sh, which measures nginx in the same run.
//
//   meshgate-tls-handshakes --target 127.0.0.1:8443 [--seconds 5]
//                           [--connections 4] [--tls13|--tls12]
//
// Independent of the proxy it measures: links OpenSSL only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int seconds = 5;
  int connections = 4;
  int version = TLS1_3_VERSION;
};

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--target") {
      const char* v = next();
      if (v == nullptr) return false;
      std::string t = v;
      size_t colon = t.rfind(':');
      if (colon == std::string::npos) return false;
      o.host = t.substr(0, colon);
      o.port = std::atoi(t.c_str() + colon + 1);
    } else if (a == "--seconds") {
      const char* v = next();
      if (v == nullptr) return false;
      o.seconds = std::atoi(v);
    } else if (a == "--connections") {
      const char* v = next();
      if (v == nullptr) return false;
      o.connections = std::atoi(v);
    } else if (a == "--tls12") {
      o.version = TLS1_2_VERSION;
    } else if (a == "--tls13") {
      o.version = TLS1_3_VERSION;
    } else {
      return false;
    }
  }
  return o.port > 0 && o.seconds > 0 && o.connections > 0;
}

// One handshake; false on any failure.
bool Handshake(SSL_CTX* ctx, const sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "bench.example.com");
    ok = SSL_connect(ssl) == 1;
    if (ok) SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  ERR_clear_error();
  ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: meshgate-tls-handshakes --target HOST:PORT [--seconds N] "
                 "[--connections N] [--tls12|--tls13]\n");
    return 2;
  }
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
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // every handshake is a full one
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, failed{0};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.connections; ++i) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (Handshake(ctx, addr)) {
          done.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));  // the measurement window
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("handshakes=%llu failed=%llu seconds=%.2f rate=%.1f\n",
              static_cast<unsigned long long>(done.load()),
              static_cast<unsigned long long>(failed.load()), elapsed, done.load() / elapsed);
  SSL_CTX_free(ctx);
  return failed.load() == 0 ? 0 : 1;
}
