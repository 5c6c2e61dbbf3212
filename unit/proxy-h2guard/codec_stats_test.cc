// The HTTP/2 codec's protection counters reach /stats/prometheus under
// Envoy's names: a real empty-frame flood and a rapid reset against the
// server codec, the connection's counters recorded into a worker's stats,
// and the rendered text read back.
#include <string>

#include "gtest/gtest.h"
#include "proxy/stats/stats.h"
#include "unit/proxy-h2/h2_test_support.h"

namespace meshgate::proxy::http {
namespace {

using namespace testing;

// The value of an unlabelled sample, or -1.
double Sample(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  const size_t eol = text.find('\n', at + 1);
  const std::string line = text.substr(at + 1, eol - at - 1);
  return std::stod(line.substr(line.rfind(' ') + 1));
}

TEST(CodecStatsTest, EmptyFrameFloodIsExportedWithEnvoysName) {
  ServerRecorder events;
  Http2ServerConnection server(events);
  std::string attack = ClientPreface() + EmptySettings() + Headers(1, RequestBlock(), 0x4);
  for (int i = 0; i < 10; ++i) attack += Data(1, "", 0);
  EXPECT_FALSE(server.Dispatch(attack).ok());
  ASSERT_EQ(server.stats().empty_frame_flood, 1u);

  stats::StatsStore store(2);
  RecordHttp2CodecStats(server.stats(), store.Worker(1).Http2());
  const std::string text = store.RenderPrometheus();
  EXPECT_EQ(Sample(text, "envoy_http2_inbound_empty_frames_flood"), 1) << text;
  EXPECT_EQ(Sample(text, "envoy_http2_goaway_sent"), 1) << text;
  EXPECT_EQ(Sample(text, "meshgate_http2_connection_errors"), 1) << text;
  EXPECT_EQ(Sample(text, "envoy_http2_rx_reset"), 0) << text;
  EXPECT_NE(text.find("# TYPE envoy_http2_header_overflow counter"), std::string::npos);
}

TEST(CodecStatsTest, RapidResetCountsResetsAndTheFloodAcrossWorkers) {
  stats::StatsStore store(2);
  for (size_t worker = 0; worker < 2; ++worker) {
    ServerRecorder events;
    Http2ServerConnection server(events);
    std::string attack = ClientPreface() + EmptySettings();
    for (uint32_t i = 0; i < 200; ++i) {
      attack += Headers(2 * i + 1, RequestBlock(), 0x5) + RstStream(2 * i + 1, 0x8);
    }
    EXPECT_FALSE(server.Dispatch(attack).ok());
    ASSERT_EQ(server.stats().rapid_reset_flood, 1u);
    RecordHttp2CodecStats(server.stats(), store.Worker(worker).Http2());
  }
  const std::string text = store.RenderPrometheus();
  EXPECT_EQ(Sample(text, "meshgate_http2_rapid_reset_flood"), 2) << text;
  EXPECT_GT(Sample(text, "envoy_http2_rx_reset"), 100) << text;
}

}  // namespace
}  // namespace meshgate::proxy::http
