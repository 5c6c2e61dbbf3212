// Real objects through both gates: what the CRD schema lets past the API
// server must also decode in meshgate (strict, so no field is dropped), and the
// schema's own constraints reject what they are meant to reject.
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "api/decode.h"
#include "api/diagnostic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/crds/structural_schema.h"
#include "yaml-cpp/yaml.h"

namespace meshgate::crds {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

YAML::Node SpecSchema(const std::string& file) {
  const YAML::Node crd = YAML::LoadFile(MESHGATE_SOURCE_DIR "/crds/" + file);
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
}

const char kVirtualServices[] = "networking.meshgate.io_virtualservices.yaml";
const char kDestinationRules[] = "networking.meshgate.io_destinationrules.yaml";
const char kAPIProducts[] = "apim.meshgate.io_apiproducts.yaml";

const char kVirtualService[] = R"yaml(
apiVersion: networking.meshgate.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local, "*.example.com"]
  gateways: [mesh, shop/edge]
  exportTo: ["."]
  http:
    - name: canary
      match:
        - name: jason
          uri: {prefix: /reviews/}
          headers:
            end-user: {exact: jason}
            x-canary: {}
          queryParams:
            v: {regex: "^[0-9]+$"}
          withoutHeaders:
            x-skip: {prefix: "1"}
          method: {exact: GET}
          port: 9080
          sourceLabels: {app: productpage}
          ignoreUriCase: true
      route:
        - destination: {host: reviews, subset: v2, port: {number: 9080}}
          weight: 75
          headers:
            request:
              set: {x-route: canary}
              add: {x-trace: "1"}
              remove: [x-internal]
        - destination: {host: reviews, subset: v1}
          weight: 25
      timeout: 10s
      retries: {attempts: 3, perTryTimeout: 2.5s, retryOn: "5xx,reset,connect-failure", retryRemoteLocalities: true}
      fault:
        delay: {fixedDelay: 5s, percentage: {value: 0.1}}
        abort: {httpStatus: 503, percentage: {value: 1.5}}
      mirror: {host: reviews-shadow}
      mirrorPercentage: {value: 10}
      corsPolicy:
        allowOrigins: [{exact: "https://example.com"}, {regex: "https://.*\\.example\\.com"}]
        allowMethods: [GET, POST]
        allowHeaders: [x-custom]
        exposeHeaders: [x-exposed]
        maxAge: 24h
        allowCredentials: false
        unmatchedPreflights: FORWARD
      rewrite: {uri: /, authority: reviews.internal}
      headers:
        response: {remove: [server]}
    - name: moved
      match: [{uri: {exact: /old}}]
      redirect: {uri: /new, authority: example.com, redirectCode: 308, derivePort: FROM_REQUEST_PORT}
    - name: teapot
      match: [{uri: {exact: /tea}}]
      directResponse: {status: 418, body: {string: "I'm a teapot"}}
    - name: delegated
      match: [{uri: {prefix: /api/}}]
      delegate: {name: api-routes, namespace: api}
    - name: regex-rewrite
      match: [{uri: {regex: "^/v[0-9]+/.*"}}]
      rewrite: {uriRegexRewrite: {match: "^/v[0-9]+/(.*)", rewrite: "/\\1"}}
      route: [{destination: {host: reviews}}]
      mirrors:
        - destination: {host: reviews-shadow}
          percentage: {value: 50}
  tls:
    - match: [{sniHosts: [reviews.example.com], port: 443}]
      route: [{destination: {host: reviews, port: {number: 9443}}}]
  tcp:
    - match: [{port: 27017, destinationSubnets: [10.0.0.0/8], sourceSubnet: 10.1.0.0/16}]
      route: [{destination: {host: mongo, port: {number: 27017}}, weight: 100}]
)yaml";

