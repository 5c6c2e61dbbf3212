#include "bench/proxy/http_response_parser.h"

#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::bench {
namespace {

using ::testing::HasSubstr;

// Feeds `bytes` in pieces of `step` bytes until the response completes; returns the bytes used.
absl::StatusOr<size_t> FeedInSteps(HttpResponseParser& parser, std::string_view bytes,
                                   size_t step) {
  size_t used = 0;
  while (used < bytes.size() && !parser.complete()) {
    absl::StatusOr<size_t> n = parser.Feed(bytes.substr(used, step));
    if (!n.ok()) return n.status();
    used += *n;
    if (*n < std::min(step, bytes.size() - used + *n) && !parser.complete()) {
      return absl::InternalError("parser stopped early without completing");
    }
  }
  return used;
}

class StepTest : public ::testing::TestWithParam<size_t> {};

TEST_P(StepTest, ContentLengthBody) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
  HttpResponseParser parser;
  absl::StatusOr<size_t> used = FeedInSteps(parser, response, GetParam());
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, response.size());
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.status_code(), 200);
  EXPECT_EQ(parser.body_bytes(), 11u);
  EXPECT_TRUE(parser.keep_alive());
  EXPECT_FALSE(parser.chunked());
}

TEST_P(StepTest, ChunkedBodyWithExtensionsAndTrailers) {
  const std::string response =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0\r\nX-Checksum: 1\r\n\r\n";
  HttpResponseParser parser;
  absl::StatusOr<size_t> used = FeedInSteps(parser, response, GetParam());
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, response.size());
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.status_code(), 201);
  EXPECT_TRUE(parser.chunked());
  EXPECT_EQ(parser.body_bytes(), 5u + 26u);
}

TEST_P(StepTest, InterimContinueIsSkipped) {
  const std::string response =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  HttpResponseParser parser;
  absl::StatusOr<size_t> used = FeedInSteps(parser, response, GetParam());
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, response.size());
  EXPECT_EQ(parser.status_code(), 200);
  EXPECT_EQ(parser.body_bytes(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Steps, StepTest, ::testing::Values(1, 2, 7, 64, 4096));

TEST(HttpResponseParserTest, StopsAtTheEndOfThePipelinedFirstResponse) {
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  HttpResponseParser parser;
  absl::StatusOr<size_t> used = parser.Feed(first + second);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, first.size());
  EXPECT_TRUE(parser.complete());
  parser.Reset();
  used = parser.Feed(second);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, second.size());
  EXPECT_EQ(parser.status_code(), 404);
  EXPECT_EQ(parser.body_bytes(), 0u);
}

TEST(HttpResponseParserTest, NoBodyFor204And304EvenWithContentLength) {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    HttpResponseParser parser;
    const std::string response =
        std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 10\r\n\r\n";
    absl::StatusOr<size_t> used = parser.Feed(response + "HTTP/1.1");
    ASSERT_TRUE(used.ok()) << used.status();
    EXPECT_EQ(*used, response.size()) << status;
    EXPECT_TRUE(parser.complete());
    EXPECT_TRUE(parser.keep_alive());
  }
}

TEST(HttpResponseParserTest, ConnectionCloseEndsKeepAlive) {
  HttpResponseParser parser;
  ASSERT_TRUE(parser
                  .Feed("HTTP/1.1 200 OK\r\nConnection: Upgrade, close\r\n"
                        "Content-Length: 0\r\n\r\n")
                  .ok());
  EXPECT_TRUE(parser.complete());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(HttpResponseParserTest, Http10KeepsAliveOnlyWhenAsked) {
  HttpResponseParser plain;
  ASSERT_TRUE(plain.Feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").ok());
  EXPECT_TRUE(plain.complete());
  EXPECT_FALSE(plain.keep_alive());

  HttpResponseParser asked;
  ASSERT_TRUE(
      asked.Feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").ok());
  EXPECT_TRUE(asked.complete());
  EXPECT_TRUE(asked.keep_alive());
}

TEST(HttpResponseParserTest, BodyWithoutLengthEndsAtClose) {
  HttpResponseParser parser;
  ASSERT_TRUE(parser.Feed("HTTP/1.1 200 OK\r\n\r\nsome bytes").ok());
  EXPECT_FALSE(parser.complete());
  ASSERT_TRUE(parser.Feed(" and more").ok());
  EXPECT_FALSE(parser.keep_alive());
  ASSERT_TRUE(parser.FinishOnEof().ok());
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.body_bytes(), 19u);
}

TEST(HttpResponseParserTest, ChunkedWinsOverContentLength) {
  HttpResponseParser parser;
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "2\r\nok\r\n0\r\n\r\n";
  absl::StatusOr<size_t> used = parser.Feed(response);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, response.size());
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.body_bytes(), 2u);
}

