// Http2ConnectionPool against a real HTTP/2 origin on loopback (nghttp2's own
// server session, see h2_test_server.h), through the proxy's HTTP/2 client
// codec: multiplexing, the peer's concurrency limit, GOAWAY, per-stream
// reset, request quotas, idle close, connect failures and overflow.
#include "proxy/upstream/http2_connection_pool.h"

#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/http/http2_codec.h"
#include "proxy/network/listener.h"
#include "unit/proxy-h2pool/h2_test_server.h"

namespace meshgate::proxy::upstream {
namespace {

using namespace std::chrono_literals;
using testing::H2TestServer;

struct Recorder : UpstreamStreamCallbacks {
  void OnUpstreamHeaders(http::ResponseHeaders h, bool end_stream) override {
    status = h.Status();
    if (auto p = h.Get("x-path")) path = std::string(*p);
    if (end_stream) done = true;
  }
  void OnUpstreamData(std::string_view data, bool end_stream) override {
    body += std::string(data);
    if (end_stream) done = true;
  }
  void OnUpstreamTrailers(http::TrailerMap t) override {
    if (auto g = t.Get("grpc-status")) grpc_status = std::string(*g);
    done = true;
  }
  void OnUpstreamReset(UpstreamReset r) override {
    reset = r;
    done = true;
  }
  int status = 0;
  std::string path;
  std::string body;
  std::string grpc_status;
  bool done = false;
  std::optional<UpstreamReset> reset;
};

http::RequestHeaders Request(const std::string& path, const std::string& method = "GET") {
  http::RequestHeaders h;
  h.Add(":method", method);
  h.Add(":path", path);
  h.Add(":scheme", "http");
  h.Add(":authority", "upstream");
  return h;
}

Http2CodecFactory ProxyCodec() {
  return [](http::ClientCallbacks& callbacks) -> std::unique_ptr<http::ClientConnection> {
    return std::make_unique<http::Http2ClientConnection>(callbacks);
  };
}

class Http2PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = event::Dispatcher::Create();
    ASSERT_TRUE(d.ok());
    dispatcher = std::move(*d);
  }
  // Runs the loop until `done` or a 5 s guard; false on the guard.
  bool RunUntil(const std::function<bool()>& done) {
    bool met = false;
    std::unique_ptr<event::Timer> poll;
    poll = dispatcher->CreateTimer([&] {
      if (done()) {
        met = true;
        dispatcher->Exit();
      } else {
        poll->Enable(1ms);
      }
    });
    poll->Enable(0ms);
    auto guard = dispatcher->CreateTimer([&] { dispatcher->Exit(); });
    guard->Enable(5000ms);
    dispatcher->Run();
    return met;
  }
  std::unique_ptr<Http2ConnectionPool> MakePool(const network::Address& address,
                                                PoolSettings settings = {}) {
    return std::make_unique<Http2ConnectionPool>(*dispatcher, address, settings, stats,
                                                 ProxyCodec());
  }
  std::unique_ptr<event::Dispatcher> dispatcher;
  stats::ClusterStats stats;
};

TEST_F(Http2PoolTest, ConcurrentRequestsShareOneConnection) {
  H2TestServer server(*dispatcher, {.hold_responses = true});
  auto pool = MakePool(server.address());
  constexpr int kRequests = 10;
  std::vector<Recorder> recorders(kRequests);
  std::vector<std::unique_ptr<UpstreamStream>> streams;
  for (int i = 0; i < kRequests; ++i) {
    streams.push_back(pool->NewStream(recorders[i]));
    streams.back()->EncodeHeaders(Request("/r" + std::to_string(i)), true);
  }
  ASSERT_TRUE(RunUntil([&] { return server.held() == kRequests; }));
  EXPECT_EQ(server.max_concurrent_seen(), static_cast<uint32_t>(kRequests));
  EXPECT_EQ(pool->active_stream_count(), static_cast<size_t>(kRequests));
  server.Release();
  ASSERT_TRUE(RunUntil([&] {
    return std::all_of(recorders.begin(), recorders.end(), [](auto& r) { return r.done; });
  }));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(recorders[i].status, 200);
    EXPECT_EQ(recorders[i].path, "/r" + std::to_string(i));  // each answer on its own stream
    EXPECT_EQ(recorders[i].body, "ok");
    EXPECT_FALSE(recorders[i].reset.has_value());
  }
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(pool->connection_count(), 1u);
  EXPECT_EQ(stats.upstream_cx_total.Value(), 1u);
}

