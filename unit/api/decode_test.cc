// Decode(): document handling, types, limits, and the shape of diagnostics.
#include <string>

#include "api/schema.h"
#include "unit/api/test_util.h"

namespace meshgate::api {
namespace {

using testing::DecodeText;
using testing::Dump;
using ::testing::ElementsAre;
using testing::Findings;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kReviews[] = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts:
  - reviews
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
      weight: 80
    - destination:
        host: reviews
        subset: v3
      weight: 20
    timeout: 1.5s
    retries:
      attempts: 3
      perTryTimeout: 100ms
      retryOn: 5xx,reset
)";

TEST(DecodeTest, VirtualServiceFields) {
  const DecodeResult result = DecodeText(kReviews);
  ASSERT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  ASSERT_EQ(result.resources.size(), 1u);
  const Resource& r = *result.resources[0];
  EXPECT_EQ(r.kind, Kind::kVirtualService);
  EXPECT_EQ(r.api_version, "networking.istio.io/v1");
  EXPECT_EQ(r.Key().ToString(), "VirtualService/shop/reviews");
  EXPECT_EQ(r.source.file, "test.yaml");
  EXPECT_EQ(r.source.line, 1);
  const auto& vs = r.As<VirtualService>();
  ASSERT_EQ(vs.http.size(), 1u);
  const HTTPRoute& route = vs.http[0];
  ASSERT_EQ(route.match.size(), 1u);
  EXPECT_EQ(route.match[0].headers.at("end-user").type, StringMatch::Type::kExact);
  EXPECT_EQ(route.match[0].headers.at("end-user").value, "jason");
  ASSERT_EQ(route.route.size(), 2u);
  EXPECT_EQ(route.route[1].destination.subset, "v3");
  EXPECT_EQ(route.route[1].weight, 20);
  EXPECT_EQ(route.timeout, absl::Milliseconds(1500));
  ASSERT_TRUE(route.retries.has_value());
  EXPECT_EQ(route.retries->attempts, 3);
  EXPECT_EQ(route.retries->per_try_timeout, absl::Milliseconds(100));
  EXPECT_EQ(route.retries->retry_on, "5xx,reset");
}

TEST(DecodeTest, SnakeCaseAndGoDurationsAccepted) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: r}
spec:
  host: r.default.svc.cluster.local
  traffic_policy:
    connection_pool:
      http:
        http1_max_pending_requests: 7
      tcp:
        connect_timeout: 1m30s
    outlier_detection:
      consecutive_5xx_errors: 5
      base_ejection_time: 2h
    load_balancer:
      warmup_duration_secs: 10s
)");
  ASSERT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  ASSERT_EQ(result.resources.size(), 1u);
  const auto& dr = result.resources[0]->As<DestinationRule>();
  EXPECT_EQ(result.resources[0]->metadata.namespace_, "default");
  EXPECT_EQ(dr.traffic_policy->connection_pool->http->http1_max_pending_requests, 7);
  EXPECT_EQ(dr.traffic_policy->connection_pool->tcp->connect_timeout, absl::Seconds(90));
  EXPECT_EQ(dr.traffic_policy->outlier_detection->consecutive_5xx_errors, 5u);
  EXPECT_EQ(dr.traffic_policy->outlier_detection->base_ejection_time, absl::Hours(2));
  EXPECT_EQ(dr.traffic_policy->load_balancer->warmup_duration_secs, absl::Seconds(10));
}

TEST(DecodeTest, JsonInput) {
  const DecodeResult result = DecodeText(R"({
  "apiVersion": "networking.istio.io/v1",
  "kind": "Gateway",
  "metadata": {"name": "gw", "namespace": "edge"},
  "spec": {
    "selector": {"istio": "ingressgateway"},
    "servers": [{"port": {"number": 80, "name": "http", "protocol": "http"}, "hosts": ["*"]}]
  }
})");
  ASSERT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  ASSERT_EQ(result.resources.size(), 1u);
  const auto& gw = result.resources[0]->As<Gateway>();
  ASSERT_EQ(gw.servers.size(), 1u);
  EXPECT_EQ(gw.servers[0].port.number, 80u);
  EXPECT_EQ(gw.servers[0].port.protocol, "HTTP");
  EXPECT_EQ(gw.selector.at("istio"), "ingressgateway");
}

TEST(DecodeTest, MeshgateApiVersionAndServiceEntry) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.meshgate.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
)");
  ASSERT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  ASSERT_EQ(result.resources.size(), 1u);
  const auto& se = result.resources[0]->As<ServiceEntry>();
  EXPECT_EQ(se.resolution, ServiceEntry::Resolution::kDNS);
  EXPECT_EQ(se.ports[0].number, 443u);
}

