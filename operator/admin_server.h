// AdminServer: the control plane's admin HTTP endpoint (default port 15014):
//   /ready                       200 once the first config was compiled
//   /metrics                     Prometheus text (xDS pushes, NACKs, latency)
//   /debug/syncz                 per proxy: versions sent / ACKed / NACKed (JSON)
//   /debug/config_dump?proxy=ID  a proxy's current resources (JSON)
//   /debug/diagnostics           config and compile problems by object (JSON)
//   /debug/ca/roots              the CA's trust bundle: fingerprints, drop times
//   POST /debug/ca/rotate-root   a new CA root, pushed to every proxy (loopback
//                                callers only)
// Served by cpprestsdk's listener on its own threads.
//
// Thread-safety: handlers run on cpprestsdk's threads and only call the
// thread-safe accessors they are given.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace meshgate::operator_ {

struct AdminRequest {
  std::string method;  // "GET", "POST", ...
  std::map<std::string, std::string> query;
  std::string remote_address;  // the caller's IP, as cpprestsdk reports it
};

struct AdminReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class AdminServer {
 public:
  // Receives the request's query parameters.
  using Handler = std::function<AdminReply(const std::map<std::string, std::string>& query)>;

  // For endpoints that change state: sees the method and the caller.
  using RequestHandler = std::function<AdminReply(const AdminRequest& request)>;

  AdminServer();
  ~AdminServer();
  void Handle(const std::string& path, Handler handler);
  void HandleRequest(const std::string& path, RequestHandler handler);
  // REQUIRES: handlers registered first.
  absl::Status Start(const std::string& address, int port);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshgate::operator_
