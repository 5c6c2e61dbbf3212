// meshgate-bench-relay: the least a user-space proxy can do — one thread, one
// epoll set, every accepted connection paired with its own upstream
// connection and bytes copied both ways as they come. No parsing, no routing,
// no pooling, no timers.
//
// It is a floor, not a peer: what it adds to latency and costs in CPU per
// request on a machine is the price of the extra hop itself (two more
// loopback transfers and the proxy's wake-ups), which any proxy pays there.
// The side-by-side benchmark measures it next to nginx, HAProxy and meshgate
// so that their figures can be read against it.
//
//   meshgate-bench-relay --listen 127.0.0.1:18084 --upstream 127.0.0.1:18080

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Endpoint {
  sockaddr_in address{};
};

bool ParseEndpoint(const std::string& text, Endpoint* out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  out->address.sin_family = AF_INET;
  out->address.sin_port = htons(static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1)));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out->address.sin_addr) == 1 &&
         out->address.sin_port != 0;
}

// One direction's bytes that the destination did not take yet.
struct Pending {
  std::vector<char> bytes;
  size_t offset = 0;
  bool empty() const { return offset == bytes.size(); }
};

struct Pair;

// What an fd's epoll data points at: its pair and which side it is.
struct Tag {
  Pair* pair;
  int side;
};

// A client connection and its upstream connection.
struct Pair {
  int fds[2] = {-1, -1};  // [0] client, [1] upstream
  Pending to[2];          // bytes waiting to be written to fds[i]
  Tag tags[2];
  bool closed = false;
};

int epoll_fd = -1;

void Close(Pair* pair, std::vector<Pair*>& garbage) {
  if (pair->closed) return;
  pair->closed = true;
  for (int fd : pair->fds) {
    if (fd >= 0) close(fd);  // also removes it from the epoll set
  }
  garbage.push_back(pair);
}

// Writes what is pending for `side`; false when the connection failed.
bool Flush(Pair* pair, int side) {
  Pending& p = pair->to[side];
  while (!p.empty()) {
    ssize_t n =
        send(pair->fds[side], p.bytes.data() + p.offset, p.bytes.size() - p.offset, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    p.offset += static_cast<size_t>(n);
  }
  p.bytes.clear();
  p.offset = 0;
  return true;
}

// Moves what `side` has to read to the other side; false on EOF or error.
// A short read means drained, unless the peer hung up: then read to the EOF.
bool Relay(Pair* pair, int side, bool hung_up) {
  const int other = 1 - side;
  char buffer[65536];
  while (true) {
    ssize_t n = recv(pair->fds[side], buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    Pending& out = pair->to[other];
    if (out.empty()) {
      // The common case: straight through, keeping only what the peer refused.
      ssize_t sent = send(pair->fds[other], buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
      if (sent < 0) sent = 0;
      out.bytes.assign(buffer + sent, buffer + n);
      out.offset = 0;
    } else {
      out.bytes.insert(out.bytes.end(), buffer, buffer + n);
    }
    if (!hung_up && n < static_cast<ssize_t>(sizeof(buffer))) return true;
  }
}

int Usage() {
  std::fprintf(stderr, "usage: meshgate-bench-relay --listen IP:PORT --upstream IP:PORT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Endpoint listen_at, upstream;
  bool have_listen = false, have_upstream = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--listen") {
      have_listen = ParseEndpoint(argv[i + 1], &listen_at);
    } else if (flag == "--upstream") {
      have_upstream = ParseEndpoint(argv[i + 1], &upstream);
    } else {
      return Usage();
    }
  }
  if (!have_listen || !have_upstream || argc % 2 == 0) return Usage();
  std::signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listener, reinterpret_cast<sockaddr*>(&listen_at.address), sizeof(sockaddr_in)) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("meshgate-bench-relay: listen");
    return 1;
  }
  epoll_fd = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &ev);

  std::vector<Pair*> garbage;
  epoll_event events[256];
  while (true) {
    int n = epoll_wait(epoll_fd, events, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        while (true) {
          int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (client < 0) break;
          int server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          if (connect(server, reinterpret_cast<sockaddr*>(&upstream.address),
                      sizeof(sockaddr_in)) != 0 &&
              errno != EINPROGRESS) {
            close(client);
            close(server);
            continue;
          }
          auto* pair = new Pair;
          pair->fds[0] = client;
          pair->fds[1] = server;
          for (int side = 0; side < 2; ++side) {
            pair->tags[side] = Tag{pair, side};
            epoll_event e{};
            e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
            e.data.ptr = &pair->tags[side];
            epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pair->fds[side], &e);
          }
        }
        continue;
      }
      auto* tag = static_cast<Tag*>(events[i].data.ptr);
      Pair* pair = tag->pair;
      if (pair->closed) continue;
      const uint32_t ready = events[i].events;
      bool ok = true;
      if (ready & EPOLLOUT) ok = Flush(pair, tag->side);
      if (ok && (ready & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        ok = Relay(pair, tag->side, ready & (EPOLLRDHUP | EPOLLHUP)) && Flush(pair, 1 - tag->side);
      }
      if (!ok || (ready & EPOLLERR)) Close(pair, garbage);
    }
    // Pairs closed in this round may still have events queued in it: they
    // are freed only now.
    for (Pair* pair : garbage) delete pair;
    garbage.clear();
  }
}
