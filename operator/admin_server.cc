#include "operator/admin_server.h"

// cpprestsdk defines a macro U() that breaks fmt (spdlog) unless told not to.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_listener.h>
#include <cpprest/uri.h>

#include "spdlog/spdlog.h"

namespace meshgate::operator_ {

struct AdminServer::Impl {
  std::map<std::string, RequestHandler> handlers;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
};

AdminServer::AdminServer() : impl_(std::make_unique<Impl>()) {}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::Handle(const std::string& path, Handler handler) {
  impl_->handlers[path] = [handler = std::move(handler)](const AdminRequest& request) {
    return handler(request.query);
  };
}

void AdminServer::HandleRequest(const std::string& path, RequestHandler handler) {
  impl_->handlers[path] = std::move(handler);
}

absl::Status AdminServer::Start(const std::string& address, int port) {
  std::string url = "http://" + address + ":" + std::to_string(port);
  try {
    impl_->listener = std::make_unique<web::http::experimental::listener::http_listener>(url);
    impl_->listener->support([this](web::http::http_request request) {
      std::string path = web::uri::decode(request.relative_uri().path());
      AdminRequest admin_request;
      admin_request.method = request.method();
      admin_request.remote_address = request.remote_address();
      for (const auto& [k, v] : web::uri::split_query(request.relative_uri().query())) {
        admin_request.query[web::uri::decode(k)] = web::uri::decode(v);
      }
      auto it = impl_->handlers.find(path);
      AdminReply reply;
      if (it == impl_->handlers.end()) {
        reply.status = 404;
        reply.content_type = "text/plain";
        reply.body = "unknown admin path " + path + "\n";
      } else {
        reply = it->second(admin_request);
      }
      web::http::http_response response(static_cast<web::http::status_code>(reply.status));
      response.set_body(reply.body, reply.content_type);
      request.reply(response);
    });
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    impl_->listener.reset();
    return absl::UnavailableError("admin endpoint " + url + ": " + e.what());
  }
  spdlog::info("admin listening on {}", url);
  return absl::OkStatus();
}

void AdminServer::Stop() {
  if (!impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    spdlog::warn("admin close: {}", e.what());
  }
  impl_->listener.reset();
}

}  // namespace meshgate::operator_
