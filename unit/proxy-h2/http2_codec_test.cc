// The HTTP/2 client and server codecs against each other over in-memory bytes:
// requests and responses with and without bodies, bodies larger than the flow
// control windows, trailers, many concurrent streams, resets and GOAWAY.
#include "proxy/http/http2_codec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/proxy-h2/h2_test_support.h"

namespace meshgate::proxy::http {
namespace {

using testing::CodecPair;
using ::testing::HasSubstr;

RequestHeaders Get(std::string_view path, std::string_view authority = "example.test") {
  return RequestHeaders{{":method", "GET"}, {":path", path}, {":authority", authority}};
}

TEST(Http2CodecTest, GetRequestAndResponse) {
  CodecPair pair;
  pair.server_events.on_headers = [&](StreamId id, bool end) {
    ASSERT_TRUE(end);
    ASSERT_TRUE(
        pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "200"}, {"x-a", "b"}}, false)
            .ok());
    ASSERT_TRUE(pair.server.EncodeData(id, "hello", true).ok());
  };
  const StreamId id = pair.client.NewStream();
  RequestHeaders request = Get("/x?y=1");
  request.Add("user-agent", "test");
  ASSERT_TRUE(pair.client.EncodeHeaders(id, request, true).ok());
  pair.Exchange();

  ASSERT_EQ(pair.server_events.streams.size(), 1u);
  const auto& in = pair.server_events.streams.begin()->second;
  ASSERT_TRUE(in.headers.has_value());
  EXPECT_EQ(in.headers->Get(":method"), "GET");
  EXPECT_EQ(in.headers->Get(":path"), "/x?y=1");
  EXPECT_EQ(in.headers->Get(":authority"), "example.test");
  EXPECT_EQ(in.headers->Get(":scheme"), "http");
  EXPECT_EQ(in.headers->Get("user-agent"), "test");
  EXPECT_TRUE(in.headers_end);

  const auto& out = pair.client_events.streams[id];
  ASSERT_TRUE(out.headers.has_value());
  EXPECT_EQ(out.headers->Get(":status"), "200");
  EXPECT_EQ(out.headers->Get("x-a"), "b");
  EXPECT_EQ(out.body, "hello");
  EXPECT_TRUE(out.ended);
  EXPECT_FALSE(out.reset.has_value());
  EXPECT_EQ(pair.server.ActiveStreams(), 0u);
  EXPECT_EQ(pair.client.ActiveStreams(), 0u);
  EXPECT_FALSE(pair.server.ShouldClose());
  EXPECT_FALSE(pair.client.ShouldClose());
}

TEST(Http2CodecTest, HostBecomesAuthorityCookiesJoinAndHopByHopFieldsAreDropped) {
  CodecPair pair;
  pair.server_events.on_headers = [&](StreamId id, bool) {
    ResponseHeaders response{{":status", "204"},
                             {"connection", "keep-alive"},
                             {"keep-alive", "timeout=5"},
                             {"transfer-encoding", "chunked"},
                             {"x-kept", "1"}};
    ASSERT_TRUE(pair.server.EncodeHeaders(id, response, true).ok());
  };
  const StreamId id = pair.client.NewStream();
  RequestHeaders request{{":method", "GET"}, {":path", "/"}};
  request.Add("host", "from-host.test");
  request.Add("connection", "close");
  request.Add("te", "trailers");
  request.Add("cookie", "a=1");
  request.Add("cookie", "b=2");
  ASSERT_TRUE(pair.client.EncodeHeaders(id, request, true).ok());
  pair.Exchange();

  const auto& in = pair.server_events.streams.begin()->second;
  ASSERT_TRUE(in.headers.has_value());
  EXPECT_EQ(in.headers->Get(":authority"), "from-host.test");
  EXPECT_FALSE(in.headers->Has("host"));
  EXPECT_FALSE(in.headers->Has("connection"));
  EXPECT_EQ(in.headers->Get("te"), "trailers");
  EXPECT_EQ(in.headers->GetAll("cookie").size(), 1u);
  EXPECT_EQ(in.headers->Get("cookie"), "a=1; b=2");

  const auto& out = pair.client_events.streams[id];
  ASSERT_TRUE(out.headers.has_value());
  EXPECT_EQ(out.headers->Get(":status"), "204");
  EXPECT_EQ(out.headers->Get("x-kept"), "1");
  EXPECT_FALSE(out.headers->Has("connection"));
  EXPECT_FALSE(out.headers->Has("keep-alive"));
  EXPECT_FALSE(out.headers->Has("transfer-encoding"));
  EXPECT_FALSE(out.reset.has_value());
}

