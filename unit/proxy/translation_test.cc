// xDS -> runtime config translation: every unsupported or invalid input is
// refused with an error naming the resource, the field path and the reason;
// supported inputs land in the runtime structures; the ConfigStore swaps
// whole snapshots and keeps the old one when an update is refused.
#include <string>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/config/cluster_translator.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/config/listener_translator.h"
#include "proxy/config/route_translator.h"
#include "unit/proxy/routing_test_util.h"

namespace meshgate::proxy::config {
namespace {

using ::testing::HasSubstr;
using testing::ParseProto;

// Links the TcpProxy message into the descriptor pool so the text protos
// below can spell a tcp_proxy listener.
const auto* const kTcpProxyDescriptor =
    envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy::descriptor();

struct ErrorCase {
  std::string name;
  std::string text;
  std::vector<std::string> expected;  // substrings of the error
};

std::ostream& operator<<(std::ostream& os, const ErrorCase& c) { return os << c.name; }

void ExpectError(const absl::Status& status, const ErrorCase& c) {
  ASSERT_FALSE(status.ok()) << c.name << " was accepted";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
  for (const std::string& part : c.expected) {
    EXPECT_THAT(std::string(status.message()), HasSubstr(part)) << c.name;
  }
}

// ---- RouteConfiguration -----------------------------------------------------

constexpr char kVhostPrefix[] = R"pb(name: "rc"
                                     virtual_hosts { name: "vh" domains: "*")pb";

std::string Routes(const std::string& routes) { return kVhostPrefix + routes + "}"; }

class RouteErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(RouteErrorTest, NamesResourceAndField) {
  auto config = ParseProto<envoy::config::route::v3::RouteConfiguration>(GetParam().text);
  ExpectError(TranslateRouteConfiguration(config).status(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouteErrorTest,
    ::testing::Values(
        ErrorCase{"bad_path_regex",
                  Routes(R"pb(routes {
                                match { safe_regex { regex: "/a(" } }
                                route { cluster: "c" }
                              })pb"),
                  {"RouteConfiguration 'rc'", "virtual_hosts[0].routes[0].match.safe_regex.regex",
                   "invalid RE2"}},
        ErrorCase{"bad_header_regex",
                  Routes(R"pb(routes {
                                match {
                                  prefix: "/"
                                  headers {
                                    name: "x"
                                    string_match { safe_regex { regex: "[" } }
                                  }
                                }
                                route { cluster: "c" }
                              })pb"),
                  {"virtual_hosts[0].routes[0].match.headers[0].string_match.safe_regex.regex"}},
        ErrorCase{"bad_rewrite_substitution",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  cluster: "c"
                                  regex_rewrite {
                                    pattern { regex: "/(a)" }
                                    substitution: "\\2"
                                  }
                                }
                              })pb"),
                  {"routes[0].route.regex_rewrite.substitution"}},
        ErrorCase{"cluster_header",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route { cluster_header: "x-cluster" }
                              })pb"),
                  {"routes[0].route.cluster_header", "not supported"}},
        ErrorCase{"cluster_specifier_plugin",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route { cluster_specifier_plugin: "p" }
                              })pb"),
                  {"routes[0].route.cluster_specifier_plugin"}},
        ErrorCase{"weighted_cluster_header",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  weighted_clusters {
                                    clusters {
                                      cluster_header: "x"
                                      weight { value: 1 }
                                    }
                                  }
                                }
                              })pb"),
                  {"routes[0].route.weighted_clusters.clusters[0].cluster_header"}},
        ErrorCase{"zero_weights",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  weighted_clusters {
                                    clusters {
                                      name: "a"
                                      weight { value: 0 }
                                    }
                                  }
                                }
                              })pb"),
                  {"weighted_clusters.clusters", "sum of the weights"}},
        ErrorCase{"total_weight_mismatch",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  weighted_clusters {
                                    total_weight { value: 100 }
                                    clusters {
                                      name: "a"
                                      weight { value: 30 }
                                    }
                                  }
                                }
                              })pb"),
                  {"weighted_clusters.total_weight", "sum to 30"}},
        ErrorCase{"unknown_retry_on",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  cluster: "c"
                                  retry_policy { retry_on: "5xx,sometimes" }
                                }
                              })pb"),
                  {"routes[0].route.retry_policy.retry_on", "'sometimes'"}},
        ErrorCase{"retry_host_predicate",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  cluster: "c"
                                  retry_policy {
                                    retry_on: "5xx"
                                    retry_host_predicate {
                                      name: "envoy.retry_host_predicates.omit_canary_hosts"
                                    }
                                  }
                                }
                              })pb"),
                  {"retry_policy.retry_host_predicate[0]", "omit_canary_hosts"}},
        ErrorCase{"tls_context_match",
                  Routes(R"pb(routes {
                                match {
                                  prefix: "/"
                                  tls_context { presented { value: true } }
                                }
                                route { cluster: "c" }
                              })pb"),
                  {"routes[0].match.tls_context"}},
        ErrorCase{"filter_action",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                filter_action {}
                              })pb"),
                  {"routes[0].filter_action"}},
        ErrorCase{"internal_redirect",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  cluster: "c"
                                  internal_redirect_policy {}
                                }
                              })pb"),
                  {"routes[0].route.internal_redirect_policy"}},
        ErrorCase{"metadata_match",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  cluster: "c"
                                  metadata_match {}
                                }
                              })pb"),
                  {"routes[0].route.metadata_match", "subset"}},
        ErrorCase{"header_value_command",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route { cluster: "c" }
                                request_headers_to_add {
                                  header { key: "x-ip" value: "%DOWNSTREAM_REMOTE_ADDRESS%" }
                                }
                              })pb"),
                  {"routes[0].request_headers_to_add[0].header.value", "%COMMAND%"}},
        ErrorCase{"pseudo_header_add",
                  Routes(R"pb(request_headers_to_add { header { key: ":path" value: "/x" } }
                              routes {
                                match { prefix: "/" }
                                route { cluster: "c" }
                              })pb"),
                  {"virtual_hosts[0].request_headers_to_add[0].header.key", "pseudo-header"}},
        ErrorCase{
            "unknown_per_filter_config",
            Routes(R"pb(routes {
                          match { prefix: "/" }
                          route { cluster: "c" }
                          typed_per_filter_config {
                            key: "envoy.filters.http.lua"
                            value {
                              [type.googleapis.com/envoy.config.route.v3.RouteConfiguration] {}
                            }
                          }
                        })pb"),
            {"routes[0].typed_per_filter_config['envoy.filters.http.lua']",
             "unsupported per-filter config type"}},
        ErrorCase{"direct_response_file",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                direct_response {
                                  status: 200
                                  body { filename: "/etc/passwd" }
                                }
                              })pb"),
                  {"routes[0].direct_response.body.filename"}},
        ErrorCase{"direct_response_status",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                direct_response { status: 99 }
                              })pb"),
                  {"routes[0].direct_response.status"}},
        ErrorCase{"duplicate_domain",
                  R"pb(name: "rc"
                       virtual_hosts { name: "a" domains: "x.test" }
                       virtual_hosts { name: "b" domains: "X.test" })pb",
                  {"RouteConfiguration 'rc'", "virtual host 'b' domains[0]", "duplicate domain"}},
        ErrorCase{"wildcard_in_middle",
                  R"pb(name: "rc"
                       virtual_hosts { name: "a" domains: "a.*.test" })pb",
                  {"virtual host 'a' domains[0]", "first or last"}},
        ErrorCase{"require_tls",
                  R"pb(name: "rc"
                       virtual_hosts { name: "a" domains: "*" require_tls: ALL })pb",
                  {"virtual_hosts[0].require_tls"}},
        ErrorCase{"vhds",
                  R"pb(name: "rc"
                       vhds { config_source { ads {} } })pb",
                  {"RouteConfiguration 'rc'", "vhds"}},
        ErrorCase{"rate_limits",
                  Routes(R"pb(routes {
                                match { prefix: "/" }
                                route {
                                  cluster: "c"
                                  rate_limits { actions { remote_address {} } }
                                }
                              })pb"),
                  {"routes[0].route.rate_limits"}}),
    [](const auto& info) { return info.param.name; });