TEST_F(Http2PoolTest, PeerMaxConcurrentStreamsIsHonouredWithMoreConnections) {
  H2TestServer server(*dispatcher, {.max_concurrent_streams = 2, .hold_responses = true});
  auto pool = MakePool(server.address());
  std::vector<Recorder> recorders(5);
  std::vector<std::unique_ptr<UpstreamStream>> streams;
  for (auto& r : recorders) {
    streams.push_back(pool->NewStream(r));
    streams.back()->EncodeHeaders(Request("/"), true);
  }
  ASSERT_TRUE(RunUntil([&] { return server.held() == 5; }));
  // Never more than the server allows on one connection: 5 streams need 3.
  EXPECT_EQ(server.max_concurrent_seen(), 2u);
  EXPECT_EQ(server.connections_accepted(), 3u);
  server.Release();
  ASSERT_TRUE(RunUntil([&] {
    return std::all_of(recorders.begin(), recorders.end(), [](auto& r) { return r.done; });
  }));
  for (auto& r : recorders) {
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.reset.has_value());
  }
}

TEST_F(Http2PoolTest, LocalMaxConcurrentStreamsQueuesWhenConnectionsAreCapped) {
  H2TestServer server(*dispatcher, {.hold_responses = true});
  PoolSettings settings;
  settings.max_concurrent_streams = 2;
  settings.circuit_breaker =
      std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_connections = 1});
  auto pool = MakePool(server.address(), settings);
  std::vector<Recorder> recorders(4);
  std::vector<std::unique_ptr<UpstreamStream>> streams;
  for (auto& r : recorders) {
    streams.push_back(pool->NewStream(r));
    streams.back()->EncodeHeaders(Request("/"), true);
  }
  ASSERT_TRUE(RunUntil([&] { return server.held() == 2; }));
  EXPECT_EQ(pool->pending_count(), 2u);  // waiting for room, not refused
  server.Release();
  ASSERT_TRUE(RunUntil([&] { return server.held() == 2 && recorders[1].done; }));
  server.Release();
  ASSERT_TRUE(RunUntil([&] {
    return std::all_of(recorders.begin(), recorders.end(), [](auto& r) { return r.done; });
  }));
  for (auto& r : recorders) EXPECT_EQ(r.status, 200);
  EXPECT_EQ(server.max_concurrent_seen(), 2u);
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST_F(Http2PoolTest, GoAwayMovesNewStreamsToANewConnection) {
  H2TestServer server(*dispatcher, {.goaway_after_requests = 1});
  auto pool = MakePool(server.address());
  for (int i = 0; i < 3; ++i) {
    Recorder r;
    auto stream = pool->NewStream(r);
    stream->EncodeHeaders(Request("/g" + std::to_string(i)), true);
    ASSERT_TRUE(RunUntil([&] { return r.done; }));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.path, "/g" + std::to_string(i));
    EXPECT_FALSE(r.reset.has_value());
  }
  // Each connection served one request, then said GOAWAY.
  EXPECT_EQ(server.connections_accepted(), 3u);
  ASSERT_TRUE(RunUntil([&] { return pool->connection_count() == 0; }));
}

TEST_F(Http2PoolTest, StreamsAboveTheGoAwayLastStreamIdAreRefused) {
  // The server says GOAWAY (last stream: the first) as soon as the first
  // request is in; the two sent with it were never processed.
  H2TestServer server(*dispatcher, {.hold_responses = true, .goaway_after_requests = 1});
  auto pool = MakePool(server.address());
  std::vector<Recorder> recorders(3);
  std::vector<std::unique_ptr<UpstreamStream>> streams;
  for (auto& r : recorders) {
    streams.push_back(pool->NewStream(r));
    streams.back()->EncodeHeaders(Request("/"), true);
  }
  ASSERT_TRUE(RunUntil([&] { return recorders[1].done && recorders[2].done; }));
  for (int i : {1, 2}) {
    ASSERT_TRUE(recorders[i].reset.has_value()) << i;
    EXPECT_EQ(*recorders[i].reset, UpstreamReset::kRefusedStream) << i;
  }
  server.Release();
  ASSERT_TRUE(RunUntil([&] { return recorders[0].done; }));
  EXPECT_EQ(recorders[0].status, 200);
  // The next stream needs a new connection.
  Recorder next;
  auto stream = pool->NewStream(next);
  stream->EncodeHeaders(Request("/next"), true);
  ASSERT_TRUE(RunUntil([&] { return server.held() >= 1 && server.connections_accepted() == 2; }));
  server.Release();
  ASSERT_TRUE(RunUntil([&] { return next.done; }));
  EXPECT_EQ(next.status, 200);
}

