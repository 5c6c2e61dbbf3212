#include "proxy/accesslog/access_log.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace meshgate::proxy::accesslog {
namespace {

AccessLogEntry Sample() {
  AccessLogEntry e;
  e.start_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  e.method = "GET";
  e.path = "/api/v1?q=\"x\"\n";
  e.authority = "echo.demo";
  e.protocol = "HTTP/1.1";
  e.response_code = 503;
  e.response_flags = "UF";
  e.bytes_received = 10;
  e.bytes_sent = 20;
  e.duration = std::chrono::microseconds(2500);
  e.upstream_host = "127.0.0.1:9101";
  e.upstream_cluster = "outbound|8080|v1|echo.demo.svc.cluster.local";
  e.request_id = "abc";
  e.user_agent = "curl/8";
  e.downstream_peer_identity = "spiffe://cluster.local/ns/demo/sa/client";
  return e;
}

TEST(AccessLogTest, FormatsOneValidJsonObject) {
  std::string line = FormatJson(Sample());
  EXPECT_EQ(line.find('\n'), std::string::npos);  // escaped, one line
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["start_time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["path"], "/api/v1?q=\"x\"\n");
  EXPECT_EQ(j["response_code"], 503);
  EXPECT_EQ(j["response_flags"], "UF");
  EXPECT_EQ(j["duration"], 2);
  EXPECT_EQ(j["duration_us"], 2500);
  EXPECT_EQ(j["upstream_cluster"], "outbound|8080|v1|echo.demo.svc.cluster.local");
  EXPECT_EQ(j["downstream_peer_identity"], "spiffe://cluster.local/ns/demo/sa/client");
  EXPECT_TRUE(j["route_name"].is_null());
}

TEST(AccessLogTest, ControlBytesAreEscaped) {
  AccessLogEntry e = Sample();
  e.user_agent = std::string("a\x01\x7f", 3);
  auto j = nlohmann::json::parse(FormatJson(e));
  EXPECT_EQ(j["user_agent"], std::string("a\x01\x7f", 3));
}

TEST(AccessLogTest, WriterAppendsLinesToFile) {
  auto path = std::filesystem::temp_directory_path() / ("meshgate-al-" + std::to_string(getpid()));
  {
    auto file = AccessLogFile::Open(path.string());
    ASSERT_TRUE(file.ok()) << file.status();
    AccessLogWriter writer(*file);
    writer.Log(Sample());
    writer.Log(Sample());
    writer.Flush();
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_NO_THROW(nlohmann::json::parse(line));
    ++lines;
  }
  EXPECT_EQ(lines, 2);
  std::filesystem::remove(path);
  EXPECT_FALSE(AccessLogFile::Open("/nonexistent-dir/x.log").ok());
}

}  // namespace
}  // namespace meshgate::proxy::accesslog