TEST(DecodeTest, MalformedYamlReportsParserLine) {
  const DecodeResult result =
      DecodeText("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n");
  EXPECT_TRUE(result.resources.empty());
  ASSERT_EQ(result.diagnostics.size(), 1u) << Dump(result);
  EXPECT_EQ(result.diagnostics[0].severity, Diagnostic::Severity::kError);
  EXPECT_GE(result.diagnostics[0].location.line, 4);
  EXPECT_THAT(result.diagnostics[0].message, HasSubstr("malformed YAML"));
}

TEST(DecodeTest, MalformedDocumentDoesNotLoseOthers) {
  const DecodeResult result = DecodeText(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: "b
  oops: [
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
)");
  ASSERT_EQ(result.resources.size(), 2u) << Dump(result);
  EXPECT_EQ(result.resources[0]->metadata.name, "a");
  EXPECT_EQ(result.resources[1]->metadata.name, "c");
  EXPECT_EQ(result.resources[1]->source.line, 10);
  ASSERT_EQ(Findings(result).size(), 1u) << Dump(result);
}

TEST(DecodeTest, MultiDocumentWithOneInvalidObject) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: good}
spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      weight: many
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
)");
  ASSERT_EQ(result.resources.size(), 2u) << Dump(result);
  EXPECT_EQ(result.resources[0]->metadata.name, "good");
  EXPECT_EQ(result.resources[1]->kind, Kind::kNamespace);
  EXPECT_EQ(result.resources[1]->metadata.namespace_, "");
  EXPECT_THAT(Findings(result),
              ElementsAre("14|spec.http[0].route[0].weight|expected an integer, got a string "
                          "\"many\""));
  EXPECT_EQ(result.diagnostics[0].object, "VirtualService/default/bad");
}

TEST(DecodeTest, WrongTypes) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts:
    a: b
  gateways: mesh
  http:
  - match:
    - uri: /exact
)");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(Findings(result),
              ElementsAre("6|spec.hosts|expected a list, got a map",
                          "7|spec.gateways|expected a list, got a string \"mesh\"",
                          "10|spec.http[0].match[0].uri|expected a map, got a "
                          "string \"/exact\""));
}

TEST(DecodeTest, OutOfRangeNumbers) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: d
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 4294967296
      consecutiveGatewayErrors: -1
    connectionPool:
      tcp:
        maxConnections: 2147483648
)");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(
      Findings(result),
      ElementsAre("8|spec.trafficPolicy.outlierDetection.consecutive5xxErrors|value 4294967296 is "
                  "out of range for uint32",
                  "9|spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors|value -1 is out "
                  "of range for uint32",
                  "12|spec.trafficPolicy.connectionPool.tcp.maxConnections|value 2147483648 is out "
                  "of range for int32"));
}

TEST(DecodeTest, BadDurationsAndEnums) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: d
  trafficPolicy:
    connectionPool:
      tcp:
        connectTimeout: 10
        idleTimeout: forever
    loadBalancer:
      simple: round_robin
)");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(
      Findings(result),
      ElementsAre(HasSubstr("9|spec.trafficPolicy.connectionPool.tcp.connectTimeout|invalid "
                            "duration \"10\""),
                  HasSubstr("10|spec.trafficPolicy.connectionPool.tcp.idleTimeout|invalid "
                            "duration \"forever\""),
                  HasSubstr("12|spec.trafficPolicy.loadBalancer.simple|unknown value "
                            "\"round_robin\" (expected one of UNSPECIFIED")));
}

TEST(DecodeTest, MissingRequiredMetadata) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  namespace: x
spec: {host: d}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
spec: {host: d}
---
kind: DestinationRule
metadata: {name: a}
)");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(Findings(result), ElementsAre("4|metadata.name|missing required field \"name\"",
                                            "7|metadata|missing required field \"metadata\"",
                                            "11|apiVersion|missing required field \"apiVersion\""));
}

constexpr char kUnknownField[] = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: d
  trafficPolicy:
    loadBalancer:
      simpel: ROUND_ROBIN
)";

TEST(DecodeTest, UnknownFieldIsWarningWhenLenient) {
  const DecodeResult result = DecodeText(kUnknownField, /*strict=*/false);
  ASSERT_EQ(result.resources.size(), 1u) << Dump(result);
  EXPECT_THAT(Findings(result, Diagnostic::Severity::kWarning),
              ElementsAre("8|spec.trafficPolicy.loadBalancer.simpel|unknown field \"simpel\""));
}

