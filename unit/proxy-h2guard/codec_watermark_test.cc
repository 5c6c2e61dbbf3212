// The HTTP/2 codec's back-pressure, codec against codec over in-memory bytes:
//  - body waiting for the peer's window above the stream limit raises the
//    stream's watermark once, and draining to half lowers it once;
//  - the connection limit raises every stream that adds to it;
//  - ReadDisableStream withholds one stream's WINDOW_UPDATE (the peer stops
//    after one window) while the connection's window, and so the other
//    streams, keep flowing; resuming delivers the rest.
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "unit/proxy-h2/h2_test_support.h"

namespace meshgate::proxy::http {
namespace {

using testing::ClientRecorder;
using testing::ServerRecorder;

template <typename Base>
struct WatermarkRecorder : Base {
  void OnStreamWatermark(StreamId stream, bool above_high) override {
    watermarks.emplace_back(stream, above_high);
  }
  std::vector<std::pair<StreamId, bool>> watermarks;
};

struct Pair {
  Pair(Http2Settings server_settings, Http2Settings client_settings)
      : server(server_events, std::move(server_settings)),
        client(client_events, std::move(client_settings)) {}
  // Moves bytes both ways; `client_reads` false plays a client that takes
  // nothing more from the server.
  void Exchange(bool client_reads = true) {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      std::string c2s(client.PendingOutput());
      client.DrainOutput(c2s.size());
      if (!c2s.empty()) {
        moved = true;
        (void)server.Dispatch(c2s);
      }
      if (client_reads) {
        std::string s2c(server.PendingOutput());
        server.DrainOutput(s2c.size());
        if (!s2c.empty()) {
          moved = true;
          (void)client.Dispatch(s2c);
        }
      }
      if (!moved) return;
    }
  }
  StreamId Request(std::string_view path, std::string_view body = {}) {
    RequestHeaders h;
    h.Add(":method", body.empty() ? "GET" : "POST");
    h.Add(":path", path);
    h.Add(":scheme", "http");
    h.Add(":authority", "test");
    StreamId id = client.NewStream();
    EXPECT_TRUE(client.EncodeHeaders(id, h, body.empty()).ok());
    if (!body.empty()) {
      EXPECT_TRUE(client.EncodeData(id, body, true).ok());
    }
    return id;
  }
  void Respond(StreamId server_stream, size_t body_bytes) {
    ResponseHeaders h;
    h.SetStatus(200);
    ASSERT_TRUE(server.EncodeHeaders(server_stream, h, false).ok());
    ASSERT_TRUE(server.EncodeData(server_stream, std::string(body_bytes, 'b'), true).ok());
  }

