// TransportSocket: what sits between a Connection and its file descriptor —
// plaintext now, TLS (with the peer identity it verified) as another
// implementation — so codecs and filters never know which one they run on.
//
// A TransportSocket belongs to one Connection, on one worker thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/network/buffer.h"

namespace meshgate::proxy::network {

struct IoResult {
  enum class Action { kKeepOpen, kClose };
  Action action = Action::kKeepOpen;
  size_t bytes = 0;
  bool end_stream = false;  // the peer closed its sending side (read) / we sent FIN (write)
  // Read: stopped at kMaxReadBytesPerCall with more possibly waiting; no new
  // epoll edge will announce it, so the caller reads again soon.
  bool more_available = false;
};

// How much one DoRead takes at most (plaintext): a fast peer can then never
// make one read hold more than this in memory before the owner had a chance
// to push back (disable reading), and one busy connection does not keep a
// worker from its others.
inline constexpr size_t kMaxReadBytesPerCall = 256 * 1024;

class TransportSocket {
 public:
  virtual ~TransportSocket() = default;
  // Reads what is available into `out`. A short read is taken as "drained
  // for now" (edge-triggered epoll reports later data as a new edge) unless
  // `until_eagain`, which the caller sets once the peer's FIN or an error was
  // signalled, so that end of stream is never missed.
  virtual IoResult DoRead(int fd, Buffer& out, bool until_eagain) = 0;
  // Writes as much of `in` as the socket takes, draining what was written;
  // with `end_stream`, half-closes once `in` is empty.
  virtual IoResult DoWrite(int fd, Buffer& in, bool end_stream) = 0;
  // True when DoWriteView may be used: the transport sends the caller's bytes
  // as they are, so a Connection with nothing queued can write them without
  // first copying them into its write buffer. TLS must frame (and keep) what
  // it sends, so it says no and keeps the buffered path.
  virtual bool CanWriteFromView() const { return false; }
  // Writes as much of `bytes` as the socket takes; result.bytes says how
  // much. With `end_stream`, half-closes once all of `bytes` went out.
  // REQUIRES: CanWriteFromView().
  virtual IoResult DoWriteView(int /*fd*/, std::string_view /*bytes*/, bool /*end_stream*/) {
    return IoResult{};
  }
  // The negotiated application protocol ("h2", "http/1.1"), empty if none.
  virtual std::string NegotiatedProtocol() const { return {}; }
  // The peer's verified identity (SPIFFE ID of its certificate), empty if none.
  virtual std::string PeerIdentity() const { return {}; }
  // Lower-case hex SHA-256 of the peer's certificate (DER), empty if none.
  virtual std::string PeerCertificateSha256() const { return {}; }
  // Our own identity on this connection (SPIFFE ID of our certificate).
  virtual std::string LocalIdentity() const { return {}; }
  // False while a handshake is still in progress.
  virtual bool Ready() const { return true; }
  // The connection is closing locally and `fd` is about to be closed: last
  // chance to tell the peer (TLS close_notify). Never blocks.
  virtual void OnClose(int /*fd*/) {}
};

class PlaintextTransportSocket final : public TransportSocket {
 public:
  IoResult DoRead(int fd, Buffer& out, bool until_eagain) override;
  IoResult DoWrite(int fd, Buffer& in, bool end_stream) override;
  bool CanWriteFromView() const override { return true; }
  IoResult DoWriteView(int fd, std::string_view bytes, bool end_stream) override;

 private:
  bool shutdown_sent_ = false;
};

}  // namespace meshgate::proxy::network