TEST(HttpResponseParserTest, EofBeforeAnyByteIsNotAnError) {
  HttpResponseParser parser;
  EXPECT_TRUE(parser.FinishOnEof().ok());
  EXPECT_FALSE(parser.complete());
  EXPECT_FALSE(parser.started());
}

TEST(HttpResponseParserTest, EofInsideBodyIsAnError) {
  HttpResponseParser parser;
  ASSERT_TRUE(parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").ok());
  absl::Status status = parser.FinishOnEof();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("closed inside a response"));
  EXPECT_THAT(status.message(), HasSubstr("after 3 body bytes"));
}

struct BadCase {
  const char* name;
  std::string bytes;
  const char* message;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class MalformedTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(MalformedTest, FailsWithAMessageAndStaysFailedUntilReset) {
  const BadCase& bad = GetParam();
  HttpResponseParser parser;
  absl::StatusOr<size_t> used = parser.Feed(bad.bytes);
  ASSERT_FALSE(used.ok()) << bad.name;
  EXPECT_THAT(used.status().message(), HasSubstr(bad.message)) << bad.name;
  EXPECT_FALSE(parser.complete());
  EXPECT_FALSE(parser.Feed("HTTP/1.1 200 OK\r\n\r\n").ok());
  parser.Reset();
  ASSERT_TRUE(parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").ok());
  EXPECT_TRUE(parser.complete());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedTest,
    ::testing::Values(
        BadCase{"not_http", "SSH-2.0-OpenSSH\r\n", "malformed status line 'SSH-2.0-OpenSSH'"},
        BadCase{"short_status", "HTTP/1.1 20 OK\r\n", "malformed status line"},
        BadCase{"status_below_100", "HTTP/1.1 099 Odd\r\n", "status code 99 below 100"},
        BadCase{"no_colon", "HTTP/1.1 200 OK\r\nbroken header\r\n", "malformed header line"},
        BadCase{"space_in_name", "HTTP/1.1 200 OK\r\nBad Name: x\r\n", "malformed header line"},
        BadCase{"folding", "HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n", "obsolete line folding"},
        BadCase{"cl_not_number", "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n",
                "header content-length: invalid value '12a'"},
        BadCase{"cl_negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n",
                "header content-length: invalid value"},
        BadCase{"cl_huge", "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n", "too large"},
        BadCase{"cl_conflict", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
                "conflicting values 1 and 2"},
        BadCase{"chunk_size_not_hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "malformed chunk size line 'zz'"},
        BadCase{"chunk_size_overflow",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                "malformed chunk size line"},
        BadCase{"chunk_overrun",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                "chunk data longer than its declared size"},
        BadCase{"long_line", "HTTP/1.1 200 OK\r\nX: " + std::string(10'000, 'a'),
                "line longer than 8192 bytes"},
        BadCase{"too_many_headers",
                [] {
                  std::string s = "HTTP/1.1 200 OK\r\n";
                  for (int i = 0; i < 200; ++i) s += "X-N: v\r\n";
                  return s;
                }(),
                "more than 128 header fields"},
        BadCase{"huge_header_block",
                [] {
                  std::string s = "HTTP/1.1 200 OK\r\n";
                  for (int i = 0; i < 20; ++i) s += "X-Big: " + std::string(4000, 'b') + "\r\n";
                  return s;
                }(),
                "header block larger than 65536 bytes"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace meshgate::bench