TEST_F(Http2PoolTest, ResetOfOneStreamLeavesTheOthers) {
  H2TestServer server(*dispatcher, {.hold_responses = true});
  auto pool = MakePool(server.address());
  std::vector<Recorder> recorders(3);
  std::vector<std::unique_ptr<UpstreamStream>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(pool->NewStream(recorders[i]));
    streams.back()->EncodeHeaders(Request("/s" + std::to_string(i)), true);
  }
  ASSERT_TRUE(RunUntil([&] { return server.held() == 3; }));
  streams[1]->Reset();
  ASSERT_TRUE(RunUntil([&] { return server.resets_received() == 1; }));
  EXPECT_EQ(server.held(), 2u);
  server.Release();
  ASSERT_TRUE(RunUntil([&] { return recorders[0].done && recorders[2].done; }));
  EXPECT_EQ(recorders[0].status, 200);
  EXPECT_EQ(recorders[2].status, 200);
  EXPECT_FALSE(recorders[1].done);  // no callbacks after Reset()
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(pool->connection_count(), 1u);
  EXPECT_EQ(server.open_connections(), 1u);
}

TEST_F(Http2PoolTest, RequestBodyAndTrailersPassThrough) {
  H2TestServer server(*dispatcher, {.send_trailers = true});
  auto pool = MakePool(server.address());
  Recorder r;
  auto stream = pool->NewStream(r);
  // Encoded before the connection exists: buffered, then replayed.
  stream->EncodeHeaders(Request("/post", "POST"), false);
  stream->EncodeData("hello", true);
  ASSERT_TRUE(RunUntil([&] { return r.done; }));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok:hello");
  EXPECT_EQ(r.grpc_status, "0");
  EXPECT_FALSE(r.reset.has_value()) << static_cast<int>(*r.reset);
}

TEST_F(Http2PoolTest, BodiesLargerThanTheFlowControlWindowsGoBothWays) {
  H2TestServer server(*dispatcher, {});
  auto pool = MakePool(server.address());
  Recorder r;
  auto stream = pool->NewStream(r);
  // 3 MiB: several stream windows (1 MiB), nghttp2's default 64 KiB server
  // window, and many 64 KiB output slices of the codec.
  std::string body(3 << 20, 'b');
  for (size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>('a' + (i / 4096) % 26);
  stream->EncodeHeaders(Request("/big", "POST"), false);
  stream->EncodeData(body, true);
  ASSERT_TRUE(RunUntil([&] { return r.done; }));
  EXPECT_FALSE(r.reset.has_value());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), body.size() + 3);
  EXPECT_TRUE(r.body == "ok:" + body);
}