const char kDestinationRule[] = R"yaml(
apiVersion: networking.meshgate.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews.shop.svc.cluster.local
  exportTo: ["*"]
  workloadSelector: {matchLabels: {app: productpage}}
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, path: /, ttl: 0.5s}
        ringHash: {minimumRingSize: 1024}
      localityLbSetting:
        enabled: true
        distribute:
          - from: us-west/zone1/*
            to: {"us-west/zone1/*": 80, "us-west/zone2/*": 20}
        failoverPriority: [topology.kubernetes.io/region]
      warmupDurationSecs: 60s
    connectionPool:
      tcp:
        maxConnections: 100
        connectTimeout: 30ms
        tcpKeepalive: {probes: 3, time: 7200s, interval: 75s}
        maxConnectionDuration: 1h
        idleTimeout: 1h30m
      http:
        http1MaxPendingRequests: 1024
        http2MaxRequests: 1024
        maxRequestsPerConnection: 10
        maxRetries: 3
        idleTimeout: 90s
        h2UpgradePolicy: UPGRADE
        useClientProtocol: false
        maxConcurrentStreams: 128
    outlierDetection:
      consecutive5xxErrors: 7
      consecutiveGatewayErrors: 5
      consecutiveLocalOriginFailures: 3
      splitExternalLocalOriginErrors: true
      interval: 5m
      baseEjectionTime: 15m
      maxEjectionPercent: 50
      minHealthPercent: 10
    tls: {mode: ISTIO_MUTUAL, sni: reviews.shop, subjectAltNames: ["spiffe://cluster.local/ns/shop/sa/reviews"]}
    portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: LEAST_REQUEST}
        tls: {mode: SIMPLE, insecureSkipVerify: true}
    proxyProtocol: {version: V2}
  subsets:
    - name: v1
      labels: {version: v1}
    - name: v2
      labels: {version: v2}
      trafficPolicy:
        loadBalancer: {simple: ROUND_ROBIN}
        tunnel: {protocol: CONNECT, targetHost: egress.example.com, targetPort: 8443}
)yaml";

const char kAPIProduct[] = R"yaml(
apiVersion: apim.meshgate.io/v1alpha1
kind: APIProduct
metadata: {name: payments, namespace: shop}
spec:
  displayName: Payments
  plans: [{name: free, rateLimit: {requests: 100, per: 1m}}]
)yaml";

struct Example {
  const char* name;
  const char* text;
  const char* crd_file;
};

void PrintTo(const Example& example, std::ostream* os) { *os << example.name; }

class ValidExampleTest : public ::testing::TestWithParam<Example> {};

TEST_P(ValidExampleTest, PassesTheCrdSchemaAndDecodesStrictly) {
  const Example& example = GetParam();
  const YAML::Node object = YAML::Load(example.text);
  const std::vector<std::string> problems =
      ValidateValue(SpecSchema(example.crd_file), object["spec"], "spec");
  EXPECT_THAT(problems, IsEmpty()) << "the CRD rejects it:\n  " << absl::StrJoin(problems, "\n  ");

  api::DecodeOptions options;
  options.source_name = example.name;
  options.strict = true;
  const api::DecodeResult result = api::Decode(example.text, options);
  std::vector<std::string> diagnostics;
  for (const api::Diagnostic& d : result.diagnostics) diagnostics.push_back(d.ToString());
  EXPECT_FALSE(api::HasErrors(result.diagnostics))
      << "meshgate rejects it:\n  " << absl::StrJoin(diagnostics, "\n  ");
  EXPECT_EQ(result.resources.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, ValidExampleTest,
    ::testing::Values(Example{"VirtualService", kVirtualService, kVirtualServices},
                      Example{"DestinationRule", kDestinationRule, kDestinationRules},
                      Example{"APIProduct", kAPIProduct, kAPIProducts}),
    [](const auto& info) { return std::string(info.param.name); });

// Each case replaces one field of a valid spec and expects the CRD schema to
// reject it at that field.
struct Breakage {
  const char* crd_file;
  const char* spec;     // a whole spec, in YAML
  const char* problem;  // expected substring of one problem
};

void PrintTo(const Breakage& breakage, std::ostream* os) { *os << breakage.spec; }

class CrdRejectsTest : public ::testing::TestWithParam<Breakage> {};

TEST_P(CrdRejectsTest, AtTheBrokenField) {
  const Breakage& breakage = GetParam();
  EXPECT_THAT(ValidateValue(SpecSchema(breakage.crd_file), YAML::Load(breakage.spec), "spec"),
              Contains(HasSubstr(breakage.problem)))
      << breakage.spec;
}

INSTANTIATE_TEST_SUITE_P(
    Constraints, CrdRejectsTest,
    ::testing::Values(
        Breakage{kVirtualServices, "http: [{route: [{destination: {host: a, port: {number: 0}}}]}]",
                 "spec.http[0].route[0].destination.port.number: value 0 is less than minimum 1"},
        Breakage{kVirtualServices, "http: [{match: [{uri: {exact: /a, prefix: /a}}]}]",
                 "spec.http[0].match[0].uri: number of fields 2 is greater than maxProperties 1"},
        Breakage{kVirtualServices, "http: [{match: [{uri: {}}]}]",
                 "spec.http[0].match[0].uri: number of fields 0 is less than minProperties 1"},
        Breakage{kVirtualServices, "http: [{timeout: '10'}]",
                 "spec.http[0].timeout: '10' does not match"},
        Breakage{kVirtualServices, "http: [{retries: {perTryTimeout: 1d}}]",
                 "spec.http[0].retries.perTryTimeout: '1d' does not match"},
        Breakage{kVirtualServices, "http: [{route: [{destination: {host: a}, weight: -1}]}]",
                 "spec.http[0].route[0].weight: value -1 is less than minimum 0"},
        Breakage{kVirtualServices, "http: [{mirrorPercentage: {value: 100.5}}]",
                 "spec.http[0].mirrorPercentage.value: value 100.5 is greater than maximum 100"},
        Breakage{kVirtualServices, "http: [{route: [{weight: 1}]}]",
                 "spec.http[0].route[0].destination: required field is missing"},
        Breakage{kVirtualServices, "http: [{retry: {attempts: 1}}]",
                 "spec.http[0].retry: unknown field"},
        Breakage{kVirtualServices, "hosts: reviews", "spec.hosts: must be of type array"},
        Breakage{kVirtualServices, "http: [{redirect: {derivePort: FROM_HEADER}}]",
                 "'FROM_HEADER' is not one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT"},
        Breakage{kVirtualServices, "http: [{directResponse: {status: 200, body: {}}}]",
                 "spec.http[0].directResponse.body: number of fields 0 is less than"},
        Breakage{kVirtualServices, "http: [{match: [{ignoreUriCase: maybe}]}]",
                 "spec.http[0].match[0].ignoreUriCase: must be of type boolean"},
        Breakage{kDestinationRules, "trafficPolicy: {}", "spec.host: required field is missing"},
        Breakage{kDestinationRules, "host: a\ntrafficPolicy: {loadBalancer: {simple: FASTEST}}",
                 "'FASTEST' is not one of UNSPECIFIED, LEAST_CONN"},
        Breakage{kDestinationRules, "host: a\ntrafficPolicy: {tls: {mode: STRICT}}",
                 "spec.trafficPolicy.tls.mode: 'STRICT' is not one of"},
        Breakage{kDestinationRules, "host: a\nsubsets: [{labels: {version: v1}}]",
                 "spec.subsets[0].name: required field is missing"},
        Breakage{kDestinationRules,
                 "host: a\ntrafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}",
                 "maxEjectionPercent: value 101 is greater than maximum 100"},
        Breakage{kDestinationRules, "host: a\nsubsets: [{name: v1, labels: {version: 1.0}}]",
                 "spec.subsets[0].labels.version: must be of type string"}),
    [](const auto& info) { return "Case" + std::to_string(info.index); });

}  // namespace
}  // namespace meshgate::crds
