// Abusive peers against the HTTP/2 server codec, driven by hand-built frames:
// each attack must end the connection with GOAWAY (ENHANCE_YOUR_CALM), report
// a ProtocolError naming the limit, count it, and keep the codec's output
// bounded while the attacker does not read.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http/http2_codec.h"
#include "unit/proxy-h2/h2_test_support.h"

namespace meshgate::proxy::http {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: frame builders

struct Attack {
  explicit Attack(Http2Settings settings = {}) : server(events, std::move(settings)) {}

  // Feeds `bytes` in slices of `slice` without ever draining the output (the
  // attacker does not read); returns whether the codec gave up, and records
  // the largest output it held meanwhile.
  bool Feed(const std::string& bytes, size_t slice = 4096) {
    for (size_t off = 0; off < bytes.size(); off += slice) {
      auto rv = server.Dispatch(std::string_view(bytes).substr(off, slice));
      max_output = std::max(max_output, server.PendingOutput().size());
      if (!rv.ok()) return true;
    }
    return false;
  }

  void ExpectGoAway(uint32_t code, std::string_view reason_part) {
    EXPECT_TRUE(server.ShouldClose());
    const auto goaway = FindGoAway(server.PendingOutput());
    ASSERT_TRUE(goaway.has_value()) << "no GOAWAY in the output";
    EXPECT_EQ(goaway->error_code, code);
    ASSERT_EQ(events.errors.size(), 1u);
    EXPECT_THAT(events.errors[0].reason, HasSubstr(std::string(reason_part)));
    EXPECT_EQ(server.stats().protocol_errors, 1u);
    // The codec refuses further input.
    EXPECT_FALSE(server.Dispatch(Ping(1)).ok());
  }

  ServerRecorder events;
  Http2ServerConnection server;
  size_t max_output = 0;
};

TEST(Http2FloodTest, RapidResetEndsTheConnection) {
  Attack a;
  std::string in = ClientPreface();
  for (uint32_t id = 1; id < 2 * 300; id += 2) {
    in += Headers(id, RequestBlock(), kEndHeaders | kEndStream);
    in += RstStream(id, kCancel);
  }
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "rapid reset");
  EXPECT_EQ(a.server.stats().rapid_reset_flood, 1u);
  // It tripped within the first window, not after all 300 streams.
  EXPECT_LE(a.server.stats().streams_opened, 100u);
}

TEST(Http2FloodTest, ResetsAfterTheResponseDoNotCount) {
  Attack a;
  a.events.on_headers = [&](StreamId id, bool) {
    ASSERT_TRUE(a.server.EncodeHeaders(id, ResponseHeaders{{":status", "200"}}, true).ok());
  };
  std::string in = ClientPreface();
  for (uint32_t id = 1; id < 2 * 300; id += 2) {
    in += Headers(id, RequestBlock(), kEndHeaders);
    in += RstStream(id, kCancel);  // after the whole response: a client losing interest
  }
  EXPECT_FALSE(a.Feed(in, in.size()));
  EXPECT_EQ(a.server.stats().rapid_reset_flood, 0u);
  EXPECT_EQ(a.server.stats().resets_received, 300u);
  EXPECT_TRUE(a.events.errors.empty());
}

TEST(Http2FloodTest, ContinuationFloodEndsTheConnection) {
  Attack a;
  std::string in = ClientPreface() + Headers(1, RequestBlock(), 0);
  for (int i = 0; i < 10000; ++i) {
    in += Continuation(1, HpackLiteral("x-pad-" + std::to_string(i), "v"), 0);
  }
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "CONTINUATION flood");
  EXPECT_EQ(a.server.stats().continuation_flood, 1u);
  EXPECT_TRUE(a.events.order.empty());
}

TEST(Http2FloodTest, HeaderBlockBytesAreBoundedBeforeEndHeaders) {
  Http2Settings settings;
  settings.max_header_block_bytes = 40 * 1024;
  Attack a(settings);
  // Few frames, but each one large: the byte bound trips first.
  std::string in = ClientPreface() + Headers(1, RequestBlock(), 0);
  for (int i = 0; i < 12; ++i) {
    in += Continuation(1, HpackLiteral("x-big-" + std::to_string(i), std::string(16000, 'v')), 0);
  }
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "CONTINUATION flood");
}

