// Server side of the HTTP/1.1 codec: requests in, responses out. Every input
// is fed whole, in fixed-size pieces down to one byte, and in random pieces;
// the recorded events must be the same for every split.
#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http/http1_codec.h"
#include "proxy/http/utility.h"
#include "unit/proxy/http1_test_support.h"

namespace meshgate::proxy::http {
namespace {

using testing::AllSplits;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ServerHarness;
using testing::Split;

// Runs `input` through a fresh server codec with every split; the event log
// must equal `expected` each time.
void ExpectEventsForAllSplits(std::string_view input, const std::vector<std::string>& expected,
                              bool auto_respond = false) {
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ServerHarness server;
    if (auto_respond) {
      server.on_request_complete = [](ServerHarness& h, StreamId stream) {
        ASSERT_TRUE(h.Respond(stream, 200, "ok").ok());
      };
    }
    EXPECT_TRUE(server.FeedSplit(input, split).ok());
    EXPECT_EQ(server.log.events(), expected);
    EXPECT_FALSE(server.codec().ShouldClose());
  }
}

TEST(Http1ServerCodec, SimpleGet) {
  const std::string request =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: Example.com\r\nUser-Agent: test/1.0\r\n"
      "Accept: */*\r\n\r\n";
  ExpectEventsForAllSplits(
      request, {"headers 1 [:method=GET :scheme=http :authority=Example.com :path=/index.html?q=1 "
                "user-agent=test/1.0 accept=*/*] end"});

  ServerHarness server;
  ASSERT_TRUE(server.Feed(request).ok());
  EXPECT_THAT(server.unconsumed, IsEmpty());
  EXPECT_EQ(server.last_headers.Method(), "GET");
  EXPECT_EQ(server.last_headers.Authority(), "Example.com");
  EXPECT_FALSE(server.last_headers.Has("host"));
  ASSERT_TRUE(server.Respond(1, 200, "hello").ok());
  EXPECT_EQ(server.TakeOutput(), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
  EXPECT_FALSE(server.codec().ShouldClose());
}

TEST(Http1ServerCodec, PostWithContentLength) {
  ExpectEventsForAllSplits(
      "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
      {"headers 1 [:method=POST :scheme=http :authority=a :path=/submit content-length=11]",
       "data 1 'hello world' end"});
}

TEST(Http1ServerCodec, IdenticalContentLengthsAreMerged) {
  ExpectEventsForAllSplits(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc",
      {"headers 1 [:method=POST :scheme=http :authority=a :path=/ content-length=3]",
       "data 1 'abc' end"});
}

TEST(Http1ServerCodec, ChunkedWithTrailers) {
  ExpectEventsForAllSplits(
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n6 ; x\r\n world\r\nA\r\n0123456789\r\n0\r\n"
      "X-Checksum: abc\r\nX-Other:  two words \r\n\r\n",
      {"headers 1 [:method=POST :scheme=http :authority=a :path=/up]",
       "data 1 'hello world0123456789'", "trailers 1 [x-checksum=abc x-other=two words]"});
}

TEST(Http1ServerCodec, ChunkedWithoutTrailersEndsWithEmptyData) {
  ExpectEventsForAllSplits(
      "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      {"headers 1 [:method=PUT :scheme=http :authority=a :path=/x]", "data 1 'abc' end"});
}

TEST(Http1ServerCodec, AbsoluteFormTargetSetsSchemeAndAuthority) {
  ExpectEventsForAllSplits(
      "GET HTTPS://api.example.com:8443?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
      {"headers 1 [:method=GET :scheme=https :authority=api.example.com:8443 :path=/?x=1] end"});
  ExpectEventsForAllSplits("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
                           {"headers 1 [:method=OPTIONS :scheme=http :authority=a :path=*] end"});
}

TEST(Http1ServerCodec, LeadingEmptyLinesAreIgnored) {
  ExpectEventsForAllSplits("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                           {"headers 1 [:method=GET :scheme=http :authority=a :path=/] end"});
}

TEST(Http1ServerCodec, PipelinedRequestsAreAnsweredInOrder) {
  const std::string requests =
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
      "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::vector<std::string> expected = {
      "headers 1 [:method=GET :scheme=http :authority=a :path=/1] end",
      "headers 2 [:method=POST :scheme=http :authority=a :path=/2 content-length=4]",
      "data 2 'body' end", "headers 3 [:method=GET :scheme=http :authority=a :path=/3] end"};

  // Answering from inside the callback lets one Dispatch() go through all three.
  ExpectEventsForAllSplits(requests, expected, /*auto_respond=*/true);

  // Answering later: the codec pauses after each request and leaves the rest
  // of the input to the owner.
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ServerHarness server;
    ASSERT_TRUE(server.FeedSplit(requests, split).ok());
    ASSERT_THAT(server.log.events(), ElementsAre(expected[0]));
    EXPECT_EQ(server.unconsumed,
              requests.substr(std::string("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n").size()));
    std::string output;
    for (StreamId stream = 1; stream <= 3; ++stream) {
      // Nothing of the next request is parsed before this response is out.
      ASSERT_EQ(server.completed.size(), stream);
      ASSERT_TRUE(server.Respond(stream, 200, Concat("r", stream)).ok());
      output += server.TakeOutput();
      ASSERT_TRUE(server.Pump().ok());
    }
    EXPECT_EQ(server.log.events(), expected);
    EXPECT_EQ(output,
              "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nr1"
              "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nr2"
              "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nr3");
    EXPECT_THAT(server.unconsumed, IsEmpty());
  }
}

TEST(Http1ServerCodec, ResponseBeforeRequestIsDoneMeansClose) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial").ok());
  ASSERT_TRUE(server.Respond(1, 413, "").ok());
  EXPECT_THAT(server.TakeOutput(), HasSubstr("connection: close\r\n"));
  EXPECT_TRUE(server.codec().ShouldClose());
  // The rest of the body and anything after it are not parsed.
  ASSERT_TRUE(server.Feed("more body GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  EXPECT_EQ(server.log.events().size(), 2u);
}

struct KeepAliveCase {
  std::string name;
  std::string request;
  bool close;
  std::string connection_field;  // expected in the response, "" for none
};

void PrintTo(const KeepAliveCase& c, std::ostream* os) { *os << c.name; }

class Http1ServerKeepAlive : public ::testing::TestWithParam<KeepAliveCase> {};

TEST_P(Http1ServerKeepAlive, DecidesConnectionReuse) {
  const KeepAliveCase& c = GetParam();
  const std::string next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ServerHarness server;
    ASSERT_TRUE(server.FeedSplit(c.request + next, split).ok());
    ASSERT_EQ(server.completed.size(), 1u);
    ASSERT_TRUE(server.Respond(1, 200, "x").ok());
    const std::string output = server.TakeOutput();
    if (c.connection_field.empty()) {
      EXPECT_THAT(output, ::testing::Not(HasSubstr("connection:")));
    } else {
      EXPECT_THAT(output, HasSubstr("\r\nconnection: " + c.connection_field + "\r\n"));
    }
    EXPECT_EQ(server.codec().ShouldClose(), c.close);
    ASSERT_TRUE(server.Pump().ok());
    // After a closing response the pipelined request is never parsed.
    EXPECT_EQ(server.completed.size(), c.close ? 1u : 2u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Http1ServerKeepAlive,
    ::testing::Values(
        KeepAliveCase{"Http11Default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, ""},
        KeepAliveCase{"Http11Close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true,
                      "close"},
        KeepAliveCase{"Http11CloseInList",
                      "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n", true, "close"},
        KeepAliveCase{"Http10Default", "GET / HTTP/1.0\r\n\r\n", true, "close"},
        KeepAliveCase{"Http10KeepAlive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false,
                      "keep-alive"}),
    [](const auto& info) { return info.param.name; });

TEST(Http1ServerCodec, ExpectContinueIsExposedAndAnsweredByTheOwner) {
  ServerHarness server;
  ASSERT_TRUE(server
                  .Feed("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                        "Content-Length: 5\r\n\r\n")
                  .ok());
  ASSERT_THAT(server.log.events(), ElementsAre(HasSubstr("expect=100-continue")));
  EXPECT_TRUE(ExpectsContinue(server.last_headers));
  ASSERT_TRUE(server.codec().EncodeHeaders(1, ResponseHeaders{{":status", "100"}}, false).ok());
  EXPECT_EQ(server.TakeOutput(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(server.Feed("12345").ok());
  EXPECT_EQ(server.log.events().back(), "data 1 '12345' end");
  ASSERT_TRUE(server.Respond(1, 201, "").ok());
  EXPECT_EQ(server.TakeOutput(), "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n");
  EXPECT_FALSE(server.codec().ShouldClose());
}

TEST(Http1ServerCodec, InterimResponsesAreNotSentToHttp10Clients) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\n").ok());
  ASSERT_TRUE(server.codec().EncodeHeaders(1, ResponseHeaders{{":status", "100"}}, false).ok());
  EXPECT_EQ(server.TakeOutput(), "");
}

TEST(Http1ServerCodec, WebSocketUpgradeSwitchesToPassthrough) {
  // The first frame arrives in the same read as the request.
  const std::string input =
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n\x81\x05hello";
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ServerHarness server;
    ASSERT_TRUE(server.FeedSplit(input, split).ok());
    ASSERT_EQ(server.log.events().size(), 1u);
    EXPECT_TRUE(IsUpgradeRequest(server.last_headers));
    // Frame bytes wait in the owner's buffer until the upgrade is accepted.
    EXPECT_EQ(server.unconsumed, "\x81\x05hello");

    ResponseHeaders switching{{":status", "101"},
                              {"upgrade", "websocket"},
                              {"sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
    ASSERT_TRUE(server.codec().EncodeHeaders(1, switching, false).ok());
    EXPECT_EQ(server.TakeOutput(),
              "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: "
              "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
    ASSERT_TRUE(server.Pump().ok());
    // Raw bytes, even ones that look like HTTP, pass through untouched.
    ASSERT_TRUE(server.Feed("GET / HTTP/1.1\r\n\r\n\r\n").ok());
    EXPECT_EQ(server.log.events().back(), "data 1 '\x81\x05helloGET / HTTP/1.1\r\n\r\n\r\n'");
    ASSERT_TRUE(server.codec().EncodeData(1, "\x81\x02hi", false).ok());
    EXPECT_EQ(server.TakeOutput(), "\x81\x02hi");
    server.codec().DispatchEof();
    EXPECT_EQ(server.log.events().back(), "data 1 '\x81\x05helloGET / HTTP/1.1\r\n\r\n\r\n' end");
  }
}

TEST(Http1ServerCodec, RefusedUpgradeKeepsSpeakingHttp) {
  ServerHarness server;
  ASSERT_TRUE(server
                  .Feed("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
                        "Upgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n")
                  .ok());
  ASSERT_TRUE(server.Respond(1, 403, "no").ok());
  ASSERT_TRUE(server.Pump().ok());
  EXPECT_EQ(server.log.events().back(),
            "headers 2 [:method=GET :scheme=http :authority=a :path=/next] end");
}

TEST(Http1ServerCodec, SwitchingProtocolsRequiresAnUpgradeRequest) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  EXPECT_FALSE(server.codec().EncodeHeaders(1, ResponseHeaders{{":status", "101"}}, false).ok());
}

// Response framing decisions.
std::string EncodeResponse(std::string_view request, const ResponseHeaders& headers,
                           std::vector<std::string> body, bool* close = nullptr) {
  ServerHarness server;
  EXPECT_TRUE(server.Feed(request).ok());
  EXPECT_TRUE(server.codec().EncodeHeaders(1, headers, body.empty()).ok());
  for (size_t i = 0; i < body.size(); ++i) {
    EXPECT_TRUE(server.codec().EncodeData(1, body[i], i + 1 == body.size()).ok());
  }
  if (close != nullptr) *close = server.codec().ShouldClose();
  return server.TakeOutput();
}

TEST(Http1ServerCodec, ResponseFraming) {
  const std::string get11 = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  bool close = true;
  // Unknown length, HTTP/1.1 peer: chunked.
  EXPECT_EQ(EncodeResponse(get11, ResponseHeaders{{":status", "200"}, {"x-a", "1"}},
                           {"abc", "", "0123456789abcdef"}, &close),
            "HTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  EXPECT_FALSE(close);
  // Unknown length, HTTP/1.0 peer: delimited by closing.
  EXPECT_EQ(EncodeResponse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                           ResponseHeaders{{":status", "200"}}, {"abc"}, &close),
            "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc");
  EXPECT_TRUE(close);
  // The owner's framing and connection fields are replaced by the codec's.
  EXPECT_EQ(EncodeResponse(get11,
                           ResponseHeaders{{":status", "200"},
                                           {"Transfer-Encoding", "gzip"},
                                           {"Keep-Alive", "timeout=5"},
                                           {"Connection", "keep-alive"},
                                           {"Content-Length", "2"}},
                           {"ok"}),
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  // No body and no headers-only: content-length: 0.
  EXPECT_EQ(EncodeResponse(get11, ResponseHeaders{{":status", "404"}}, {}),
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
}

TEST(Http1ServerCodec, ResponsesWithoutBody) {
  bool close = true;
  // HEAD: the length of the would-be body, and no body.
  EXPECT_EQ(
      EncodeResponse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
                     ResponseHeaders{{":status", "200"}, {"content-length", "1234"}}, {}, &close),
      "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n");
  EXPECT_FALSE(close);
  // 204 never carries content-length.
  EXPECT_EQ(EncodeResponse("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n",
                           ResponseHeaders{{":status", "204"}, {"content-length", "7"}}, {}),
            "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(EncodeResponse("GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                           ResponseHeaders{{":status", "304"}, {"etag", "\"v1\""}}, {}),
            "HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n");

  ServerHarness server;
  ASSERT_TRUE(server.Feed("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  ASSERT_TRUE(
      server.codec()
          .EncodeHeaders(1, ResponseHeaders{{":status", "200"}, {"content-length", "3"}}, false)
          .ok());
  EXPECT_FALSE(server.codec().EncodeData(1, "abc", true).ok());
}

TEST(Http1ServerCodec, ResponseTrailersNeedChunkedEncoding) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  ASSERT_TRUE(server.codec().EncodeHeaders(1, ResponseHeaders{{":status", "200"}}, false).ok());
  ASSERT_TRUE(server.codec().EncodeData(1, "hi", false).ok());
  ASSERT_TRUE(server.codec().EncodeTrailers(1, TrailerMap{{"grpc-status", "0"}}).ok());
  EXPECT_EQ(server.TakeOutput(),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
            "grpc-status: 0\r\n\r\n");
}

TEST(Http1ServerCodec, EncoderRejectsWhatWouldSplitTheResponse) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  EXPECT_FALSE(
      server.codec()
          .EncodeHeaders(
              1, ResponseHeaders{{":status", "200"}, {"x-injected", "a\r\nset-cookie: evil=1"}},
              true)
          .ok());
  EXPECT_FALSE(server.codec()
                   .EncodeHeaders(1, ResponseHeaders{{":status", "200"}, {"bad name", "v"}}, true)
                   .ok());
  EXPECT_FALSE(server.codec().EncodeHeaders(1, ResponseHeaders{{":status", "20"}}, true).ok());
  EXPECT_FALSE(server.codec().EncodeHeaders(7, ResponseHeaders{{":status", "200"}}, true).ok());
  EXPECT_EQ(server.TakeOutput(), "");
  // Body longer than announced.
  ASSERT_TRUE(
      server.codec()
          .EncodeHeaders(1, ResponseHeaders{{":status", "200"}, {"content-length", "1"}}, false)
          .ok());
  EXPECT_FALSE(server.codec().EncodeData(1, "too long", true).ok());
  EXPECT_TRUE(server.codec().ShouldClose());
}

TEST(Http1ServerCodec, EofInTheMiddleOfARequestResetsTheStream) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc").ok());
  server.codec().DispatchEof();
  EXPECT_EQ(server.log.events().back(), "reset 1");
  EXPECT_TRUE(server.codec().ShouldClose());

  ServerHarness idle;
  idle.codec().DispatchEof();
  EXPECT_THAT(idle.log.events(), IsEmpty());
  EXPECT_TRUE(idle.codec().ShouldClose());
}

TEST(Http1ServerCodec, DispatchFromACallbackIsRefused) {
  ServerHarness server;
  absl::Status nested;
  server.on_headers = [&](ServerHarness& h, StreamId, const RequestHeaders&) {
    nested = h.codec().Dispatch("x").status();
  };
  ASSERT_TRUE(server.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  EXPECT_EQ(nested.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Http1ServerCodec, ErrorsNameTheStreamTheyBelongTo) {
  ServerHarness server;
  ASSERT_TRUE(server.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  ASSERT_TRUE(server.Respond(1, 200, "").ok());
  // Stream 2 was announced; its body is broken.
  EXPECT_FALSE(server
                   .Feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "zz\r\n")
                   .ok());
  EXPECT_EQ(server.log.last_error().stream, 2u);
  // A broken head never becomes a stream.
  ServerHarness head_error;
  EXPECT_FALSE(head_error.Feed("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").ok());
  EXPECT_EQ(head_error.log.last_error().stream, 0u);
  EXPECT_THAT(head_error.log.events(), ElementsAre("error 400"));
}

TEST(Http1ServerCodec, MinimalErrorResponse) {
  EXPECT_EQ(MinimalErrorResponse(431),
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
            "connection: close\r\n\r\n");
  EXPECT_EQ(MinimalErrorResponse(599),
            "HTTP/1.1 599 Unknown\r\ncontent-length: 0\r\n"
            "connection: close\r\n\r\n");
}

// ---------------------------------------------------------------------------
// Protocol errors: each answered with a status and the connection closed.

struct ErrorCase {
  std::string name;
  std::string input;
  int status;
  std::string reason;  // a substring of ProtocolError::reason
  Http1Settings settings = {};
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class Http1ServerErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(Http1ServerErrors, AnswersWithStatusAndCloses) {
  const ErrorCase& c = GetParam();
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ServerHarness server(c.settings);
    const absl::Status status = server.FeedSplit(c.input, split);
    EXPECT_FALSE(status.ok());
    ASSERT_FALSE(server.log.events().empty());
    EXPECT_EQ(server.log.events().back(), Concat("error ", c.status));
    EXPECT_THAT(server.log.last_error().reason, HasSubstr(c.reason));
    EXPECT_TRUE(server.codec().ShouldClose());
    // Exactly one error, and the connection stays failed.
    EXPECT_FALSE(server.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
    EXPECT_EQ(std::count_if(server.log.events().begin(), server.log.events().end(),
                            [](const std::string& e) { return e.rfind("error", 0) == 0; }),
              1);
  }
}

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

std::string ManyHeaders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) Append(out, "X-H", i, ": v\r\n");
  return out;
}

const std::string kPost = "POST / HTTP/1.1\r\nHost: a\r\n";
const std::string kChunked = kPost + "Transfer-Encoding: chunked\r\n\r\n";

Http1Settings BodyLimit(uint64_t bytes) {
  Http1Settings settings;
  settings.max_request_body_bytes = bytes;
  return settings;
}

INSTANTIATE_TEST_SUITE_P(
    Smuggling, Http1ServerErrors,
    ::testing::Values(
        ErrorCase{"ContentLengthAndTransferEncoding",
                  kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                  "both content-length and transfer-encoding"},
        ErrorCase{"TransferEncodingAndContentLength",
                  kPost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
                  "both content-length and transfer-encoding"},
        ErrorCase{"DifferingContentLengths",
                  kPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400,
                  "conflicting"},
        ErrorCase{"DifferingContentLengthList", kPost + "Content-Length: 5, 6\r\n\r\nhello!", 400,
                  "conflicting"},
        ErrorCase{"NegativeContentLength", kPost + "Content-Length: -5\r\n\r\n", 400,
                  "content-length"},
        ErrorCase{"SignedContentLength", kPost + "Content-Length: +5\r\n\r\nhello", 400,
                  "content-length"},
        ErrorCase{"NonDigitContentLength", kPost + "Content-Length: 5a\r\n\r\nhello", 400,
                  "content-length"},
        ErrorCase{"HexContentLength", kPost + "Content-Length: 0x5\r\n\r\nhello", 400,
                  "content-length"},
        ErrorCase{"EmptyContentLength", kPost + "Content-Length: \r\n\r\n", 400, "content-length"},
        ErrorCase{"EmptyContentLengthListElement", kPost + "Content-Length: 5,\r\n\r\nhello", 400,
                  "content-length"},
        ErrorCase{"OverflowingContentLength",
                  kPost + "Content-Length: 18446744073709551616\r\n\r\n", 400, "content-length"},
        ErrorCase{"TransferEncodingGzip", kPost + "Transfer-Encoding: gzip\r\n\r\n", 400,
                  "is not chunked"},
        ErrorCase{"TransferEncodingChunkedNotLast",
                  kPost + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400, "is not chunked"},
        ErrorCase{"TransferEncodingList", kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n", 400,
                  "only 'chunked'"},
        ErrorCase{"TransferEncodingTwice",
                  kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                  "only 'chunked'"},
        ErrorCase{"TransferEncodingIdentity", kPost + "Transfer-Encoding: identity\r\n\r\n", 400,
                  "is not chunked"},
        ErrorCase{"TransferEncodingLookalike", kPost + "Transfer-Encoding: xchunked\r\n\r\n", 400,
                  "is not chunked"},
        ErrorCase{"TransferEncodingInHttp10",
                  "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                  "HTTP/1.0"},
        ErrorCase{"ObsFold", kPost + "X-A: one\r\n two\r\n\r\n", 400, "line folding"},
        ErrorCase{"ObsFoldTab", kPost + "X-A: one\r\n\ttwo\r\n\r\n", 400, "line folding"},
        ErrorCase{"NulInValue", kPost + std::string("X-A: a\0b\r\n\r\n", 12), 400,
                  "invalid character \\x00"},
        ErrorCase{"BareCrInValue", kPost + "X-A: a\rb\r\n\r\n", 400, "invalid character \\x0d"},
        ErrorCase{"BareLfInHeaders", kPost + "X-A: a\nX-B: b\r\n\r\n", 400, "bare LF"},
        ErrorCase{"BareLfLineEndings", "GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"},
        ErrorCase{"BareLfEndsHead", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF"},
        ErrorCase{"BareCrInRequestLine", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                  "invalid character in target"},
        ErrorCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400,
                  "whitespace between field name 'Host' and colon"},
        ErrorCase{"TabBeforeColon", kPost + "Content-Length\t: 5\r\n\r\nhello", 400,
                  "whitespace between field name"},
        ErrorCase{"InvalidHeaderNameChar", kPost + "X(A): 1\r\n\r\n", 400,
                  "invalid character in field name"},
        ErrorCase{"NonAsciiHeaderName", kPost + "X\xc3\xa9: 1\r\n\r\n", 400,
                  "invalid character in field name"},
        ErrorCase{"EmptyHeaderName", kPost + ": 1\r\n\r\n", 400, "malformed field line"},
        ErrorCase{"HeaderWithoutColon", kPost + "X-A 1\r\n\r\n", 400, "malformed field line"},
        ErrorCase{"InvalidMethodChar", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method"},
        ErrorCase{"EmptyMethod", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method"},
        ErrorCase{"DoubleSpaceInRequestLine", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                  "empty request target"},
        ErrorCase{"MissingVersion", "GET /\r\nHost: a\r\n\r\n", 400, "malformed"},
        ErrorCase{"ControlCharInTarget", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                  "invalid character in target"},
        ErrorCase{"FragmentInTarget", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                  "invalid character in target"},
        ErrorCase{"RelativeTarget", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                  "unsupported target"},
        ErrorCase{"AsteriskWithGet", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "OPTIONS"},
        ErrorCase{"UserinfoInAbsoluteTarget", "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                  "invalid authority"},
        ErrorCase{"LowercaseVersion", "GET / http/1.1\r\nHost: a\r\n\r\n", 400,
                  "malformed version"},
        ErrorCase{"LongMinorVersion", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400,
                  "malformed version"},
        ErrorCase{"Http2Version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "not supported"},
        ErrorCase{"Http09Version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "not supported"},
        ErrorCase{"Http12Version", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "not supported"},
        ErrorCase{"Http30Version", "GET / HTTP/3.0\r\n\r\n", 505, "not supported"},
        ErrorCase{"MissingHost", "GET / HTTP/1.1\r\n\r\n", 400, "'host': missing"},
        ErrorCase{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one"},
        ErrorCase{"InvalidHost", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "'host'"},
        ErrorCase{"Connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501, "CONNECT"},
        ErrorCase{"ChunkSizeNotHex", kChunked + "zz\r\n", 400, "invalid chunk size"},
        ErrorCase{"ChunkSizeNegative", kChunked + "-1\r\n", 400, "invalid chunk size"},
        ErrorCase{"ChunkSizeEmpty", kChunked + "\r\n", 400, "invalid chunk size"},
        ErrorCase{"ChunkSizeWithPrefix", kChunked + "0x5\r\nhello\r\n", 400, "invalid chunk size"},
        ErrorCase{"ChunkSizeOverflow", kChunked + "10000000000000000\r\n", 400, "overflows"},
        ErrorCase{"ChunkSizeBareLf", kChunked + "5\nhello\r\n", 400, "bare LF"},
        ErrorCase{"ChunkExtensionWithControl", kChunked + "5;a=\x01\r\nhello\r\n", 400,
                  "invalid chunk size"},
        ErrorCase{"ChunkDataTooLong", kChunked + "5\r\nhello!\r\n", 400, "not followed by CRLF"},
        ErrorCase{"ChunkLineTooLong", kChunked + "5;" + std::string(5000, 'x') + "\r\n", 400,
                  "chunk-size line too long"},
        ErrorCase{"BareLfInTrailers", kChunked + "0\r\nX-T: 1\n\r\n", 400, "bare LF"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Limits, Http1ServerErrors,
    ::testing::Values(
        ErrorCase{"RequestLineTooLong",
                  "GET /" + std::string(8 * 1024, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414,
                  "request line is longer than 8192"},
        ErrorCase{"RequestLineTooLongWithoutEnd", "GET /" + std::string(9 * 1024, 'a'), 414,
                  "request line is longer than 8192"},
        ErrorCase{"HeaderSectionTooLarge",
                  kPost + "X-Big: " + std::string(61 * 1024, 'b') + "\r\n\r\n", 431,
                  "section larger than 61440"},
        ErrorCase{"HeaderSectionTooLargeWithoutEnd",
                  kPost + "X-Big: " + std::string(62 * 1024, 'b'), 431,
                  "section larger than 61440"},
        ErrorCase{"TooManyHeaders", kPost + ManyHeaders(100) + "\r\n", 431, "more than 100"},
        ErrorCase{"TooManyTrailers", kChunked + "0\r\n" + ManyHeaders(101) + "\r\n", 431,
                  "request trailers: more than 100"},
        ErrorCase{"TooManyEmptyLinesFirst", Repeat("\r\n", 5000), 400, "empty lines"},
        ErrorCase{"BodyTooLarge", kPost + "Content-Length: 1025\r\n\r\n", 413, "exceeds 1024",
                  BodyLimit(1024)},
        ErrorCase{"ChunkedBodyTooLarge",
                  kChunked + "400\r\n" + std::string(1024, 'x') + "\r\n1\r\nx\r\n0\r\n\r\n", 413,
                  "exceeds 1024", BodyLimit(1024)}),
    [](const auto& info) { return info.param.name; });

TEST(Http1ServerCodec, LimitsAreInclusive) {
  // A request line of exactly 8192 bytes and 100 fields (Host among them) pass.
  std::string target = "/" + std::string(8192 - std::string("GET  HTTP/1.1").size() - 1, 'a');
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: a\r\n" + ManyHeaders(99) + "\r\n";
  ServerHarness server;
  ASSERT_TRUE(server.Feed(request).ok());
  ASSERT_EQ(server.completed.size(), 1u);
  EXPECT_EQ(server.last_headers.Path().size() + std::string("GET  HTTP/1.1").size(), 8192u);

  Http1Settings body_limit;
  body_limit.max_request_body_bytes = 5;
  ServerHarness limited(body_limit);
  ASSERT_TRUE(limited.Feed(kPost + "Content-Length: 5\r\n\r\nhello").ok());
  EXPECT_EQ(limited.log.events().back(), "data 1 'hello' end");
}

}  // namespace
}  // namespace meshgate::proxy::http
