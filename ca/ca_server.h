// CaServer: runs a CaService on a TLS gRPC listener with the control plane's
// serving certificate. Clients may present a client certificate (renewal);
// it is requested but verified by the service's PeerCertificateAuthenticator
// (against the CA's current trust bundle and injected clock), not by the TLS
// layer, so bootstrap callers without a certificate can still connect.
//
// Reload() swaps the serving certificate, e.g. for one signed by a new root
// after a rotation: a second server starts on the same port (gRPC listens
// with SO_REUSEPORT), and only then does the first stop accepting and finish
// its calls in flight, so callers never find the port closed.
//
// Ownership: borrows the service (must outlive the server).
// Thread-safety: Reload() and Shutdown() may be called from any thread;
// Shutdown() more than once. No Reload() after Shutdown().
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/ca_service.h"
#include "common/clock.h"

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
  // Serves `serving` to new connections from now on.
  absl::Status Reload(const ServingCertificate& serving);
  void Shutdown();

 private:
  CaServer(Options options, CaService& service, std::unique_ptr<grpc::Server> server, int port)
      : options_(std::move(options)), service_(service), server_(std::move(server)), port_(port) {}
  // A started server for `serving` on `address`; sets `*port`.
  static absl::StatusOr<std::unique_ptr<grpc::Server>> Listen(const Options& options,
                                                              const std::string& address,
                                                              CaService& service,
                                                              const ServingCertificate& serving,
                                                              int* port);

  const Options options_;
  CaService& service_;
  std::mutex mu_;  // guards server_ and shut_down_
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  bool shut_down_ = false;
};

// ServingCertificateKeeper: keeps a CaServer's certificate current. Refresh()
// re-issues it (with `issue`) once half of the current one's lifetime has
// passed on `clock`, or at once when forced (after a root rotation, so that
// it chains to the new signer). A failed issue or reload is retried at the
// next Refresh() after a minute.
//
// Ownership: borrows the server and the clock (both must outlive it).
// Thread-safety: Refresh() may be called from any thread.
class ServingCertificateKeeper {
 public:
  using Issue = std::function<absl::StatusOr<ServingCertificate>()>;
  // `current` is what the server serves now.
  ServingCertificateKeeper(CaServer& server, Issue issue, const Clock& clock,
                           const ServingCertificate& current);

  // True when a new certificate is in use.
  absl::StatusOr<bool> Refresh(bool force);
  absl::Time renew_at() const;

 private:
  // REQUIRES: mu_ held.
  void ScheduleFor(const ServingCertificate& serving);

  CaServer& server_;
  const Issue issue_;
  const Clock& clock_;
  mutable std::mutex mu_;
  absl::Time renew_at_ = absl::InfinitePast();
};

}  // namespace meshgate::ca
