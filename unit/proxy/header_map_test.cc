// HeaderMap and the pure request helpers.
#include "proxy/http/header_map.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http/utility.h"

namespace meshgate::proxy::http {
namespace {

using ::testing::ElementsAre;

std::vector<std::pair<std::string, std::string>> Fields(const HeaderMap& map) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const HeaderField f : map) out.emplace_back(f.name, f.value);
  return out;
}

TEST(HeaderMap, NamesAreCaseInsensitiveAndStoredLowercase) {
  HeaderMap map;
  map.Add("Content-Type", "text/plain");
  map.Add("X-Multi", "a");
  map.Add("x-multi", "b");
  EXPECT_EQ(map.Get("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(map.Get("content-type"), "text/plain");
  EXPECT_THAT(map.GetAll("X-MULTI"), ElementsAre("a", "b"));
  EXPECT_EQ(map.GetJoined("x-multi"), "a, b");
  EXPECT_EQ(map.Count("x-multi"), 2u);
  EXPECT_FALSE(map.Get("missing").has_value());
  EXPECT_THAT(Fields(map),
              ElementsAre(std::pair<std::string, std::string>("content-type", "text/plain"),
                          std::pair<std::string, std::string>("x-multi", "a"),
                          std::pair<std::string, std::string>("x-multi", "b")));
}

TEST(HeaderMap, PseudoHeadersComeFirst) {
  RequestHeaders map;
  map.Add("accept", "*/*");
  map.Add(":method", "GET");
  map.Add("user-agent", "t");
  map.Add(":path", "/");
  EXPECT_THAT(Fields(map), ElementsAre(std::pair<std::string, std::string>(":method", "GET"),
                                       std::pair<std::string, std::string>(":path", "/"),
                                       std::pair<std::string, std::string>("accept", "*/*"),
                                       std::pair<std::string, std::string>("user-agent", "t")));
  EXPECT_EQ(map.Method(), "GET");
  EXPECT_EQ(map.Path(), "/");
  EXPECT_EQ(map.Authority(), "");
  // A regular field named like a pseudo-header's suffix is not confused with it.
  map.Add("method", "x");
  EXPECT_EQ(map.Method(), "GET");
  EXPECT_EQ(map.Remove(":method"), 1u);
  EXPECT_EQ(map.Method(), "");
  map.Add(":authority", "a");
  EXPECT_EQ(map.at(0).name, ":path");
  EXPECT_EQ(map.at(1).name, ":authority");
  EXPECT_EQ(map.at(2).name, "accept");
}

TEST(HeaderMap, SetReplacesAllAtTheFirstPosition) {
  HeaderMap map{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}};
  map.Set("A", "new");
  EXPECT_THAT(Fields(map), ElementsAre(std::pair<std::string, std::string>("a", "new"),
                                       std::pair<std::string, std::string>("b", "2"),
                                       std::pair<std::string, std::string>("c", "4")));
  map.Set("d", "5");
  EXPECT_EQ(map.at(3).value, "5");
  EXPECT_EQ(map.Remove("b"), 1u);
  EXPECT_EQ(map.Remove("b"), 0u);
  EXPECT_EQ(map.size(), 3u);
}

TEST(HeaderMap, CopiesAreIndependentAndMovesLeaveNothingBehind) {
  HeaderMap original{{"x", "1"}};
  HeaderMap copy = original;
  copy.Add("y", "2");
  copy.Set("x", "changed");
  EXPECT_EQ(original.Get("x"), "1");
  EXPECT_FALSE(original.Has("y"));
  EXPECT_FALSE(original == copy);
  HeaderMap same{{"x", "1"}};
  EXPECT_TRUE(original == same);
  HeaderMap moved = std::move(copy);
  EXPECT_EQ(moved.Get("x"), "changed");
}

TEST(HeaderMap, RepeatedSetDoesNotGrowWithoutBound) {
  HeaderMap map{{"keep", "me"}};
  for (int i = 0; i < 10000; ++i) map.Set("counter", std::string(100, 'a' + i % 26));
  EXPECT_LT(map.ByteSize(), 200u);
  EXPECT_EQ(map.Get("keep"), "me");
  EXPECT_EQ(map.Get("counter"), std::string(100, 'a' + 9999 % 26));
}

TEST(ResponseHeaders, Status) {
  ResponseHeaders headers;
  EXPECT_EQ(headers.Status(), 0);
  headers.SetStatus(404);
  EXPECT_EQ(headers.Status(), 404);
  headers.Set(":status", "4x4");
  EXPECT_EQ(headers.Status(), 0);
}

TEST(ListContainsToken, MatchesWholeElementsIgnoringCase) {
  EXPECT_TRUE(ListContainsToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(ListContainsToken(" close ", "close"));
  EXPECT_FALSE(ListContainsToken("closed", "close"));
  EXPECT_FALSE(ListContainsToken("", "close"));
}

TEST(RequestHelpers, SplitPathAndQuery) {
  PathAndQuery pq = SplitPathAndQuery("/a/b?x=1&y=2#frag");
  EXPECT_EQ(pq.path, "/a/b");
  EXPECT_EQ(pq.query, "x=1&y=2");
  pq = SplitPathAndQuery("/only");
  EXPECT_EQ(pq.path, "/only");
  EXPECT_EQ(pq.query, "");
  pq = SplitPathAndQuery("/p?");
  EXPECT_EQ(pq.path, "/p");
  EXPECT_EQ(pq.query, "");
  pq = SplitPathAndQuery("/p#x?y");
  EXPECT_EQ(pq.path, "/p");
  EXPECT_EQ(pq.query, "");
}

TEST(RequestHelpers, ParseAuthority) {
  absl::StatusOr<Authority> a = ParseAuthority("Example.COM:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 8080);
  a = ParseAuthority("[::1]:443");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "[::1]");
  EXPECT_EQ(a->port, 443);
  a = ParseAuthority("10.0.0.1");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->port.has_value());
  a = ParseAuthority("host:");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->port.has_value());
  for (std::string_view bad : {"", ":80", "a:0", "a:65536", "a:8x", "user@a", "a b", "[::1", "[]",
                               "[::1]x", "[zz]", "a:123456"}) {
    EXPECT_FALSE(ParseAuthority(bad).ok()) << bad;
  }
}