TEST(RouteTranslationTest, UnknownFieldsAreRefused) {
  envoy::config::route::v3::RouteConfiguration config =
      ParseProto<envoy::config::route::v3::RouteConfiguration>(Routes(R"pb(routes {
                                                                             match { prefix: "/" }
                                                                             route { cluster: "c" }
                                                                           })pb"));
  // Field 999 of RouteAction: what a newer control plane might send.
  auto* action = config.mutable_virtual_hosts(0)->mutable_routes(0)->mutable_route();
  action->GetReflection()->MutableUnknownFields(action)->AddVarint(999, 1);
  auto result = TranslateRouteConfiguration(config);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("virtual_hosts[0].routes[0].route: unknown field number 999"));
}

TEST(RouteTranslationTest, OptionalUnknownPerFilterConfigIsSkipped) {
  auto config = ParseProto<envoy::config::route::v3::RouteConfiguration>(Routes(R"pb(
    routes {
      match { prefix: "/" }
      route { cluster: "c" }
      typed_per_filter_config {
        key: "lua"
        value {
          [type.googleapis.com/envoy.config.route.v3.FilterConfig] {
            is_optional: true
            config {
              [type.googleapis.com/envoy.config.route.v3.RouteConfiguration] {}
            }
          }
        }
      }
    })pb"));
  EXPECT_TRUE(TranslateRouteConfiguration(config).ok());
}

// ---- Cluster and endpoints --------------------------------------------------

// Text protos name these types inside Any: their descriptors must be linked in.
[[maybe_unused]] const bool kTransportSocketTypesLinked = [] {
  (void)envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer::descriptor();
  (void)envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext::descriptor();
  return true;
}();

constexpr char kEdsCluster[] = R"pb(name: "svc"
                                    type: EDS
                                    eds_cluster_config { eds_config { ads {} } })pb";

class ClusterErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ClusterErrorTest, NamesResourceAndField) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(GetParam().text);
  ExpectError(TranslateCluster(cluster).status(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ClusterErrorTest,
    ::testing::Values(
        ErrorCase{"cluster_provided",
                  std::string(kEdsCluster) + "lb_policy: CLUSTER_PROVIDED",
                  {"Cluster 'svc'", "lb_policy", "CLUSTER_PROVIDED"}},
        ErrorCase{"lb_policy_config",
                  std::string(kEdsCluster) + "lb_policy: LOAD_BALANCING_POLICY_CONFIG",
                  {"Cluster 'svc'", "lb_policy", "LOAD_BALANCING_POLICY_CONFIG"}},
        ErrorCase{"maglev_not_prime",
                  std::string(kEdsCluster) +
                      "lb_policy: MAGLEV maglev_lb_config { table_size { value: 1000 } }",
                  {"Cluster 'svc'", "maglev_lb_config", "prime"}},
        ErrorCase{"ring_bounds",
                  std::string(kEdsCluster) +
                      "lb_policy: RING_HASH ring_hash_lb_config { minimum_ring_size { value: 5000 "
                      "} maximum_ring_size { value: 100 } }",
                  {"ring_hash_lb_config", "minimum_ring_size"}},
        ErrorCase{"lb_config_mismatch",
                  std::string(kEdsCluster) + "lb_policy: ROUND_ROBIN maglev_lb_config {}",
                  {"maglev_lb_config", "requires lb_policy MAGLEV"}},
        ErrorCase{"cluster_provided_outside_original_dst",
                  R"pb(name: "pass" type: STATIC lb_policy: CLUSTER_PROVIDED)pb",
                  {"Cluster 'pass'", "lb_policy", "CLUSTER_PROVIDED"}},
        ErrorCase{"health_checks",
                  std::string(kEdsCluster) +
                      "health_checks { timeout { seconds: 1 } interval { seconds: 1 } }",
                  {"Cluster 'svc'", "health_checks"}},
        ErrorCase{
            "subset",
            std::string(kEdsCluster) + "lb_subset_config { subset_selectors { keys: \"v\" } }",
            {"lb_subset_config"}},
        ErrorCase{"dns_without_assignment",
                  R"pb(name: "s" type: STRICT_DNS)pb",
                  {"Cluster 's'", "load_assignment", "required"}},
        ErrorCase{
            "static_pipe",
            R"pb(name: "s"
                 type: STATIC
                 load_assignment {
                   cluster_name: "s"
                   endpoints { lb_endpoints { endpoint { address { pipe { path: "/tmp/x" } } } } }
                 })pb",
            {"Cluster 's'", "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address"}},
        ErrorCase{"unknown_protocol_options",
                  std::string(kEdsCluster) +
                      R"pb(typed_extension_protocol_options {
                             key: "envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions"
                             value {
                               [type.googleapis.com/envoy.config.route.v3.RouteConfiguration] {}
                             }
                           })pb",
                  {"typed_extension_protocol_options['envoy.extensions.upstreams.tcp.v3."
                   "TcpProtocolOptions']"}},
        ErrorCase{"transport_socket_match_without_socket",
                  std::string(kEdsCluster) + R"pb(transport_socket_matches { name: "tls" })pb",
                  {"Cluster 'svc'", "transport_socket_matches[0].transport_socket", "required"}},
        ErrorCase{"transport_socket_match_on_a_list",
                  std::string(kEdsCluster) +
                      R"pb(transport_socket_matches {
                             name: "tls"
                             match {
                               fields {
                                 key: "tlsMode"
                                 value { list_value {} }
                               }
                             }
                             transport_socket {
                               name: "raw"
                               typed_config {
                                 [type.googleapis.com/
                                  envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer] {}
                               }
                             }
                           })pb",
                  {"transport_socket_matches[0].match.tlsMode", "string, number and bool"}}),
    [](const auto& info) { return info.param.name; });

