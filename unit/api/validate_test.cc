// Validation rules, one valid and one invalid input per rule, asserting the
// diagnostic's field path, its line in the source and a message substring.
// Each case is a spec body; the header puts its first line at line 5.
#include "api/validate.h"

#include <string>
#include <vector>

#include "unit/api/test_util.h"

namespace meshgate::api {
namespace {

using testing::DecodeText;
using testing::Dump;
using ::testing::HasSubstr;

struct Case {
  std::string name;
  std::string kind;
  std::string body;  // the spec, indented by two spaces; starts at line 5
  std::string path;  // expected error path; empty: the object is valid
  int line = 0;
  std::string message;
};

std::string Document(const Case& c) {
  const std::string api_version = c.kind == "Service"              ? "v1"
                                  : c.kind == "PeerAuthentication" ? "security.istio.io/v1"
                                                                   : "networking.istio.io/v1";
  return "apiVersion: " + api_version + "\nkind: " + c.kind + "\nmetadata: {name: t}\nspec:\n" +
         c.body;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ValidateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateTest, Rule) {
  const Case& c = GetParam();
  const DecodeResult result = DecodeText(Document(c));
  if (c.path.empty()) {
    EXPECT_FALSE(HasErrors(result.diagnostics)) << Dump(result);
    EXPECT_EQ(result.resources.size(), 1u) << Dump(result);
    return;
  }
  EXPECT_TRUE(result.resources.empty()) << "accepted: " << c.name;
  bool found = false;
  for (const Diagnostic& d : result.diagnostics) {
    if (d.severity == Diagnostic::Severity::kError && d.field_path == c.path &&
        d.location.line == c.line && d.message.find(c.message) != std::string::npos) {
      found = true;
      EXPECT_EQ(d.object, c.kind + "/default/t");
      EXPECT_EQ(d.location.file, "test.yaml");
    }
  }
  EXPECT_TRUE(found) << "want " << c.line << "|" << c.path << "|" << c.message << "\ngot:\n"
                     << Dump(result);
}

constexpr char kRoute[] = "  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n";

// VirtualService rules. The http route of kRoute is spec.http[0] at line 7.
std::vector<Case> VirtualServiceCases() {
  const std::string vs = "VirtualService";
  return {
      {"vs_valid_minimal", vs, kRoute},
      {"vs_valid_delegate_without_hosts", vs,
       "  http:\n  - route:\n    - destination: {host: a}\n"},
      {"vs_hosts_required_with_gateways", vs,
       "  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: a}\n", "spec.hosts", 4,
       "at least one host"},
      {"vs_valid_hosts", vs,
       "  hosts: [reviews, \"*.example.com\", a.b.svc.cluster.local, 10.1.2.3]\n"
       "  http:\n  - route:\n    - destination: {host: a}\n"},
      {"vs_bad_host", vs,
       "  hosts: [a, \"bad_host!\"]\n  http:\n  - route:\n    - destination: {host: a}\n",
       "spec.hosts[1]", 5, "invalid"},
      {"vs_wildcard_in_middle", vs,
       "  hosts:\n  - foo.*.com\n  http:\n  - route:\n    - destination: {host: a}\n",
       "spec.hosts[0]", 6, "invalid"},
      {"vs_star_host_with_mesh", vs,
       "  hosts: [\"*\"]\n  http:\n  - route:\n    - destination: {host: a}\n", "spec.hosts[0]", 5,
       "mesh gateway"},
      {"vs_valid_star_host_on_gateway", vs,
       "  hosts: [\"*\"]\n  gateways: [istio-system/ingress]\n  http:\n  - route:\n"
       "    - destination: {host: a}\n"},
      {"vs_bad_gateway_name", vs,
       "  hosts: [a]\n  gateways:\n  - mesh\n  - ns/\n  http:\n  - route:\n    - destination: "
       "{host: a}\n",
       "spec.gateways[1]", 8, "must not be empty"},
      {"vs_bad_gateway_namespace", vs,
       "  hosts: [a]\n  gateways: [Bad_NS/gw]\n  http:\n  - route:\n    - destination: {host: a}\n",
       "spec.gateways[0]", 6, "invalid namespace"},
      {"vs_no_routes", vs, "  hosts: [a]\n", "spec", 4, "needs http, tcp or tls"},
      {"vs_route_and_redirect", vs, std::string(kRoute) + "    redirect: {uri: /x}\n",
       "spec.http[0].redirect", 9, "both route and redirect"},
      {"vs_route_and_direct_response", vs,
       std::string(kRoute) + "    directResponse: {status: 200}\n", "spec.http[0].directResponse",
       9, "both route and directResponse"},
      {"vs_redirect_and_rewrite", vs,
       "  hosts: [a]\n  http:\n  - redirect: {uri: /x}\n    rewrite: {uri: /y}\n",
       "spec.http[0].rewrite", 8, "both rewrite and redirect"},
      {"vs_no_action", vs, "  hosts: [a]\n  http:\n  - name: nothing\n", "spec.http[0]", 7,
       "needs one of route, redirect"},
      {"vs_valid_redirect", vs,
       "  hosts: [a]\n  http:\n  - redirect: {uri: /x, redirectCode: 302}\n"},
      {"vs_bad_redirect_code", vs,
       "  hosts: [a]\n  http:\n  - redirect:\n      uri: /x\n      redirectCode: 200\n",
       "spec.http[0].redirect.redirectCode", 9, "300..399"},
      {"vs_valid_direct_response", vs,
       "  hosts: [a]\n  http:\n  - directResponse: {status: 503, body: {string: down}}\n"},
      {"vs_bad_direct_response_status", vs,
       "  hosts: [a]\n  http:\n  - directResponse:\n      status: 600\n",
       "spec.http[0].directResponse.status", 8, "200..599"},
      {"vs_valid_delegate_route", vs,
       "  hosts: [a]\n  http:\n  - delegate: {name: child, namespace: other}\n"},
      {"vs_delegate_with_route", vs, std::string(kRoute) + "    delegate: {name: child}\n",
       "spec.http[0].delegate", 9, "cannot also have route"},
      {"vs_negative_weight", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - {destination: {host: a}, weight: -1}\n"
       "    - {destination: {host: b}, weight: 2}\n",
       "spec.http[0].route[0].weight", 8, "must not be negative"},
      {"vs_all_zero_weights", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - {destination: {host: a}, weight: 0}\n"
       "    - {destination: {host: b}}\n",
       "spec.http[0].route", 7, "total destination weight is 0"},
      {"vs_valid_relative_weights", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - {destination: {host: a}, weight: 1}\n"
       "    - {destination: {host: b}, weight: 3}\n"},
      {"vs_valid_single_zero_weight", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - {destination: {host: a}, weight: 0}\n"},
      {"vs_destination_without_host", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - destination: {subset: v1}\n",
       "spec.http[0].route[0].destination.host", 8, "destination host is required"},
      {"vs_bad_subset_name", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - destination:\n        host: a\n        subset: "
       "V_1\n",
       "spec.http[0].route[0].destination.subset", 10, "DNS-1123"},
      {"vs_bad_destination_port", vs,
       "  hosts: [a]\n  http:\n  - route:\n    - destination:\n        host: a\n"
       "        port: {number: 70000}\n",
       "spec.http[0].route[0].destination.port.number", 10, "1..65535"},
      {"vs_valid_timeouts", vs,
       std::string(kRoute) + "    timeout: 1ms\n    retries: {attempts: 2, perTryTimeout: 0.5s}\n"},
      {"vs_timeout_below_1ms", vs, std::string(kRoute) + "    timeout: 0.5ms\n",
       "spec.http[0].timeout", 9, "at least 1ms"},
      {"vs_timeout_sub_ms", vs, std::string(kRoute) + "    timeout: 1.0005s\n",
       "spec.http[0].timeout", 9, "ms precision"},
      {"vs_per_try_timeout_zero", vs,
       std::string(kRoute) + "    retries:\n      attempts: 1\n      perTryTimeout: 0s\n",
       "spec.http[0].retries.perTryTimeout", 11, "at least 1ms"},
      {"vs_negative_attempts", vs, std::string(kRoute) + "    retries:\n      attempts: -1\n",
       "spec.http[0].retries.attempts", 10, "must not be negative"},
      {"vs_valid_retry_on", vs,
       std::string(kRoute) +
           "    retries: {attempts: 3, retryOn: \"5xx,gateway-error,reset,connect-failure,"
           "refused-stream,retriable-4xx,retriable-status-codes,retriable-headers,"
           "envoy-ratelimited,http3-post-connect-failure,cancelled,deadline-exceeded,internal,"
           "resource-exhausted,unavailable,503\"}\n"},
      {"vs_unknown_retry_on", vs,
       std::string(kRoute) + "    retries:\n      attempts: 3\n      retryOn: 5xx,sometimes\n",
       "spec.http[0].retries.retryOn", 11, "unknown retryOn condition \"sometimes\""},
      {"vs_retry_on_bad_status", vs,
       std::string(kRoute) + "    retries:\n      attempts: 3\n      retryOn: \"700\"\n",
       "spec.http[0].retries.retryOn", 11, "100..599"},
      {"vs_valid_regexes", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - uri: {regex: \"^/v[0-9]+/.*\"}\n"
       "      headers: {x-user: {regex: \"a|b\"}}\n      queryParams: {q: {regex: \"x+\"}}\n"
       "    route:\n    - destination: {host: a}\n"},
      {"vs_bad_uri_regex", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - uri:\n        regex: \"(unclosed\"\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.http[0].match[0].uri.regex", 9, "invalid regex"},
      {"vs_bad_authority_regex", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - authority: {regex: \"[z-a]\"}\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.http[0].match[0].authority.regex", 8, "invalid regex"},
      {"vs_bad_header_regex", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - headers:\n        x-user:\n          regex: "
       "\"*\"\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.http[0].match[0].headers[x-user].regex", 10, "invalid regex"},
      {"vs_bad_query_regex", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - queryParams:\n        id: {regex: \"a{2,1}\"}\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.http[0].match[0].queryParams[id].regex", 9, "invalid regex"},
      {"vs_upper_case_header_name", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - headers:\n        X-User: {exact: a}\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.http[0].match[0].headers[X-User]", 9, "must be lower case"},
      {"vs_invalid_header_name", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - headers:\n        \"bad header\": {exact: a}\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.http[0].match[0].headers[bad header]", 9, "not a valid HTTP header name"},
      {"vs_bad_rewrite_regex", vs,
       std::string(kRoute) + "    rewrite:\n      uriRegexRewrite: {match: \"(\", rewrite: /x}\n",
       "spec.http[0].rewrite.uriRegexRewrite.match", 10, "invalid regex"},
      {"vs_rewrite_uri_and_regex", vs,
       std::string(kRoute) +
           "    rewrite:\n      uri: /a\n      uriRegexRewrite: {match: a, rewrite: b}\n",
       "spec.http[0].rewrite", 9, "only one of uri and uriRegexRewrite"},
      {"vs_bad_cors_origin_regex", vs,
       std::string(kRoute) + "    corsPolicy:\n      allowOrigins:\n      - regex: \"+\"\n",
       "spec.http[0].corsPolicy.allowOrigins[0].regex", 11, "invalid regex"},
      {"vs_valid_cors", vs,
       std::string(kRoute) +
           "    corsPolicy: {allowOrigins: [{exact: \"https://a.com\"}], allowMethods: [GET, POST],"
           " maxAge: 24h, allowCredentials: true}\n"},
      {"vs_bad_cors_method", vs,
       std::string(kRoute) + "    corsPolicy:\n      allowMethods: [GET, FETCH]\n",
       "spec.http[0].corsPolicy.allowMethods[1]", 10, "not a valid HTTP method"},
      {"vs_mirror_percentage_over_100", vs,
       std::string(kRoute) + "    mirror: {host: b}\n    mirrorPercentage:\n      value: 100.5\n",
       "spec.http[0].mirrorPercentage.value", 11, "0..100"},
      {"vs_mirror_and_mirrors", vs,
       std::string(kRoute) + "    mirror: {host: b}\n    mirrors:\n    - destination: {host: c}\n",
       "spec.http[0].mirrors", 10, "both mirror and mirrors"},
      {"vs_valid_fault", vs,
       std::string(kRoute) + "    fault:\n      delay: {fixedDelay: 7s, percentage: {value: 10}}\n"
                             "      abort: {httpStatus: 500, percentage: {value: 0.1}}\n"},
      {"vs_fault_abort_bad_status", vs,
       std::string(kRoute) + "    fault:\n      abort:\n        httpStatus: 100\n",
       "spec.http[0].fault.abort.httpStatus", 11, "200..599"},
      {"vs_fault_abort_without_status", vs,
       std::string(kRoute) + "    fault:\n      abort:\n        percentage: {value: 5}\n",
       "spec.http[0].fault.abort", 10, "needs httpStatus or grpcStatus"},
      {"vs_valid_fault_grpc", vs,
       std::string(kRoute) + "    fault: {abort: {grpcStatus: UNAVAILABLE}}\n"},
      {"vs_fault_delay_without_fixed", vs,
       std::string(kRoute) + "    fault:\n      delay:\n        percentage: {value: 5}\n",
       "spec.http[0].fault.delay.fixedDelay", 10, "needs fixedDelay"},
      {"vs_fault_delay_percentage", vs,
       std::string(kRoute) + "    fault:\n      delay:\n        fixedDelay: 1s\n"
                             "        percentage: {value: -3}\n",
       "spec.http[0].fault.delay.percentage.value", 12, "0..100"},
      {"vs_fault_empty", vs, std::string(kRoute) + "    fault: {}\n", "spec.http[0].fault", 9,
       "abort and/or a delay"},
      {"vs_header_ops_pseudo", vs,
       std::string(kRoute) + "    headers:\n      request:\n        set: {\":path\": /x}\n",
       "spec.http[0].headers.request.set[:path]", 11, "not a valid header name"},
      {"vs_match_port_out_of_range", vs,
       "  hosts: [a]\n  http:\n  - match:\n    - port: 0\n    route:\n    - destination: {host: "
       "a}\n",
       "spec.http[0].match[0].port", 8, "1..65535"},
      {"vs_valid_tls_route", vs,
       "  hosts: [a.com]\n  gateways: [gw]\n  tls:\n  - match:\n    - sniHosts: [a.com]\n"
       "    route:\n    - destination: {host: a}\n"},
      {"vs_tls_route_without_sni", vs,
       "  hosts: [a.com]\n  gateways: [gw]\n  tls:\n  - match:\n    - port: 443\n"
       "    route:\n    - destination: {host: a}\n",
       "spec.tls[0].match[0].sniHosts", 9, "at least one SNI host"},
      {"vs_tls_route_without_match", vs,
       "  hosts: [a.com]\n  tls:\n  - route:\n    - destination: {host: a}\n", "spec.tls[0].match",
       7, "at least one match"},
      {"vs_valid_tcp_route", vs,
       "  hosts: [a]\n  tcp:\n  - match:\n    - {port: 3306, destinationSubnets: [10.0.0.0/8]}\n"
       "    route:\n    - destination: {host: db, port: {number: 3306}}\n"},
      {"vs_tcp_bad_port", vs,
       "  hosts: [a]\n  tcp:\n  - match:\n    - port: 65536\n    route:\n    - destination: {host: "
       "db}\n",
       "spec.tcp[0].match[0].port", 8, "1..65535"},
      {"vs_tcp_bad_subnet", vs,
       "  hosts: [a]\n  tcp:\n  - match:\n    - destinationSubnets: [10.0.0.0/40]\n"
       "    route:\n    - destination: {host: db}\n",
       "spec.tcp[0].match[0].destinationSubnets[0]", 8, "CIDR"},
      {"vs_tcp_without_route", vs, "  hosts: [a]\n  tcp:\n  - match: [{port: 1}]\n",
       "spec.tcp[0].route", 7, "at least one destination"},
      {"vs_bad_export_to", vs, std::string(kRoute) + "  exportTo: [\".\", \".\"]\n",
       "spec.exportTo[1]", 9, "duplicate exportTo"},
  };
}

std::vector<Case> DestinationRuleCases() {
  const std::string dr = "DestinationRule";
  return {
      {"dr_valid", dr,
       "  host: reviews.prod.svc.cluster.local\n  trafficPolicy:\n"
       "    loadBalancer: {simple: LEAST_REQUEST}\n"
       "    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 0}}\n"
       "    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m,"
       " maxEjectionPercent: 100}\n"
       "  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: "
       "v2}}\n"},
      {"dr_host_required", dr, "  subsets: [{name: v1, labels: {v: \"1\"}}]\n", "spec.host", 4,
       "host is required"},
      {"dr_bad_host", dr, "  host: \"a..b\"\n", "spec.host", 5, "invalid"},
      {"dr_valid_wildcard_host", dr, "  host: \"*.example.com\"\n"},
      {"dr_duplicate_subsets", dr,
       "  host: a\n  subsets:\n  - {name: v1, labels: {v: \"1\"}}\n  - name: v1\n    labels: {v: "
       "\"2\"}\n",
       "spec.subsets[1].name", 8, "duplicate subset name \"v1\""},
      {"dr_empty_subset_name", dr, "  host: a\n  subsets:\n  - labels: {v: \"1\"}\n",
       "spec.subsets[0].name", 7, "subset name is required"},
      {"dr_subset_without_labels", dr, "  host: a\n  subsets:\n  - name: v1\n",
       "spec.subsets[0].labels", 7, "needs labels"},
      {"dr_valid_istio_mutual", dr,
       "  host: a\n  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL, sni: a.example.com}\n"},
      {"dr_istio_mutual_with_cert", dr,
       "  host: a\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n"
       "      clientCertificate: /etc/c.pem\n",
       "spec.trafficPolicy.tls", 7, "ISTIO_MUTUAL"},
      {"dr_istio_mutual_with_credential", dr,
       "  host: a\n  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL, credentialName: c}\n",
       "spec.trafficPolicy.tls", 7, "ISTIO_MUTUAL"},
      {"dr_valid_mutual_files", dr,
       "  host: a\n  trafficPolicy:\n    tls: {mode: MUTUAL, clientCertificate: c, privateKey: "
       "k}\n"},
      {"dr_valid_mutual_credential", dr,
       "  host: a\n  trafficPolicy:\n    tls: {mode: MUTUAL, credentialName: c}\n"},
      {"dr_mutual_without_key", dr,
       "  host: a\n  trafficPolicy:\n    tls:\n      mode: MUTUAL\n      clientCertificate: c\n",
       "spec.trafficPolicy.tls.privateKey", 7, "MUTUAL needs privateKey"},
      {"dr_valid_consistent_hash", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
       "        httpCookie: {name: user, ttl: 0.1s}\n        maglev: {tableSize: 65537}\n"},
      {"dr_consistent_hash_no_key", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
       "        ringHash: {minimumRingSize: 1024}\n",
       "spec.trafficPolicy.loadBalancer.consistentHash", 8, "exactly one of"},
      {"dr_consistent_hash_two_keys", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
       "        useSourceIp: true\n        httpHeaderName: x-user\n",
       "spec.trafficPolicy.loadBalancer.consistentHash", 8, "exactly one of"},
      {"dr_ring_hash_and_maglev", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
       "        useSourceIp: true\n        ringHash: {}\n        maglev: {}\n",
       "spec.trafficPolicy.loadBalancer.consistentHash", 8, "ringHash and maglev"},
      {"dr_simple_and_consistent_hash", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n"
       "      consistentHash: {useSourceIp: true}\n",
       "spec.trafficPolicy.loadBalancer", 7, "only one of simple and consistentHash"},
      {"dr_negative_max_connections", dr,
       "  host: a\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: -1\n",
       "spec.trafficPolicy.connectionPool.tcp.maxConnections", 9, "must not be negative"},
      {"dr_negative_pending", dr,
       "  host: a\n  trafficPolicy:\n    connectionPool:\n      http: {http1MaxPendingRequests: "
       "-5}\n",
       "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", 8, "must not be negative"},
      {"dr_connect_timeout_zero", dr,
       "  host: a\n  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 0s}\n",
       "spec.trafficPolicy.connectionPool.tcp.connectTimeout", 8, "at least 1ms"},
      {"dr_max_ejection_percent", dr,
       "  host: a\n  trafficPolicy:\n    outlierDetection:\n      maxEjectionPercent: 101\n",
       "spec.trafficPolicy.outlierDetection.maxEjectionPercent", 8, "0..100"},
      {"dr_valid_port_level", dr,
       "  host: a\n  trafficPolicy:\n    portLevelSettings:\n"
       "    - {port: {number: 80}, loadBalancer: {simple: RANDOM}}\n"
       "    - {port: {number: 443}, tls: {mode: SIMPLE}}\n"},
      {"dr_port_level_without_port", dr,
       "  host: a\n  trafficPolicy:\n    portLevelSettings:\n    - loadBalancer: {simple: "
       "RANDOM}\n",
       "spec.trafficPolicy.portLevelSettings[0].port", 8, "needs a port"},
      {"dr_port_level_duplicate", dr,
       "  host: a\n  trafficPolicy:\n    portLevelSettings:\n"
       "    - {port: {number: 80}, loadBalancer: {simple: RANDOM}}\n"
       "    - port:\n        number: 80\n      tls: {mode: SIMPLE}\n",
       "spec.trafficPolicy.portLevelSettings[1].port.number", 10, "duplicate portLevelSettings"},
      {"dr_empty_traffic_policy", dr, "  host: a\n  trafficPolicy: {}\n", "spec.trafficPolicy", 6,
       "at least one field"},
      {"dr_locality_weights", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n"
       "        distribute:\n        - from: us-west/*\n          to: {\"us-west/*\": 80, "
       "\"us-east/*\": 10}\n",
       "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to", 11, "add up to 100"},
      {"dr_warmup_too_short", dr,
       "  host: a\n  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n"
       "      warmupDurationSecs: 0s\n",
       "spec.trafficPolicy.loadBalancer.warmupDurationSecs", 9, "at least 1ms"},
  };
}

std::vector<Case> GatewayCases() {
  const std::string gw = "Gateway";
  return {
      {"gw_valid", gw,
       "  selector: {istio: ingressgateway}\n  servers:\n"
       "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n"
       "    tls: {httpsRedirect: true}\n"
       "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"ns/*.example.com\"]\n"
       "    tls: {mode: SIMPLE, credentialName: cert}\n"},
      {"gw_no_servers", gw, "  selector: {app: gw}\n", "spec.servers", 4, "at least one server"},
      {"gw_bad_port", gw,
       "  servers:\n  - port:\n      number: 0\n      name: http\n      protocol: HTTP\n"
       "    hosts: [a]\n",
       "spec.servers[0].port.number", 7, "1..65535"},
      {"gw_unknown_protocol", gw,
       "  servers:\n  - port: {number: 80, name: http, protocol: SMTP}\n    hosts: [a]\n",
       "spec.servers[0].port.protocol", 6, "unknown protocol \"SMTP\""},
      {"gw_no_hosts", gw, "  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n",
       "spec.servers[0].hosts", 6, "at least one host"},
      {"gw_simple_without_cert", gw,
       "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a]\n"
       "    tls:\n      mode: SIMPLE\n      serverCertificate: /c.pem\n",
       "spec.servers[0].tls.privateKey", 8, "privateKey or credentialName"},
      {"gw_valid_simple_files", gw,
       "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a]\n"
       "    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}\n"},
      {"gw_mutual_without_cert", gw,
       "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a]\n"
       "    tls:\n      mode: MUTUAL\n",
       "spec.servers[0].tls.serverCertificate", 8, "serverCertificate or credentialName"},
      {"gw_https_redirect_on_https", gw,
       "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a]\n"
       "    tls:\n      httpsRedirect: true\n      mode: SIMPLE\n      credentialName: c\n",
       "spec.servers[0].tls.httpsRedirect", 9, "only valid on HTTP"},
      {"gw_duplicate_port_names", gw,
       "  servers:\n  - port: {number: 80, name: web, protocol: HTTP}\n    hosts: [a]\n"
       "  - port:\n      number: 8080\n      name: web\n      protocol: HTTP\n    hosts: [b]\n",
       "spec.servers[1].port.name", 10, "duplicate port name \"web\""},
      {"gw_https_without_tls", gw,
       "  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a]\n",
       "spec.servers[0].tls", 6, "needs tls settings"},
      {"gw_bad_host_namespace", gw,
       "  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: "
       "[\"Bad_NS/a\"]\n",
       "spec.servers[0].hosts[0]", 7, "invalid namespace"},
  };
}

std::vector<Case> ServiceEntryCases() {
  const std::string se = "ServiceEntry";
  return {
      {"se_valid_dns", se,
       "  hosts: [api.example.com]\n  ports: [{number: 443, name: https, protocol: TLS}]\n"
       "  resolution: DNS\n  location: MESH_EXTERNAL\n"},
      {"se_valid_static", se,
       "  hosts: [db.internal]\n  addresses: [10.0.0.0/24]\n"
       "  ports: [{number: 5432, name: pg, protocol: TCP}]\n  resolution: STATIC\n"
       "  endpoints:\n  - {address: 10.0.0.5, ports: {pg: 15432}}\n  - address: \"2001:db8::1\"\n"},
      {"se_hosts_required", se, "  ports: [{number: 80, name: http, protocol: HTTP}]\n",
       "spec.hosts", 4, "at least one host"},
      {"se_wildcard_with_dns", se,
       "  hosts:\n  - \"*.example.com\"\n  ports: [{number: 80, name: http, protocol: HTTP}]\n"
       "  resolution: DNS\n",
       "spec.hosts[0]", 6, "cannot use DNS resolution"},
      {"se_valid_wildcard_none", se,
       "  hosts: [\"*.example.com\"]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n"
       "  resolution: NONE\n"},
      {"se_duplicate_ports", se,
       "  hosts: [a.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n"
       "  - {number: 80, name: http2, protocol: HTTP}\n",
       "spec.ports[1].number", 8, "duplicate port number 80"},
      {"se_static_needs_ip", se,
       "  hosts: [a.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n"
       "  resolution: STATIC\n  endpoints:\n  - address: db.example.com\n",
       "spec.endpoints[0].address", 9, "not an IP address"},
      {"se_selector_and_endpoints", se,
       "  hosts: [a.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n"
       "  resolution: STATIC\n  workloadSelector:\n    labels: {app: a}\n"
       "  endpoints: [{address: 1.2.3.4}]\n",
       "spec.workloadSelector", 8, "only one of workloadSelector and endpoints"},
      {"se_bad_port", se,
       "  hosts: [a.com]\n  ports:\n  - {number: 99999, name: x, protocol: TCP}\n",
       "spec.ports[0].number", 7, "1..65535"},
      {"se_endpoint_port_undefined", se,
       "  hosts: [a.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n"
       "  resolution: STATIC\n  endpoints:\n  - address: 1.2.3.4\n    ports: {grpc: 9000}\n",
       "spec.endpoints[0].ports[grpc]", 10, "not defined in spec.ports"},
  };
}

std::vector<Case> KubernetesCases() {
  return {
      {"svc_valid", "Service", "  ports: [{port: 80, targetPort: 8080}]\n"},
      {"svc_port_out_of_range", "Service", "  ports:\n  - port: 0\n", "spec.ports[0].port", 6,
       "1..65535"},
  };
}

std::vector<Case> PeerAuthenticationCases() {
  return {
      {"pa_valid", "PeerAuthentication",
       "  selector: {matchLabels: {app: a}}\n  mtls: {mode: STRICT}\n"
       "  portLevelMtls:\n    \"8080\": {mode: PERMISSIVE}\n"},
      {"pa_namespace_wide", "PeerAuthentication", "  mtls: {mode: PERMISSIVE}\n"},
      {"pa_bad_mode", "PeerAuthentication", "  mtls: {mode: MUTUAL}\n", "spec.mtls.mode", 5,
       "MUTUAL"},
      {"pa_port_level_needs_selector", "PeerAuthentication",
       "  portLevelMtls:\n    \"8080\": {mode: DISABLE}\n", "spec.portLevelMtls", 5,
       "requires a workload selector"},
      {"pa_port_not_a_number", "PeerAuthentication",
       "  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    http: {mode: DISABLE}\n",
       "spec.portLevelMtls[http]", 7, "1..65535"},
  };
}

std::vector<Case> SidecarCases() {
  return {
      {"sidecar_valid", "Sidecar",
       "  egress:\n  - hosts: [\"./*\", \"istio-system/*\"]\n"
       "  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"},
      {"sidecar_valid_ingress", "Sidecar",
       "  workloadSelector: {labels: {app: a}}\n  ingress:\n"
       "  - port: {number: 7071, protocol: HTTP, name: http}\n"
       "    defaultEndpoint: 127.0.0.1:17071\n  egress:\n"
       "  - port: {number: 9080, protocol: HTTP, name: http}\n    hosts: [\"*/reviews.x\"]\n"
       "  - hosts: [\"*/*\"]\n"},
      {"sidecar_empty", "Sidecar", "  workloadSelector: {labels: {app: a}}\n", "spec", 4,
       "needs ingress, egress or outboundTrafficPolicy"},
      {"sidecar_host_without_namespace", "Sidecar",
       "  egress:\n  - hosts: [reviews.default.svc.cluster.local]\n", "spec.egress[0].hosts[0]", 6,
       "must be namespace/host"},
      {"sidecar_host_bad_namespace", "Sidecar", "  egress:\n  - hosts: [\"Shop/*.x\"]\n",
       "spec.egress[0].hosts[0]", 6, "invalid namespace"},
      {"sidecar_no_hosts", "Sidecar",
       "  egress:\n  - port: {number: 9080, protocol: HTTP, name: http}\n", "spec.egress[0].hosts",
       6, "at least one host"},
      {"sidecar_catch_all_not_last", "Sidecar",
       "  egress:\n  - hosts: [\"./*\"]\n  - port: {number: 9080, protocol: HTTP, name: http}\n"
       "    hosts: [\"*/*\"]\n",
       "spec.egress[0]", 6, "must be the last"},
      {"sidecar_bad_default_endpoint", "Sidecar",
       "  ingress:\n  - port: {number: 7071, protocol: HTTP, name: http}\n"
       "    defaultEndpoint: 10.0.0.1:17071\n",
       "spec.ingress[0].defaultEndpoint", 7, "127.0.0.1:PORT"},
      {"sidecar_duplicate_ingress_port", "Sidecar",
       "  ingress:\n  - port: {number: 7071, protocol: HTTP, name: a}\n"
       "  - port: {number: 7071, protocol: TCP, name: b}\n",
       "spec.ingress[1].port.number", 7, "already an ingress listener"},
      {"sidecar_bad_policy", "Sidecar", "  outboundTrafficPolicy: {mode: DENY}\n",
       "spec.outboundTrafficPolicy.mode", 5, "DENY"},
      {"sidecar_selector_without_labels", "Sidecar",
       "  workloadSelector: {labels: {}}\n  egress:\n  - hosts: [\"./*\"]\n",
       "spec.workloadSelector.labels", 5, "at least one label"},
  };
}

std::vector<Case> AllCases() {
  std::vector<Case> all;
  for (auto* cases : {VirtualServiceCases, DestinationRuleCases, GatewayCases, ServiceEntryCases,
                      KubernetesCases, PeerAuthenticationCases, SidecarCases}) {
    for (Case& c : cases()) all.push_back(std::move(c));
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Rules, ValidateTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(ValidateDirectTest, EndpointSliceAddressType) {
  const DecodeResult result = DecodeText(
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\n"
      "addressType: IPX\nendpoints: []\n");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(
      testing::Findings(result),
      ::testing::ElementsAre(HasSubstr("4|addressType|addressType must be IPv4, IPv6 or FQDN")));
}

TEST(ValidateDirectTest, ValidateWithoutDecodeUsesObjectLocation) {
  Resource r;
  r.kind = Kind::kDestinationRule;
  r.metadata.name = "d";
  r.metadata.namespace_ = "ns";
  r.source = SourceLocation{"rules.yaml", 12};
  r.spec = DestinationRule{};
  const Diagnostics diagnostics = Validate(r);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].ToString(),
            "rules.yaml:12: DestinationRule/ns/d: spec.host: host is required");
}

}  // namespace
}  // namespace meshgate::api
