// gRPC through the gateway, end to end: a grpc++ client speaks HTTP/2 to
// meshgate-proxy (programmed by meshgate-operator over ADS), which forwards
// over its HTTP/2 upstream pool to a grpc++ backend — the backend's port is
// named "grpc", so the compiler asks for HTTP/2 upstream as Istio does.
// Unary, server-streaming and bidi calls; deadlines (the client's, the
// route's, a bare grpc-timeout header); retries on gRPC status names whether
// the status comes trailers-only or in real trailers; and the trailers-only
// UNAVAILABLE answers for no host and connect failure. curl covers an
// HTTP/1.1 client reaching the HTTP/2 backend.
#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/proxy-grpc/relay.grpc.pb.h"
#include "e2e/support/mesh_yaml.h"
#include "e2e/support/subprocess.h"
#include "gtest/gtest.h"

namespace meshgate::e2e {
namespace {

using namespace std::chrono_literals;
using grpctest::Answer;
using grpctest::Ask;
using grpctest::Relay;

constexpr int kServicePort = 9000;
constexpr char kAuthority[] = "grpc.example.com";
constexpr char kRelayCluster[] = "outbound|9000||relay.grpc.svc.cluster.local";

// The backend: answers as relay.proto says; counts calls per fail_key.
class RelayService final : public Relay::Service {
 public:
  grpc::Status Unary(grpc::ServerContext* context, const Ask* ask, Answer* answer) override {
    const int attempt = NextAttempt(ask->fail_key());
    if (!Delay(context, ask->delay_ms())) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    if (ShouldFail(*ask, attempt)) return Failure(*ask);
    answer->set_payload(ask->payload());
    answer->set_attempt(attempt);
    return grpc::Status::OK;
  }

  grpc::Status Countdown(grpc::ServerContext* context, const Ask* ask,
                         grpc::ServerWriter<Answer>* writer) override {
    const int attempt = NextAttempt(ask->fail_key());
    if (!Delay(context, ask->delay_ms())) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    if (ShouldFail(*ask, attempt)) {
      if (ask->headers_before_failure()) writer->SendInitialMetadata();
      return Failure(*ask);
    }
    for (int i = 0; i < ask->count(); ++i) {
      Answer answer;
      answer.set_payload(ask->payload());
      answer.set_index(i);
      answer.set_attempt(attempt);
      if (!writer->Write(answer)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Chat(grpc::ServerContext*, grpc::ServerReaderWriter<Answer, Ask>* stream) override {
    Ask ask;
    int index = 0;
    while (stream->Read(&ask)) {
      Answer answer;
      answer.set_payload(ask.payload());
      answer.set_index(index++);
      stream->Write(answer);
    }
    return grpc::Status::OK;
  }

  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    return calls_[key];
  }

 private:
  int NextAttempt(const std::string& key) {
    if (key.empty()) return 1;
    std::lock_guard lock(mu_);
    return ++calls_[key];
  }
  static bool ShouldFail(const Ask& ask, int attempt) {
    return !ask.fail_key().empty() && attempt <= ask.fail_times();
  }
  static grpc::Status Failure(const Ask& ask) {
    return grpc::Status(static_cast<grpc::StatusCode>(ask.fail_code()), "planned failure");
  }
  // The backend's own slowness; stops early when the caller went away.
  static bool Delay(grpc::ServerContext* context, int delay_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (context->IsCancelled()) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  std::mutex mu_;
  std::map<std::string, int> calls_;
};

std::string Config(int relay_port, int closed_port, int gateway_port) {
  std::string y;
  y += ServiceYaml("grpc", "relay", "grpc", kServicePort) +
       PodYaml("grpc", "relay-1", "relay", {{"version", "v1"}}) +
       EndpointSliceYaml("grpc", "relay-1", "relay", "relay-1", "grpc", relay_port);
  y += ServiceYaml("grpc", "closed", "grpc", kServicePort) +
       PodYaml("grpc", "closed-1", "closed", {{"version", "v1"}}) +
       EndpointSliceYaml("grpc", "closed-1", "closed", "closed-1", "grpc", closed_port);
  y += ServiceYaml("grpc", "empty", "grpc", kServicePort);  // no endpoints at all
  y += R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: grpc-gateway, namespace: grpc}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: )" +
       std::to_string(gateway_port) + R"(, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: relay, namespace: grpc}
spec:
  hosts: [grpc.example.com]
  gateways: [grpc-gateway]
  http:
  - name: short-timeout
    match: [{headers: {x-route: {exact: short-timeout}}}]
    timeout: 300ms
    route: [{destination: {host: relay.grpc.svc.cluster.local}}]
  - name: no-host
    match: [{headers: {x-route: {exact: no-host}}}]
    route: [{destination: {host: empty.grpc.svc.cluster.local}}]
  - name: refused
    match: [{headers: {x-route: {exact: refused}}}]
    route: [{destination: {host: closed.grpc.svc.cluster.local}}]
  - name: relay
    retries:
      attempts: 3
      retryOn: cancelled,deadline-exceeded,internal,resource-exhausted,unavailable
    route: [{destination: {host: relay.grpc.svc.cluster.local}}]
)";
  return y;
}

class ProxyGrpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    service_ = new RelayService();
    grpc::ServerBuilder builder;
    int relay_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &relay_port);
    builder.RegisterService(service_);
    server_ = builder.BuildAndStart().release();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(relay_port, 0);