TEST(DecodeTest, UnknownFieldIsErrorWhenStrict) {
  const DecodeResult result = DecodeText(kUnknownField, /*strict=*/true);
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(Findings(result),
              ElementsAre("8|spec.trafficPolicy.loadBalancer.simpel|unknown field \"simpel\""));
}

TEST(DecodeTest, UnsupportedKindIsANotice) {
  const DecodeResult result = DecodeText(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
---
apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: {name: x}
)");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_FALSE(HasErrors(result.diagnostics));
  EXPECT_THAT(Findings(result, Diagnostic::Severity::kNotice),
              ElementsAre("1||unsupported kind Deployment (apiVersion apps/v1), skipped",
                          "5||unsupported kind VirtualService (apiVersion networking.istio.io/v2), "
                          "skipped"));
}

TEST(DecodeTest, ListKindsExpand) {
  const DecodeResult result = DecodeText(R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
  data: {k: v}
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: b}
  spec: {host: b, subsets: [{name: "Bad_Name", labels: {v: "1"}}]}
---
{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRuleList", "items": [
  {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
   "metadata": {"name": "c"}, "spec": {"host": "c"}}]}
)");
  ASSERT_EQ(result.resources.size(), 2u) << Dump(result);
  EXPECT_EQ(result.resources[0]->As<ConfigMap>().data.at("k"), "v");
  EXPECT_EQ(result.resources[1]->metadata.name, "c");
  ASSERT_EQ(Findings(result).size(), 1u) << Dump(result);
  EXPECT_THAT(Findings(result)[0], HasSubstr("11|spec.subsets[0].name|"));
}

TEST(DecodeTest, KubernetesKinds) {
  const DecodeResult result = DecodeText(R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: ClusterIP
  clusterIP: 10.0.0.5
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, appProtocol: http}
  - {name: grpc, port: 9090, targetPort: grpc-port}
status: {loadBalancer: {}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.1.0.7]
  conditions: {ready: true}
  targetRef: {kind: Pod, namespace: shop, name: web-1}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop}
spec:
  serviceAccountName: web
  containers:
  - name: app
    image: web:1
    ports: [{containerPort: 8080, name: http}]
status: {phase: Running, podIP: 10.1.0.7, podIPs: [{ip: 10.1.0.7}]}
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: aGVsbG8=}
)");
  ASSERT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  ASSERT_EQ(result.resources.size(), 4u);
  const auto& svc = result.resources[0]->As<Service>();
  ASSERT_EQ(svc.ports.size(), 2u);
  EXPECT_EQ(svc.ports[0].target_port_number, 8080u);
  EXPECT_EQ(svc.ports[1].target_port_name, "grpc-port");
  const auto& slice = result.resources[1]->As<EndpointSlice>();
  EXPECT_EQ(slice.service_name, "web");
  EXPECT_EQ(slice.endpoints[0].addresses[0], "10.1.0.7");
  EXPECT_EQ(slice.endpoints[0].conditions.ready, true);
  EXPECT_EQ(slice.ports[0].port, 8080u);
  const auto& pod = result.resources[2]->As<Pod>();
  EXPECT_EQ(pod.service_account_name, "web");
  EXPECT_EQ(pod.container_ports[0].container_port, 8080u);
  EXPECT_EQ(pod.pod_ips[0], "10.1.0.7");
  EXPECT_EQ(result.resources[3]->As<Secret>().data.at("tls.crt"), "hello");
}

TEST(DecodeTest, APIProductSpecIsCanonicalJson) {
  const DecodeResult result = DecodeText(R"(apiVersion: apim.meshgate.io/v1alpha1
kind: APIProduct
metadata: {name: pets}
spec:
  version: "2"
  plans: [{name: gold, rps: 100, burst: 1.5, enabled: true}]
  basePath: /pets
)");
  ASSERT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  ASSERT_EQ(result.resources.size(), 1u);
  EXPECT_EQ(
      result.resources[0]->As<APIProduct>().spec_json,
      R"({"basePath":"/pets","plans":[{"burst":1.5,"enabled":true,"name":"gold","rps":100}],"version":"2"})");
}

TEST(DecodeTest, InputAboveMaxBytesIsRejectedWhole) {
  std::string text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n";
  while (text.size() < 10 * 1024 * 1024) {
    text += "  k" + std::to_string(text.size()) + ": " + std::string(100, 'x') + "\n";
  }
  DecodeOptions options;
  options.max_bytes = 10 * 1024 * 1024;
  const DecodeResult result = Decode(text, options);
  EXPECT_TRUE(result.resources.empty());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_THAT(result.diagnostics[0].message, HasSubstr("above the limit of 10485760"));
}

