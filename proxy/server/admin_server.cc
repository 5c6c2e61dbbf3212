#include "proxy/server/admin_server.h"

#include <unistd.h>

#include <map>

#include "proxy/http/http1_codec.h"
#include "proxy/network/connection.h"
#include "proxy/network/listener.h"

namespace meshgate::proxy::server {

std::string AdminRequest::Param(const std::string& name) const {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view part = std::string_view(query).substr(
        pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = part.find('=');
    if (part.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : std::string(part.substr(eq + 1));
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return {};
}

// One admin connection: parse a request, run its handler, answer.
class AdminServer::Session : public event::DeferredDeletable,
                             public network::ConnectionCallbacks,
                             public http::ServerCallbacks {
 public:
  Session(AdminServer& server, std::unique_ptr<network::Connection> connection)
      : server_(server), connection_(std::move(connection)) {
    codec_ = http::NewHttp1ServerConnection(*this);
    connection_->SetCallbacks(this);
  }

  void OnData(network::Buffer& data, bool end_stream) override {
    auto consumed = codec_->Dispatch(data.View());
    data.Drain(consumed.ok() ? *consumed : data.size());
    if (end_stream) codec_->DispatchEof();
    Flush();
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kRemoteClose ||
        event == network::ConnectionEvent::kLocalClose) {
      server_.RemoveSession(this);
    }
  }
  void OnHeaders(http::StreamId stream, http::RequestHeaders headers, bool end_stream) override {
    request_headers_ = std::move(headers);
    stream_ = stream;
    if (end_stream) Respond();
  }
  void OnData(http::StreamId, std::string_view, bool end_stream) override {
    if (end_stream) Respond();
  }
  void OnTrailers(http::StreamId, http::TrailerMap) override { Respond(); }
  void OnStreamReset(http::StreamId, http::StreamResetReason) override {}
  void OnProtocolError(const http::ProtocolError& error) override {
    connection_->Write(http::MinimalErrorResponse(error.http_status));
    connection_->Close(network::Connection::CloseType::kFlushWrite);
  }

 private:
  void Respond() {
    AdminRequest req;
    req.method = std::string(request_headers_.Method());
    std::string_view path = request_headers_.Path();
    size_t q = path.find('?');
    req.path = std::string(path.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(path.substr(q + 1));
    AdminResponse resp;
    auto it = server_.handlers_.find(req.path);
    if (it == server_.handlers_.end()) {
      resp.status = 404;
      resp.body = "unknown admin path " + req.path + "\n";
    } else {
      resp = it->second(req);
    }
    http::ResponseHeaders headers;
    headers.SetStatus(resp.status);
    headers.Set("content-type", resp.content_type);
    headers.Set("content-length", std::to_string(resp.body.size()));
    (void)codec_->EncodeHeaders(stream_, headers, resp.body.empty());
    if (!resp.body.empty()) (void)codec_->EncodeData(stream_, resp.body, true);
  }
  void Flush() {
    std::string_view out = codec_->PendingOutput();
    if (!out.empty()) {
      connection_->Write(out);
      codec_->DrainOutput(out.size());
    }
    if (codec_->ShouldClose()) connection_->Close(network::Connection::CloseType::kFlushWrite);
  }

  AdminServer& server_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::ServerConnection> codec_;
  http::RequestHeaders request_headers_;
  http::StreamId stream_ = 0;
};

struct AdminServer::State {
  std::unique_ptr<network::TcpListener> listener;
  std::map<Session*, std::unique_ptr<Session>> sessions;
};

AdminServer::AdminServer() : state_(std::make_unique<State>()) {}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::AddHandler(const std::string& path, Handler handler) {
  handlers_[path] = std::move(handler);
}

absl::StatusOr<network::Address> AdminServer::Start(const network::Address& address) {
  auto d = event::Dispatcher::Create();
  if (!d.ok()) return d.status();
  dispatcher_ = std::move(*d);
  auto listener = network::TcpListener::Create(*dispatcher_, address, /*reuse_port=*/false,
                                               [this](int fd) { OnAccept(fd); });
  if (!listener.ok()) return listener.status();
  network::Address bound = (*listener)->address();
  state_->listener = std::move(*listener);
  thread_ = std::thread([this] {
    dispatcher_->Run();
    state_->sessions.clear();
    state_->listener.reset();
  });
  return bound;
}

void AdminServer::Stop() {
  if (!thread_.joinable()) return;
  dispatcher_->Exit();
  thread_.join();
}

void AdminServer::OnAccept(int fd) {
  auto session = std::make_unique<Session>(
      *this, network::Connection::FromAccepted(
                 *dispatcher_, fd, std::make_unique<network::PlaintextTransportSocket>()));
  Session* key = session.get();
  state_->sessions.emplace(key, std::move(session));
}

void AdminServer::RemoveSession(Session* session) {
  auto it = state_->sessions.find(session);
  if (it == state_->sessions.end()) return;
  dispatcher_->DeferredDelete(std::move(it->second));
  state_->sessions.erase(it);
}

}  // namespace meshgate::proxy::server