TEST(Http2FloodTest, OversizedHeaderListEndsTheConnection) {
  Attack a;
  std::vector<std::pair<std::string, std::string>> fields = {
      {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a"}};
  for (int i = 0; i < 70; ++i)
    fields.emplace_back("x-h" + std::to_string(i), std::string(1000, 'v'));
  const std::string block = HpackBlock(fields);
  std::string in = ClientPreface();
  // Split the block over HEADERS + CONTINUATION within the frame size.
  for (size_t off = 0; off < block.size(); off += 16000) {
    const bool last = off + 16000 >= block.size();
    const std::string piece = block.substr(off, 16000);
    in += off == 0 ? Headers(1, piece, kEndStream | (last ? kEndHeaders : 0))
                   : Continuation(1, piece, last ? kEndHeaders : 0);
  }
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "header list exceeds");
  EXPECT_EQ(a.server.stats().header_list_too_large, 1u);
  EXPECT_EQ(a.events.errors[0].http_status, 431);
}

TEST(Http2FloodTest, TooManyHeaderFieldsEndsTheConnection) {
  Attack a;
  std::vector<std::pair<std::string, std::string>> fields = {
      {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a"}};
  for (int i = 0; i < 150; ++i) fields.emplace_back("x-" + std::to_string(i), "1");
  EXPECT_TRUE(a.Feed(ClientPreface() + Headers(1, HpackBlock(fields), kEndHeaders | kEndStream)));
  a.ExpectGoAway(kEnhanceYourCalm, "more than 100 header fields");
}

TEST(Http2FloodTest, PingFloodEndsTheConnectionWithBoundedOutput) {
  Attack a;
  std::string in = ClientPreface();
  for (int i = 0; i < 100000; ++i) in += Ping(static_cast<uint64_t>(i));
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "control frame flood");
  EXPECT_EQ(a.server.stats().control_frame_flood, 1u);
  EXPECT_LE(a.max_output, 64u * 1024 + 1024);
}

TEST(Http2FloodTest, SettingsFloodEndsTheConnection) {
  Attack a;
  std::string in = ClientPreface();
  for (int i = 0; i < 100000; ++i) in += EmptySettings();
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "control frame flood");
  EXPECT_LE(a.max_output, 64u * 1024 + 1024);
}

TEST(Http2FloodTest, UnreadAcknowledgementsAreBounded) {
  // With a generous inbound budget the outbound bound must still hold: the
  // attacker never reads, so PING ACKs pile up inside nghttp2 until the limit.
  Http2Settings settings;
  settings.max_inbound_control_frames = 1'000'000;
  settings.max_pending_output_bytes = 4096;
  Attack a(settings);
  std::string in = ClientPreface();
  for (int i = 0; i < 20000; ++i) in += Ping(static_cast<uint64_t>(i));
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "outbound flood");
  EXPECT_EQ(a.server.stats().outbound_flood, 1u);
  EXPECT_LE(a.max_output, 4096u + 64);
}

TEST(Http2FloodTest, StreamErrorFloodEndsTheConnection) {
  // Every request is malformed (no :path), so we must reset every stream
  // (CVE-2019-9514): the resets count like the peer's own.
  Attack a;
  std::string in = ClientPreface();
  const std::string bad = HpackBlock({{":method", "GET"}, {":scheme", "http"}});
  for (uint32_t id = 1; id < 2 * 300; id += 2) {
    in += Headers(id, bad, kEndHeaders | kEndStream);
  }
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "stream error flood");
  EXPECT_EQ(a.server.stats().reset_flood, 1u);
}

TEST(Http2FloodTest, EmptyDataFramesEndTheConnection) {
  Attack a;
  std::string in = ClientPreface() + Headers(1, RequestBlock(), kEndHeaders);
  for (int i = 0; i < 1000; ++i) in += Data(1, "", 0);
  EXPECT_TRUE(a.Feed(in));
  a.ExpectGoAway(kEnhanceYourCalm, "empty frame flood");
  EXPECT_EQ(a.server.stats().empty_frame_flood, 1u);
}

TEST(Http2FloodTest, StreamsOverTheLimitAreRefusedThenTheConnectionEnds) {
  Http2Settings settings;
  settings.max_concurrent_streams = 4;
  Attack a(settings);
  std::string in = ClientPreface();
  // Requests that never end (no END_STREAM) and are never answered.
  for (uint32_t id = 1; id <= 2 * 5; id += 2) in += Headers(id, RequestBlock(), kEndHeaders);
  EXPECT_FALSE(a.Feed(in));
  EXPECT_EQ(a.events.order.size(), 4u);
  EXPECT_EQ(a.server.stats().streams_refused, 1u);
  bool refused = false;
  for (const auto& f : ParseFrames(a.server.PendingOutput())) {
    if (f.type == 0x3 && f.stream == 9 && ReadU32(f.payload) == kRefusedStream) refused = true;
  }
  EXPECT_TRUE(refused);
  // Keep ignoring the limit: the refusals add up to a flood.
  std::string more;
  for (uint32_t id = 11; id < 11 + 2 * 200; id += 2)
    more += Headers(id, RequestBlock(), kEndHeaders);
  EXPECT_TRUE(a.Feed(more));
  a.ExpectGoAway(kEnhanceYourCalm, "stream error flood");
}

TEST(Http2FloodTest, BadFramesEndTheConnectionWithProtocolError) {
  Attack a;
  // DATA on stream 0 is a connection error.
  EXPECT_TRUE(a.Feed(ClientPreface() + Data(0, "x", 0)) || a.server.ShouldClose());
  // Drive one more round so nghttp2's own GOAWAY is reported.
  if (a.events.errors.empty()) (void)a.server.Dispatch("");
  ASSERT_EQ(a.events.errors.size(), 1u);
  const auto goaway = FindGoAway(a.server.PendingOutput());
  ASSERT_TRUE(goaway.has_value());
  EXPECT_EQ(goaway->error_code, kProtocolError);
}

}  // namespace
}  // namespace meshgate::proxy::http
