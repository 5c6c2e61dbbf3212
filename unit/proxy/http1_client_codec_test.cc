// Client side of the HTTP/1.1 codec: requests out, responses in, and a round
// trip through both sides. Response input is fed with every split.
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http/http1_codec.h"
#include "unit/proxy/http1_test_support.h"

namespace meshgate::proxy::http {
namespace {

using testing::AllSplits;
using testing::ClientHarness;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ServerHarness;
using testing::Split;

TEST(Http1ClientCodec, SerializesRequests) {
  ClientHarness client;
  RequestHeaders get{{":method", "GET"},  {":scheme", "http"},
                     {":path", "/p?q=1"}, {":authority", "backend:8080"},
                     {"Accept", "*/*"},   {"Connection", "keep-alive"},
                     {"Host", "ignored"}};
  const StreamId first = client.codec().NewStream();
  ASSERT_TRUE(client.codec().EncodeHeaders(first, get, true).ok());
  EXPECT_EQ(client.TakeOutput(),
            "GET /p?q=1 HTTP/1.1\r\nhost: backend:8080\r\naccept: */*\r\n\r\n");

  // Unknown length: chunked, with trailers.
  RequestHeaders post{{":method", "POST"}, {":path", "/upload"}, {":authority", "b"}};
  const StreamId second = client.codec().NewStream();
  ASSERT_TRUE(client.codec().EncodeHeaders(second, post, false).ok());
  ASSERT_TRUE(client.codec().EncodeData(second, "hello", false).ok());
  ASSERT_TRUE(client.codec().EncodeTrailers(second, TrailerMap{{"x-sum", "1"}}).ok());
  EXPECT_EQ(client.TakeOutput(),
            "POST /upload HTTP/1.1\r\nhost: b\r\ntransfer-encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n");

  // Known length; an empty POST says so.
  const StreamId third = client.codec().NewStream();
  RequestHeaders put{
      {":method", "PUT"}, {":path", "/x"}, {":authority", "b"}, {"content-length", "3"}};
  ASSERT_TRUE(client.codec().EncodeHeaders(third, put, false).ok());
  ASSERT_TRUE(client.codec().EncodeData(third, "abc", true).ok());
  client.Send("POST", "/empty");
  EXPECT_EQ(client.TakeOutput(),
            "PUT /x HTTP/1.1\r\nhost: b\r\ncontent-length: 3\r\n\r\nabc"
            "POST /empty HTTP/1.1\r\nhost: upstream\r\ncontent-length: 0\r\n\r\n");
}

TEST(Http1ClientCodec, RefusesInvalidRequests) {
  ClientHarness client;
  const StreamId stream = client.codec().NewStream();
  EXPECT_FALSE(client.codec()
                   .EncodeHeaders(stream, RequestHeaders{{":method", "GET"}, {":path", "/"}}, true)
                   .ok());  // no authority
  EXPECT_FALSE(
      client.codec()
          .EncodeHeaders(stream,
                         RequestHeaders{{":method", "G ET"}, {":path", "/"}, {":authority", "a"}},
                         true)
          .ok());
  EXPECT_FALSE(
      client.codec()
          .EncodeHeaders(stream,
                         RequestHeaders{{":method", "GET"}, {":path", "/a b"}, {":authority", "a"}},
                         true)
          .ok());
  EXPECT_FALSE(
      client.codec()
          .EncodeHeaders(
              stream,
              RequestHeaders{
                  {":method", "GET"}, {":path", "/"}, {":authority", "a"}, {"x", "1\r\nx-evil: 1"}},
              true)
          .ok());
  EXPECT_EQ(client.TakeOutput(), "");
  // A second request cannot start while the first one's body is being sent.
  ASSERT_TRUE(
      client.codec()
          .EncodeHeaders(stream,
                         RequestHeaders{{":method", "POST"}, {":path", "/"}, {":authority", "a"}},
                         false)
          .ok());
  const StreamId next = client.codec().NewStream();
  EXPECT_FALSE(
      client.codec()
          .EncodeHeaders(
              next, RequestHeaders{{":method", "GET"}, {":path", "/"}, {":authority", "a"}}, true)
          .ok());
}

// Sends the given requests, then feeds `response` with every split and
// expects `expected` events and the connection's fate.
void ExpectResponseEvents(const std::vector<std::string>& methods, std::string_view response,
                          const std::vector<std::string>& expected, bool close, bool eof = false) {
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ClientHarness client;
    for (const std::string& method : methods) {
      client.Send(method, "/");
      ASSERT_TRUE(client.last_encode_status.ok());
    }
    EXPECT_TRUE(client.FeedSplit(response, split).ok());
    if (eof) client.codec().DispatchEof();
    EXPECT_EQ(client.log.events(), expected);
    EXPECT_EQ(client.codec().ShouldClose(), close);
  }
}

TEST(Http1ClientCodec, ContentLengthResponse) {
  ExpectResponseEvents({"GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
                       {"headers 1 [:status=200 content-length=5 server=x]", "data 1 'hello' end"},
                       false);
}

TEST(Http1ClientCodec, ChunkedResponseWithTrailers) {
  ExpectResponseEvents({"GET"},
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nGrpc-Status: 0\r\n\r\n",
                       {"headers 1 [:status=200]", "data 1 'abcde'", "trailers 1 [grpc-status=0]"},
                       false);
}

TEST(Http1ClientCodec, PipelinedResponsesMatchRequestsInOrder) {
  // The HEAD response announces a length but carries no body; 204 and 304
  // never do. The body that follows belongs to the last GET.
  ExpectResponseEvents(
      {"HEAD", "DELETE", "GET", "GET"},
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      {"headers 1 [:status=200 content-length=100] end", "headers 2 [:status=204] end",
       "headers 3 [:status=304 content-length=10] end", "headers 4 [:status=200 content-length=2]",
       "data 4 'ok' end"},
      false);
}

TEST(Http1ClientCodec, CloseDelimitedResponse) {
  ExpectResponseEvents(
      {"GET"}, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
      {"headers 1 [:status=200 content-type=text/plain]", "data 1 'all of it' end"}, true,
      /*eof=*/true);
  ExpectResponseEvents({"GET"}, "HTTP/1.0 200 OK\r\n\r\nold",
                       {"headers 1 [:status=200]", "data 1 'old' end"}, true, /*eof=*/true);
}

TEST(Http1ClientCodec, ConnectionReuse) {
  ExpectResponseEvents({"GET"}, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                       {"headers 1 [:status=200 connection=close content-length=0] end"}, true);
  ExpectResponseEvents({"GET"}, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
                       {"headers 1 [:status=200 content-length=0] end"}, true);
  ExpectResponseEvents(
      {"GET"}, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
      {"headers 1 [:status=200 connection=keep-alive content-length=0] end"}, false);
  ExpectResponseEvents({"GET"}, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
                       {"headers 1 [:status=200 content-length=0] end"}, false);
}

TEST(Http1ClientCodec, InterimResponsesPrecedeTheFinalOne) {
  ExpectResponseEvents({"POST"},
                       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
                       {"info 1 [:status=100]", "info 1 [:status=103 link=</a>]",
                        "headers 1 [:status=200 content-length=1]", "data 1 'x' end"},
                       false);
}

TEST(Http1ClientCodec, UpgradeSwitchesToPassthrough) {
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ClientHarness client;
    const StreamId stream =
        client.Send("GET", "/ws", {{"connection", "Upgrade"}, {"upgrade", "websocket"}});
    ASSERT_TRUE(client.last_encode_status.ok());
    EXPECT_EQ(client.TakeOutput(),
              "GET /ws HTTP/1.1\r\nhost: upstream\r\nupgrade: websocket\r\n"
              "connection: upgrade\r\n\r\n");
    ASSERT_TRUE(client
                    .FeedSplit("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n\r\n\x81\x01x",
                               split)
                    .ok());
    ASSERT_TRUE(client.codec().EncodeData(stream, "raw\r\n\r\n", false).ok());
    EXPECT_EQ(client.TakeOutput(), "raw\r\n\r\n");
    client.codec().DispatchEof();
    EXPECT_THAT(client.log.events(),
                ElementsAre("headers 1 [:status=101 upgrade=websocket connection=Upgrade]",
                            "data 1 '\x81\x01x' end"));
  }
}

TEST(Http1ClientCodec, EofBeforeTheResponseResetsOutstandingStreams) {
  ClientHarness client;
  client.Send("GET", "/a");
  client.Send("GET", "/b");
  ASSERT_TRUE(client.Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").ok());
  client.codec().DispatchEof();
  EXPECT_THAT(client.log.events(), ElementsAre("headers 1 [:status=200 content-length=10]",
                                               "data 1 'abc'", "reset 1", "reset 2"));
  EXPECT_TRUE(client.codec().ShouldClose());
}

TEST(Http1ClientCodec, EarlyResponseBeforeRequestBodyEndsTheConnection) {
  ClientHarness client;
  const StreamId stream = client.codec().NewStream();
  ASSERT_TRUE(
      client.codec()
          .EncodeHeaders(stream,
                         RequestHeaders{{":method", "POST"}, {":path", "/"}, {":authority", "a"}},
                         false)
          .ok());
  ASSERT_TRUE(client.Feed("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n").ok());
  EXPECT_TRUE(client.codec().ShouldClose());
}

struct ClientErrorCase {
  std::string name;
  std::vector<std::string> methods;
  std::string response;
  std::string reason;
};

void PrintTo(const ClientErrorCase& c, std::ostream* os) { *os << c.name; }

class Http1ClientErrors : public ::testing::TestWithParam<ClientErrorCase> {};

TEST_P(Http1ClientErrors, Reports502AndCloses) {
  const ClientErrorCase& c = GetParam();
  for (const Split& split : AllSplits()) {
    SCOPED_TRACE(split.name);
    ClientHarness client;
    for (const std::string& method : c.methods) client.Send(method, "/");
    EXPECT_FALSE(client.FeedSplit(c.response, split).ok());
    ASSERT_FALSE(client.log.events().empty());
    EXPECT_EQ(client.log.events().back(), "error 502");
    EXPECT_THAT(client.log.last_error().reason, HasSubstr(c.reason));
    EXPECT_TRUE(client.codec().ShouldClose());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Http1ClientErrors,
    ::testing::Values(
        ClientErrorCase{"NoRequest", {}, "HTTP/1.1 200 OK\r\n\r\n", "without a request"},
        ClientErrorCase{
            "ContentLengthAndChunked",
            {"GET"},
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both content-length and transfer-encoding"},
        ClientErrorCase{"DifferingContentLengths",
                        {"GET"},
                        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                        "conflicting"},
        ClientErrorCase{"GzipTransferEncoding",
                        {"GET"},
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                        "is not chunked"},
        ClientErrorCase{"BadChunk",
                        {"GET"},
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
                        "invalid chunk size"},
        ClientErrorCase{"Http2StatusLine", {"GET"}, "HTTP/2 200 OK\r\n\r\n", "malformed"},
        ClientErrorCase{"Http20StatusLine", {"GET"}, "HTTP/2.0 200 OK\r\n\r\n", "not supported"},
        ClientErrorCase{"ShortStatus", {"GET"}, "HTTP/1.1 20 OK\r\n\r\n", "invalid status"},
        ClientErrorCase{"StatusOutOfRange", {"GET"}, "HTTP/1.1 600 X\r\n\r\n", "invalid status"},
        ClientErrorCase{"UnrequestedUpgrade",
                        {"GET"},
                        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                        "asked for no upgrade"},
        ClientErrorCase{
            "ObsFold", {"GET"}, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "line folding"},
        ClientErrorCase{"BareLf", {"GET"}, "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "bare LF"},
        ClientErrorCase{"HugeStatusLine",
                        {"GET"},
                        "HTTP/1.1 200 " + std::string(9000, 'x') + "\r\n\r\n",
                        "status line"}),
    [](const auto& info) { return info.param.name; });

// A request through the client codec, parsed by the server codec, and the
// response back: what one side writes the other reads back unchanged.
TEST(Http1RoundTrip, RequestAndResponseSurviveBothSides) {
  ClientHarness client;
  ServerHarness server;
  server.on_request_complete = [](ServerHarness& h, StreamId stream) {
    ASSERT_TRUE(h.codec()
                    .EncodeHeaders(stream, ResponseHeaders{{":status", "200"}, {"x-r", "1"}}, false)
                    .ok());
    ASSERT_TRUE(h.codec().EncodeData(stream, "response body", false).ok());
    ASSERT_TRUE(h.codec().EncodeTrailers(stream, TrailerMap{{"x-t", "done"}}).ok());
  };
  const StreamId stream = client.codec().NewStream();
  ASSERT_TRUE(client.codec()
                  .EncodeHeaders(stream,
                                 RequestHeaders{{":method", "POST"},
                                                {":path", "/echo?x=1"},
                                                {":authority", "svc.local"},
                                                {"x-a", "b"}},
                                 false)
                  .ok());
  ASSERT_TRUE(client.codec().EncodeData(stream, "request body", true).ok());
  ASSERT_TRUE(server.Feed(client.TakeOutput()).ok());
  EXPECT_THAT(server.log.events(),
              ElementsAre("headers 1 [:method=POST :scheme=http :authority=svc.local "
                          ":path=/echo?x=1 x-a=b]",
                          "data 1 'request body' end"));
  ASSERT_TRUE(client.Feed(server.TakeOutput()).ok());
  EXPECT_THAT(client.log.events(), ElementsAre("headers 1 [:status=200 x-r=1]",
                                               "data 1 'response body'", "trailers 1 [x-t=done]"));
  EXPECT_FALSE(client.codec().ShouldClose());
  EXPECT_FALSE(server.codec().ShouldClose());
  EXPECT_THAT(client.unconsumed, IsEmpty());
}

}  // namespace
}  // namespace meshgate::proxy::http
