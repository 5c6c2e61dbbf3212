// Socket addresses and socket set-up helpers (listening with SO_REUSEPORT,
// non-blocking connect, the original destination of a redirected
// connection).
//
// Pure functions over file descriptors; thread-safe.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace meshgate::proxy::network {

// An IPv4 or IPv6 address with a port.
class Address {
 public:
  Address() = default;
  static absl::StatusOr<Address> Parse(std::string_view ip, uint16_t port);
  // "1.2.3.4:80" or "[::1]:80".
  static absl::StatusOr<Address> ParseHostPort(std::string_view host_port);
  static Address FromSockaddr(const sockaddr_storage& storage, socklen_t len);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t sockaddr_len() const { return len_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  std::string ip() const;
  std::string ToString() const;  // "ip:port" / "[ip]:port"

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

// A listening TCP socket, non-blocking, SO_REUSEADDR and (when `reuse_port`)
// SO_REUSEPORT so each worker can bind its own socket to the same port.
absl::StatusOr<int> ListenTcp(const Address& address, bool reuse_port, int backlog = 1024);
// Starts a non-blocking connect; the caller waits for writability.
absl::StatusOr<int> ConnectTcp(const Address& address);
// The port a socket is bound to (for listeners on port 0).
absl::StatusOr<Address> LocalAddress(int fd);
absl::StatusOr<Address> PeerAddress(int fd);
// The destination before an iptables REDIRECT (SO_ORIGINAL_DST).
absl::StatusOr<Address> OriginalDestination(int fd);
// The pending socket error after a non-blocking connect (0 when connected).
int SocketError(int fd);

}  // namespace meshgate::proxy::network
