// VirtualService -> routes: matches, destinations, rewrites, retries, faults,
// mirrors, CORS, merging and delegation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using envoy::config::route::v3::Route;
using envoy::config::route::v3::VirtualHost;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace testing;  // NOLINT

constexpr char kReviews[] = "reviews.default.svc.cluster.local";

struct Fixture {
  MeshBuilder mesh;
  Fixture() {
    mesh.AddService("default", "reviews", {HttpPort(9080, 9080)}, {"v1", "v2", "v3"});
    mesh.AddService("default", "ratings", {HttpPort(9080, 9080)});
    api::DestinationRule dr;
    dr.host = "reviews";
    for (std::string v : {"v1", "v2", "v3"}) dr.subsets.push_back({v, {{"version", v}}, {}});
    mesh.Add(api::Kind::kDestinationRule, "default", "reviews", dr);
  }
  void AddVs(const std::string& name, api::VirtualService vs, const std::string& ns = "default") {
    mesh.Add(api::Kind::kVirtualService, ns, name, std::move(vs));
  }
  CompiledResources Compile(ProxyTarget target = Sidecar("default")) {
    return compiler::Compile(mesh.Build(), target);
  }
};

const VirtualHost& ReviewsVhost(const CompiledResources& out, uint32_t port = 9080) {
  const auto& rc = *out.routes.at(std::to_string(port)).resource;
  const VirtualHost* v = FindVhost(rc, std::string(kReviews) + ":" + std::to_string(port));
  EXPECT_NE(v, nullptr);
  static const VirtualHost kEmpty;
  return v ? *v : kEmpty;
}

api::VirtualService ReviewsVs(std::vector<api::HTTPRoute> http) {
  api::VirtualService vs;
  vs.hosts = {"reviews"};
  vs.http = std::move(http);
  return vs;
}

api::HTTPRoute RouteTo(std::vector<api::HTTPRouteDestination> dests,
                       std::vector<api::HTTPMatchRequest> match = {}) {
  api::HTTPRoute r;
  r.route = std::move(dests);
  r.match = std::move(match);
  return r;
}