TEST(Http2CodecTest, PostBodyLargerThanBothWindowsArrivesWhole) {
  Http2Settings small;
  small.initial_stream_window_bytes = 16 * 1024;
  small.initial_connection_window_bytes = 65535;
  CodecPair pair(small, small);
  std::string body(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  pair.server_events.on_end = [&](StreamId id) {
    ASSERT_TRUE(pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "200"}}, false).ok());
    // Echo the body back: the response is also larger than the client's windows.
    ASSERT_TRUE(pair.server.EncodeData(id, pair.server_events.streams[id].body, true).ok());
  };
  const StreamId id = pair.client.NewStream();
  RequestHeaders request{{":method", "POST"}, {":path", "/upload"}, {":authority", "a"}};
  ASSERT_TRUE(pair.client.EncodeHeaders(id, request, false).ok());
  // In pieces, as an upstream would deliver them.
  for (size_t off = 0; off < body.size(); off += 100'000) {
    const bool last = off + 100'000 >= body.size();
    ASSERT_TRUE(pair.client.EncodeData(id, std::string_view(body).substr(off, 100'000), last).ok());
    pair.Exchange();
  }
  const auto& in = pair.server_events.streams.begin()->second;
  EXPECT_EQ(in.body.size(), body.size());
  EXPECT_TRUE(in.body == body);
  EXPECT_TRUE(in.ended);
  const auto& out = pair.client_events.streams[id];
  EXPECT_EQ(out.body.size(), body.size());
  EXPECT_TRUE(out.ended);
}

TEST(Http2CodecTest, OutputIsProducedInBoundedSlices) {
  Http2Settings server_settings;
  server_settings.max_pending_output_bytes = 32 * 1024;
  CodecPair pair(server_settings);
  pair.server_events.on_headers = [&](StreamId id, bool) {
    ASSERT_TRUE(pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "200"}}, false).ok());
    ASSERT_TRUE(pair.server.EncodeData(id, std::string(900 * 1024, 'z'), true).ok());
  };
  const StreamId id = pair.client.NewStream();
  ASSERT_TRUE(pair.client.EncodeHeaders(id, Get("/big"), true).ok());
  std::string c2s(pair.client.PendingOutput());
  pair.client.DrainOutput(c2s.size());
  ASSERT_TRUE(pair.server.Dispatch(c2s).ok());
  // One frame may overshoot the slice, never more.
  EXPECT_LE(pair.server.PendingOutput().size(), 32u * 1024 + 16 * 1024 + 9);
  pair.Exchange();
  EXPECT_EQ(pair.client_events.streams[id].body.size(), 900u * 1024);
}

TEST(Http2CodecTest, TrailersBothWays) {
  CodecPair pair;
  pair.server_events.on_end = [&](StreamId id) {
    ASSERT_TRUE(pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "200"}}, false).ok());
    ASSERT_TRUE(pair.server.EncodeData(id, "part", false).ok());
    ASSERT_TRUE(pair.server.EncodeTrailers(id, TrailerMap{{"grpc-status", "0"}}).ok());
  };
  const StreamId id = pair.client.NewStream();
  RequestHeaders request{{":method", "POST"}, {":path", "/svc/M"}, {":authority", "a"}};
  request.Add("te", "trailers");
  ASSERT_TRUE(pair.client.EncodeHeaders(id, request, false).ok());
  ASSERT_TRUE(pair.client.EncodeData(id, "req", false).ok());
  ASSERT_TRUE(pair.client.EncodeTrailers(id, TrailerMap{{"x-checksum", "42"}}).ok());
  pair.Exchange();

  const auto& in = pair.server_events.streams.begin()->second;
  EXPECT_EQ(in.body, "req");
  ASSERT_TRUE(in.trailers.has_value());
  EXPECT_EQ(in.trailers->Get("x-checksum"), "42");
  const auto& out = pair.client_events.streams[id];
  EXPECT_EQ(out.body, "part");
  ASSERT_TRUE(out.trailers.has_value());
  EXPECT_EQ(out.trailers->Get("grpc-status"), "0");
  EXPECT_FALSE(out.reset.has_value());
}

