// Blocking loopback plumbing for tests that drive a real proxy Worker over
// real sockets: client-side helpers (connect, send, read one HTTP/1.1
// response), Envoy protos from text, and ThreadPerConnectionServer, the
// skeleton of the blocking HTTP/1.1 upstreams those tests put behind the
// proxy.
//
// Everything blocks with timeouts, so a broken proxy fails a test instead of
// hanging it. Thread-safety: the free functions touch only their arguments;
// ThreadPerConnectionServer and Gate are safe to use from any thread.
#pragma once

#include <arpa/inet.h>
#include <google/protobuf/text_format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace meshgate::proxy::loopback {

using namespace std::chrono_literals;

// A connected socket to 127.0.0.1:`port`, or -1. Reads give up after
// `receive_timeout`.
inline int ConnectTo(uint16_t port, std::chrono::seconds receive_timeout = 20s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{static_cast<time_t>(receive_timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Sends everything; false when the connection failed or, with `stall` set,
// the peer took no bytes for that long. `counter` (if given) adds up what
// was sent, for a test watching progress from another thread.
inline bool SendAll(int fd, std::string_view bytes, std::chrono::milliseconds stall = 0ms,
                    std::atomic<uint64_t>* counter = nullptr) {
  if (stall.count() > 0) {
    timeval tv{static_cast<time_t>(stall.count() / 1000),
               static_cast<suseconds_t>((stall.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    if (counter != nullptr) *counter += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The value of a Content-Length field in an HTTP/1.1 head, 0 when absent.
inline uint64_t ContentLengthOf(std::string head) {
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = head.find("content-length: ");
  return at == std::string::npos ? 0 : std::stoull(head.substr(at + 16));
}

// Reads one HTTP/1.1 response (head + Content-Length body), or what came
// until EOF or the receive timeout. With `pending`, bytes read beyond the
// response are kept there for the next call (pipelining), and the call
// starts from them.
inline std::string ReadResponse(int fd, std::string* pending = nullptr) {
  std::string buf = pending != nullptr ? std::move(*pending) : std::string();
  if (pending != nullptr) pending->clear();
  char chunk[65536];
  while (true) {
    size_t head_end = buf.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t end = head_end + 4 + ContentLengthOf(buf.substr(0, head_end));
      if (buf.size() >= end) {
        if (pending != nullptr) *pending = buf.substr(end);
        buf.resize(end);
        return buf;
      }
    }
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return buf;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

inline std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

// True when the peer closed the connection (EOF or reset) within `timeout`.
inline bool PeerClosed(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// A protobuf message from text format; a parse error fails the test.
template <typename T>
T ParseText(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

// Holds threads at Wait() until Release(); stays open afterwards.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return released_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

// A blocking TCP server on 127.0.0.1 (ephemeral port) that runs `serve(fd)`
// on a thread of its own for each accepted connection and closes the fd when
// `serve` returns. The destructor stops accepting, shuts every open
// connection down (so blocked reads and writes in `serve` return) and joins.
// REQUIRES: `serve` returns once its socket is shut down and does not wait
// for anything else the destructor's owner holds (release such waits first).
class ThreadPerConnectionServer {
 public:
  explicit ThreadPerConnectionServer(std::function<void(int fd)> serve) : serve_(std::move(serve)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 128), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~ThreadPerConnectionServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }
  ThreadPerConnectionServer(const ThreadPerConnectionServer&) = delete;
  ThreadPerConnectionServer& operator=(const ThreadPerConnectionServer&) = delete;

  uint16_t port() const { return port_; }
  // Connections accepted so far.
  int connections() const { return connections_; }

 private:
  void Accept() {
    while (true) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] {
        serve_(fd);
        {
          // Forgotten before it is closed, so the destructor never shuts
          // down a descriptor number the process has reused meanwhile.
          std::lock_guard lock(mu_);
          std::erase(fds_, fd);
        }
        close(fd);
      });
    }
  }

  const std::function<void(int fd)> serve_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<int> fds_;  // open connections
  std::vector<std::thread> threads_;
  std::thread acceptor_;  // last: started once everything above exists
};

}  // namespace meshgate::proxy::loopback