TEST(ClusterTranslationTest, PassthroughClusterIsAcceptedWithNoHosts) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(R"pb(
    name: "PassthroughCluster"
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
  )pb");
  auto translated = TranslateCluster(cluster);
  ASSERT_TRUE(translated.ok()) << translated.status();
  EXPECT_EQ((*translated)->type, DiscoveryType::kOriginalDst);
  ASSERT_NE((*translated)->static_endpoints, nullptr);
  EXPECT_TRUE((*translated)->static_endpoints->hosts->empty());
}

TEST(ClusterTranslationTest, SupportedFieldsLand) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(R"pb(
    name: "reviews"
    type: EDS
    eds_cluster_config {
      service_name: "reviews.default"
      eds_config { ads {} }
    }
    connect_timeout { seconds: 2 }
    lb_policy: RING_HASH
    ring_hash_lb_config { minimum_ring_size { value: 2048 } }
    circuit_breakers {
      thresholds {
        max_connections { value: 10 }
        max_requests { value: 20 }
      }
      thresholds {
        priority: HIGH
        max_connections { value: 99 }
      }
    }
    outlier_detection {
      consecutive_5xx { value: 3 }
      base_ejection_time { seconds: 60 }
    }
    typed_extension_protocol_options {
      key: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
      value {
        [type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions] {
          explicit_http_config { http2_protocol_options {} }
          common_http_protocol_options { idle_timeout { seconds: 30 } }
        }
      }
    }
    transport_socket {
      name: "envoy.transport_sockets.tls"
      typed_config {
        [type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext] {
          sni: "reviews.default"
        }
      }
    }
  )pb");
  auto result = TranslateCluster(cluster);
  ASSERT_TRUE(result.ok()) << result.status();
  const ClusterConfig& c = **result;
  EXPECT_EQ(c.type, DiscoveryType::kEds);
  EXPECT_EQ(c.eds_service_name, "reviews.default");
  EXPECT_EQ(c.connect_timeout, absl::Seconds(2));
  EXPECT_EQ(c.lb.policy, LbPolicy::kRingHash);
  EXPECT_EQ(c.lb.min_ring_size, 2048u);
  EXPECT_EQ(c.circuit_breakers.max_connections, 10u);
  EXPECT_EQ(c.circuit_breakers.max_requests, 20u);
  EXPECT_EQ(c.circuit_breakers.max_pending_requests, 1024u);
  ASSERT_TRUE(c.outlier_detection.has_value());
  EXPECT_EQ(c.outlier_detection->consecutive_5xx, 3u);
  EXPECT_EQ(c.outlier_detection->base_ejection_time, absl::Seconds(60));
  EXPECT_EQ(c.protocol, UpstreamProtocol::kHttp2);
  EXPECT_EQ(c.idle_timeout, absl::Seconds(30));
  ASSERT_NE(c.tls, nullptr);
  EXPECT_EQ(c.sni, "reviews.default");
  EXPECT_EQ(c.tls->sni(), "");  // kept apart, so equal contexts are one object
}

