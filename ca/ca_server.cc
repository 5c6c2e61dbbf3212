#include "ca/ca_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/openssl_util.h"

namespace meshgate::ca {

absl::StatusOr<std::unique_ptr<grpc::Server>> CaServer::Listen(const Options& options,
                                                               const std::string& address,
                                                               CaService& service,
                                                               const ServingCertificate& serving,
                                                               int* port) {
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_key_cert_pairs.push_back({serving.private_key_pem, serving.ChainPem()});
  grpc::ServerBuilder builder;
  *port = 0;
  builder.AddListeningPort(address, grpc::SslServerCredentials(ssl), port);
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  service.Register(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || *port == 0) {
    return absl::UnavailableError(absl::StrCat("CA service cannot listen on ", address));
  }
  return server;
}

absl::StatusOr<std::unique_ptr<CaServer>> CaServer::Start(const Options& options,
                                                          CaService& service,
                                                          const ServingCertificate& serving) {
  int port = 0;
  auto server = Listen(options, options.address, service, serving, &port);
  if (!server.ok()) return server.status();
  return std::unique_ptr<CaServer>(new CaServer(options, service, std::move(*server), port));
}

absl::Status CaServer::Reload(const ServingCertificate& serving) {
  // The same host as before, on the port actually bound (the options may
  // have asked for any free port).
  const size_t colon = options_.address.rfind(':');
  const std::string address =
      absl::StrCat(options_.address.substr(0, colon == std::string::npos ? 0 : colon), ":", port_);
  int port = 0;
  auto next = Listen(options_, address, service_, serving, &port);
  if (!next.ok()) return next.status();
  std::unique_ptr<grpc::Server> previous;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      (*next)->Shutdown();
      return absl::FailedPreconditionError("the CA server is shut down");
    }
    previous = std::exchange(server_, std::move(*next));
  }
  previous->Shutdown();  // lets the calls in flight finish
  previous->Wait();
  return absl::OkStatus();
}

CaServer::~CaServer() { Shutdown(); }

void CaServer::Shutdown() {
  std::unique_ptr<grpc::Server> server;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    server = std::move(server_);
  }
  server->Shutdown();
  server->Wait();
}

ServingCertificateKeeper::ServingCertificateKeeper(CaServer& server, Issue issue,
                                                   const Clock& clock,
                                                   const ServingCertificate& current)
    : server_(server), issue_(std::move(issue)), clock_(clock) {
  std::lock_guard lock(mu_);
  ScheduleFor(current);
}

void ServingCertificateKeeper::ScheduleFor(const ServingCertificate& serving) {
  absl::StatusOr<X509Ptr> leaf = serving.chain_pem.empty()
                                     ? absl::InvalidArgumentError("no chain")
                                     : CertificateFromPem(serving.chain_pem.front());
  if (!leaf.ok()) {
    renew_at_ = clock_.Now();  // unreadable: replace it at the next look
    return;
  }
  const absl::Time not_before = NotBefore(leaf->get());
  renew_at_ = not_before + (NotAfter(leaf->get()) - not_before) / 2;
}

absl::StatusOr<bool> ServingCertificateKeeper::Refresh(bool force) {
  std::lock_guard lock(mu_);
  const absl::Time now = clock_.Now();
  if (!force && now < renew_at_) return false;
  absl::StatusOr<ServingCertificate> next = issue_();
  absl::Status reloaded = next.ok() ? server_.Reload(*next) : next.status();
  if (!reloaded.ok()) {
    renew_at_ = now + absl::Minutes(1);
    return reloaded;
  }
  ScheduleFor(*next);
  return true;
}

absl::Time ServingCertificateKeeper::renew_at() const {
  std::lock_guard lock(mu_);
  return renew_at_;
}

}  // namespace meshgate::ca