    config_ = new TempDir();
    state_ = new TempDir();
    gateway_port_ = PickFreePort();
    admin_port_ = PickFreePort();
    const int xds_port = PickFreePort();
    config_->WriteFile("mesh.yaml", Config(relay_port, PickFreePort(), gateway_port_));
    op_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-operator", "--config-dir",
                          config_->path(), "--state-dir", state_->path(), "--xds-port",
                          std::to_string(xds_port), "--admin-port", std::to_string(PickFreePort()),
                          "--ca-port", std::to_string(PickFreePort()), "--debounce", "20ms"});
    proxy_ = new Subprocess({MESHGATE_BINARY_DIR "/bin/meshgate-proxy", "--xds-address",
                             "127.0.0.1:" + std::to_string(xds_port), "--node-id", "gateway-grpc",
                             "--role", "gateway", "--namespace", "grpc", "--labels",
                             "istio=ingressgateway", "--admin-port", std::to_string(admin_port_),
                             "--workers", "2"});
    grpc::ChannelArguments args;
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, kAuthority);
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(gateway_port_), grpc::InsecureChannelCredentials(), args));
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 1s);
      Ask ask;
      ask.set_payload("ready?");
      Answer answer;
      if (Stub()->Unary(&context, ask, &answer).ok()) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(100ms);  // polling separate processes' readiness
    }
    ASSERT_TRUE(ready_) << "no gRPC call got through\nproxy:\n"
                        << proxy_->Output() << "\noperator:\n"
                        << op_->Output();
  }

  static void TearDownTestSuite() {
    delete channel_;
    delete proxy_;
    delete op_;
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
    delete server_;
    delete service_;
    delete config_;
    delete state_;
  }

  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "setup failed";
  }

  static std::unique_ptr<Relay::Stub> Stub() { return Relay::NewStub(*channel_); }

  static uint64_t Stat(const std::string& name, const std::string& cluster) {
    const std::string stats =
        RunCommand("curl -s http://127.0.0.1:" + std::to_string(admin_port_) + "/stats/prometheus");
    const std::string key = name + "{envoy_cluster_name=\"" + cluster + "\"} ";
    size_t at = stats.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoull(stats.c_str() + at + key.size(), nullptr, 10);
  }

  // A unique fail_key per test, so retried calls are counted apart.
  static std::string Key() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static inline RelayService* service_ = nullptr;
  static inline grpc::Server* server_ = nullptr;
  static inline TempDir* config_ = nullptr;
  static inline TempDir* state_ = nullptr;
  static inline Subprocess* op_ = nullptr;
  static inline Subprocess* proxy_ = nullptr;
  static inline std::shared_ptr<grpc::Channel>* channel_ = nullptr;
  static inline int gateway_port_ = 0, admin_port_ = 0;
  static inline bool ready_ = false;
};