// Istio's auto mTLS: endpoints with tlsMode=istio metadata take the first
// match (TLS), the others the catch-all match (plaintext).
TEST(ClusterTranslationTest, TransportSocketMatchesChooseByEndpointMetadata) {
  auto cluster = ParseProto<envoy::config::cluster::v3::Cluster>(std::string(kEdsCluster) + R"pb(
    transport_socket_matches {
      name: "tlsMode-istio"
      match {
        fields {
          key: "tlsMode"
          value { string_value: "istio" }
        }
      }
      transport_socket {
        name: "envoy.transport_sockets.tls"
        typed_config {
          [type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext] {
            sni: "outbound_.80_._.svc"
          }
        }
      }
    }
    transport_socket_matches {
      name: "tlsMode-disabled"
      match {}
      transport_socket {
        name: "envoy.transport_sockets.raw_buffer"
        typed_config {
          [type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer] {}
        }
      }
    }
  )pb");
  auto translated = TranslateCluster(cluster);
  ASSERT_TRUE(translated.ok()) << translated.status();
  const ClusterConfig& c = **translated;
  EXPECT_EQ(c.tls, nullptr);
  ASSERT_EQ(c.transport_socket_matches.size(), 2u);
  ASSERT_NE(c.transport_socket_matches[0].tls, nullptr);
  EXPECT_EQ(c.transport_socket_matches[0].sni, "outbound_.80_._.svc");
  EXPECT_EQ(c.transport_socket_matches[1].tls, nullptr);

  auto cla = ParseProto<envoy::config::endpoint::v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "svc"
    endpoints {
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.1" port_value: 80 } } }
        metadata {
          filter_metadata {
            key: "envoy.transport_socket_match"
            value {
              fields {
                key: "tlsMode"
                value { string_value: "istio" }
              }
            }
          }
        }
      }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.2" port_value: 80 } } }
      }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.3" port_value: 80 } } }
        metadata {
          filter_metadata {
            key: "envoy.transport_socket_match"
            value {
              fields {
                key: "tlsMode"
                value { string_value: "disabled" }
              }
            }
          }
        }
      }
    }
  )pb");
  auto endpoints = TranslateClusterLoadAssignment(cla);
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  const auto& hosts = (*endpoints)->hosts->hosts();
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(c.TransportSocketMatchFor(hosts[0]), 0);
  EXPECT_EQ(c.TransportSocketMatchFor(hosts[1]), 1);
  EXPECT_EQ(c.TransportSocketMatchFor(hosts[2]), 1);
  // Without a catch-all, an endpoint no match takes uses the cluster's transport.
  ClusterConfig only_tls = c;
  only_tls.transport_socket_matches.pop_back();
  EXPECT_EQ(only_tls.TransportSocketMatchFor(hosts[1]), -1);
}

TEST(EndpointTranslationTest, HealthWeightsAndPriorities) {
  auto cla = ParseProto<envoy::config::endpoint::v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "reviews.default"
    endpoints {
      lb_endpoints {
        endpoint { address { socket_address { address: "10.1.0.1" port_value: 9080 } } }
        health_status: HEALTHY
        load_balancing_weight { value: 3 }
      }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.1.0.2" port_value: 9080 } } }
        health_status: DRAINING
      }
      lb_endpoints {
        endpoint { address { socket_address { address: "10.1.0.3" port_value: 9080 } } }
      }
    }
    endpoints {
      priority: 1
      lb_endpoints {
        endpoint { address { socket_address { address: "10.2.0.1" port_value: 9080 } } }
      }
    }
  )pb");
  auto result = TranslateClusterLoadAssignment(cla);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)->endpoints.size(), 4u);
  const auto& hosts = (*result)->hosts->hosts();
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].key, "10.1.0.1:9080");
  EXPECT_EQ(hosts[0].weight, 3u);
  EXPECT_EQ(hosts[1].key, "10.1.0.3:9080");
}

TEST(EndpointTranslationTest, ErrorsNameTheEndpoint) {
  auto cla = ParseProto<envoy::config::endpoint::v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "svc"
    endpoints {
      lb_endpoints {
        endpoint { address { socket_address { address: "10.0.0.1" port_value: 80 } } }
      }
    }
    endpoints { lb_endpoints { endpoint { address { socket_address { address: "10.0.0.2" } } } } }
  )pb");
  ExpectError(
      TranslateClusterLoadAssignment(cla).status(),
      ErrorCase{"",
                "",
                {"ClusterLoadAssignment 'svc'",
                 "endpoints[1].lb_endpoints[0].endpoint.address.socket_address.port_value"}});
  cla = ParseProto<envoy::config::endpoint::v3::ClusterLoadAssignment>(R"pb(
    cluster_name: "svc"
    policy { drop_overloads { category: "x" } })pb");
  ExpectError(TranslateClusterLoadAssignment(cla).status(),
              ErrorCase{"", "", {"ClusterLoadAssignment 'svc'", "policy.drop_overloads"}});
}

