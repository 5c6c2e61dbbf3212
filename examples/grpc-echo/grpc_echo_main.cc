// meshgate-grpc-echo: the demo's gRPC backend, and a client to call it.
//
// Server: every reply names the backend's version, the :authority the call
// arrived with and the caller identity the sidecar vouched for
// (x-forwarded-client-cert URI=...), so routing and mTLS are visible.
//
//   meshgate-grpc-echo --port N --version NAME [--address 127.0.0.1]
//
// Client (grpcurl is not packaged everywhere; this is enough for the demo):
//
//   meshgate-grpc-echo --call Say|Count|Chat --target HOST:PORT
//                      [--message TEXT] [--count N] [--authority HOST]
//                      [--timeout-ms N]
//
// prints one line per reply ("version=v1 message=... peer=...") and exits
// with the call's gRPC status code.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "echo.grpc.pb.h"

namespace {

using meshgate::demo::Echo;
using meshgate::demo::EchoReply;
using meshgate::demo::EchoRequest;

struct Flags {
  std::string address = "127.0.0.1";
  int port = 0;
  std::string version = "v1";
  std::string call;
  std::string target;
  std::string message = "hello";
  int count = 3;
  std::string authority;
  long timeout_ms = 5000;
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "meshgate-grpc-echo: %s needs a value\n", arg.c_str());
      return false;
    }
    std::string value = argv[++i];
    if (arg == "--port") {
      flags.port = std::atoi(value.c_str());
    } else if (arg == "--address") {
      flags.address = value;
    } else if (arg == "--version") {
      flags.version = value;
    } else if (arg == "--call") {
      flags.call = value;
    } else if (arg == "--target") {
      flags.target = value;
    } else if (arg == "--message") {
      flags.message = value;
    } else if (arg == "--count") {
      flags.count = std::atoi(value.c_str());
    } else if (arg == "--authority") {
      flags.authority = value;
    } else if (arg == "--timeout-ms") {
      flags.timeout_ms = std::atol(value.c_str());
    } else {
      std::fprintf(stderr, "meshgate-grpc-echo: unknown flag %s\n", arg.c_str());
      return false;
    }
  }
  bool server = flags.port > 0 && flags.port <= 65535 && flags.call.empty();
  bool client = !flags.call.empty() && !flags.target.empty();
  if (!server && !client) {
    std::fprintf(stderr,
                 "usage: meshgate-grpc-echo --port N --version NAME [--address A]\n"
                 "       meshgate-grpc-echo --call Say|Count|Chat --target HOST:PORT\n"
                 "                          [--message TEXT] [--count N] [--authority HOST]\n");
    return false;
  }
  return true;
}

// The URI= element of the first (nearest) x-forwarded-client-cert entry.
std::string PeerIdentity(const grpc::ServerContext& context) {
  auto range = context.client_metadata().equal_range("x-forwarded-client-cert");
  if (range.first == range.second) return {};
  std::string xfcc(range.first->second.data(), range.first->second.size());
  std::string element = xfcc.substr(0, xfcc.find(','));
  size_t start = 0;
  while (start <= element.size()) {
    size_t end = element.find(';', start);
    if (end == std::string::npos) end = element.size();
    std::string pair = element.substr(start, end - start);
    if (pair.rfind("URI=", 0) == 0) return pair.substr(4);
    start = end + 1;
  }
  return {};
}

class EchoService final : public Echo::Service {
 public:
  explicit EchoService(std::string version) : version_(std::move(version)) {}

  grpc::Status Say(grpc::ServerContext* context, const EchoRequest* request,
                   EchoReply* reply) override {
    Fill(*context, request->message(), *reply);
    return grpc::Status::OK;
  }

  grpc::Status Count(grpc::ServerContext* context, const EchoRequest* request,
                     grpc::ServerWriter<EchoReply>* writer) override {
    if (request->count() < 0 || request->count() > 10000) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "count must be 0..10000"};
    }
    for (int i = 0; i < request->count(); ++i) {
      EchoReply reply;
      Fill(*context, request->message() + " " + std::to_string(i + 1), reply);
      if (!writer->Write(reply)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Chat(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoRequest request;
    while (stream->Read(&request)) {
      EchoReply reply;
      Fill(*context, request.message(), reply);
      if (!stream->Write(reply)) break;
    }
    return grpc::Status::OK;
  }

 private:
  void Fill(const grpc::ServerContext& context, const std::string& message, EchoReply& reply) {
    reply.set_message(message);
    reply.set_version(version_);
    reply.set_peer_identity(PeerIdentity(context));
    grpc::string_ref authority = context.ExperimentalGetAuthority();
    reply.set_authority(std::string(authority.data(), authority.size()));
  }

  std::string version_;
};

std::atomic<bool> g_stop{false};
void HandleSignal(int) { g_stop = true; }

int Serve(const Flags& flags) {
  EchoService service(flags.version);
  grpc::ServerBuilder builder;
  std::string listen = flags.address + ":" + std::to_string(flags.port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "meshgate-grpc-echo: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("meshgate-grpc-echo %s listening on %s\n", flags.version.c_str(), listen.c_str());
  std::fflush(stdout);
  std::signal(SIGINT, HandleSignal);
  std::signal(SIGTERM, HandleSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

void Print(const EchoReply& reply) {
  std::printf("version=%s message=%s peer=%s authority=%s\n", reply.version().c_str(),
              reply.message().c_str(), reply.peer_identity().c_str(), reply.authority().c_str());
}

int Call(const Flags& flags) {
  grpc::ChannelArguments args;
  if (!flags.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, flags.authority);
  auto channel = grpc::CreateCustomChannel(flags.target, grpc::InsecureChannelCredentials(), args);
  auto stub = Echo::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(flags.timeout_ms));
  EchoRequest request;
  request.set_message(flags.message);
  request.set_count(flags.count);
  grpc::Status status;
  if (flags.call == "Say") {
    EchoReply reply;
    status = stub->Say(&context, request, &reply);
    if (status.ok()) Print(reply);
  } else if (flags.call == "Count") {
    auto reader = stub->Count(&context, request);
    EchoReply reply;
    while (reader->Read(&reply)) Print(reply);
    status = reader->Finish();
  } else if (flags.call == "Chat") {
    auto stream = stub->Chat(&context);
    EchoReply reply;
    for (int i = 0; i < flags.count; ++i) {
      EchoRequest message;
      message.set_message(flags.message + " " + std::to_string(i + 1));
      if (!stream->Write(message) || !stream->Read(&reply)) break;
      Print(reply);
    }
    stream->WritesDone();
    status = stream->Finish();
  } else {
    std::fprintf(stderr, "meshgate-grpc-echo: --call must be Say, Count or Chat\n");
    return 2;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "grpc-status %d: %s\n", static_cast<int>(status.error_code()),
                 status.error_message().c_str());
  }
  return static_cast<int>(status.error_code());
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;
  return flags.call.empty() ? Serve(flags) : Call(flags);
}
