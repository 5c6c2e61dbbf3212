// Http1ConnectionPool against a real upstream on loopback: reuse of idle
// keep-alive connections, connect failures and pending-queue overflow.
#include "proxy/upstream/http1_connection_pool.h"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/network/listener.h"

namespace meshgate::proxy::upstream {
namespace {

using namespace std::chrono_literals;

// Answers every request on a connection with a fixed 200 "ok".
class FixedUpstream : public network::ConnectionCallbacks {
 public:
  explicit FixedUpstream(std::unique_ptr<network::Connection> c) : conn(std::move(c)) {
    conn->SetCallbacks(this);
  }
  void OnData(network::Buffer& data, bool) override {
    std::string_view v = data.View();
    size_t end;
    while ((end = v.find("\r\n\r\n")) != std::string_view::npos) {
      conn->Write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      data.Drain(end + 4);
      v = data.View();
    }
  }
  void OnEvent(network::ConnectionEvent) override {}
  std::unique_ptr<network::Connection> conn;
};

struct Recorder : UpstreamStreamCallbacks {
  void OnUpstreamHeaders(http::ResponseHeaders headers, bool end_stream) override {
    status = headers.Status();
    if (end_stream) done = true;
  }
  void OnUpstreamData(std::string_view data, bool end_stream) override {
    body += std::string(data);
    if (end_stream) done = true;
  }
  void OnUpstreamTrailers(http::TrailerMap) override { done = true; }
  void OnUpstreamReset(UpstreamReset r) override {
    reset = r;
    done = true;
  }
  int status = 0;
  std::string body;
  bool done = false;
  std::optional<UpstreamReset> reset;
};

http::RequestHeaders Get() {
  http::RequestHeaders h;
  h.Add(":method", "GET");
  h.Add(":path", "/");
  h.Add(":scheme", "http");
  h.Add(":authority", "upstream");
  return h;
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = event::Dispatcher::Create();
    ASSERT_TRUE(d.ok());
    dispatcher = std::move(*d);
  }
  // Runs the loop until `done` or a 5 s guard.
  void RunUntil(const std::function<bool()>& done) {
    std::unique_ptr<event::Timer> poll;
    poll = dispatcher->CreateTimer([&] {
      if (done()) {
        dispatcher->Exit();
      } else {
        poll->Enable(1ms);
      }
    });
    poll->Enable(0ms);
    auto guard = dispatcher->CreateTimer([&] { dispatcher->Exit(); });
    guard->Enable(5000ms);
    dispatcher->Run();
  }
  std::unique_ptr<event::Dispatcher> dispatcher;
  stats::ClusterStats stats;
};

TEST_F(PoolTest, SequentialRequestsReuseOneConnection) {
  std::vector<std::unique_ptr<FixedUpstream>> upstreams;
  auto any = network::Address::Parse("127.0.0.1", 0);
  auto listener = network::TcpListener::Create(*dispatcher, *any, false, [&](int fd) {
    upstreams.push_back(std::make_unique<FixedUpstream>(network::Connection::FromAccepted(
        *dispatcher, fd, std::make_unique<network::PlaintextTransportSocket>())));
  });
  ASSERT_TRUE(listener.ok());
  Http1ConnectionPool pool(*dispatcher, (*listener)->address(), PoolSettings{}, stats);
  for (int i = 0; i < 3; ++i) {
    Recorder r;
    auto stream = pool.NewStream(r);
    stream->EncodeHeaders(Get(), true);
    RunUntil([&] { return r.done; });
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ok");
    EXPECT_FALSE(r.reset.has_value());
  }
  EXPECT_EQ(pool.connection_count(), 1u);
  EXPECT_EQ(pool.idle_count(), 1u);
  EXPECT_EQ(stats.upstream_cx_total.Value(), 1u);
  EXPECT_EQ(upstreams.size(), 1u);
}

TEST_F(PoolTest, ConnectFailureResetsTheWaitingStream) {
  auto any = network::Address::Parse("127.0.0.1", 0);
  auto fd = network::ListenTcp(*any, false);
  ASSERT_TRUE(fd.ok());
  auto closed = network::LocalAddress(*fd);
  ::close(*fd);  // nobody listens there now
  Http1ConnectionPool pool(*dispatcher, *closed, PoolSettings{}, stats);
  Recorder r;
  auto stream = pool.NewStream(r);
  stream->EncodeHeaders(Get(), true);
  RunUntil([&] { return r.done; });
  ASSERT_TRUE(r.reset.has_value());
  EXPECT_EQ(*r.reset, UpstreamReset::kConnectFailure);
  EXPECT_EQ(stats.upstream_cx_connect_fail.Value(), 1u);
}

TEST_F(PoolTest, OverflowBeyondMaxPendingIsReportedFromTheLoop) {
  auto any = network::Address::Parse("127.0.0.1", 0);
  auto listener =
      network::TcpListener::Create(*dispatcher, *any, false, [](int fd) { ::close(fd); });
  ASSERT_TRUE(listener.ok());
  PoolSettings settings;
  settings.circuit_breaker =
      std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_pending_requests = 1});
  Http1ConnectionPool pool(*dispatcher, (*listener)->address(), settings, stats);
  Recorder first, second;
  auto s1 = pool.NewStream(first);
  auto s2 = pool.NewStream(second);
  EXPECT_FALSE(second.done);  // never from inside NewStream
  RunUntil([&] { return second.done; });
  ASSERT_TRUE(second.reset.has_value());
  EXPECT_EQ(*second.reset, UpstreamReset::kOverflow);
  EXPECT_EQ(stats.upstream_rq_pending_overflow.Value(), 1u);
}

}  // namespace
}  // namespace meshgate::proxy::upstream