// ---- Listener ---------------------------------------------------------------

std::string Listener(const std::string& http_filters, const std::string& hcm_extra = "") {
  return R"pb(
           name: "http_8080"
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
                 })pb" +
         hcm_extra + http_filters + "} } } }";
}

constexpr char kRouter[] =
    R"pb(http_filters {
           name: "envoy.filters.http.router"
           typed_config {
             [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {}
           }
         })pb";

class ListenerErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ListenerErrorTest, NamesResourceAndField) {
  auto listener = ParseProto<envoy::config::listener::v3::Listener>(GetParam().text);
  ExpectError(TranslateListener(listener).status(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ListenerErrorTest,
    ::testing::Values(
        ErrorCase{"unknown_required_filter",
                  Listener(std::string(R"pb(http_filters {
                                              name: "envoy.filters.http.lua"
                                              typed_config {
                                                [type.googleapis.com/
                                                 envoy.config.route.v3.RouteConfiguration] {}
                                              }
                                            })pb") +
                           kRouter),
                  {"Listener 'http_8080'",
                   "filter_chains[0].filters[0].typed_config.http_filters[0].typed_config",
                   "unsupported HTTP filter 'envoy.filters.http.lua'"}},
        ErrorCase{
            "router_not_last",
            Listener(std::string(kRouter) +
                     R"pb(http_filters {
                            name: "cors"
                            typed_config {
                              [type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors] {}
                            }
                          })pb"),
            {"http_filters[1]", "no filter may follow the router"}},
        ErrorCase{
            "no_router",
            Listener(R"pb(http_filters {
                            name: "cors"
                            typed_config {
                              [type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors] {}
                            }
                          })pb"),
            {"http_filters", "router filter must be the last"}},
        ErrorCase{"ecds_filter",
                  Listener(std::string(R"pb(http_filters {
                                              name: "x"
                                              config_discovery { config_source { ads {} } }
                                            })pb") +
                           kRouter),
                  {"http_filters[0].config_discovery"}},
        ErrorCase{
            "bad_inline_route",
            R"pb(name: "http_8080"
                 address { socket_address { address: "0.0.0.0" port_value: 8080 } }
                 filter_chains {
                   filters {
                     name: "hcm"
                     typed_config {
                       [type.googleapis.com/envoy.extensions.filters.network.http_connection_manager
                            .v3.HttpConnectionManager] {
                         stat_prefix: "s"
                         route_config {
                           name: "inline"
                           virtual_hosts {
                             name: "v"
                             domains: "*"
                             routes {
                               match { safe_regex { regex: "(" } }
                               route { cluster: "c" }
                             }
                           }
                         }
                         http_filters {
                           name: "router"
                           typed_config {
                             [type.googleapis.com/envoy.extensions.filters.http.router.v3.Router] {}
                           }
                         }
                       }
                     }
                   }
                 })pb",
            {"Listener 'http_8080'", "typed_config.route_config", "RouteConfiguration 'inline'",
             "virtual_hosts[0].routes[0].match.safe_regex.regex"}},
        ErrorCase{
            "tcp_proxy_without_cluster",
            R"pb(name: "tcp"
                 address { socket_address { address: "0.0.0.0" port_value: 9000 } }
                 filter_chains {
                   filters {
                     name: "envoy.filters.network.tcp_proxy"
                     typed_config {
                       [type.googleapis.com/
                        envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy] { stat_prefix: "t" }
                     }
                   }
                 })pb",
            {"Listener 'tcp'", "filter_chains[0].filters[0].typed_config",
             "one of cluster or weighted_clusters is required"}},
        ErrorCase{"source_cidr_match",
                  R"pb(name: "l"
                       address { socket_address { address: "0.0.0.0" port_value: 1 } }
                       filter_chains {
                         filter_chain_match {
                           source_prefix_ranges {
                             address_prefix: "10.0.0.0"
                             prefix_len { value: 8 }
                           }
                         }
                       })pb",
                  {"Listener 'l'", "filter_chains[0].filter_chain_match"}},
        ErrorCase{"ipv4_compat",
                  R"pb(name: "l"
                       address { socket_address { address: "::" port_value: 1 ipv4_compat: true } }
                       filter_chains {})pb",
                  {"Listener 'l'", "address.socket_address.ipv4_compat"}},
        ErrorCase{"additional_address_socket_options",
                  Listener(kRouter) + R"pb(
                    additional_addresses {
                      address { socket_address { address: "::" port_value: 8080 } }
                      socket_options {}
                    }
                  )pb",
                  {"Listener 'http_8080'", "additional_addresses[0].socket_options"}},
        ErrorCase{"additional_address_pipe",
                  Listener(kRouter) + R"pb(
                    additional_addresses { address { pipe { path: "/tmp/l" } } }
                  )pb",
                  {"Listener 'http_8080'", "additional_addresses[0].address"}}),
    [](const auto& info) { return info.param.name; });

