// Http2PeerFrameObserver: the pool's view of what an upstream announced,
// read from server frames built by nghttp2's own server session and split at
// every byte boundary.
#include <nghttp2/nghttp2.h>

#include <string>

#include "gtest/gtest.h"
#include "proxy/upstream/http2_connection_pool.h"

namespace meshgate::proxy::upstream {
namespace {

// Server-side bytes: nghttp2 serializes what the test submits.
class ServerFrames {
 public:
  ServerFrames() {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_server_new(&session_, cbs, nullptr);
    nghttp2_session_callbacks_del(cbs);
  }
  ~ServerFrames() { nghttp2_session_del(session_); }
  nghttp2_session* session() { return session_; }
  std::string Take() {
    std::string out;
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    return out;
  }

 private:
  nghttp2_session* session_ = nullptr;
};

TEST(PeerFrameObserverTest, ReadsMaxConcurrentStreamsFromSettings) {
  ServerFrames frames;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
                                 {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 7}};
  ASSERT_EQ(nghttp2_submit_settings(frames.session(), NGHTTP2_FLAG_NONE, iv, 2), 0);
  std::string bytes = frames.Take();
  Http2PeerFrameObserver observer;
  EXPECT_FALSE(observer.settings_received());
  observer.Observe(bytes);
  EXPECT_TRUE(observer.settings_received());
  EXPECT_EQ(observer.max_concurrent_streams(), 7u);
  EXPECT_FALSE(observer.goaway_received());
}

TEST(PeerFrameObserverTest, SettingsWithoutALimitKeepTheDefault) {
  ServerFrames frames;
  ASSERT_EQ(nghttp2_submit_settings(frames.session(), NGHTTP2_FLAG_NONE, nullptr, 0), 0);
  Http2PeerFrameObserver observer;
  observer.Observe(frames.Take());
  EXPECT_TRUE(observer.settings_received());
  EXPECT_EQ(observer.max_concurrent_streams(),
            Http2PeerFrameObserver::kInitialMaxConcurrentStreams);
}

TEST(PeerFrameObserverTest, SplitAtEveryByteAndAfterOtherFrames) {
  ServerFrames frames;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 3}};
  ASSERT_EQ(nghttp2_submit_settings(frames.session(), NGHTTP2_FLAG_NONE, iv, 1), 0);
  ASSERT_EQ(nghttp2_submit_ping(frames.session(), NGHTTP2_FLAG_NONE, nullptr), 0);
  std::string debug(300, 'x');  // GOAWAY debug data longer than the frame header
  ASSERT_EQ(nghttp2_submit_goaway(frames.session(), NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
                                  reinterpret_cast<const uint8_t*>(debug.data()), debug.size()),
            0);
  std::string bytes = frames.Take();
  for (size_t split = 0; split <= bytes.size(); ++split) {
    Http2PeerFrameObserver observer;
    observer.Observe(std::string_view(bytes).substr(0, split));
    for (size_t i = split; i < bytes.size(); ++i) observer.Observe(bytes.substr(i, 1));
    EXPECT_EQ(observer.max_concurrent_streams(), 3u) << split;
    EXPECT_TRUE(observer.goaway_received()) << split;
  }
}

TEST(PeerFrameObserverTest, SettingsAckIsNotTheServersSettings) {
  // An ACK carries no parameters and must not count as the peer's SETTINGS.
  const std::string ack("\x00\x00\x00\x04\x01\x00\x00\x00\x00", 9);
  Http2PeerFrameObserver observer;
  observer.Observe(ack);
  EXPECT_FALSE(observer.settings_received());
}

}  // namespace
}  // namespace meshgate::proxy::upstream
