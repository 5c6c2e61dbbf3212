// Connection: a non-blocking TCP connection driven by a worker's Dispatcher,
// downstream (accepted) or upstream (connecting), with read and write
// buffers, flow control (read disabling, write-buffer watermarks) and a
// TransportSocket underneath.
//
// A Connection never deletes itself synchronously: when it closes, it
// reports the event to its callbacks, and its owner releases it through
// Dispatcher::DeferredDelete. Thread-safety: single worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "proxy/event/dispatcher.h"
#include "proxy/network/address.h"
#include "proxy/network/buffer.h"
#include "proxy/network/transport_socket.h"

namespace meshgate::proxy::network {

enum class ConnectionEvent {
  kConnected,      // upstream connect finished
  kConnectFailed,  // upstream connect failed or timed out
  kRemoteClose,    // the peer closed or reset
  kLocalClose,     // Close() was called
};

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are in `data`; consume what you can (Drain) and leave the rest.
  // `end_stream`: the peer half-closed after these bytes.
  virtual void OnData(Buffer& data, bool end_stream) = 0;
  virtual void OnEvent(ConnectionEvent event) = 0;
  // The write buffer crossed the high watermark (true) or fell below the low
  // one (false): stop / resume feeding this connection.
  virtual void OnWriteBufferWatermark(bool /*above_high*/) {}
};

class Connection : public event::DeferredDeletable {
 public:
  enum class CloseType { kFlushWrite, kNoFlush };

  // Wraps an accepted socket. REQUIRES: fd is connected and non-blocking.
  static std::unique_ptr<Connection> FromAccepted(event::Dispatcher& dispatcher, int fd,
                                                  std::unique_ptr<TransportSocket> transport);
  // Starts connecting; OnEvent(kConnected or kConnectFailed) follows.
  static std::unique_ptr<Connection> Connect(event::Dispatcher& dispatcher, const Address& address,
                                             std::unique_ptr<TransportSocket> transport,
                                             std::chrono::milliseconds connect_timeout);
  ~Connection() override;

  void SetCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }
  // With half-close on, the peer's end of stream is delivered (OnData with
  // end_stream) and the connection stays open for writing until the owner
  // closes it; reading stops there. Off (the default, what HTTP wants), the
  // peer's end of stream closes the connection after OnData.
  void EnableHalfClose(bool enabled) { half_close_ = enabled; }
  uint64_t id() const { return id_; }
  bool connected() const { return state_ == State::kOpen; }
  bool closed() const { return state_ == State::kClosed; }
  const Address& peer_address() const { return peer_; }
  const Address& local_address() const { return local_; }
  TransportSocket& transport() { return *transport_; }

  void Write(std::string_view bytes, bool end_stream = false);
  void Write(Buffer& bytes, bool end_stream = false);
  // Stops (true) or resumes (false) reading; nests like Envoy's readDisable.
  void ReadDisable(bool disable);
  void Close(CloseType type);
  size_t write_buffer_size() const { return write_buffer_.size(); }
  void SetWriteBufferLimits(size_t high_watermark) { high_watermark_ = high_watermark; }
  // Bytes of memory held in buffers (for accounting / idle trimming).
  size_t BufferedCapacity() const { return read_buffer_.capacity() + write_buffer_.capacity(); }

 private:
  enum class State { kConnecting, kOpen, kClosing, kClosed };
  Connection(event::Dispatcher& dispatcher, int fd, std::unique_ptr<TransportSocket> transport,
             State state);
  void OnFileEvent(uint32_t ready);
  void DoRead();
  void DoWrite();
  void CloseNow(ConnectionEvent event);
  // Reads (or re-delivers buffered bytes) from the next loop iteration.
  void ScheduleResumeRead();

  event::Dispatcher& dispatcher_;
  int fd_;
  uint64_t id_;
  State state_;
  std::unique_ptr<TransportSocket> transport_;
  std::unique_ptr<event::FileEvent> file_event_;
  std::unique_ptr<event::Timer> connect_timer_;
  std::unique_ptr<event::Timer> resume_timer_;  // delivers data held while reading was disabled
  ConnectionCallbacks* callbacks_ = nullptr;
  Address peer_;
  Address local_;
  Buffer read_buffer_;
  Buffer write_buffer_;
  int read_disable_count_ = 0;
  bool read_pending_ = false;  // readable while disabled: read on re-enable
  bool write_end_stream_ = false;
  bool read_end_stream_ = false;
  bool half_close_ = false;
  bool read_end_stream_delivered_ = false;  // half-close: nothing more to read
  size_t high_watermark_ = 1024 * 1024;
  bool above_high_watermark_ = false;
};

}  // namespace meshgate::proxy::network
