// CaServer: runs a CaService on a TLS gRPC listener with the control plane's
// serving certificate. Clients may present a client certificate (renewal);
// it is requested but verified by the service's PeerCertificateAuthenticator
// (against the CA's current trust bundle and injected clock), not by the TLS
// layer, so bootstrap callers without a certificate can still connect.
//
// Ownership: borrows the service (must outlive the server).
// Thread-safety: Shutdown() may be called from any thread, more than once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "ca/ca_service.h"

namespace meshgate::ca {

inline constexpr int kDefaultCaPort = 15012;

class CaServer {
 public:
  struct Options {
    std::string address = "0.0.0.0:15012";  // port 0 picks a free port
    int max_request_bytes = 64 * 1024;      // larger requests get RESOURCE_EXHAUSTED
  };

  static absl::StatusOr<std::unique_ptr<CaServer>> Start(const Options& options, CaService& service,
                                                         const ServingCertificate& serving);
  ~CaServer();

  int port() const { return port_; }
  void Shutdown();

 private:
  CaServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}
  std::unique_ptr<grpc::Server> server_;
  int port_;
  std::once_flag shutdown_once_;
};

}  // namespace meshgate::ca