TEST(Http2CodecTest, InterimResponseThenFinal) {
  CodecPair pair;
  pair.server_events.on_headers = [&](StreamId id, bool) {
    ASSERT_TRUE(pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "103"}}, false).ok());
    ASSERT_TRUE(pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "200"}}, true).ok());
  };
  const StreamId id = pair.client.NewStream();
  ASSERT_TRUE(pair.client.EncodeHeaders(id, Get("/"), true).ok());
  pair.Exchange();
  const auto& out = pair.client_events.streams[id];
  EXPECT_EQ(out.informational, std::vector<int>{103});
  ASSERT_TRUE(out.headers.has_value());
  EXPECT_EQ(out.headers->Get(":status"), "200");
}

TEST(Http2CodecTest, ManyConcurrentStreamsAnsweredOutOfOrder) {
  CodecPair pair;
  constexpr int kStreams = 80;
  std::vector<StreamId> ids;
  for (int i = 0; i < kStreams; ++i) {
    ids.push_back(pair.client.NewStream());
    ASSERT_TRUE(pair.client.EncodeHeaders(ids.back(), Get("/s/" + std::to_string(i)), true).ok());
  }
  pair.Exchange();
  ASSERT_EQ(pair.server_events.order.size(), static_cast<size_t>(kStreams));
  EXPECT_EQ(pair.server.ActiveStreams(), static_cast<size_t>(kStreams));
  // Answer in reverse order, each with its own path as the body.
  for (auto it = pair.server_events.order.rbegin(); it != pair.server_events.order.rend(); ++it) {
    const std::string path(pair.server_events.streams[*it].headers->Get(":path").value());
    ASSERT_TRUE(pair.server.EncodeHeaders(*it, ResponseHeaders{{":status", "200"}}, false).ok());
    ASSERT_TRUE(pair.server.EncodeData(*it, path, true).ok());
  }
  pair.Exchange();
  for (int i = 0; i < kStreams; ++i) {
    const auto& out = pair.client_events.streams[ids[i]];
    EXPECT_EQ(out.body, "/s/" + std::to_string(i)) << "stream " << ids[i];
    EXPECT_TRUE(out.ended);
  }
  EXPECT_EQ(pair.server.ActiveStreams(), 0u);
  EXPECT_EQ(pair.server.stats().streams_opened, static_cast<uint64_t>(kStreams));
}

TEST(Http2CodecTest, StreamsBeyondTheClientsViewOfTheLimitWaitInTheClient) {
  Http2Settings server_settings;
  server_settings.max_concurrent_streams = 3;
  CodecPair pair(server_settings);
  pair.Exchange();  // SETTINGS reach the client
  EXPECT_EQ(pair.client.PeerMaxConcurrentStreams(), 3u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pair.client.EncodeHeaders(pair.client.NewStream(), Get("/"), true).ok());
  }
  pair.Exchange();
  EXPECT_EQ(pair.server_events.order.size(), 3u);
  EXPECT_EQ(pair.server.stats().streams_refused, 0u);
  StreamId first = pair.server_events.order.front();
  ASSERT_TRUE(pair.server.EncodeHeaders(first, ResponseHeaders{{":status", "200"}}, true).ok());
  pair.Exchange();
  EXPECT_EQ(pair.server_events.order.size(), 4u);
}

TEST(Http2CodecTest, ClientResetReachesTheServerAndOthersGoOn) {
  CodecPair pair;
  const StreamId a = pair.client.NewStream();
  const StreamId b = pair.client.NewStream();
  RequestHeaders post{{":method", "POST"}, {":path", "/"}, {":authority", "a"}};
  ASSERT_TRUE(pair.client.EncodeHeaders(a, post, false).ok());
  ASSERT_TRUE(pair.client.EncodeHeaders(b, post, false).ok());
  pair.Exchange();
  ASSERT_EQ(pair.server_events.order.size(), 2u);
  const StreamId server_a = pair.server_events.order[0];
  const StreamId server_b = pair.server_events.order[1];
  pair.client.ResetStream(a);
  pair.Exchange();
  EXPECT_EQ(pair.server_events.streams[server_a].reset, StreamResetReason::kRemoteReset);
  EXPECT_FALSE(pair.server_events.streams[server_b].reset.has_value());
  EXPECT_FALSE(pair.client_events.streams[a].reset.has_value());  // the owner asked: no event
  EXPECT_EQ(pair.server.stats().resets_received, 1u);

  ASSERT_TRUE(pair.client.EncodeData(b, "x", true).ok());
  pair.Exchange();
  ASSERT_TRUE(pair.server.EncodeHeaders(server_b, ResponseHeaders{{":status", "200"}}, true).ok());
  pair.Exchange();
  EXPECT_EQ(pair.client_events.streams[b].headers->Get(":status"), "200");
  EXPECT_FALSE(pair.server.ShouldClose());
}

