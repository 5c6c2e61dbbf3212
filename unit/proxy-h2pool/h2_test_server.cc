#include "unit/proxy-h2pool/h2_test_server.h"

#include <algorithm>
#include <cstring>

#include "proxy/network/transport_socket.h"

namespace meshgate::proxy::testing {

class H2TestServer::Session : public network::ConnectionCallbacks {
 public:
  Session(H2TestServer& server, std::unique_ptr<network::Connection> connection)
      : server_(server), connection_(std::move(connection)) {
    connection_->SetCallbacks(this);
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Session::OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &Session::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Session::OnDataChunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Session::OnFrameRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Session::OnStreamClose);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    if (server_.options_.send_settings) {
      std::vector<nghttp2_settings_entry> iv;
      if (server_.options_.max_concurrent_streams) {
        iv.push_back(
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, *server_.options_.max_concurrent_streams});
      }
      nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
      Send();
    }
  }
  ~Session() override { nghttp2_session_del(session_); }

  bool open() const { return !closed_; }
  uint32_t held() const { return static_cast<uint32_t>(held_.size()); }

  void ReleaseHeld() {
    std::vector<int32_t> held;
    held.swap(held_);
    for (int32_t id : held) Respond(id);
    Send();
  }

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool) override {
    std::string_view bytes = data.View();
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                          bytes.size());
    data.Drain(bytes.size());
    if (rv < 0) {
      connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    Send();
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kRemoteClose ||
        event == network::ConnectionEvent::kLocalClose) {
      closed_ = true;
    }
  }

 private:
  struct StreamState {
    std::string path;
    std::string request_body;
    std::string response_body;
    size_t sent = 0;
  };

  void Send() {
    if (closed_) return;
    for (;;) {
      const uint8_t* out = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &out);
      if (n <= 0) break;
      connection_->Write(std::string_view(reinterpret_cast<const char*>(out), n));
    }
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      connection_->Close(network::Connection::CloseType::kFlushWrite);
    }
  }

  void Respond(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    StreamState& s = it->second;
    s.response_body = s.request_body.empty() ? "ok" : "ok:" + s.request_body;
    nghttp2_nv nva[] = {
        MakeNv(":status", "200"),
        MakeNv("x-path", s.path),
    };
    nghttp2_data_provider provider;
    provider.source.ptr = &s;
    provider.read_callback = &Session::ReadBody;
    nghttp2_submit_response(session_, id, nva, 2, &provider);
  }

  // The views must stay valid until nghttp2 copied them (the submit call).
  static nghttp2_nv MakeNv(std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  }

  static ssize_t ReadBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source* source, void* user) {
    auto* self = static_cast<Session*>(user);
    auto* s = static_cast<StreamState*>(source->ptr);
    size_t n = std::min(length, s->response_body.size() - s->sent);
    std::memcpy(buf, s->response_body.data() + s->sent, n);
    s->sent += n;
    if (s->sent == s->response_body.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (self->server_.options_.send_trailers) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv trailer = MakeNv("grpc-status", "0");
        nghttp2_submit_trailer(session, id, &trailer, 1);
      }
    }
    return static_cast<ssize_t>(n);
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Session*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    self->streams_[frame->hd.stream_id];
    self->server_.max_concurrent_seen_ =
        std::max(self->server_.max_concurrent_seen_, static_cast<uint32_t>(self->streams_.size()));
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<Session*>(user);
    auto it = self->streams_.find(frame->hd.stream_id);
    if (it == self->streams_.end()) return 0;
    if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":path") {
      it->second.path.assign(reinterpret_cast<const char*>(value), valuelen);
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                         void* user) {
    auto* self = static_cast<Session*>(user);
    auto it = self->streams_.find(id);
    if (it != self->streams_.end()) {
      it->second.request_body.append(reinterpret_cast<const char*>(data), len);
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Session*>(user);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      ++self->server_.resets_received_;
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    const int32_t id = frame->hd.stream_id;
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) return 0;
    ++self->server_.requests_;
    ++self->requests_;
    self->server_.paths_.push_back(it->second.path);
    if (self->server_.options_.hold_responses) {
      self->held_.push_back(id);
    } else {
      self->Respond(id);
    }
    const uint32_t goaway_after = self->server_.options_.goaway_after_requests;
    if (goaway_after > 0 && self->requests_ == goaway_after) {
      nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR, nullptr, 0);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t, void* user) {
    auto* self = static_cast<Session*>(user);
    self->streams_.erase(id);
    std::erase(self->held_, id);
    return 0;
  }

  H2TestServer& server_;
  std::unique_ptr<network::Connection> connection_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, StreamState> streams_;
  std::vector<int32_t> held_;
  uint32_t requests_ = 0;
  bool closed_ = false;
};

H2TestServer::H2TestServer(event::Dispatcher& dispatcher, Options options)
    : dispatcher_(dispatcher), options_(options) {
  auto any = network::Address::Parse("127.0.0.1", 0);
  auto listener = network::TcpListener::Create(dispatcher_, *any, false, [this](int fd) {
    ++connections_accepted_;
    sessions_.push_back(std::make_unique<Session>(
        *this, network::Connection::FromAccepted(
                   dispatcher_, fd, std::make_unique<network::PlaintextTransportSocket>())));
  });
  listener_ = std::move(*listener);
}

H2TestServer::~H2TestServer() = default;

void H2TestServer::Release() {
  for (auto& s : sessions_) s->ReleaseHeld();
}

uint32_t H2TestServer::held() const {
  uint32_t n = 0;
  for (const auto& s : sessions_) n += s->held();
  return n;
}

uint32_t H2TestServer::open_connections() const {
  uint32_t n = 0;
  for (const auto& s : sessions_) n += s->open() ? 1 : 0;
  return n;
}

}  // namespace meshgate::proxy::testing
