#include "ca/ca_server.h"

#include "absl/strings/str_cat.h"

namespace meshgate::ca {

absl::StatusOr<std::unique_ptr<CaServer>> CaServer::Start(const Options& options,
                                                          CaService& service,
                                                          const ServingCertificate& serving) {
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_key_cert_pairs.push_back({serving.private_key_pem, serving.ChainPem()});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, grpc::SslServerCredentials(ssl), &port);
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  service.Register(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return absl::UnavailableError(absl::StrCat("CA service cannot listen on ", options.address));
  }
  return std::unique_ptr<CaServer>(new CaServer(std::move(server), port));
}

CaServer::~CaServer() { Shutdown(); }

void CaServer::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    server_->Shutdown();
    server_->Wait();
  });
}

}  // namespace meshgate::ca