TEST(Http2CodecTest, EarlyResponseStopsTheUploadAndFreesTheStream) {
  CodecPair pair;
  pair.server_events.on_headers = [&](StreamId id, bool) {
    // Refuse the upload at once, as a 413 would.
    ASSERT_TRUE(pair.server.EncodeHeaders(id, ResponseHeaders{{":status", "413"}}, true).ok());
  };
  const StreamId id = pair.client.NewStream();
  RequestHeaders post{{":method", "POST"}, {":path", "/"}, {":authority", "a"}};
  ASSERT_TRUE(pair.client.EncodeHeaders(id, post, false).ok());
  ASSERT_TRUE(pair.client.EncodeData(id, "first part", false).ok());
  pair.Exchange();
  EXPECT_EQ(pair.client_events.streams[id].headers->Get(":status"), "413");
  EXPECT_TRUE(pair.client_events.streams[id].ended);
  // Stopped with RST_STREAM(NO_ERROR): a complete exchange, not a failure.
  EXPECT_FALSE(pair.client_events.streams[id].reset.has_value());
  EXPECT_EQ(pair.server.ActiveStreams(), 0u);
  EXPECT_EQ(pair.client.ActiveStreams(), 0u);
  EXPECT_FALSE(pair.client.EncodeData(id, "more", true).ok());
  EXPECT_EQ(pair.server.stats().reset_flood + pair.server.stats().rapid_reset_flood, 0u);
}

TEST(Http2CodecTest, ServerResetReachesTheClient) {
  CodecPair pair;
  const StreamId id = pair.client.NewStream();
  ASSERT_TRUE(pair.client.EncodeHeaders(id, Get("/"), true).ok());
  pair.Exchange();
  const StreamId server_id = pair.server_events.order.at(0);
  ASSERT_TRUE(
      pair.server.EncodeHeaders(server_id, ResponseHeaders{{":status", "200"}}, false).ok());
  ASSERT_TRUE(pair.server.EncodeData(server_id, "partial", false).ok());
  pair.server.ResetStream(server_id);
  EXPECT_FALSE(pair.server.EncodeData(server_id, "more", true).ok());
  pair.Exchange();
  EXPECT_EQ(pair.client_events.streams[id].reset, StreamResetReason::kRemoteReset);
  EXPECT_EQ(pair.server.ActiveStreams(), 0u);
}

TEST(Http2CodecTest, GracefulGoAwayLetsOpenStreamsFinish) {
  CodecPair pair;
  const StreamId a = pair.client.NewStream();
  ASSERT_TRUE(pair.client.EncodeHeaders(a, Get("/a"), true).ok());
  pair.Exchange();
  ASSERT_EQ(pair.server_events.order.size(), 1u);
  pair.server.GoAway();
  const auto goaway = testing::FindGoAway(pair.server.PendingOutput());
  ASSERT_TRUE(goaway.has_value());
  EXPECT_EQ(goaway->error_code, testing::kNoError);
  EXPECT_EQ(goaway->last_stream, pair.server_events.order[0]);
  pair.Exchange();
  EXPECT_TRUE(pair.client.GoAwayReceived());
  EXPECT_FALSE(pair.server.ShouldClose());  // stream a is still open

  const StreamId b = pair.client.NewStream();
  EXPECT_FALSE(pair.client.EncodeHeaders(b, Get("/b"), true).ok());

  ASSERT_TRUE(
      pair.server
          .EncodeHeaders(pair.server_events.order[0], ResponseHeaders{{":status", "200"}}, true)
          .ok());
  pair.Exchange();
  EXPECT_EQ(pair.client_events.streams[a].headers->Get(":status"), "200");
  EXPECT_TRUE(pair.server.ShouldClose());
  EXPECT_TRUE(pair.client.ShouldClose());
}

TEST(Http2CodecTest, StreamsAboveTheGoAwayAreRefusedToTheClient) {
  CodecPair pair;
  pair.Exchange();
  pair.server.GoAway();  // last stream 0: nothing opened yet
  const StreamId a = pair.client.NewStream();
  ASSERT_TRUE(pair.client.EncodeHeaders(a, Get("/a"), true).ok());  // in flight with the GOAWAY
  pair.Exchange();
  EXPECT_TRUE(pair.server_events.order.empty());
  EXPECT_EQ(pair.client_events.streams[a].reset, StreamResetReason::kRefused);
}

