// Translation of the connection manager's http2_protocol_options into the
// proxy's runtime config: the settings the HTTP/2 codec is built with.
#include <string>

#include "envoy/config/listener/v3/listener.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proxy/config/listener_translator.h"

namespace meshgate::proxy::config {
namespace {

using ::testing::HasSubstr;

envoy::config::listener::v3::Listener ListenerWith(const std::string& hcm_extra) {
  const std::string text =
      R"pb(
        name: "h2_8080"
        address { socket_address { address: "0.0.0.0" port_value: 8080 } }
        filter_chains { filters {
          name: "envoy.filters.network.http_connection_manager"
          typed_config {
            [type.googleapis.com/
             envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager] {
              stat_prefix: "ingress"
              rds {
                route_config_name: "routes_8080"
                config_source { ads {} }
              }
              http_filters {
                name: "envoy.filters.http.router"
                typed_config {
                  [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {}
                }
              })pb" +
      hcm_extra + "} } } }";
  envoy::config::listener::v3::Listener listener;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &listener)) << text;
  return listener;
}

TEST(Http2OptionsTranslationTest, SettingsReachTheRuntimeConfig) {
  auto result = TranslateListener(ListenerWith(R"pb(
    codec_type: HTTP2
    http2_protocol_options {
      max_concurrent_streams { value: 7 }
      initial_stream_window_size { value: 131072 }
      initial_connection_window_size { value: 1048576 }
    })pb"));
  ASSERT_TRUE(result.ok()) << result.status();
  const HttpConnectionManagerConfig& http = (*result)->filter_chains.at(0).http;
  EXPECT_EQ(http.codec, HttpConnectionManagerConfig::Codec::kHttp2);
  EXPECT_EQ(http.http2.max_concurrent_streams, 7u);
  EXPECT_EQ(http.http2.initial_stream_window_size, 131072u);
  EXPECT_EQ(http.http2.initial_connection_window_size, 1048576u);
}

TEST(Http2OptionsTranslationTest, UnsetOptionsKeepTheCodecDefaults) {
  auto result = TranslateListener(ListenerWith(""));
  ASSERT_TRUE(result.ok()) << result.status();
  const HttpConnectionManagerConfig& http = (*result)->filter_chains.at(0).http;
  EXPECT_EQ(http.codec, HttpConnectionManagerConfig::Codec::kAuto);
  EXPECT_FALSE(http.http2.max_concurrent_streams.has_value());
  EXPECT_FALSE(http.http2.initial_stream_window_size.has_value());
  EXPECT_FALSE(http.http2.initial_connection_window_size.has_value());
}

TEST(Http2OptionsTranslationTest, OutOfRangeValuesNameTheField) {
  struct Case {
    std::string options;
    std::string field;
  };
  for (const Case& c : {
           Case{"max_concurrent_streams { value: 0 }",
                "http2_protocol_options.max_concurrent_streams"},
           Case{"initial_stream_window_size { value: 1000 }",
                "http2_protocol_options.initial_stream_window_size"},
           Case{"initial_connection_window_size { value: 4294967295 }",
                "http2_protocol_options.initial_connection_window_size"},
       }) {
    auto result = TranslateListener(ListenerWith("http2_protocol_options { " + c.options + " }"));
    ASSERT_FALSE(result.ok()) << c.options;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.field));
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("h2_8080"));
  }
}

}  // namespace
}  // namespace meshgate::proxy::config
