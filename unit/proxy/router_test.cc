// Route matching and route actions, driven through the xDS translation so the
// tables are the ones a control plane's RouteConfiguration produces.
#include <map>
#include <string>
#include <vector>

#include "envoy/config/route/v3/route.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/config/route_translator.h"
#include "proxy/router/route_actions.h"
#include "proxy/router/route_table.h"
#include "proxy/upstream/random.h"
#include "unit/proxy/routing_test_util.h"

namespace meshgate::proxy {
namespace {

using ::testing::HasSubstr;
using testing::ParseProto;

std::shared_ptr<const RouteTable> Table(std::string_view text) {
  auto config = ParseProto<envoy::config::route::v3::RouteConfiguration>(text);
  auto table = config::TranslateRouteConfiguration(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

RequestView Request(std::string_view authority, std::string_view path,
                    std::vector<std::pair<std::string_view, std::string_view>> headers = {}) {
  RequestView request;
  request.method = "GET";
  request.authority = authority;
  request.path = path;
  request.headers = std::move(headers);
  return request;
}

std::string MatchedRouteName(const RouteTable& table, const RequestView& request) {
  auto match = table.Match(request);
  return match.has_value() ? match->route->name : "<none>";
}

// ---- Virtual host selection -------------------------------------------------

TEST(VirtualHostTest, PrecedenceExactSuffixPrefixDefault) {
  auto table = Table(R"pb(
    name: "vh"
    virtual_hosts {
      name: "exact"
      domains: "foo.example.com"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "suffix_long"
      domains: "*.bar.example.com"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "suffix_short"
      domains: "*.example.com"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "prefix_long"
      domains: "foo.example.*"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "prefix_short"
      domains: "foo.*"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "with_port"
      domains: "api.example.com:8443"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "default"
      domains: "*"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  ASSERT_NE(table, nullptr);
  const std::map<std::string, std::string> cases = {
      {"foo.example.com", "exact"},
      {"FOO.Example.COM", "exact"},
      {"foo.example.com:8080", "exact"},  // port ignored when nothing matches with it
      {"a.bar.example.com", "suffix_long"},
      {"bar.example.com", "suffix_short"},  // "*.bar..." needs at least one character
      {"x.y.example.com", "suffix_short"},
      {"foo.zzz.example.com", "suffix_short"},  // suffix beats prefix "foo.*"
      {"foo.example.org", "prefix_long"},
      {"foo.other", "prefix_short"},
      {"api.example.com:8443", "with_port"},
      {"api.example.com", "suffix_short"},
      {"example.com", "default"},
      {"unknown.org", "default"},
      {"", "default"},
  };
  for (const auto& [authority, expected] : cases) {
    const VirtualHost* vhost = table->FindVirtualHost(authority);
    ASSERT_NE(vhost, nullptr) << authority;
    EXPECT_EQ(vhost->name, expected) << "authority '" << authority << "'";
  }
}

TEST(VirtualHostTest, NoDefaultMeansNoMatch) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "a"
      domains: "a.test"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  EXPECT_EQ(table->FindVirtualHost("b.test"), nullptr);
  EXPECT_FALSE(table->Match(Request("b.test", "/")).has_value());
}

TEST(VirtualHostTest, IgnorePortInHostMatching) {
  auto table = Table(R"pb(
    ignore_port_in_host_matching: true
    virtual_hosts {
      name: "a"
      domains: "a.test"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
    virtual_hosts {
      name: "v6"
      domains: "[::1]"
      routes {
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  EXPECT_EQ(table->FindVirtualHost("a.test:9999")->name, "a");
  EXPECT_EQ(table->FindVirtualHost("[::1]:80")->name, "v6");
}

// ---- Path, header and query matching ----------------------------------------

struct MatchCase {
  std::string path;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string expected_route;
};

void ExpectRoutes(const RouteTable& table, const std::vector<MatchCase>& cases) {
  for (const MatchCase& c : cases) {
    std::string description = c.path;
    for (const auto& [n, v] : c.headers) description += " " + std::string(n) + "=" + std::string(v);
    EXPECT_EQ(MatchedRouteName(table, Request("svc", c.path, c.headers)), c.expected_route)
        << description;
  }
}

TEST(RouteMatchTest, PathMatchers) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "exact"
        match { path: "/exact" }
        direct_response { status: 200 }
      }
      routes {
        name: "exact_ci"
        match {
          path: "/Upper"
          case_sensitive { value: false }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "regex"
        match { safe_regex { regex: "/items/[0-9]+" } }
        direct_response { status: 200 }
      }
      routes {
        name: "regex_ci"
        match {
          safe_regex { regex: "/caps/[a-z]+" }
          case_sensitive { value: false }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "separated"
        match { path_separated_prefix: "/api" }
        direct_response { status: 200 }
      }
      routes {
        name: "prefix_ci"
        match {
          prefix: "/Docs"
          case_sensitive { value: false }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "prefix"
        match { prefix: "/static/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  ExpectRoutes(*table, {
                           {"/exact", {}, "exact"},
                           {"/exact?x=1", {}, "exact"},  // query is not part of the path
                           {"/exact/", {}, "<none>"},
                           {"/upper", {}, "exact_ci"},
                           {"/items/42", {}, "regex"},
                           {"/items/42/x", {}, "<none>"},  // full match, not search
                           {"/items/abc", {}, "<none>"},
                           {"/CAPS/ABC", {}, "regex_ci"},
                           {"/api", {}, "separated"},
                           {"/api/v1", {}, "separated"},
                           {"/api?q", {}, "separated"},
                           {"/apiv1", {}, "<none>"},
                           {"/docs/intro", {}, "prefix_ci"},
                           {"/DOCS", {}, "prefix_ci"},
                           {"/static/app.js", {}, "prefix"},
                           {"/Static/app.js", {}, "<none>"},
                       });
}

TEST(RouteMatchTest, HeaderMatchers) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "exact"
        match {
          prefix: "/"
          headers {
            name: "x-exact"
            string_match { exact: "Yes" }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "exact_ci"
        match {
          prefix: "/"
          headers {
            name: "x-ci"
            string_match { exact: "yes" ignore_case: true }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "prefix"
        match {
          prefix: "/"
          headers {
            name: "x-prefix"
            string_match { prefix: "abc" }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "suffix"
        match {
          prefix: "/"
          headers {
            name: "x-suffix"
            string_match { suffix: "xyz" }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "contains"
        match {
          prefix: "/"
          headers {
            name: "x-contains"
            string_match { contains: "mid" ignore_case: true }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "regex"
        match {
          prefix: "/"
          headers {
            name: "x-regex"
            safe_regex_match { regex: "v[0-9]+" }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "range"
        match {
          prefix: "/"
          headers {
            name: "x-range"
            range_match { start: 10 end: 20 }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "present"
        match {
          prefix: "/present"
          headers { name: "x-present" present_match: true }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "absent"
        match {
          prefix: "/absent"
          headers { name: "x-present" present_match: false }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "inverted"
        match {
          prefix: "/inverted"
          headers {
            name: "x-env"
            string_match { exact: "prod" }
            invert_match: true
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "missing_as_empty"
        match {
          prefix: "/empty"
          headers {
            name: "x-e"
            string_match { exact: "" }
            treat_missing_header_as_empty: true
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "pseudo"
        match {
          prefix: "/pseudo"
          headers {
            name: ":method"
            string_match { exact: "GET" }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "fallback"
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  ExpectRoutes(*table, {
                           {"/", {{"x-exact", "Yes"}}, "exact"},
                           {"/", {{"X-Exact", "Yes"}}, "exact"},  // names are case-insensitive
                           {"/", {{"x-exact", "yes"}}, "fallback"},
                           {"/", {{"x-ci", "YES"}}, "exact_ci"},
                           {"/", {{"x-prefix", "abcdef"}}, "prefix"},
                           {"/", {{"x-prefix", "ABCdef"}}, "fallback"},
                           {"/", {{"x-suffix", "wxyz"}}, "suffix"},
                           {"/", {{"x-contains", "aMIDb"}}, "contains"},
                           {"/", {{"x-regex", "v12"}}, "regex"},
                           {"/", {{"x-regex", "v12a"}}, "fallback"},
                           {"/", {{"x-range", "10"}}, "range"},
                           {"/", {{"x-range", "19"}}, "range"},
                           {"/", {{"x-range", "20"}}, "fallback"},  // end is exclusive
                           {"/", {{"x-range", "1x"}}, "fallback"},
                           {"/present", {{"x-present", ""}}, "present"},
                           {"/present", {}, "fallback"},
                           {"/absent", {}, "absent"},
                           {"/absent", {{"x-present", "1"}}, "fallback"},
                           {"/inverted", {{"x-env", "dev"}}, "inverted"},
                           {"/inverted", {{"x-env", "prod"}}, "fallback"},
                           {"/inverted", {}, "fallback"},  // absent never matches a value
                           {"/empty", {}, "missing_as_empty"},
                           {"/pseudo", {}, "pseudo"},
                           // Repeated headers are matched as one comma-joined value.
                           {"/", {{"x-exact", "Yes"}, {"x-exact", "No"}}, "fallback"},
                           {"/", {{"x-suffix", "a"}, {"x-suffix", "bxyz"}}, "suffix"},
                       });
}

TEST(RouteMatchTest, QueryParameterMatchersAndOrder) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "exact_q"
        match {
          prefix: "/"
          query_parameters {
            name: "v"
            string_match { exact: "2" }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "present_q"
        match {
          prefix: "/"
          query_parameters { name: "debug" present_match: true }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "regex_q"
        match {
          prefix: "/"
          query_parameters {
            name: "id"
            string_match { safe_regex { regex: "[a-f]+" } }
          }
        }
        direct_response { status: 200 }
      }
      routes {
        name: "first"
        match { prefix: "/" }
        direct_response { status: 200 }
      }
      routes {
        name: "never"
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  ExpectRoutes(*table, {
                           {"/?v=2", {}, "exact_q"},
                           {"/?a=1&v=2", {}, "exact_q"},
                           {"/?v=3", {}, "first"},
                           {"/?debug", {}, "present_q"},
                           {"/?debug=", {}, "present_q"},
                           {"/?id=beef", {}, "regex_q"},
                           {"/?id=beefy", {}, "first"},
                           {"/", {}, "first"},
                       });
}

TEST(RouteMatchTest, GrpcMatcherRequiresGrpcContentType) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "grpc"
        match {
          prefix: "/"
          grpc {}
        }
        direct_response { status: 200 }
      }
      routes {
        name: "other"
        match { prefix: "/" }
        direct_response { status: 200 }
      }
    }
  )pb");
  ExpectRoutes(*table, {
                           {"/pkg.Svc/Call", {{"content-type", "application/grpc+proto"}}, "grpc"},
                           {"/pkg.Svc/Call", {{"content-type", "application/json"}}, "other"},
                       });
}

// ---- Actions ----------------------------------------------------------------

TEST(RouteActionTest, WeightedClustersFollowWeights) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        match { prefix: "/" }
        route {
          weighted_clusters {
            clusters {
              name: "a"
              weight { value: 10 }
            }
            clusters {
              name: "b"
              weight { value: 30 }
            }
            clusters {
              name: "c"
              weight { value: 60 }
            }
          }
        }
      }
    }
  )pb");
  auto match = table->Match(Request("x", "/"));
  ASSERT_TRUE(match.has_value());
  const auto& forward = std::get<ForwardAction>(match->route->action);
  SeededRandom random(42);
  std::map<std::string, int> counts;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) ++counts[*SelectCluster(forward, random.Next()).cluster];
  EXPECT_NEAR(counts["a"] / double(kDraws), 0.10, 0.01);
  EXPECT_NEAR(counts["b"] / double(kDraws), 0.30, 0.01);
  EXPECT_NEAR(counts["c"] / double(kDraws), 0.60, 0.01);
  // The draw decides deterministically: 0..9 -> a, 10..39 -> b, 40..99 -> c.
  EXPECT_EQ(*SelectCluster(forward, 9).cluster, "a");
  EXPECT_EQ(*SelectCluster(forward, 10).cluster, "b");
  EXPECT_EQ(*SelectCluster(forward, 40).cluster, "c");
  EXPECT_EQ(*SelectCluster(forward, 199).cluster, "c");
}

TEST(RouteActionTest, PathAndHostRewrites) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "prefix"
        match { prefix: "/old/" }
        route { cluster: "c" prefix_rewrite: "/new/" host_rewrite_literal: "backend.internal" }
      }
      routes {
        name: "exact"
        match { path: "/login" }
        route { cluster: "c" prefix_rewrite: "/auth/login" }
      }
      routes {
        name: "regex"
        match { prefix: "/r/" }
        route {
          cluster: "c"
          regex_rewrite {
            pattern { regex: "^/r/([^/]+)/(.*)$" }
            substitution: "/\\2/\\1"
          }
        }
      }
      routes {
        name: "none"
        match { prefix: "/" }
        route { cluster: "c" }
      }
    }
  )pb");
  struct Case {
    std::string path;
    std::optional<std::string> rewritten;
  };
  const std::vector<Case> cases = {
      {"/old/a/b?x=1", "/new/a/b?x=1"},
      {"/login?next=/", "/auth/login?next=/"},
      {"/r/users/42", "/42/users"},
      {"/plain", std::nullopt},
  };
  for (const Case& c : cases) {
    auto match = table->Match(Request("h", c.path));
    ASSERT_TRUE(match.has_value()) << c.path;
    const auto& forward = std::get<ForwardAction>(match->route->action);
    EXPECT_EQ(RewritePath(*match->route, forward, c.path), c.rewritten) << c.path;
  }
  auto match = table->Match(Request("h", "/old/x"));
  EXPECT_EQ(RewriteHost(std::get<ForwardAction>(match->route->action), nullptr),
            std::optional<std::string>("backend.internal"));
}

TEST(RouteActionTest, RedirectComposition) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "https"
        match { prefix: "/https" }
        redirect { https_redirect: true }
      }
      routes {
        name: "host_port"
        match { prefix: "/hp" }
        redirect { host_redirect: "new.test" port_redirect: 8443 response_code: FOUND }
      }
      routes {
        name: "path_with_query"
        match { prefix: "/pq" }
        redirect { path_redirect: "/landing?from=old" response_code: SEE_OTHER }
      }
      routes {
        name: "prefix"
        match { prefix: "/v1/" }
        redirect { prefix_rewrite: "/v2/" response_code: TEMPORARY_REDIRECT }
      }
      routes {
        name: "strip"
        match { prefix: "/strip" }
        redirect { path_redirect: "/clean" strip_query: true response_code: PERMANENT_REDIRECT }
      }
      routes {
        name: "regex"
        match { prefix: "/u/" }
        redirect {
          regex_rewrite {
            pattern { regex: "^/u/(.*)$" }
            substitution: "/users/\\1"
          }
        }
      }
      routes {
        name: "scheme_port"
        match { prefix: "/sp" }
        redirect { scheme_redirect: "https" port_redirect: 443 }
      }
    }
  )pb");
  struct Case {
    std::string authority;
    std::string path;
    std::string location;
    uint32_t code;
  };
  const std::vector<Case> cases = {
      {"shop.test", "/https/a?x=1", "https://shop.test/https/a?x=1", 301},
      {"shop.test:80", "/https", "https://shop.test/https", 301},  // default http port dropped
      {"shop.test:8080", "/https", "https://shop.test:8080/https", 301},
      {"shop.test", "/hp/x", "http://new.test:8443/hp/x", 302},
      {"shop.test", "/pq?a=b", "http://shop.test/landing?from=old", 303},
      {"shop.test", "/v1/items?page=2", "http://shop.test/v2/items?page=2", 307},
      {"shop.test", "/strip?secret=1", "http://shop.test/clean", 308},
      {"[::1]:8080", "/u/7", "http://[::1]:8080/users/7", 301},
      {"shop.test:8080", "/sp", "https://shop.test/sp", 301},  // 443 is https' default
  };
  for (const Case& c : cases) {
    RequestView request = Request(c.authority, c.path);
    auto match = table->Match(request);
    ASSERT_TRUE(match.has_value()) << c.path;
    const auto& redirect = std::get<RedirectAction>(match->route->action);
    EXPECT_EQ(ComposeRedirectLocation(*match->route, redirect, request), c.location) << c.path;
    EXPECT_EQ(redirect.response_code, c.code) << c.path;
  }
}

TEST(RouteActionTest, DirectResponseAndTimeouts) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "direct"
        match { path: "/health" }
        direct_response {
          status: 503
          body { inline_string: "down" }
        }
      }
      routes {
        name: "fwd"
        match { prefix: "/" }
        route {
          cluster: "c"
          timeout { seconds: 3 }
          idle_timeout { nanos: 500000000 }
        }
      }
    }
  )pb");
  auto direct = table->Match(Request("h", "/health"));
  const auto& response = std::get<DirectResponseAction>(direct->route->action);
  EXPECT_EQ(response.status, 503u);
  EXPECT_EQ(response.body, "down");
  auto fwd = table->Match(Request("h", "/x"));
  const auto& forward = std::get<ForwardAction>(fwd->route->action);
  EXPECT_EQ(forward.timeout, absl::Seconds(3));
  EXPECT_EQ(forward.idle_timeout, absl::Milliseconds(500));
}

// ---- Header manipulation ----------------------------------------------------

constexpr std::string_view kLayeredHeaders = R"pb(
  request_headers_to_add {
    header { key: "x-level" value: "config" }
    append_action: OVERWRITE_IF_EXISTS_OR_ADD
  }
  response_headers_to_add {
    header { key: "x-level" value: "config" }
    append_action: OVERWRITE_IF_EXISTS_OR_ADD
  }
  virtual_hosts {
    name: "v"
    domains: "*"
    request_headers_to_add {
      header { key: "x-level" value: "vhost" }
      append_action: OVERWRITE_IF_EXISTS_OR_ADD
    }
    routes {
      match { prefix: "/" }
      request_headers_to_add {
        header { key: "x-level" value: "route" }
        append_action: OVERWRITE_IF_EXISTS_OR_ADD
      }
      request_headers_to_add { header { key: "x-append" value: "2" } }
      request_headers_to_add {
        header { key: "x-if-absent" value: "new" }
        append_action: ADD_IF_ABSENT
      }
      request_headers_to_add {
        header { key: "x-overwrite-only" value: "new" }
        append_action: OVERWRITE_IF_EXISTS
      }
      request_headers_to_add { header { key: "x-removed" value: "re-added" } }
      request_headers_to_add { header { key: "x-empty" value: "" } }
      request_headers_to_add { header { key: "x-pct" value: "100%%" } }
      request_headers_to_remove: "x-removed"
      route {
        weighted_clusters {
          clusters {
            name: "c"
            weight { value: 1 }
            request_headers_to_add {
              header { key: "x-level" value: "cluster" }
              append_action: OVERWRITE_IF_EXISTS_OR_ADD
            }
          }
        }
      }
    }
  }
)pb";

TEST(HeaderMutationTest, LeastSpecificLevelWinsByDefault) {
  auto table = Table(kLayeredHeaders);
  auto match = table->Match(Request("h", "/"));
  ASSERT_TRUE(match.has_value());
  const auto& forward = std::get<ForwardAction>(match->route->action);
  ClusterChoice choice = SelectCluster(forward, 0);
  HeaderList headers = {{"x-append", "1"}, {"x-if-absent", "old"}, {"x-removed", "original"}};
  table->ApplyRequestHeaders(*match, choice.weighted, headers);
  auto values = [&](std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers) {
      if (n == name) out.push_back(v);
    }
    return out;
  };
  EXPECT_THAT(values("x-level"), ::testing::ElementsAre("config"));
  EXPECT_THAT(values("x-append"), ::testing::ElementsAre("1", "2"));
  EXPECT_THAT(values("x-if-absent"), ::testing::ElementsAre("old"));
  EXPECT_THAT(values("x-overwrite-only"), ::testing::IsEmpty());
  // Removal happens before addition within a level.
  EXPECT_THAT(values("x-removed"), ::testing::ElementsAre("re-added"));
  EXPECT_THAT(values("x-empty"), ::testing::IsEmpty());
  EXPECT_THAT(values("x-pct"), ::testing::ElementsAre("100%"));
}

TEST(HeaderMutationTest, MostSpecificWinsWhenConfigured) {
  auto table = Table(std::string("most_specific_header_mutations_wins: true\n") +
                     std::string(kLayeredHeaders));
  auto match = table->Match(Request("h", "/"));
  const auto& forward = std::get<ForwardAction>(match->route->action);
  HeaderList headers;
  table->ApplyRequestHeaders(*match, SelectCluster(forward, 0).weighted, headers);
  HeaderList response;
  table->ApplyResponseHeaders(*match, nullptr, response);
  std::vector<std::string> level;
  for (const auto& [n, v] : headers) {
    if (n == "x-level") level.push_back(v);
  }
  EXPECT_THAT(level, ::testing::ElementsAre("cluster"));
  EXPECT_THAT(response,
              ::testing::ElementsAre(std::pair<std::string, std::string>("x-level", "config")));
}

// ---- Policies ---------------------------------------------------------------

TEST(RoutePolicyTest, RetryPolicyInheritedFromVirtualHost) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      retry_policy {
        retry_on: "5xx,reset"
        num_retries { value: 4 }
      }
      routes {
        name: "own"
        match { prefix: "/own" }
        route {
          cluster: "c"
          retry_policy {
            retry_on: "gateway-error, retriable-status-codes,unavailable"
            retriable_status_codes: 409
            per_try_timeout { seconds: 2 }
            retry_back_off { base_interval { nanos: 100000000 } }
            retry_host_predicate { name: "envoy.retry_host_predicates.previous_hosts" }
            host_selection_retry_max_attempts: 5
          }
        }
      }
      routes {
        name: "inherited"
        match { prefix: "/" }
        route { cluster: "c" }
      }
    }
  )pb");
  const auto& own = std::get<ForwardAction>(table->Match(Request("h", "/own"))->route->action);
  ASSERT_TRUE(own.retry.has_value());
  EXPECT_EQ(own.retry->retry_on,
            kRetryOnGatewayError | kRetryOnRetriableStatusCodes | kRetryOnGrpcUnavailable);
  EXPECT_EQ(own.retry->num_retries, 1u);
  EXPECT_EQ(own.retry->per_try_timeout, absl::Seconds(2));
  EXPECT_EQ(own.retry->backoff_base, absl::Milliseconds(100));
  EXPECT_EQ(own.retry->backoff_max, absl::Seconds(1));
  EXPECT_TRUE(own.retry->retry_other_host);
  EXPECT_EQ(own.retry->host_selection_attempts, 5u);
  EXPECT_THAT(own.retry->retriable_status_codes, ::testing::ElementsAre(409));
  const auto& inherited = std::get<ForwardAction>(table->Match(Request("h", "/x"))->route->action);
  ASSERT_TRUE(inherited.retry.has_value());
  EXPECT_EQ(inherited.retry->retry_on, kRetryOn5xx | kRetryOnReset);
  EXPECT_EQ(inherited.retry->num_retries, 4u);
}

TEST(RoutePolicyTest, HashPolicies) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      routes {
        name: "header"
        match { prefix: "/h" }
        route {
          cluster: "c"
          hash_policy { header { header_name: "X-User" } }
        }
      }
      routes {
        name: "cookie"
        match { prefix: "/c" }
        route {
          cluster: "c"
          hash_policy { cookie { name: "session" } }
        }
      }
      routes {
        name: "ip"
        match { prefix: "/ip" }
        route {
          cluster: "c"
          hash_policy { connection_properties { source_ip: true } }
        }
      }
      routes {
        name: "query"
        match { prefix: "/q" }
        route {
          cluster: "c"
          hash_policy { query_parameter { name: "tenant" } }
        }
      }
      routes {
        name: "terminal"
        match { prefix: "/t" }
        route {
          cluster: "c"
          hash_policy {
            header { header_name: "x-a" }
            terminal: true
          }
          hash_policy { header { header_name: "x-b" } }
        }
      }
    }
  )pb");
  auto hash = [&](RequestView request) {
    auto match = table->Match(request);
    return ComputeRequestHash(std::get<ForwardAction>(match->route->action).hash_policies, request);
  };
  EXPECT_EQ(hash(Request("h", "/h", {{"x-user", "alice"}})),
            hash(Request("h", "/h", {{"X-USER", "alice"}})));
  EXPECT_NE(hash(Request("h", "/h", {{"x-user", "alice"}})),
            hash(Request("h", "/h", {{"x-user", "bob"}})));
  EXPECT_EQ(hash(Request("h", "/h")), std::nullopt);
  EXPECT_EQ(hash(Request("h", "/c", {{"cookie", "a=1; session=s1"}})),
            hash(Request("h", "/c", {{"cookie", "session=s1"}})));
  EXPECT_NE(hash(Request("h", "/c", {{"cookie", "session=s1"}})),
            hash(Request("h", "/c", {{"cookie", "session=s2"}})));
  RequestView from_a = Request("h", "/ip");
  from_a.source_ip = "10.0.0.1";
  RequestView from_b = Request("h", "/ip");
  from_b.source_ip = "10.0.0.2";
  EXPECT_NE(hash(from_a), hash(from_b));
  EXPECT_TRUE(hash(from_a).has_value());
  EXPECT_EQ(hash(Request("h", "/q?tenant=t1&x=1")), hash(Request("h", "/q?x=2&tenant=t1")));
  // A terminal policy that produced a value stops the walk: x-b is not mixed in.
  EXPECT_EQ(hash(Request("h", "/t", {{"x-a", "1"}, {"x-b", "1"}})),
            hash(Request("h", "/t", {{"x-a", "1"}, {"x-b", "2"}})));
  EXPECT_NE(hash(Request("h", "/t", {{"x-b", "1"}})), hash(Request("h", "/t", {{"x-b", "2"}})));
}

TEST(RoutePolicyTest, MirrorsAndPerFilterConfig) {
  auto table = Table(R"pb(
    virtual_hosts {
      name: "v"
      domains: "*"
      typed_per_filter_config {
        key: "envoy.filters.http.cors"
        value {
          [type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy] {
            allow_origin_string_match { suffix: ".example.com" }
            allow_methods: "GET,POST"
            max_age: "600"
          }
        }
      }
      routes {
        name: "fault"
        match { prefix: "/fault" }
        route {
          cluster: "c"
          request_mirror_policies {
            cluster: "shadow"
            runtime_fraction { default_value { numerator: 25 } }
          }
        }
        typed_per_filter_config {
          key: "envoy.filters.http.fault"
          value {
            [type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault] {
              abort {
                http_status: 418
                percentage { numerator: 50 }
              }
              delay {
                fixed_delay { seconds: 1 }
                percentage { numerator: 10 denominator: TEN_THOUSAND }
              }
            }
          }
        }
        typed_per_filter_config {
          key: "envoy.filters.http.unknown_but_optional"
          value {
            [type.googleapis.com/envoy.config.route.v3.FilterConfig] {
              is_optional: true
              config {
                [type.googleapis.com/envoy.config.route.v3.RouteConfiguration] {}
              }
            }
          }
        }
      }
      routes {
        name: "plain"
        match { prefix: "/" }
        route { cluster: "c" }
      }
    }
  )pb");
  auto fault_route = table->Match(Request("h", "/fault"))->route;
  ASSERT_TRUE(fault_route->filters.fault.has_value());
  EXPECT_EQ(fault_route->filters.fault->abort_http_status, 418u);
  EXPECT_EQ(fault_route->filters.fault->abort_fraction, 500000u);
  EXPECT_EQ(fault_route->filters.fault->delay, absl::Seconds(1));
  EXPECT_EQ(fault_route->filters.fault->delay_fraction, 1000u);
  ASSERT_TRUE(fault_route->filters.cors.has_value());  // inherited from the virtual host
  EXPECT_TRUE(fault_route->filters.cors->allow_origins[0].Matches("https://app.example.com"));
  EXPECT_EQ(fault_route->filters.cors->max_age, "600");
  const auto& forward = std::get<ForwardAction>(fault_route->action);
  ASSERT_EQ(forward.mirrors.size(), 1u);
  EXPECT_EQ(forward.mirrors[0].cluster, "shadow");
  SeededRandom random(7);
  int mirrored = 0;
  for (int i = 0; i < 20000; ++i) mirrored += ShouldMirror(forward.mirrors[0], random.Next());
  EXPECT_NEAR(mirrored / 20000.0, 0.25, 0.015);
  auto plain = table->Match(Request("h", "/x"))->route;
  EXPECT_FALSE(plain->filters.fault.has_value());
  EXPECT_TRUE(plain->filters.cors.has_value());
}

}  // namespace
}  // namespace meshgate::proxy
