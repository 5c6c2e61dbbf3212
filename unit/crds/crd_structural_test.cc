// The CRD manifests in crds/ against the rules the Kubernetes API server
// enforces, and the structural-schema checker itself against schemas that
// break each rule.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "unit/crds/structural_schema.h"
#include "yaml-cpp/yaml.h"

namespace meshgate::crds {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kCrdDir = MESHGATE_SOURCE_DIR "/crds";

std::vector<std::string> CrdFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(kCrdDir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

YAML::Node LoadCrd(const std::string& file) {
  const std::vector<YAML::Node> documents = YAML::LoadAllFromFile(kCrdDir + "/" + file);
  EXPECT_EQ(documents.size(), 1u) << file << " must hold exactly one document";
  return documents.empty() ? YAML::Node() : documents[0];
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> values;
  for (const auto& value : list) values.push_back(value.Scalar());
  return values;
}

TEST(CrdFilesTest, TheThreeKindsAreThere) {
  EXPECT_THAT(CrdFiles(), ElementsAre("apim.meshgate.io_apiproducts.yaml",
                                      "networking.meshgate.io_destinationrules.yaml",
                                      "networking.meshgate.io_virtualservices.yaml"));
}

TEST(CrdFilesTest, EveryFileIsAValidStructuralCrd) {
  for (const std::string& file : CrdFiles()) {
    const std::vector<std::string> problems = CheckCustomResourceDefinition(LoadCrd(file));
    EXPECT_THAT(problems, IsEmpty()) << file << ":\n  " << absl::StrJoin(problems, "\n  ");
  }
}

struct ExpectedCrd {
  std::string file;
  std::string group;
  std::string version;
  std::string kind;
  std::string plural;
  std::vector<std::string> short_names;
  std::vector<std::string> columns;  // "Name=jsonPath"
};

class CrdNamesTest : public ::testing::TestWithParam<ExpectedCrd> {};

TEST_P(CrdNamesTest, NamesVersionsColumnsAndStatus) {
  const ExpectedCrd& expected = GetParam();
  const YAML::Node crd = LoadCrd(expected.file);
  const YAML::Node spec = crd["spec"];
  EXPECT_EQ(crd["metadata"]["name"].Scalar(), expected.plural + "." + expected.group);
  EXPECT_EQ(spec["group"].Scalar(), expected.group);
  EXPECT_EQ(spec["scope"].Scalar(), "Namespaced");
  EXPECT_EQ(spec["names"]["kind"].Scalar(), expected.kind);
  EXPECT_EQ(spec["names"]["plural"].Scalar(), expected.plural);
  EXPECT_THAT(Strings(spec["names"]["shortNames"]), expected.short_names);
  EXPECT_THAT(Strings(spec["names"]["categories"]), ElementsAre("meshgate"));

  ASSERT_EQ(spec["versions"].size(), 1u);
  const YAML::Node version = spec["versions"][0];
  EXPECT_EQ(version["name"].Scalar(), expected.version);
  EXPECT_EQ(version["served"].as<bool>(), true);
  EXPECT_EQ(version["storage"].as<bool>(), true);
  ASSERT_TRUE(version["subresources"]["status"].IsMap());
  EXPECT_EQ(version["subresources"]["status"].size(), 0u);

  std::vector<std::string> columns;
  for (const auto& column : version["additionalPrinterColumns"]) {
    columns.push_back(column["name"].Scalar() + "=" + column["jsonPath"].Scalar());
  }
  EXPECT_EQ(columns, expected.columns);

  const YAML::Node status = version["schema"]["openAPIV3Schema"]["properties"]["status"];
  EXPECT_EQ(status["properties"]["observedGeneration"]["type"].Scalar(), "integer");
  const YAML::Node conditions = status["properties"]["conditions"];
  EXPECT_EQ(conditions["x-kubernetes-list-type"].Scalar(), "map");
  EXPECT_THAT(Strings(conditions["x-kubernetes-list-map-keys"]), ElementsAre("type"));
  std::vector<std::string> condition_fields;
  for (const auto& field : conditions["items"]["properties"]) {
    condition_fields.push_back(field.first.Scalar());
  }
  EXPECT_THAT(condition_fields, UnorderedElementsAre("type", "status", "reason", "message",
                                                     "lastTransitionTime", "observedGeneration"));
  EXPECT_THAT(Strings(conditions["items"]["properties"]["status"]["enum"]),
              ElementsAre("True", "False", "Unknown"));
}

const char kProgrammed[] = R"(Programmed=.status.conditions[?(@.type=="Programmed")].status)";

INSTANTIATE_TEST_SUITE_P(
    Kinds, CrdNamesTest,
    ::testing::Values(ExpectedCrd{"networking.meshgate.io_virtualservices.yaml",
                                  "networking.meshgate.io",
                                  "v1",
                                  "VirtualService",
                                  "virtualservices",
                                  {"vs"},
                                  {"Hosts=.spec.hosts", "Gateways=.spec.gateways", kProgrammed,
                                   "Age=.metadata.creationTimestamp"}},
                      ExpectedCrd{
                          "networking.meshgate.io_destinationrules.yaml",
                          "networking.meshgate.io",
                          "v1",
                          "DestinationRule",
                          "destinationrules",
                          {"dr"},
                          {"Host=.spec.host", kProgrammed, "Age=.metadata.creationTimestamp"}},
                      ExpectedCrd{"apim.meshgate.io_apiproducts.yaml",
                                  "apim.meshgate.io",
                                  "v1alpha1",
                                  "APIProduct",
                                  "apiproducts",
                                  {"ap"},
                                  {kProgrammed, "Age=.metadata.creationTimestamp"}}),
    [](const auto& info) { return info.param.kind; });

// Every string node carrying the duration pattern, with its path.
void CollectDurationPatterns(const YAML::Node& node, const std::string& path,
                             std::vector<std::string>& found) {
  if (!node.IsMap()) return;
  if (node["pattern"] && node["pattern"].Scalar() == kDurationPattern) found.push_back(path);
  if (node["properties"]) {
    for (const auto& entry : node["properties"]) {
      CollectDurationPatterns(entry.second, path + "." + entry.first.Scalar(), found);
    }
  }
  if (node["items"]) CollectDurationPatterns(node["items"], path + "[]", found);
  if (node["additionalProperties"]) {
    CollectDurationPatterns(node["additionalProperties"], path + "{}", found);
  }
}

TEST(CrdFilesTest, DurationPatternAcceptsGoAndProtobufDurationsOnly) {
  const RE2 duration(kDurationPattern);
  ASSERT_TRUE(duration.ok()) << duration.error();
  for (const char* good :
       {"10s", "1.5s", "0.001s", "250ms", "1h30m", "1m0.5s", "100us", "1µs", "5ns", "2h"}) {
    EXPECT_TRUE(RE2::FullMatch(good, duration)) << good;
  }
  for (const char* bad : {"", "10", "s", "-1s", "1d", "1.s", ".5s", "1 s", "10S", "1h-30m"}) {
    EXPECT_FALSE(RE2::FullMatch(bad, duration)) << bad;
  }
  // The pattern is actually used, on the fields the model reads as durations.
  std::vector<std::string> found;
  CollectDurationPatterns(
      LoadCrd(
          "networking.meshgate.io_virtualservices.yaml")["spec"]["versions"][0]["schema"]
                                                        ["openAPIV3Schema"]["properties"]["spec"],
      "spec", found);
  EXPECT_THAT(found, ::testing::Contains("spec.http[].timeout"));
  EXPECT_THAT(found, ::testing::Contains("spec.http[].retries.perTryTimeout"));
}

// ---------------------------------------------------------------------------
// The checker itself: each rule is seen to fire.

std::vector<std::string> CheckSchema(const std::string& yaml, bool is_root = false) {
  return CheckStructuralSchema(YAML::Load(yaml), "s", is_root);
}

TEST(StructuralSchemaCheckerTest, AcceptsAWellFormedSchema) {
  EXPECT_THAT(CheckSchema(R"(
type: object
properties:
  metadata:
    type: object
    properties:
      name: {type: string, maxLength: 63}
  spec:
    type: object
    required: [port]
    properties:
      port: {type: integer, minimum: 1, maximum: 65535, default: 80}
      mode: {type: string, enum: [A, B], default: A}
      labels: {type: object, additionalProperties: {type: string}}
      anything: {type: object, x-kubernetes-preserve-unknown-fields: true}
      target: {x-kubernetes-int-or-string: true}
      tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
      when: {type: string, pattern: '^[0-9]+s$'}
    x-kubernetes-validations:
      - rule: self.port != 1
        message: no
)",
                          /*is_root=*/true),
              IsEmpty());
}

TEST(StructuralSchemaCheckerTest, EachRuleFires) {
  struct Case {
    const char* schema;
    const char* problem;
  };
  const Case cases[] = {
      {"properties: {a: {type: string}}", "s: type must be set"},
      {"type: object\nproperties: {a: {description: x}}", "s.properties.a: type must be set"},
      {"type: object\nproperties: {a: {type: string}}\nadditionalProperties: {type: string}",
       "mutually exclusive"},
      {"type: object\nadditionalProperties: true", "additionalProperties must be a schema"},
      {"type: string\nproperties: {a: {type: string}}", "require type object"},
      {"type: array", "type array requires items"},
      {"type: array\nitems: [{type: string}]", "items must be a single schema"},
      {"type: strin", "unknown type 'strin'"},
      {"type: object\nadditionalproperties: {type: string}",
       "'additionalproperties' is not allowed"},
      {"type: object\n$ref: '#/x'", "'$ref' is not allowed"},
      {"type: array\nuniqueItems: true\nitems: {type: string}", "uniqueItems must not be true"},
      {"type: integer\npattern: '^1$'", "pattern does not apply to type integer"},
      {"type: string\npattern: '(['", "pattern does not compile"},
      {"type: integer\nminimum: 5\nmaximum: 1", "minimum is greater than maximum"},
      {"type: string\nformat: colour", "unknown format 'colour'"},
      {"type: object\nrequired: [b]\nproperties: {a: {type: string}}",
       "required field 'b' is not in properties"},
      {"type: string\nenum: [A, A]", "duplicate value 'A'"},
      {"type: string\nenum: [True, False]", "is read as a non-string"},
      {"type: integer\nenum: [1, two]", "is not an integer"},
      {"type: string\ndefault: null", "default is null but the node is not nullable"},
      {"type: integer\ndefault: ten", "default is not an integer"},
      {"type: string\nenum: [A]\ndefault: B", "default 'B' is not in enum"},
      {"type: boolean\nnullable: maybe", "nullable must be a boolean"},
      {"type: string\nx-kubernetes-int-or-string: true", "requires that type is not set"},
      {"type: string\nx-kubernetes-list-type: set", "x-kubernetes-list-type requires type array"},
      {"type: array\nx-kubernetes-list-type: bag\nitems: {type: string}",
       "is not atomic, set or map"},
      {"type: array\nx-kubernetes-list-type: set\nitems: {type: object}", "requires scalar"},
      {"type: array\nx-kubernetes-list-type: map\nitems: {type: object}",
       "requires x-kubernetes-list-map-keys"},
      {"type: array\nx-kubernetes-list-type: map\nx-kubernetes-list-map-keys: [k]\n"
       "items: {type: object, properties: {k: {type: string}}}",
       "must be required or have a default"},
      {"type: array\nx-kubernetes-list-type: map\nx-kubernetes-list-map-keys: [k]\n"
       "items: {type: object, properties: {j: {type: string}}}",
       "list map key 'k' is not a property"},
      {"type: array\nx-kubernetes-list-map-keys: [k]\nitems: {type: string}",
       "requires x-kubernetes-list-type map"},
      {"type: array\nx-kubernetes-map-type: atomic\nitems: {type: string}",
       "x-kubernetes-map-type requires type object"},
      {"type: object\nx-kubernetes-validations: [{message: m}]", "rule must be a non-empty string"},
      {"type: object\nx-kubernetes-validations: [{rule: 'true', reason: Bad}]",
       "unknown reason 'Bad'"},
      {"type: object\nproperties: {a: {type: string}}\noneOf: [{type: object, required: [a]}]",
       "'type' is not allowed inside a logical junctor"},
      {"type: object\nproperties: {a: {type: string}}\nanyOf: [{properties: {b: {minLength: 1}}}]",
       "property 'b' is constrained here but not declared"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(CheckSchema(c.schema), ::testing::Contains(HasSubstr(c.problem))) << c.schema;
  }
}

TEST(StructuralSchemaCheckerTest, CelRulesNeedBoundedCardinality) {
  const char* rule = "x-kubernetes-validations: [{rule: 'has(self.a)'}]";
  EXPECT_THAT(CheckSchema(absl::StrCat("type: array\nitems: {type: object, ", rule, "}")),
              Contains(HasSubstr("CEL rules under s, which has no maxItems")));
  EXPECT_THAT(
      CheckSchema(absl::StrCat("type: object\nadditionalProperties: {type: object, ", rule, "}")),
      Contains(HasSubstr("CEL rules under s, which has no maxItems/maxProperties")));
  EXPECT_THAT(
      CheckSchema(absl::StrCat("type: array\nmaxItems: 1000\nitems: {type: object, ", rule, "}")),
      IsEmpty());
  EXPECT_THAT(CheckSchema(absl::StrCat("type: array\nmaxItems: 1000\nitems:\n  type: array\n"
                                       "  maxItems: 1000\n  items: {type: object, ",
                                       rule, "}")),
              Contains(HasSubstr("CEL rules may run 1e+06 times per object")));
}

TEST(StructuralSchemaCheckerTest, RootRules) {
  EXPECT_THAT(CheckSchema("type: string", /*is_root=*/true),
              ::testing::Contains(HasSubstr("the root schema must have type object")));
  EXPECT_THAT(CheckSchema("type: object\nproperties: {kind: {type: integer}}", true),
              ::testing::Contains(HasSubstr("s.properties.kind: must have type string")));
  EXPECT_THAT(
      CheckSchema("type: object\nproperties: {metadata: {type: object, properties: {labels: "
                  "{type: object, additionalProperties: {type: string}}}}}",
                  true),
      ::testing::Contains(HasSubstr("metadata may only restrict name and generateName, not "
                                    "'labels'")));
  EXPECT_THAT(
      CheckSchema("type: object\nproperties: {metadata: {type: object, required: [name]}}", true),
      ::testing::Contains(HasSubstr("not set 'required'")));
}

// A minimal CRD the document-level checks accept; each test breaks one thing.
YAML::Node MinimalCrd() {
  return YAML::Load(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget, shortNames: [wd]}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
            status:
              type: object
              properties:
                conditions:
                  type: array
                  items: {type: object, properties: {type: {type: string}, status: {type: string}}}
)");
}

TEST(CrdDocumentCheckerTest, AcceptsAMinimalCrd) {
  EXPECT_THAT(CheckCustomResourceDefinition(MinimalCrd()), IsEmpty());
}

TEST(CrdDocumentCheckerTest, EachRuleFires) {
  auto problems_after = [](auto&& mutate) {
    YAML::Node crd = MinimalCrd();
    mutate(crd);
    return CheckCustomResourceDefinition(crd);
  };
  EXPECT_THAT(problems_after([](YAML::Node& c) { c["metadata"]["name"] = "widget.example.io"; }),
              ::testing::Contains(HasSubstr("must be widgets.example.io")));
  EXPECT_THAT(problems_after([](YAML::Node& c) { c["spec"]["names"]["listKind"] = "Widgets"; }),
              ::testing::Contains(HasSubstr("must be WidgetList")));
  EXPECT_THAT(problems_after([](YAML::Node& c) { c["spec"]["names"]["shortNames"][0] = "W_D"; }),
              ::testing::Contains(HasSubstr("'W_D' is not a lower-case DNS label")));
  EXPECT_THAT(problems_after([](YAML::Node& c) { c["spec"]["group"] = "example"; }),
              ::testing::Contains(HasSubstr("is not a DNS subdomain with a dot")));
  EXPECT_THAT(problems_after([](YAML::Node& c) { c["spec"]["scope"] = "Global"; }),
              ::testing::Contains(HasSubstr("must be Namespaced or Cluster")));
  EXPECT_THAT(problems_after([](YAML::Node& c) {
                YAML::Node second = YAML::Clone(c["spec"]["versions"][0]);
                second["name"] = "v2";
                c["spec"]["versions"].push_back(second);
              }),
              ::testing::Contains(HasSubstr("exactly one version must be storage, found 2")));
  EXPECT_THAT(
      problems_after([](YAML::Node& c) {
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].remove("status");
      }),
      ::testing::Contains(HasSubstr("the status subresource needs a status property")));
  EXPECT_THAT(problems_after([](YAML::Node& c) {
                c["spec"]["versions"][0]["additionalPrinterColumns"][0]["jsonPath"] = ".spec.sizes";
              }),
              ::testing::Contains(HasSubstr("no field 'sizes' in the schema")));
  EXPECT_THAT(problems_after([](YAML::Node& c) {
                c["spec"]["versions"][0]["additionalPrinterColumns"][0]["type"] = "int";
              }),
              ::testing::Contains(HasSubstr("type must be integer, number, string")));
  EXPECT_THAT(problems_after([](YAML::Node& c) {
                c["spec"]["versions"][0]["additionalPrinterColumns"][1]["jsonPath"] =
                    ".spec[0].size";
              }),
              ::testing::Contains(HasSubstr("'spec' is not a list")));
  EXPECT_THAT(problems_after([](YAML::Node& c) {
                c["spec"]["versions"][0]["additionalPrinterColumns"][1]["jsonPath"] =
                    ".status.conditions[0].type";
              }),
              IsEmpty());
}

}  // namespace
}  // namespace meshgate::crds