TEST(Routes, DefaultRouteForServiceWithoutVirtualService) {
  Fixture f;
  auto out = f.Compile();
  const VirtualHost& v = ReviewsVhost(out);
  EXPECT_THAT(v.domains(), ElementsAre(kReviews, std::string(kReviews) + ":9080", "reviews",
                                       "reviews:9080", "reviews.default", "reviews.default:9080",
                                       "reviews.default.svc", "reviews.default.svc:9080"));
  ASSERT_EQ(v.routes_size(), 1);
  const Route& r = v.routes(0);
  EXPECT_EQ(r.match().prefix(), "/");
  EXPECT_EQ(r.route().cluster(), std::string("outbound|9080||") + kReviews);
  EXPECT_EQ(r.route().timeout().seconds(), 0);
  // Istio's default retry policy.
  const auto& retry = r.route().retry_policy();
  EXPECT_EQ(retry.num_retries().value(), 2u);
  EXPECT_EQ(retry.retry_on(),
            "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
  EXPECT_EQ(retry.retry_host_predicate(0).name(), "envoy.retry_host_predicates.previous_hosts");
  EXPECT_EQ(retry.host_selection_retry_max_attempts(), 5);
}

TEST(Routes, ShortDomainsOnlyInTheProxyNamespace) {
  Fixture f;
  auto out = f.Compile(Sidecar("other"));
  const VirtualHost& v = ReviewsVhost(out);
  EXPECT_THAT(v.domains(), ::testing::Not(::testing::Contains("reviews")));
  EXPECT_THAT(v.domains(), ::testing::Contains("reviews.default"));
}

TEST(Routes, AllMatchKinds) {
  Fixture f;
  api::HTTPMatchRequest m1;
  m1.uri = Prefix("/api");
  m1.ignore_uri_case = true;
  m1.method = Exact("GET");
  m1.scheme = Exact("https");
  m1.authority = Prefix("shop.");
  m1.headers = {{"end-user", Exact("jason")}, {"x-any", Prefix("")}};
  m1.without_headers = {{"x-debug", Exact("1")}};
  m1.query_params = {{"v", Regex("[0-9]+")}};
  api::HTTPMatchRequest m2;
  m2.uri = Regex("/r/.*");
  m2.ignore_uri_case = true;
  api::HTTPMatchRequest m3;
  m3.uri = Exact("/exact");
  f.AddVs("reviews", ReviewsVs({RouteTo({To("reviews", "v2")}, {m1, m2, m3})}));
  auto out = f.Compile();
  const VirtualHost& v = ReviewsVhost(out);
  ASSERT_EQ(v.routes_size(), 3);  // one Envoy route per match
  const auto& a = v.routes(0).match();
  EXPECT_EQ(a.prefix(), "/api");
  EXPECT_FALSE(a.case_sensitive().value());
  std::map<std::string, const envoy::config::route::v3::HeaderMatcher*> headers;
  for (const auto& h : a.headers()) headers[h.name()] = &h;
  EXPECT_EQ(headers.at(":method")->string_match().exact(), "GET");
  EXPECT_EQ(headers.at(":scheme")->string_match().exact(), "https");
  EXPECT_EQ(headers.at(":authority")->string_match().prefix(), "shop.");
  EXPECT_EQ(headers.at("end-user")->string_match().exact(), "jason");
  EXPECT_TRUE(headers.at("x-any")->present_match());
  EXPECT_TRUE(headers.at("x-debug")->invert_match());
  EXPECT_EQ(headers.at("x-debug")->string_match().exact(), "1");
  ASSERT_EQ(a.query_parameters_size(), 1);
  EXPECT_EQ(a.query_parameters(0).string_match().safe_regex().regex(), "[0-9]+");
  EXPECT_EQ(v.routes(1).match().safe_regex().regex(), "(?i)/r/.*");
  EXPECT_EQ(v.routes(2).match().path(), "/exact");
  EXPECT_EQ(v.routes(2).route().cluster(), std::string("outbound|9080|v2|") + kReviews);
}

TEST(Routes, PortSourceLabelsAndGatewayMatchesFilterRoutes) {
  Fixture f;
  api::HTTPMatchRequest other_port;
  other_port.port = 9999;
  api::HTTPMatchRequest from_v1;
  from_v1.source_labels = {{"app", "productpage"}};
  from_v1.headers = {{"x-from", Exact("pp")}};
  api::HTTPMatchRequest via_gateway;
  via_gateway.gateways = {"ingress"};
  f.AddVs("reviews", ReviewsVs({RouteTo({To("reviews", "v3")}, {other_port}),
                                RouteTo({To("reviews", "v2")}, {from_v1}),
                                RouteTo({To("reviews", "v3")}, {via_gateway}),
                                RouteTo({To("reviews", "v1")})}));
  auto from_pp = f.Compile(Sidecar("default", {{"app", "productpage"}}));
  const VirtualHost& a = ReviewsVhost(from_pp);
  ASSERT_EQ(a.routes_size(), 2);
  EXPECT_EQ(a.routes(0).route().cluster(), std::string("outbound|9080|v2|") + kReviews);
  EXPECT_EQ(a.routes(1).route().cluster(), std::string("outbound|9080|v1|") + kReviews);
  auto from_other = f.Compile(Sidecar("default", {{"app", "ratings"}}));
  ASSERT_EQ(ReviewsVhost(from_other).routes_size(), 1);
}

TEST(Routes, WeightedClustersAreRelative) {
  Fixture f;
  f.AddVs("reviews", ReviewsVs({RouteTo({To("reviews", "v1", 1), To("reviews", "v2", 3),
                                         To("reviews", "v3", 0)})}));
  auto out = f.Compile();
  const auto& action = ReviewsVhost(out).routes(0).route();
  ASSERT_TRUE(action.has_weighted_clusters());
  const auto& wc = action.weighted_clusters();
  ASSERT_EQ(wc.clusters_size(), 2);  // the zero weight is dropped, as Istio
  EXPECT_EQ(wc.clusters(0).name(), std::string("outbound|9080|v1|") + kReviews);
  EXPECT_EQ(wc.clusters(0).weight().value(), 1u);
  EXPECT_EQ(wc.clusters(1).weight().value(), 3u);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(wc.total_weight().value(), 4u);
#pragma GCC diagnostic pop
}

TEST(Routes, RewriteRedirectDirectResponseAndHeaders) {
  Fixture f;
  api::HTTPRoute rewrite = RouteTo({To("reviews")}, {{.uri = Prefix("/old")}});
  rewrite.rewrite = api::HTTPRewrite{"/new", "internal.example", std::nullopt};
  api::Headers headers;
  headers.request = api::HeaderOperations{{{"x-set", "1"}}, {{"x-add", "2"}}, {"x-remove"}};
  headers.response = api::HeaderOperations{{}, {}, {"server"}};
  rewrite.headers = headers;
  rewrite.route[0].headers =
      api::Headers{api::HeaderOperations{{{"x-dest", "reviews"}}, {}, {}}, std::nullopt};
  api::HTTPRoute regex = RouteTo({To("reviews")}, {{.uri = Prefix("/re")}});
  regex.rewrite = api::HTTPRewrite{"", "", api::HTTPRewrite::RegexRewrite{"^/re/(.*)", "/\\1"}};
  api::HTTPRoute redirect;
  redirect.match = {{.uri = Exact("/moved")}};
  redirect.redirect = api::HTTPRedirect{"/here", "new.example", 8443, {}, "https", 308};
  api::HTTPRoute direct;
  direct.match = {{.uri = Exact("/teapot")}};
  direct.direct_response = api::HTTPDirectResponse{418, "short and stout", std::nullopt};
  f.AddVs("reviews", ReviewsVs({rewrite, regex, redirect, direct}));
  auto out = f.Compile();
  const VirtualHost& v = ReviewsVhost(out);
  ASSERT_EQ(v.routes_size(), 4);
  const Route& r0 = v.routes(0);
  EXPECT_EQ(r0.route().prefix_rewrite(), "/new");
  EXPECT_EQ(r0.route().host_rewrite_literal(), "internal.example");
  std::map<std::string, std::string> added;
  for (const auto& h : r0.request_headers_to_add()) added[h.header().key()] = h.header().value();
  EXPECT_EQ(added.at("x-set"), "1");
  EXPECT_EQ(added.at("x-add"), "2");
  EXPECT_EQ(added.at("x-dest"), "reviews");  // per-destination headers of a single destination
  EXPECT_THAT(r0.request_headers_to_remove(), ElementsAre("x-remove"));
  EXPECT_THAT(r0.response_headers_to_remove(), ElementsAre("server"));
  EXPECT_EQ(v.routes(1).route().regex_rewrite().pattern().regex(), "^/re/(.*)");
  EXPECT_EQ(v.routes(1).route().regex_rewrite().substitution(), "/\\1");
  const auto& rd = v.routes(2).redirect();
  EXPECT_EQ(rd.path_redirect(), "/here");
  EXPECT_EQ(rd.host_redirect(), "new.example");
  EXPECT_EQ(rd.port_redirect(), 8443u);
  EXPECT_EQ(rd.scheme_redirect(), "https");
  EXPECT_EQ(rd.response_code(), envoy::config::route::v3::RedirectAction::PERMANENT_REDIRECT);
  EXPECT_EQ(v.routes(3).direct_response().status(), 418u);
  EXPECT_EQ(v.routes(3).direct_response().body().inline_string(), "short and stout");
}

TEST(Routes, TimeoutAndRetries) {
  Fixture f;
  api::HTTPRoute custom = RouteTo({To("reviews")}, {{.uri = Prefix("/a")}});
  custom.timeout = absl::Seconds(3);
  custom.retries = api::HTTPRetry{4, absl::Milliseconds(500), "5xx,gateway-error,503,429", {}};
  api::HTTPRoute disabled = RouteTo({To("reviews")}, {{.uri = Prefix("/b")}});
  disabled.retries = api::HTTPRetry{0, {}, "", {}};
  f.AddVs("reviews", ReviewsVs({custom, disabled}));
  auto out = f.Compile();
  const VirtualHost& v = ReviewsVhost(out);
  const auto& a = v.routes(0).route();
  EXPECT_EQ(a.timeout().seconds(), 3);
  EXPECT_EQ(a.retry_policy().num_retries().value(), 4u);
  EXPECT_EQ(a.retry_policy().per_try_timeout().nanos(), 500000000);
  EXPECT_EQ(a.retry_policy().retry_on(), "5xx,gateway-error,retriable-status-codes");
  EXPECT_THAT(a.retry_policy().retriable_status_codes(), ElementsAre(503, 429));
  EXPECT_FALSE(v.routes(1).route().has_retry_policy());
}

TEST(Routes, FaultInjectionPerRoute) {
  Fixture f;
  api::HTTPRoute r = RouteTo({To("reviews", "v1")});
  api::HTTPFaultInjection fault;
  fault.delay = api::HTTPFaultInjection::Delay{absl::Seconds(7), {}, api::Percent{12.5}, {}};
  fault.abort = api::HTTPFaultInjection::Abort{{}, "UNAVAILABLE", api::Percent{100}};
  r.fault = fault;
  f.AddVs("reviews", ReviewsVs({r}));
  auto out = f.Compile();
  const Route& route = ReviewsVhost(out).routes(0);
  envoy::extensions::filters::http::fault::v3::HTTPFault config;
  ASSERT_TRUE(route.typed_per_filter_config().at("envoy.filters.http.fault").UnpackTo(&config));
  EXPECT_EQ(config.delay().fixed_delay().seconds(), 7);
  EXPECT_EQ(config.delay().percentage().numerator(), 125000u);
  EXPECT_EQ(config.delay().percentage().denominator(), envoy::type::v3::FractionalPercent::MILLION);
  EXPECT_EQ(config.abort().grpc_status(), 14u);
  EXPECT_FALSE(HasErrors(out.diagnostics));

  api::HTTPRoute bad = RouteTo({To("reviews", "v1")});
  bad.fault.emplace().delay =
      api::HTTPFaultInjection::Delay{{}, absl::Seconds(1), api::Percent{1}, {}};
  Fixture g;
  g.AddVs("reviews", ReviewsVs({bad}));
  auto bad_out = g.Compile();
  ASSERT_TRUE(HasErrors(bad_out.diagnostics));
  bool found = false;
  for (const auto& d : bad_out.diagnostics) {
    if (d.field_path == "spec.http[0].fault.delay.exponentialDelay" &&
        d.object == "VirtualService/default/reviews") {
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(Routes, MirrorsAndCors) {
  Fixture f;
  api::HTTPRoute r = RouteTo({To("reviews", "v1")});
  r.mirror = api::Destination{"reviews", "v2", std::nullopt};
  r.mirror_percentage = api::Percent{50};
  r.mirrors.push_back(api::HTTPMirrorPolicy{api::Destination{"ratings", "", {}}, api::Percent{5}});
  api::CorsPolicy cors;
  cors.allow_origins = {Exact("https://shop.example"), Regex("https://.*\\.example")};
  cors.allow_methods = {"GET", "POST"};
  cors.allow_headers = {"x-a"};
  cors.max_age = absl::Hours(1);
  cors.allow_credentials = true;
  r.cors_policy = cors;
  f.AddVs("reviews", ReviewsVs({r}));
  auto out = f.Compile();
  const Route& route = ReviewsVhost(out).routes(0);
  const auto& mirrors = route.route().request_mirror_policies();
  ASSERT_EQ(mirrors.size(), 2);
  EXPECT_EQ(mirrors[0].cluster(), std::string("outbound|9080|v2|") + kReviews);
  EXPECT_EQ(mirrors[0].runtime_fraction().default_value().numerator(), 500000u);
  EXPECT_EQ(mirrors[1].cluster(), "outbound|9080||ratings.default.svc.cluster.local");
  envoy::extensions::filters::http::cors::v3::CorsPolicy config;
  ASSERT_TRUE(route.typed_per_filter_config().at("envoy.filters.http.cors").UnpackTo(&config));
  ASSERT_EQ(config.allow_origin_string_match_size(), 2);
  EXPECT_EQ(config.allow_origin_string_match(1).safe_regex().regex(), "https://.*\\.example");
  EXPECT_EQ(config.allow_methods(), "GET,POST");
  EXPECT_EQ(config.max_age(), "3600");
  EXPECT_TRUE(config.allow_credentials().value());
}

TEST(Routes, FirstVirtualServiceForAHostWinsOnSidecars) {
  Fixture f;
  f.AddVs("a-reviews", ReviewsVs({RouteTo({To("reviews", "v1")})}));
  f.AddVs("b-reviews", ReviewsVs({RouteTo({To("reviews", "v2")})}));
  auto out = f.Compile();
  const VirtualHost& v = ReviewsVhost(out);
  ASSERT_EQ(v.routes_size(), 1);
  EXPECT_EQ(v.routes(0).route().cluster(), std::string("outbound|9080|v1|") + kReviews);
  bool reported = false;
  for (const auto& d : out.diagnostics) {
    if (d.object == "VirtualService/default/b-reviews") {
      reported = true;
      EXPECT_THAT(d.message, HasSubstr("VirtualService/default/a-reviews"));
    }
  }
  EXPECT_TRUE(reported);
}

TEST(Routes, DelegateRoutesAreInsertedUnderTheRootMatch) {
  Fixture f;
  api::HTTPRoute root_delegate;
  root_delegate.match = {{.uri = Prefix("/reviews")}};
  root_delegate.delegate = api::Delegate{"reviews-delegate", "team"};
  f.AddVs("reviews", ReviewsVs({root_delegate, RouteTo({To("reviews", "v1")})}));
  api::VirtualService child;
  child.http.push_back(RouteTo({To("reviews.default.svc.cluster.local", "v3")},
                               {{.uri = Prefix("/reviews/v3"), .headers = {{"x", Exact("1")}}}}));
  child.http.push_back(RouteTo({To("reviews.default.svc.cluster.local", "v2")}));
  child.http.push_back(RouteTo({To("reviews.default.svc.cluster.local", "v1")},
                               {{.uri = Prefix("/elsewhere")}}));  // conflicts with the root
  f.AddVs("reviews-delegate", child, "team");
  auto out = f.Compile();
  const VirtualHost& v = ReviewsVhost(out);
  ASSERT_EQ(v.routes_size(), 3);
  EXPECT_EQ(v.routes(0).match().prefix(), "/reviews/v3");
  EXPECT_EQ(v.routes(0).match().headers(0).name(), "x");
  EXPECT_EQ(v.routes(0).route().cluster(), std::string("outbound|9080|v3|") + kReviews);
  EXPECT_EQ(v.routes(1).match().prefix(), "/reviews");
  EXPECT_EQ(v.routes(1).route().cluster(), std::string("outbound|9080|v2|") + kReviews);
  EXPECT_EQ(v.routes(2).match().prefix(), "/");
  EXPECT_EQ(v.routes(2).route().cluster(), std::string("outbound|9080|v1|") + kReviews);
}

TEST(Routes, UndefinedSubsetIsAnError) {
  Fixture f;
  f.AddVs("reviews", ReviewsVs({RouteTo({To("reviews", "v9")})}));
  auto mesh = BuildMesh(f.mesh.Build(), {});
  ASSERT_EQ(mesh->diagnostics.size(), 1u);
  EXPECT_EQ(mesh->diagnostics[0].field_path, "spec.http[0].route[0].destination.subset");
  EXPECT_EQ(mesh->diagnostics[0].severity, CompileDiagnostic::Severity::kError);
}

}  // namespace
}  // namespace meshgate::compiler