  WatermarkRecorder<ServerRecorder> server_events;
  WatermarkRecorder<ClientRecorder> client_events;
  Http2ServerConnection server;
  Http2ClientConnection client;
};

Http2Settings Limits(size_t stream_limit, size_t connection_limit) {
  Http2Settings s;
  s.stream_buffer_limit_bytes = stream_limit;
  s.connection_buffer_limit_bytes = connection_limit;
  return s;
}

TEST(CodecWatermarkTest, StreamWatermarkRisesOnceAndFallsWhenThePeerReads) {
  Http2Settings client;
  client.initial_stream_window_bytes = 16 * 1024;
  Pair p(Limits(128 * 1024, 0), client);
  p.Request("/");
  p.Exchange();
  ASSERT_EQ(p.server_events.order.size(), 1u);
  const StreamId id = p.server_events.order[0];

  p.Respond(id, 300 * 1024);
  ASSERT_EQ(p.server_events.watermarks.size(), 1u);
  EXPECT_EQ(p.server_events.watermarks[0], std::make_pair(id, true));
  EXPECT_GT(p.server.BufferedBodyBytes(id), 128u * 1024);

  p.Exchange(/*client_reads=*/false);
  EXPECT_EQ(p.server_events.watermarks.size(), 1u) << "no window, nothing drains";

  p.Exchange();
  ASSERT_EQ(p.server_events.watermarks.size(), 2u);
  EXPECT_EQ(p.server_events.watermarks[1], std::make_pair(id, false));
  EXPECT_EQ(p.server.BufferedBodyBytes(), 0u);
  const auto& response = p.client_events.streams.begin()->second;
  EXPECT_TRUE(response.ended);
  EXPECT_EQ(response.body.size(), 300u * 1024);
}

TEST(CodecWatermarkTest, SmallBodiesNeverRaiseIt) {
  Pair p(Limits(128 * 1024, 1 << 20), {});
  p.Request("/");
  p.Exchange();
  p.Respond(p.server_events.order[0], 100 * 1024);
  p.Exchange();
  EXPECT_TRUE(p.server_events.watermarks.empty());
  EXPECT_EQ(p.client_events.streams.begin()->second.body.size(), 100u * 1024);
}

TEST(CodecWatermarkTest, ConnectionLimitStopsEveryStreamThatAddsToIt) {
  Http2Settings client;
  client.initial_stream_window_bytes = 1024;
  Pair p(Limits(1 << 20, 256 * 1024), client);
  p.Request("/a");
  p.Request("/b");
  p.Exchange();
  ASSERT_EQ(p.server_events.order.size(), 2u);
  const StreamId a = p.server_events.order[0];
  const StreamId b = p.server_events.order[1];
  p.Respond(a, 200 * 1024);
  EXPECT_TRUE(p.server_events.watermarks.empty()) << "each stream alone is under both limits";
  p.Respond(b, 200 * 1024);
  ASSERT_EQ(p.server_events.watermarks.size(), 2u);
  EXPECT_EQ(p.server_events.watermarks[0], std::make_pair(a, true));
  EXPECT_EQ(p.server_events.watermarks[1], std::make_pair(b, true));
}

TEST(CodecWatermarkTest, ClientUploadRaisesTheWatermarkOnTheClientSide) {
  Http2Settings server;
  server.initial_stream_window_bytes = 16 * 1024;
  Pair p(server, Limits(64 * 1024, 0));
  p.client.DrainOutput(p.client.PendingOutput().size());  // the server has not seen us yet
  const StreamId id = p.Request("/up", std::string(200 * 1024, 'u'));
  ASSERT_EQ(p.client_events.watermarks.size(), 1u);
  EXPECT_EQ(p.client_events.watermarks[0], std::make_pair(id, true));
}

TEST(CodecWatermarkTest, ReadDisabledStreamGetsNoCreditWhileOthersFlow) {
  Http2Settings server;
  // Both windows at RFC 9113's initial 65535 bytes.
  server.initial_stream_window_bytes = 65535;
  server.initial_connection_window_bytes = 65535;
  Pair p(server, {});
  bool disabled = false;
  p.server_events.on_headers = [&](StreamId stream, bool) {
    if (!disabled) {
      disabled = true;
      p.server.ReadDisableStream(stream, true);
    }
  };
  p.Request("/slow", std::string(1 << 20, 's'));
  p.Exchange();
  ASSERT_EQ(p.server_events.order.size(), 1u);
  const StreamId slow = p.server_events.order[0];
  // One stream window arrived, no more: its credit is held back.
  EXPECT_EQ(p.server_events.streams[slow].body.size(), 65535u);
  EXPECT_FALSE(p.server_events.streams[slow].ended);

  // Another stream on the same connection is not held back by it: the
  // connection window was replenished.
  p.Request("/fast", std::string(200 * 1024, 'f'));
  p.Exchange();
  ASSERT_EQ(p.server_events.order.size(), 2u);
  const StreamId fast = p.server_events.order[1];
  EXPECT_EQ(p.server_events.streams[fast].body.size(), 200u * 1024);
  EXPECT_TRUE(p.server_events.streams[fast].ended);
  EXPECT_EQ(p.server_events.streams[slow].body.size(), 65535u);

  // Nested: two disables need two enables.
  p.server.ReadDisableStream(slow, true);
  p.server.ReadDisableStream(slow, false);
  p.Exchange();
  EXPECT_EQ(p.server_events.streams[slow].body.size(), 65535u);
  p.server.ReadDisableStream(slow, false);
  p.Exchange();
  EXPECT_EQ(p.server_events.streams[slow].body.size(), 1u << 20);
  EXPECT_TRUE(p.server_events.streams[slow].ended);
}

}  // namespace
}  // namespace meshgate::proxy::http