TEST(ListenerTranslationTest, DualStackListenerHasAnAdditionalIpv6Address) {
  auto listener = ParseProto<envoy::config::listener::v3::Listener>(Listener(kRouter) + R"pb(
    additional_addresses { address { socket_address { address: "::" port_value: 8080 } } }
  )pb");
  auto translated = TranslateListener(listener);
  ASSERT_TRUE(translated.ok()) << translated.status();
  EXPECT_EQ((*translated)->address, "0.0.0.0");
  ASSERT_EQ((*translated)->additional_addresses.size(), 1u);
  EXPECT_EQ((*translated)->additional_addresses[0], (ListenerAddress{"::", 8080}));
}

TEST(ListenerTranslationTest, FiltersAndRds) {
  auto listener = ParseProto<envoy::config::listener::v3::Listener>(Listener(
      std::string(R"pb(
        http_filters {
          name: "envoy.filters.http.fault"
          typed_config {
            [type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault] {
              abort {
                http_status: 503
                percentage { numerator: 100 }
              }
            }
          }
        }
        http_filters {
          name: "envoy.filters.http.cors"
          typed_config {
            [type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors] {}
          }
        }
        http_filters {
          name: "envoy.filters.http.local_ratelimit"
          typed_config {
            [type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit] {
              stat_prefix: "rl"
              token_bucket {
                max_tokens: 10
                tokens_per_fill { value: 5 }
                fill_interval { seconds: 1 }
              }
            }
          }
        }
        http_filters {
          name: "optional.lua"
          is_optional: true
          typed_config {
            [type.googleapis.com/envoy.config.route.v3.RouteConfiguration] {}
          }
        })pb") +
          kRouter,
      R"pb(stream_idle_timeout { seconds: 300 }
           use_remote_address { value: true })pb"));
  auto result = TranslateListener(listener);
  ASSERT_TRUE(result.ok()) << result.status();
  const ListenerConfig& l = **result;
  EXPECT_EQ(l.address, "0.0.0.0");
  EXPECT_EQ(l.port, 8080u);
  ASSERT_EQ(l.filter_chains.size(), 1u);
  const HttpConnectionManagerConfig& http = l.filter_chains[0].http;
  EXPECT_EQ(http.rds_route_config_name, "routes_8080");
  EXPECT_EQ(http.stream_idle_timeout, absl::Seconds(300));
  EXPECT_TRUE(http.use_remote_address);
  ASSERT_EQ(http.http_filters.size(), 4u);  // the optional unknown one is left out
  EXPECT_EQ(http.http_filters[0].kind, HttpFilterConfig::Kind::kFault);
  EXPECT_EQ(http.http_filters[0].fault->abort_http_status, 503u);
  EXPECT_EQ(http.http_filters[1].kind, HttpFilterConfig::Kind::kCors);
  EXPECT_EQ(http.http_filters[2].kind, HttpFilterConfig::Kind::kLocalRateLimit);
  EXPECT_EQ(http.http_filters[2].local_rate_limit->max_tokens, 10u);
  EXPECT_EQ(http.http_filters[2].local_rate_limit->tokens_per_fill, 5u);
  EXPECT_EQ(http.http_filters[3].kind, HttpFilterConfig::Kind::kRouter);
}

// ---- ConfigStore ------------------------------------------------------------

envoy::config::route::v3::RouteConfiguration RouteConfig(const std::string& name,
                                                         const std::string& cluster) {
  return ParseProto<envoy::config::route::v3::RouteConfiguration>(
      "name: '" + name +
      "' virtual_hosts { name: 'v' domains: '*' routes { match { prefix: '/' } route { cluster: '" +
      cluster + "' } } }");
}

TEST(ConfigStoreTest, SwapsWholeSnapshotsAndKeepsTheOldOneOnNack) {
  ConfigStore store;
  auto empty = store.Current();
  EXPECT_EQ(empty->generation, 0u);

  ASSERT_TRUE(store.SetRouteConfigurations({RouteConfig("a", "c1"), RouteConfig("b", "c2")}).ok());
  auto first = store.Current();
  EXPECT_EQ(first->generation, 1u);
  EXPECT_EQ(first->routes.size(), 2u);

  auto bad = RouteConfig("b", "c3");
  bad.mutable_virtual_hosts(0)->mutable_routes(0)->mutable_route()->set_cluster_header("x");
  absl::Status status = store.SetRouteConfigurations({RouteConfig("a", "c9"), bad});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("RouteConfiguration 'b'"));
  EXPECT_EQ(store.Current(), first);  // nothing of the refused update applied

  // A reader holding the old snapshot keeps a consistent view.
  ASSERT_TRUE(store.UpdateRouteConfigurations({RouteConfig("c", "c3")}, {"a"}).ok());
  auto second = store.Current();
  EXPECT_EQ(second->generation, 2u);
  EXPECT_TRUE(second->routes.contains("b"));
  EXPECT_TRUE(second->routes.contains("c"));
  EXPECT_FALSE(second->routes.contains("a"));
  EXPECT_TRUE(first->routes.contains("a"));
  EXPECT_EQ(second->routes.at("b"), first->routes.at("b"));  // unchanged parts are shared

  ASSERT_TRUE(store.SetRouteConfigurations({RouteConfig("z", "c")}).ok());
  EXPECT_EQ(store.Current()->routes.size(), 1u);
}