TEST(DecodeTest, TenMegabyteInputWithinLimitDecodes) {
  std::string text;
  int objects = 0;
  while (text.size() < 10 * 1024 * 1024) {
    text += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c" + std::to_string(objects++) +
            "}\ndata: {k: " + std::string(4000, 'y') + "}\n";
  }
  const DecodeResult result = DecodeText(text);
  EXPECT_THAT(result.diagnostics, IsEmpty());
  EXPECT_EQ(result.resources.size(), static_cast<size_t>(objects));
}

TEST(DecodeTest, DeepFlowNestingFailsCleanly) {
  for (const std::string& open : {std::string("["), std::string("{a: ")}) {
    std::string text;
    for (int i = 0; i < 10000; ++i) text += open;
    const DecodeResult result = DecodeText("x: " + text);
    EXPECT_TRUE(result.resources.empty());
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_EQ(result.diagnostics[0].location.line, 1);
    EXPECT_THAT(result.diagnostics[0].message, HasSubstr("nesting deeper than 128"));
  }
}

TEST(DecodeTest, DeepBlockNestingFailsCleanly) {
  std::string dashes;
  for (int i = 0; i < 10000; ++i) dashes += "- ";
  std::string indented;
  for (int i = 0; i < 300; ++i) indented += std::string(i, ' ') + "a:\n";
  for (const std::string& text : {dashes + "x\n", indented}) {
    const DecodeResult result = DecodeText(text);
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_THAT(result.diagnostics[0].message, HasSubstr("nesting deeper than 128"));
  }
}

// With the pre-scan's limit raised past it, yaml-cpp's own depth guard still
// stops the parser: a clean error, not a stack overflow.
TEST(DecodeTest, ParserDepthGuardBacksUpThePreScan) {
  DecodeOptions options;
  options.max_depth = 1000000;
  const DecodeResult result = Decode("x: " + std::string(10000, '['), options);
  EXPECT_TRUE(result.resources.empty());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_THAT(result.diagnostics[0].message, HasSubstr("malformed YAML"));
}

TEST(DecodeTest, SelfReferencingAliasIsBounded) {
  const DecodeResult result = DecodeText(
      "apiVersion: apim.meshgate.io/v1alpha1\nkind: APIProduct\nmetadata: {name: p}\n"
      "spec: &s {a: *s}\n");
  EXPECT_TRUE(result.resources.empty());
  EXPECT_TRUE(HasErrors(result.diagnostics)) << Dump(result);
}

// yaml-cpp 0.7 never returns on these; the pre-scan rejects them first.
TEST(DecodeTest, StrayCommaIsRejectedBeforeParsing) {
  for (const char* text : {",apiVersion: v1\n", "{a: 1},\n", "a: 1\n\"x\",\n"}) {
    const DecodeResult result = DecodeText(text);
    ASSERT_EQ(result.diagnostics.size(), 1u) << text;
    EXPECT_THAT(result.diagnostics[0].message, HasSubstr("unexpected ','")) << text;
  }
  // Commas inside plain scalars, quotes and flow collections are content.
  const DecodeResult ok = DecodeText(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: b}}\n"
      "data:\n  k: \"x,y\"\n  j: a,b\n");
  EXPECT_THAT(ok.diagnostics, IsEmpty()) << Dump(ok);
}

TEST(DecodeTest, BracketsInsideStringsAndCommentsDoNotCount) {
  std::string brackets(500, '[');
  const DecodeResult result =
      DecodeText("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"" + brackets + "\"}  # " +
                 brackets + "\ndata:\n  a: '" + brackets + "'\n  b: |\n    " + brackets + "\n");
  EXPECT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  EXPECT_EQ(result.resources.size(), 1u);
}

TEST(DecodeTest, CompactJsonStringsDoNotCount) {
  const std::string closes(300, ']');
  const std::string opens(300, '[');
  const DecodeResult result =
      DecodeText(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":")" +
                 closes + opens + R"("}})");
  EXPECT_THAT(result.diagnostics, IsEmpty()) << Dump(result);
  // Closing brackets inside a string must not hide real nesting after it.
  const DecodeResult deep = DecodeText(R"({"a":")" + closes + R"(","b":)" + opens);
  ASSERT_EQ(deep.diagnostics.size(), 1u);
  EXPECT_THAT(deep.diagnostics[0].message, HasSubstr("nesting deeper than 128"));
}

