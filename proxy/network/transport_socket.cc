#include "proxy/network/transport_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace meshgate::proxy::network {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

}  // namespace

IoResult PlaintextTransportSocket::DoRead(int fd, Buffer& out, bool until_eagain) {
  // Read into one scratch area per thread and copy only what arrived: a
  // connection's buffer then holds its bytes and no more (idle connections
  // stay small), and nothing is zero-filled ahead of read(2).
  thread_local char scratch[kReadChunk];
  IoResult result;
  while (true) {
    ssize_t n = ::read(fd, scratch, kReadChunk);
    if (n > 0) {
      out.Append(std::string_view(scratch, static_cast<size_t>(n)));
      result.bytes += static_cast<size_t>(n);
      if (!until_eagain && static_cast<size_t>(n) < kReadChunk) break;
      if (result.bytes >= kMaxReadBytesPerCall) {
        result.more_available = true;
        break;
      }
      continue;
    }
    if (n == 0) {
      result.end_stream = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN) {
      result.action = IoResult::Action::kClose;
    }
    break;
  }
  return result;
}

IoResult PlaintextTransportSocket::DoWrite(int fd, Buffer& in, bool end_stream) {
  IoResult result = DoWriteView(fd, in.View(), end_stream);
  in.Drain(result.bytes);
  return result;
}

IoResult PlaintextTransportSocket::DoWriteView(int fd, std::string_view bytes, bool end_stream) {
  IoResult result;
  while (result.bytes < bytes.size()) {
    const std::string_view pending = bytes.substr(result.bytes);
    ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      result.bytes += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return result;
    result.action = IoResult::Action::kClose;
    return result;
  }
  if (end_stream && !shutdown_sent_) {
    ::shutdown(fd, SHUT_WR);
    shutdown_sent_ = true;
    result.end_stream = true;
  }
  return result;
}

}  // namespace meshgate::proxy::network
