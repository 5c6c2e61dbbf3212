// AdminServer: the proxy's admin HTTP endpoint (port 15000, loopback by
// default): /ready, /stats/prometheus, /config_dump, /clusters, /drain and
// whatever else the process registers. It runs its own small event loop on
// its own thread, speaking HTTP/1.1 through the proxy's own codec, so a
// worker stuck on traffic never makes the admin page unreachable.
//
// Thread-safety: handlers run on the admin thread and must only read state
// that is safe to read from there. Start/Stop/AddHandler before Start from
// any one thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "proxy/event/dispatcher.h"
#include "proxy/network/address.h"

namespace meshgate::proxy::server {

struct AdminRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  // The value of query parameter `name`, or empty.
  std::string Param(const std::string& name) const;
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  using Handler = std::function<AdminResponse(const AdminRequest&)>;

  AdminServer();
  ~AdminServer();

  // REQUIRES: before Start().
  void AddHandler(const std::string& path, Handler handler);
  // Binds and starts serving; returns the bound address (port 0 picks one).
  absl::StatusOr<network::Address> Start(const network::Address& address);
  void Stop();

 private:
  class Session;
  void OnAccept(int fd);
  void RemoveSession(Session* session);

  std::map<std::string, Handler> handlers_;
  std::unique_ptr<event::Dispatcher> dispatcher_;
  std::thread thread_;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace meshgate::proxy::server