TEST_F(Http2PoolTest, MaxRequestsPerConnectionOpensAFreshOne) {
  H2TestServer server(*dispatcher, {});
  PoolSettings settings;
  settings.max_requests_per_connection = 2;
  auto pool = MakePool(server.address(), settings);
  for (int i = 0; i < 4; ++i) {
    Recorder r;
    auto stream = pool->NewStream(r);
    stream->EncodeHeaders(Request("/"), true);
    ASSERT_TRUE(RunUntil([&] { return r.done; }));
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(server.connections_accepted(), 2u);
  EXPECT_EQ(server.requests_completed(), 4u);
}

TEST_F(Http2PoolTest, IdleConnectionClosesAfterIdleTimeout) {
  H2TestServer server(*dispatcher, {});
  PoolSettings settings;
  settings.idle_timeout = 20ms;
  auto pool = MakePool(server.address(), settings);
  Recorder r;
  auto stream = pool->NewStream(r);
  stream->EncodeHeaders(Request("/"), true);
  ASSERT_TRUE(RunUntil([&] { return r.done; }));
  ASSERT_TRUE(RunUntil([&] { return pool->connection_count() == 0; }));
  ASSERT_TRUE(RunUntil([&] { return server.open_connections() == 0; }));
  EXPECT_EQ(stats.upstream_cx_active.Value(), 0);
}

TEST_F(Http2PoolTest, ConnectFailureResetsTheWaitingStreams) {
  auto any = network::Address::Parse("127.0.0.1", 0);
  auto fd = network::ListenTcp(*any, false);
  ASSERT_TRUE(fd.ok());
  auto closed = network::LocalAddress(*fd);
  ::close(*fd);  // nobody listens there now
  auto pool = MakePool(*closed);
  Recorder a, b;
  auto sa = pool->NewStream(a);
  auto sb = pool->NewStream(b);
  sa->EncodeHeaders(Request("/"), true);
  sb->EncodeHeaders(Request("/"), true);
  ASSERT_TRUE(RunUntil([&] { return a.done && b.done; }));
  ASSERT_TRUE(a.reset && b.reset);
  EXPECT_EQ(*a.reset, UpstreamReset::kConnectFailure);
  EXPECT_EQ(*b.reset, UpstreamReset::kConnectFailure);
  EXPECT_EQ(stats.upstream_cx_connect_fail.Value(), 1u);  // both were waiting on one connection
}

// Accepts connections and never says a word.
struct SilentPeer {
  explicit SilentPeer(event::Dispatcher& dispatcher) {
    auto any = network::Address::Parse("127.0.0.1", 0);
    listener = std::move(*network::TcpListener::Create(dispatcher, *any, false,
                                                       [this](int fd) { fds.push_back(fd); }));
  }
  ~SilentPeer() {
    for (int fd : fds) ::close(fd);
  }
  std::unique_ptr<network::TcpListener> listener;
  std::vector<int> fds;
};

TEST_F(Http2PoolTest, APeerThatNeverSendsSettingsCountsAsAFailedConnect) {
  SilentPeer peer(*dispatcher);
  PoolSettings settings;
  settings.connect_timeout = 50ms;
  auto pool = MakePool(peer.listener->address(), settings);
  Recorder r;
  auto stream = pool->NewStream(r);
  stream->EncodeHeaders(Request("/"), true);
  ASSERT_TRUE(RunUntil([&] { return r.done; }));
  ASSERT_TRUE(r.reset.has_value());
  EXPECT_EQ(*r.reset, UpstreamReset::kConnectFailure);
  EXPECT_EQ(stats.upstream_cx_connect_timeout.Value(), 1u);
  EXPECT_EQ(peer.fds.size(), 1u);  // the TCP connect itself succeeded
}

TEST_F(Http2PoolTest, AServerThatSkipsItsSettingsPrefaceFailsTheConnection) {
  // RFC 9113 3.4: the server's first frame must be SETTINGS.
  H2TestServer server(*dispatcher, {.send_settings = false});
  auto pool = MakePool(server.address());
  Recorder r;
  auto stream = pool->NewStream(r);
  stream->EncodeHeaders(Request("/"), true);
  ASSERT_TRUE(RunUntil([&] { return r.done; }));
  ASSERT_TRUE(r.reset.has_value());
  EXPECT_EQ(*r.reset, UpstreamReset::kConnectFailure);
  EXPECT_EQ(server.requests_completed(), 0u);
}

TEST_F(Http2PoolTest, OverflowBeyondMaxPendingIsReportedFromTheLoop) {
  SilentPeer peer(*dispatcher);
  PoolSettings settings;
  settings.circuit_breaker =
      std::make_shared<CircuitBreaker>(CircuitBreakerLimits{.max_pending_requests = 1});
  auto pool = MakePool(peer.listener->address(), settings);
  Recorder first, second;
  auto s1 = pool->NewStream(first);
  auto s2 = pool->NewStream(second);
  EXPECT_FALSE(second.done);  // never from inside NewStream
  ASSERT_TRUE(RunUntil([&] { return second.done; }));
  ASSERT_TRUE(second.reset.has_value());
  EXPECT_EQ(*second.reset, UpstreamReset::kOverflow);
  EXPECT_EQ(stats.upstream_rq_pending_overflow.Value(), 1u);
  EXPECT_FALSE(first.done);
}

TEST_F(Http2PoolTest, DroppingThePoolWithAStreamInFlightIsSafe) {
  H2TestServer server(*dispatcher, {.hold_responses = true});
  auto pool = MakePool(server.address());
  Recorder r;
  auto stream = pool->NewStream(r);
  stream->EncodeHeaders(Request("/"), true);
  ASSERT_TRUE(RunUntil([&] { return server.held() == 1; }));
  pool.reset();
  stream.reset();
  EXPECT_FALSE(r.done);
}

}  // namespace
}  // namespace meshgate::proxy::upstream