TEST_F(ProxyGrpcTest, ConcurrentUnaryCallsShareFewUpstreamConnections) {
  const uint64_t connections_before = Stat("envoy_cluster_upstream_cx_total", kRelayCluster);
  constexpr int kThreads = 8, kCalls = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &ok] {
      auto stub = Stub();
      for (int i = 0; i < kCalls; ++i) {
        grpc::ClientContext context;
        Ask ask;
        ask.set_payload("t" + std::to_string(t) + "-" + std::to_string(i));
        ask.set_delay_ms(i % 5 == 0 ? 20 : 0);  // keep several calls in flight at once
        Answer answer;
        grpc::Status status = stub->Unary(&context, ask, &answer);
        if (status.ok() && answer.payload() == ask.payload()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
  // 200 calls, up to 8 at a time, multiplexed: at most one new upstream
  // connection per worker (HTTP/1.1 would need one per call in flight).
  EXPECT_LE(Stat("envoy_cluster_upstream_cx_total", kRelayCluster) - connections_before, 2u);
}

TEST_F(ProxyGrpcTest, ServerStreamingDeliversEveryMessageInOrder) {
  grpc::ClientContext context;
  Ask ask;
  ask.set_payload("tick");
  ask.set_count(200);
  auto reader = Stub()->Countdown(&context, ask);
  Answer answer;
  int expected = 0;
  while (reader->Read(&answer)) {
    EXPECT_EQ(answer.index(), expected);
    EXPECT_EQ(answer.payload(), "tick");
    ++expected;
  }
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(expected, 200);
}

TEST_F(ProxyGrpcTest, BidiStreamingAnswersEachMessageAsItComes) {
  grpc::ClientContext context;
  auto stream = Stub()->Chat(&context);
  for (int i = 0; i < 30; ++i) {
    Ask ask;
    ask.set_payload("m" + std::to_string(i));
    ASSERT_TRUE(stream->Write(ask));
    Answer answer;
    // The answer to this message arrives before the next is sent: the proxy
    // streams both ways rather than buffering the request.
    ASSERT_TRUE(stream->Read(&answer)) << i;
    EXPECT_EQ(answer.payload(), "m" + std::to_string(i));
    EXPECT_EQ(answer.index(), i);
  }
  stream->WritesDone();
  Answer extra;
  EXPECT_FALSE(stream->Read(&extra));
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
}

TEST_F(ProxyGrpcTest, ClientDeadlineShorterThanTheBackendDelay) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 300ms);
  Ask ask;
  ask.set_delay_ms(3000);
  Answer answer;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
}

TEST_F(ProxyGrpcTest, RouteTimeoutAnswersDeadlineExceeded) {
  // The client would wait 10 s; the route gives up after 300 ms and says so
  // the gRPC way.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  context.AddMetadata("x-route", "short-timeout");
  Ask ask;
  ask.set_delay_ms(3000);
  Answer answer;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  EXPECT_GE(Stat("envoy_cluster_upstream_rq_timeout", kRelayCluster), 1u);
}

// A gRPC message frame: flag 0, 4-byte big-endian length, the message.
std::string Frame(const Ask& ask) {
  std::string message = ask.SerializeAsString();
  std::string frame(5, '\0');
  const uint32_t n = static_cast<uint32_t>(message.size());
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  return frame + message;
}

TEST_F(ProxyGrpcTest, GrpcTimeoutHeaderIsEnforcedByTheProxy) {
  // curl sends what a gRPC client would, but never gives up by itself
  // before 10 s: the 300 ms deadline is the proxy's doing.
  Ask ask;
  ask.set_delay_ms(3000);
  TempDir scratch;
  scratch.WriteFile("ask.bin", Frame(ask));
  const std::string body = scratch.path() + "/ask.bin";
  const auto start = std::chrono::steady_clock::now();
  const std::string out =
      RunCommand("curl -s -m 10 --http2-prior-knowledge -D - -o /dev/null -H 'host: " +
                 std::string(kAuthority) +
                 "' -H 'content-type: application/grpc' -H 'te: trailers' -H 'grpc-timeout: 300m' "
                 "--data-binary @" +
                 body + " http://127.0.0.1:" + std::to_string(gateway_port_) +
                 "/meshgate.grpctest.Relay/Unary");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_NE(out.find("grpc-status: 4"), std::string::npos) << out;
}