TEST(Http2CodecTest, PeerClosingTheConnectionResetsOpenStreams) {
  CodecPair pair;
  const StreamId id = pair.client.NewStream();
  ASSERT_TRUE(pair.client.EncodeHeaders(id, Get("/"), true).ok());
  pair.Exchange();
  pair.server.DispatchEof();
  EXPECT_EQ(pair.server_events.streams.begin()->second.reset, StreamResetReason::kRemoteClosed);
  EXPECT_TRUE(pair.server.ShouldClose());
}

TEST(Http2CodecTest, ConnectIsAnswered501ByTheCodec) {
  testing::ServerRecorder events;
  Http2ServerConnection server(events);
  std::string in =
      testing::ClientPreface() +
      testing::Headers(
          1, testing::HpackBlock({{":method", "CONNECT"}, {":authority", "db.internal:5432"}}),
          testing::kEndHeaders);
  ASSERT_TRUE(server.Dispatch(in).ok());
  EXPECT_TRUE(events.order.empty());
  bool answered = false;
  for (const auto& f : testing::ParseFrames(server.PendingOutput())) {
    if (f.type == 0x1 && f.stream == 1) answered = true;
  }
  EXPECT_TRUE(answered);
}

TEST(Http2CodecTest, NotHttp2IsAProtocolError) {
  testing::ServerRecorder events;
  Http2ServerConnection server(events);
  EXPECT_FALSE(server.Dispatch("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  ASSERT_EQ(events.errors.size(), 1u);
  EXPECT_THAT(events.errors[0].reason, HasSubstr("preface"));
  EXPECT_TRUE(server.ShouldClose());
}

TEST(Http2CodecTest, MalformedRequestIsResetWithoutReachingTheOwner) {
  testing::ServerRecorder events;
  Http2ServerConnection server(events);
  // No :path.
  std::string in =
      testing::ClientPreface() +
      testing::Headers(
          1, testing::HpackBlock({{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}}),
          testing::kEndHeaders | testing::kEndStream);
  ASSERT_TRUE(server.Dispatch(in).ok());
  EXPECT_TRUE(events.order.empty());
  EXPECT_EQ(server.stats().resets_sent, 1u);
  EXPECT_FALSE(server.ShouldClose());
}

TEST(Http2CodecTest, DispatchFromACallbackIsRefused) {
  testing::ServerRecorder events;
  Http2ServerConnection server(events);
  absl::Status nested = absl::OkStatus();
  events.on_headers = [&](StreamId, bool) { nested = server.Dispatch("x").status(); };
  ASSERT_TRUE(server
                  .Dispatch(testing::ClientPreface() +
                            testing::Headers(1, testing::RequestBlock(),
                                             testing::kEndHeaders | testing::kEndStream))
                  .ok());
  EXPECT_EQ(nested.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(events.order.size(), 1u);
}

TEST(Http2CodecTest, EncodingOnAnUnknownStreamFails) {
  testing::ServerRecorder events;
  Http2ServerConnection server(events);
  EXPECT_FALSE(server.EncodeHeaders(5, ResponseHeaders{{":status", "200"}}, true).ok());
  EXPECT_FALSE(server.EncodeData(5, "x", true).ok());
  EXPECT_FALSE(server.EncodeTrailers(5, TrailerMap{{"a", "b"}}).ok());
  EXPECT_FALSE(server.ShouldClose());
}

TEST(Http2CodecTest, PrefaceDetection) {
  EXPECT_EQ(MatchHttp2Preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n...."), PrefaceMatch::kHttp2);
  EXPECT_EQ(MatchHttp2Preface("PRI * HT"), PrefaceMatch::kNeedMoreBytes);
  EXPECT_EQ(MatchHttp2Preface(""), PrefaceMatch::kNeedMoreBytes);
  EXPECT_EQ(MatchHttp2Preface("GET / HTTP/1.1\r\n"), PrefaceMatch::kNotHttp2);
  EXPECT_EQ(MatchHttp2Preface("PRI * HTTP/1.1\r\n"), PrefaceMatch::kNotHttp2);
}

}  // namespace
}  // namespace meshgate::proxy::http
