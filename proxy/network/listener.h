// TcpListener: accepts connections on one worker's listening socket. Each
// worker binds its own socket to the same address with SO_REUSEPORT, so the
// kernel spreads connections across workers without a shared accept lock.
//
// Thread-safety: single worker thread.
#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "proxy/event/dispatcher.h"
#include "proxy/network/address.h"

namespace meshgate::proxy::network {

class TcpListener {
 public:
  // Called with each accepted, non-blocking socket; the callee owns the fd.
  using AcceptCallback = std::function<void(int fd)>;

  static absl::StatusOr<std::unique_ptr<TcpListener>> Create(event::Dispatcher& dispatcher,
                                                             const Address& address,
                                                             bool reuse_port, AcceptCallback cb);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // The bound address (the real port when listening on port 0).
  const Address& address() const { return address_; }
  // Stops accepting (draining); established connections are untouched.
  void StopAccepting();

 private:
  TcpListener(int fd, Address address, AcceptCallback cb)
      : fd_(fd), address_(address), cb_(std::move(cb)) {}
  void OnReadable();

  int fd_;
  Address address_;
  AcceptCallback cb_;
  std::unique_ptr<event::FileEvent> file_event_;
};

}  // namespace meshgate::proxy::network