TEST(ConfigStoreTest, DuplicateNamesInOneUpdateAreRefused) {
  ConfigStore store;
  absl::Status status =
      store.SetRouteConfigurations({RouteConfig("a", "c1"), RouteConfig("a", "c2")});
  EXPECT_THAT(std::string(status.message()), HasSubstr("duplicate resource name 'a'"));
}

TEST(ConfigStoreTest, ResolvesRoutesAndEndpointsOfAListener) {
  ConfigStore store;
  ASSERT_TRUE(
      store.SetListeners({ParseProto<envoy::config::listener::v3::Listener>(Listener(kRouter))})
          .ok());
  ASSERT_TRUE(
      store
          .SetClusters({ParseProto<envoy::config::cluster::v3::Cluster>(
                            "name: 'c1' type: EDS eds_cluster_config { eds_config { ads {} } }"),
                        ParseProto<envoy::config::cluster::v3::Cluster>(R"pb(
                          name: "static"
                          type: STATIC
                          load_assignment {
                            cluster_name: "static"
                            endpoints {
                              lb_endpoints {
                                endpoint {
                                  address { socket_address { address: "127.0.0.1" port_value: 81 } }
                                }
                              }
                            }
                          })pb")})
          .ok());
  auto snapshot = store.Current();
  const auto& http = snapshot->listeners.at("http_8080")->filter_chains[0].http;
  EXPECT_EQ(snapshot->RoutesFor(http), nullptr);  // RDS not there yet
  EXPECT_EQ(snapshot->EndpointsFor(*snapshot->FindCluster("c1")), nullptr);
  EXPECT_EQ(snapshot->EndpointsFor(*snapshot->FindCluster("static"))->hosts->size(), 1u);

  ASSERT_TRUE(store.SetRouteConfigurations({RouteConfig("routes_8080", "c1")}).ok());
  ASSERT_TRUE(
      store
          .SetClusterLoadAssignments(
              {ParseProto<envoy::config::endpoint::v3::ClusterLoadAssignment>(R"pb(
                cluster_name: "c1"
                endpoints {
                  lb_endpoints {
                    endpoint { address { socket_address { address: "10.0.0.1" port_value: 80 } } }
                  }
                })pb")})
          .ok());
  snapshot = store.Current();
  auto routes = snapshot->RoutesFor(snapshot->listeners.at("http_8080")->filter_chains[0].http);
  ASSERT_NE(routes, nullptr);
  RequestView request;
  request.authority = "anything";
  request.path = "/";
  auto match = routes->Match(request);
  ASSERT_TRUE(match.has_value());
  const std::string& cluster = std::get<ForwardAction>(match->route->action).cluster;
  auto endpoints = snapshot->EndpointsFor(*snapshot->FindCluster(cluster));
  ASSERT_NE(endpoints, nullptr);
  EXPECT_EQ(endpoints->hosts->hosts()[0].key, "10.0.0.1:80");
}

}  // namespace
}  // namespace meshgate::proxy::config
