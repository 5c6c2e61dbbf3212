#include "proxy/network/address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace meshgate::proxy::network {
namespace {

absl::Status Errno(std::string_view what) {
  return absl::UnavailableError(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

absl::StatusOr<Address> Address::Parse(std::string_view ip, uint16_t port) {
  Address a;
  std::string ip_str(ip);
  if (!ip_str.empty() && ip_str.front() == '[' && ip_str.back() == ']') {
    ip_str = ip_str.substr(1, ip_str.size() - 2);
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET, ip_str.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, ip_str.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError("not an IP address: '" + std::string(ip) + "'");
}

absl::StatusOr<Address> Address::ParseHostPort(std::string_view host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("missing port in '" + std::string(host_port) + "'");
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(std::string(host_port.substr(colon + 1)), &port) || port > 65535) {
    return absl::InvalidArgumentError("bad port in '" + std::string(host_port) + "'");
  }
  return Parse(host_port.substr(0, colon), static_cast<uint16_t>(port));
}

Address Address::FromSockaddr(const sockaddr_storage& storage, socklen_t len) {
  Address a;
  a.storage_ = storage;
  a.len_ = len;
  return a;
}

uint16_t Address::port() const {
  if (storage_.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (storage_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string Address::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage_.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
              sizeof(buf));
  } else if (storage_.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

std::string Address::ToString() const {
  if (storage_.ss_family == AF_INET6) return absl::StrCat("[", ip(), "]:", port());
  return absl::StrCat(ip(), ":", port());
}

absl::StatusOr<int> ListenTcp(const Address& address, bool reuse_port, int backlog) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // [::]:P takes IPv6 only, so that 0.0.0.0:P can be bound beside it (a
  // dual-stack listener is two sockets, as Envoy's without ipv4_compat).
  if (address.family() == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    auto status = Errno("IPV6_V6ONLY");
    close(fd);
    return status;
  }
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    auto status = Errno("SO_REUSEPORT");
    close(fd);
    return status;
  }
  if (bind(fd, address.sockaddr_ptr(), address.sockaddr_len()) != 0) {
    auto status = Errno(absl::StrCat("bind ", address.ToString()));
    close(fd);
    return status;
  }
  if (listen(fd, backlog) != 0) {
    auto status = Errno("listen");
    close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<int> ConnectTcp(const Address& address) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, address.sockaddr_ptr(), address.sockaddr_len()) != 0 && errno != EINPROGRESS) {
    auto status = Errno(absl::StrCat("connect ", address.ToString()));
    close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<Address> LocalAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return Errno("getsockname");
  }
  return Address::FromSockaddr(storage, len);
}

absl::StatusOr<Address> PeerAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return Errno("getpeername");
  }
  return Address::FromSockaddr(storage, len);
}

absl::StatusOr<Address> OriginalDestination(int fd) {
  auto local = LocalAddress(fd);
  if (!local.ok()) return local.status();
  sockaddr_storage storage{};
  if (local->family() == AF_INET6) {
    socklen_t len = sizeof(sockaddr_in6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &storage, &len) != 0) {
      return Errno("IP6T_SO_ORIGINAL_DST");
    }
    return Address::FromSockaddr(storage, len);
  }
  socklen_t len = sizeof(sockaddr_in);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &storage, &len) != 0) {
    return Errno("SO_ORIGINAL_DST");
  }
  return Address::FromSockaddr(storage, len);
}

int SocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace meshgate::proxy::network
