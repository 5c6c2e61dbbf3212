#include "proxy/network/connection.h"

#include <unistd.h>

#include <atomic>

namespace meshgate::proxy::network {
namespace {

std::atomic<uint64_t> g_next_connection_id{1};

}  // namespace

Connection::Connection(event::Dispatcher& dispatcher, int fd,
                       std::unique_ptr<TransportSocket> transport, State state)
    : dispatcher_(dispatcher),
      fd_(fd),
      id_(g_next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      state_(state),
      transport_(std::move(transport)) {
  if (fd_ >= 0) {
    file_event_ = dispatcher_.CreateFileEvent(fd_, [this](uint32_t ready) { OnFileEvent(ready); });
  }
}

std::unique_ptr<Connection> Connection::FromAccepted(event::Dispatcher& dispatcher, int fd,
                                                     std::unique_ptr<TransportSocket> transport) {
  auto conn = std::unique_ptr<Connection>(
      new Connection(dispatcher, fd, std::move(transport), State::kOpen));
  if (auto peer = PeerAddress(fd); peer.ok()) conn->peer_ = *peer;
  if (auto local = LocalAddress(fd); local.ok()) conn->local_ = *local;
  return conn;
}

std::unique_ptr<Connection> Connection::Connect(event::Dispatcher& dispatcher,
                                                const Address& address,
                                                std::unique_ptr<TransportSocket> transport,
                                                std::chrono::milliseconds connect_timeout) {
  auto fd = ConnectTcp(address);
  if (!fd.ok()) {
    // Report the failure asynchronously, like any other connect failure, so
    // callers have a single path.
    auto conn = std::unique_ptr<Connection>(
        new Connection(dispatcher, -1, std::move(transport), State::kConnecting));
    conn->peer_ = address;
    Connection* raw = conn.get();
    conn->connect_timer_ =
        dispatcher.CreateTimer([raw] { raw->CloseNow(ConnectionEvent::kConnectFailed); });
    conn->connect_timer_->Enable(std::chrono::milliseconds(0));
    return conn;
  }
  auto conn = std::unique_ptr<Connection>(
      new Connection(dispatcher, *fd, std::move(transport), State::kConnecting));
  conn->peer_ = address;
  Connection* raw = conn.get();
  conn->connect_timer_ =
      dispatcher.CreateTimer([raw] { raw->CloseNow(ConnectionEvent::kConnectFailed); });
  conn->connect_timer_->Enable(connect_timeout);
  return conn;
}

Connection::~Connection() {
  file_event_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void Connection::OnFileEvent(uint32_t ready) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kConnecting) {
    if (!(ready & (event::kWritable | event::kClosed))) return;
    if (SocketError(fd_) != 0) {
      CloseNow(ConnectionEvent::kConnectFailed);
      return;
    }
    state_ = State::kOpen;
    connect_timer_.reset();
    if (auto local = LocalAddress(fd_); local.ok()) local_ = *local;
    if (callbacks_ != nullptr) callbacks_->OnEvent(ConnectionEvent::kConnected);
    if (state_ == State::kClosed) return;
    if (!write_buffer_.empty() || write_end_stream_) DoWrite();
  }
  if ((ready & event::kWritable) && state_ != State::kClosed) DoWrite();
  if (read_end_stream_delivered_) {
    // Half-closed by the peer: only an error (a reset) is news now.
    if ((ready & event::kClosed) && state_ != State::kClosed && SocketError(fd_) != 0) {
      CloseNow(ConnectionEvent::kRemoteClose);
    }
    return;
  }
  if ((ready & event::kReadable) && state_ != State::kClosed) {
    if (read_disable_count_ > 0) {
      read_pending_ = true;
      if (ready & event::kClosed) read_end_stream_ = true;  // learn it on re-enable
    } else {
      read_end_stream_ = read_end_stream_ || (ready & event::kClosed);
      DoRead();
    }
  }
}

void Connection::DoRead() {
  if (read_end_stream_delivered_) return;
  const bool was_ready = transport_->Ready();
  IoResult result = transport_->DoRead(fd_, read_buffer_, read_end_stream_);
  if (result.action == IoResult::Action::kClose) {
    CloseNow(ConnectionEvent::kRemoteClose);
    return;
  }
  if (!was_ready && transport_->Ready() && (!write_buffer_.empty() || write_end_stream_)) {
    // The handshake finished on this read: what was written while it ran
    // goes out now, as no writable edge may follow.
    DoWrite();
    if (state_ == State::kClosed) return;
  }
  bool end_stream = result.end_stream;
  if (end_stream) read_end_stream_delivered_ = half_close_;
  if (result.bytes > 0 || end_stream) {
    if (callbacks_ != nullptr) callbacks_->OnData(read_buffer_, end_stream);
  }
  if (result.more_available && state_ == State::kOpen) {
    // The transport stopped at its per-read cap: the rest is read from the
    // loop (or on re-enable, if the owner pushed back meanwhile).
    read_pending_ = true;
    if (read_disable_count_ == 0) ScheduleResumeRead();
  }
  // An idle keep-alive connection should not hold a read buffer's worth of
  // memory; the next read allocates again.
  if (read_buffer_.empty()) read_buffer_.ShrinkIfIdle();
  if (end_stream && !half_close_ && state_ != State::kClosed) {
    // HTTP has no use for a half-open downstream; owners that do (TCP proxy)
    // finish their writes from OnData before this point.
    CloseNow(ConnectionEvent::kRemoteClose);
  }
}

void Connection::DoWrite() {
  if (state_ == State::kConnecting) return;
  const bool was_ready = transport_->Ready();
  IoResult result = transport_->DoWrite(fd_, write_buffer_, write_end_stream_);
  if (result.action == IoResult::Action::kClose) {
    CloseNow(ConnectionEvent::kRemoteClose);
    return;
  }
  if (!was_ready && transport_->Ready() && state_ == State::kOpen) {
    // The handshake finished on this write; the peer's first bytes may have
    // arrived with it, and their edge was spent on the handshake.
    if (read_disable_count_ > 0) {
      read_pending_ = true;
    } else {
      DoRead();
      if (state_ == State::kClosed) return;
    }
  }
  if (above_high_watermark_ && write_buffer_.size() < high_watermark_ / 2) {
    above_high_watermark_ = false;
    if (callbacks_ != nullptr) callbacks_->OnWriteBufferWatermark(false);
  }
  if (state_ == State::kClosing && write_buffer_.empty()) {
    CloseNow(ConnectionEvent::kLocalClose);
  }
}

void Connection::Write(std::string_view bytes, bool end_stream) {
  if (state_ == State::kClosed || state_ == State::kClosing) return;
  write_end_stream_ = write_end_stream_ || end_stream;
  if (state_ == State::kOpen && write_buffer_.empty() && transport_->CanWriteFromView()) {
    // Nothing queued ahead: send from the caller's bytes and keep only what
    // the socket did not take (usually nothing), saving a copy per write.
    IoResult result = transport_->DoWriteView(fd_, bytes, write_end_stream_);
    if (result.action == IoResult::Action::kClose) {
      CloseNow(ConnectionEvent::kRemoteClose);
      return;
    }
    bytes.remove_prefix(result.bytes);
    if (bytes.empty()) return;
    write_buffer_.Append(bytes);
  } else {
    write_buffer_.Append(bytes);
    if (state_ == State::kOpen) DoWrite();
  }
  if (!above_high_watermark_ && write_buffer_.size() > high_watermark_ &&
      state_ != State::kClosed) {
    above_high_watermark_ = true;
    if (callbacks_ != nullptr) callbacks_->OnWriteBufferWatermark(true);
  }
}

void Connection::Write(Buffer& bytes, bool end_stream) {
  Write(bytes.View(), end_stream);
  bytes.Clear();
}

void Connection::ReadDisable(bool disable) {
  if (disable) {
    ++read_disable_count_;
    return;
  }
  if (read_disable_count_ == 0) return;
  if (--read_disable_count_ > 0 || state_ != State::kOpen) return;
  // Bytes may already be buffered (pipelined requests) or waiting in the
  // socket with no new edge to come: deliver them now, from the loop.
  if (!read_buffer_.empty() || read_pending_) ScheduleResumeRead();
}

void Connection::ScheduleResumeRead() {
  if (!resume_timer_) {
    resume_timer_ = dispatcher_.CreateTimer([this] {
      if (state_ != State::kOpen || read_disable_count_ > 0) return;
      bool pending = read_pending_;
      read_pending_ = false;
      if (pending) {
        DoRead();
      } else if (callbacks_ != nullptr && !read_buffer_.empty()) {
        callbacks_->OnData(read_buffer_, false);
      }
    });
  }
  resume_timer_->Enable(std::chrono::milliseconds(0));
}

void Connection::Close(CloseType type) {
  if (state_ == State::kClosed) return;
  if (type == CloseType::kFlushWrite && state_ == State::kOpen && !write_buffer_.empty()) {
    state_ = State::kClosing;
    ++read_disable_count_;  // nothing more to read: we are leaving
    return;
  }
  CloseNow(ConnectionEvent::kLocalClose);
}

void Connection::CloseNow(ConnectionEvent event) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  connect_timer_.reset();
  resume_timer_.reset();
  file_event_.reset();
  if (fd_ >= 0) {
    if (event == ConnectionEvent::kLocalClose) transport_->OnClose(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  if (callbacks_ != nullptr) callbacks_->OnEvent(event);
}

}  // namespace meshgate::proxy::network
