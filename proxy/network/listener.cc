#include "proxy/network/listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace meshgate::proxy::network {

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::Create(event::Dispatcher& dispatcher,
                                                                 const Address& address,
                                                                 bool reuse_port,
                                                                 AcceptCallback cb) {
  auto fd = ListenTcp(address, reuse_port);
  if (!fd.ok()) return fd.status();
  auto bound = LocalAddress(*fd);
  if (!bound.ok()) {
    ::close(*fd);
    return bound.status();
  }
  auto listener = std::unique_ptr<TcpListener>(new TcpListener(*fd, *bound, std::move(cb)));
  TcpListener* raw = listener.get();
  listener->file_event_ = dispatcher.CreateFileEvent(*fd, [raw](uint32_t ready) {
    if (ready & event::kReadable) raw->OnReadable();
  });
  return listener;
}

TcpListener::~TcpListener() { StopAccepting(); }

void TcpListener::StopAccepting() {
  file_event_.reset();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void TcpListener::OnReadable() {
  // Edge-triggered: accept until the queue is empty.
  while (fd_ >= 0) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // EAGAIN: done. EMFILE/ENFILE: out of descriptors; the next edge retries.
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    cb_(fd);
  }
}

}  // namespace meshgate::proxy::network