TEST(DecodeTest, AliasBombIsBounded) {
  std::string text =
      "apiVersion: apim.meshgate.io/v1alpha1\nkind: APIProduct\nmetadata: {name: b}\n"
      "spec:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    text += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  const DecodeResult result = DecodeText(text);
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(Dump(result), HasSubstr("too many nodes"));
}

TEST(DecodeTest, AliasesInTypedFieldsAreBounded) {
  // 1000 routes, each an alias of one route holding 1000 aliased destinations:
  // a million destinations from 12 KB of text.
  std::string text =
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: b}\n"
      "spec:\n  hosts: [a]\n  http:\n  - &r\n    route: [&d {destination: {host: a}}";
  for (int i = 0; i < 1000; ++i) text += ", *d";
  text += "]\n";
  for (int i = 0; i < 1000; ++i) text += "  - *r\n";
  const DecodeResult result = DecodeText(text);
  EXPECT_TRUE(result.resources.empty());
  EXPECT_THAT(Dump(result), HasSubstr("too many nodes"));
}

TEST(DecodeTest, ErrorsHaveObjectAndFile) {
  const DecodeResult result = DecodeText(R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: edge}
spec:
  servers:
  - port: {number: http, protocol: HTTP, name: http}
    hosts: ["*"]
)");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].ToString(),
            "test.yaml:6: Gateway/edge/g: spec.servers[0].port.number: expected an integer, got a "
            "string \"http\"");
}

TEST(SchemaTest, MatchesDecoderFields) {
  const FieldSchema& vs = SpecSchema(Kind::kVirtualService);
  ASSERT_EQ(vs.type, FieldSchema::Type::kObject);
  const FieldSchema& http = *vs.properties.at("http");
  ASSERT_EQ(http.type, FieldSchema::Type::kArray);
  const FieldSchema& route = *http.items;
  EXPECT_EQ(route.properties.at("timeout")->type, FieldSchema::Type::kDuration);
  EXPECT_EQ(route.properties.at("retries")->properties.at("perTryTimeout")->type,
            FieldSchema::Type::kDuration);
  EXPECT_EQ(route.properties.at("match")->items->properties.at("headers")->type,
            FieldSchema::Type::kMap);
  const FieldSchema& dr = SpecSchema(Kind::kDestinationRule);
  const FieldSchema& lb = *dr.properties.at("trafficPolicy")->properties.at("loadBalancer");
  EXPECT_THAT(lb.properties.at("simple")->enum_values, ::testing::Contains("LEAST_REQUEST"));
  EXPECT_EQ(lb.properties.at("warmupDurationSecs")->type, FieldSchema::Type::kDuration);
  EXPECT_EQ(SpecSchema(Kind::kAPIProduct).type, FieldSchema::Type::kAny);
  EXPECT_EQ(SpecSchema(Kind::kGateway).properties.at("servers")->items->properties.count("tls"),
            1u);
  EXPECT_EQ(SpecSchema(Kind::kServiceEntry).properties.count("resolution"), 1u);
}

// Every property the schema lists is accepted by the decoder (no unknown-field
// warning), walked generically over the whole VirtualService schema.
void FillFromSchema(const FieldSchema& schema, int depth, std::string& out) {
  const std::string indent(depth * 2, ' ');
  for (const auto& [name, field] : schema.properties) {
    out += indent + name + ":";
    switch (field->type) {
      case FieldSchema::Type::kObject:
        out += "\n";
        FillFromSchema(*field, depth + 1, out);
        if (field->properties.empty()) out += indent + "  {}\n";
        break;
      default:
        out += " null\n";
        break;
    }
  }
}

TEST(SchemaTest, EveryPropertyIsDecoded) {
  for (Kind kind :
       {Kind::kVirtualService, Kind::kDestinationRule, Kind::kGateway, Kind::kServiceEntry}) {
    std::string text = "apiVersion: networking.istio.io/v1\nkind: " + std::string(KindName(kind)) +
                       "\nmetadata: {name: s}\nspec:\n";
    FillFromSchema(SpecSchema(kind), 1, text);
    const DecodeResult result = DecodeText(text, /*strict=*/true);
    EXPECT_THAT(Findings(result, Diagnostic::Severity::kWarning), IsEmpty());
    for (const std::string& error : Findings(result)) {
      EXPECT_THAT(error, ::testing::Not(HasSubstr("unknown field"))) << error;
    }
  }
}

}  // namespace
}  // namespace meshgate::api