TEST_F(ProxyGrpcTest, RetriesATrailersOnlyUnavailable) {
  grpc::ClientContext context;
  Ask ask;
  ask.set_payload("again");
  ask.set_fail_key(Key());
  ask.set_fail_times(2);
  ask.set_fail_code(grpc::StatusCode::UNAVAILABLE);
  Answer answer;
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(answer.payload(), "again");
  EXPECT_EQ(answer.attempt(), 3);
  EXPECT_EQ(service_->calls(Key()), 3);
}

TEST_F(ProxyGrpcTest, RetriesAStatusThatCameInTrailers) {
  // Response headers first, then trailers with RESOURCE_EXHAUSTED and no
  // message: the proxy holds the headers back until the status is known.
  grpc::ClientContext context;
  Ask ask;
  ask.set_payload("late");
  ask.set_count(5);
  ask.set_fail_key(Key());
  ask.set_fail_times(1);
  ask.set_fail_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
  ask.set_headers_before_failure(true);
  auto reader = Stub()->Countdown(&context, ask);
  Answer answer;
  int received = 0;
  while (reader->Read(&answer)) {
    EXPECT_EQ(answer.attempt(), 2);
    ++received;
  }
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(received, 5);
  EXPECT_EQ(service_->calls(Key()), 2);
}

TEST_F(ProxyGrpcTest, NonRetriableStatusPassesThroughOnce) {
  grpc::ClientContext context;
  Ask ask;
  ask.set_fail_key(Key());
  ask.set_fail_times(10);
  ask.set_fail_code(grpc::StatusCode::INVALID_ARGUMENT);
  Answer answer;
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "planned failure");
  EXPECT_EQ(service_->calls(Key()), 1);
}

TEST_F(ProxyGrpcTest, RetriesStopAfterTheConfiguredAttempts) {
  grpc::ClientContext context;
  Ask ask;
  ask.set_fail_key(Key());
  ask.set_fail_times(100);
  ask.set_fail_code(grpc::StatusCode::INTERNAL);
  Answer answer;
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(service_->calls(Key()), 4);  // the call and 3 retries
}

TEST_F(ProxyGrpcTest, NoHealthyUpstreamIsUnavailable) {
  grpc::ClientContext context;
  context.AddMetadata("x-route", "no-host");
  Ask ask;
  Answer answer;
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ProxyGrpcTest, ConnectFailureIsUnavailable) {
  grpc::ClientContext context;
  context.AddMetadata("x-route", "refused");
  Ask ask;
  Answer answer;
  grpc::Status status = Stub()->Unary(&context, ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_GE(Stat("envoy_cluster_upstream_cx_connect_fail",
                 "outbound|9000||closed.grpc.svc.cluster.local"),
            1u);
}

TEST_F(ProxyGrpcTest, Http1ClientReachesTheHttp2Backend) {
  // An HTTP/1.1 downstream, an HTTP/2 upstream: the proxy translates, and
  // the backend's trailers come back as chunked trailers.
  Ask ask;
  ask.set_payload("over http/1.1");
  TempDir scratch;
  scratch.WriteFile("ask.bin", Frame(ask));
  const std::string out =
      RunCommand("curl -s -m 10 --http1.1 -D - -o /dev/null -H 'host: " + std::string(kAuthority) +
                 "' -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @" +
                 scratch.path() + "/ask.bin http://127.0.0.1:" + std::to_string(gateway_port_) +
                 "/meshgate.grpctest.Relay/Unary");
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  EXPECT_NE(out.find("grpc-status: 0"), std::string::npos) << out;
}

}  // namespace
}  // namespace meshgate::e2e
