// Translation of a listener's per_connection_buffer_limit_bytes: kept when
// set (the downstream connection's write limit and each stream's body limit),
// Envoy's 1 MiB otherwise, and zero refused with its field path.
#include <google/protobuf/text_format.h>

#include "gtest/gtest.h"
#include "proxy/config/listener_translator.h"

namespace meshgate::proxy::config {
namespace {

envoy::config::listener::v3::Listener Parse(const std::string& extra) {
  envoy::config::listener::v3::Listener l;
  const std::string text = R"(name: "l"
address { socket_address { address: "127.0.0.1" port_value: 0 } }
filter_chains { filters {
  name: "envoy.filters.network.tcp_proxy"
  typed_config {
    [type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy] {
      stat_prefix: "t" cluster: "c" } } } }
)" + extra;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &l)) << text;
  return l;
}

TEST(ListenerLimitsTest, BufferLimitIsKeptOrEnvoysDefault) {
  auto limited = TranslateListener(Parse("per_connection_buffer_limit_bytes { value: 32768 }"));
  ASSERT_TRUE(limited.ok()) << limited.status();
  EXPECT_EQ((*limited)->per_connection_buffer_limit_bytes, 32768u);
  auto unset = TranslateListener(Parse(""));
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_EQ((*unset)->per_connection_buffer_limit_bytes, 1024u * 1024);
}

TEST(ListenerLimitsTest, ZeroBufferLimitIsRefusedWithItsField) {
  auto listener = TranslateListener(Parse("per_connection_buffer_limit_bytes { value: 0 }"));
  ASSERT_FALSE(listener.ok());
  EXPECT_NE(listener.status().message().find("per_connection_buffer_limit_bytes"),
            std::string::npos)
      << listener.status();
}

}  // namespace
}  // namespace meshgate::proxy::config