TEST(RequestHelpers, NormalizeAuthority) {
  EXPECT_EQ(*NormalizeAuthority("Example.com:80", "http"), "example.com");
  EXPECT_EQ(*NormalizeAuthority("Example.com:443", "https"), "example.com");
  EXPECT_EQ(*NormalizeAuthority("example.com:443", "http"), "example.com:443");
  EXPECT_EQ(*NormalizeAuthority("EXAMPLE.com:", "http"), "example.com");
  EXPECT_EQ(*NormalizeAuthority("[::1]:8080", "https"), "[::1]:8080");
  EXPECT_FALSE(NormalizeAuthority("a b", "http").ok());
  EXPECT_EQ(DefaultPort("HTTPS"), 443);
  EXPECT_FALSE(DefaultPort("ftp").has_value());
}

TEST(RequestHelpers, UpgradeAndContinue) {
  EXPECT_TRUE(IsUpgradeRequest(RequestHeaders{
      {"connection", "keep-alive"}, {"connection", "Upgrade"}, {"upgrade", "websocket"}}));
  EXPECT_FALSE(IsUpgradeRequest(RequestHeaders{{"upgrade", "websocket"}}));
  EXPECT_FALSE(IsUpgradeRequest(RequestHeaders{{"connection", "upgrade"}}));
  EXPECT_TRUE(ExpectsContinue(RequestHeaders{{"expect", "100-Continue"}}));
  EXPECT_FALSE(ExpectsContinue(RequestHeaders{{"expect", "something-else"}}));
  EXPECT_FALSE(ExpectsContinue(RequestHeaders{}));
}

TEST(RequestHelpers, HopByHopFieldsStayOnTheirConnection) {
  RequestHeaders closing{{":method", "GET"},
                         {":path", "/"},
                         {"host", "a.example"},
                         {"connection", "close, X-Secret, Host"},
                         {"x-secret", "s"},
                         {"keep-alive", "timeout=5"},
                         {"proxy-connection", "x"},
                         {"te", "gzip"},
                         {"x-kept", "1"}};
  RemoveHopByHopFields(closing);
  EXPECT_FALSE(closing.Has("connection"));
  EXPECT_FALSE(closing.Has("x-secret")) << "named by Connection";
  EXPECT_FALSE(closing.Has("keep-alive"));
  EXPECT_FALSE(closing.Has("proxy-connection"));
  EXPECT_FALSE(closing.Has("te"));
  EXPECT_EQ(closing.Get("host"), "a.example") << "routing fields are not the connection's";
  EXPECT_EQ(closing.Get("x-kept"), "1");

  RequestHeaders grpc{{"te", "trailers"}, {"content-type", "application/grpc"}};
  RemoveHopByHopFields(grpc);
  EXPECT_EQ(grpc.Get("te"), "trailers");

  RequestHeaders upgrade{
      {"connection", "Upgrade, keep-alive"}, {"upgrade", "websocket"}, {"keep-alive", "1"}};
  RemoveHopByHopFields(upgrade);
  EXPECT_TRUE(IsUpgradeRequest(upgrade));
  EXPECT_EQ(upgrade.GetJoined("connection"), "upgrade");
  EXPECT_EQ(upgrade.Get("upgrade"), "websocket");
  EXPECT_FALSE(upgrade.Has("keep-alive"));
}

TEST(RequestHelpers, EachHopByHopFieldAloneIsFound) {
  // Requests carry these rarely, so the function first looks for any of
  // them; each must be found on its own, whatever its spelling.
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"Connection", "close"},
                                                        {"Keep-Alive", "timeout=5"},
                                                        {"Proxy-Connection", "keep-alive"},
                                                        {"TE", "gzip"}}) {
    RequestHeaders headers{{":method", "GET"}, {":path", "/"}, {"x-a", "1"}};
    headers.Add(name, value);
    RemoveHopByHopFields(headers);
    EXPECT_FALSE(headers.Has(name)) << name;
    EXPECT_EQ(headers.size(), 3u) << name;
  }
  RequestHeaders plain{{":method", "GET"}, {":path", "/"}, {"host", "a"}, {"x-te", "1"}};
  RemoveHopByHopFields(plain);
  EXPECT_EQ(plain.size(), 4u);
}

}  // namespace
}  // namespace meshgate::proxy::http
