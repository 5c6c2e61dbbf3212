// The CRD manifests agree with the decoder, field for field and both ways:
// every field Decode() reads is declared in the CRD with a compatible type (a
// field missing there would be pruned by the API server before meshgate ever
// saw it), and every field the CRD declares is read by Decode() (one missing
// there would be accepted by kubectl and then silently ignored).
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/meta.h"
#include "api/schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/crds/structural_schema.h"
#include "yaml-cpp/yaml.h"

namespace meshgate::crds {
namespace {

using api::FieldSchema;
using Type = FieldSchema::Type;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

bool IsTrue(const YAML::Node& node) { return node && node.IsScalar() && node.Scalar() == "true"; }

std::string CrdType(const YAML::Node& node) {
  if (IsTrue(node["x-kubernetes-int-or-string"])) return "int-or-string";
  if (IsTrue(node["x-kubernetes-preserve-unknown-fields"])) return "preserve-unknown-fields";
  const std::string type = node["type"] ? node["type"].Scalar() : "";
  if (type == "string" && node["pattern"] && node["pattern"].Scalar() == kDurationPattern) {
    return "duration string";
  }
  if (type == "object" && node["additionalProperties"]) return "map";
  return type.empty() ? "<no type>" : type;
}

// The CRD type each model type must appear as.
std::string ExpectedCrdType(Type type) {
  switch (type) {
    case Type::kString:
      return "string";
    case Type::kInteger:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kBoolean:
      return "boolean";
    case Type::kObject:
      return "object";
    case Type::kArray:
      return "array";
    case Type::kMap:
      return "map";
    case Type::kIntOrString:
      return "int-or-string";
    case Type::kDuration:
      return "duration string";
    case Type::kAny:
      return "preserve-unknown-fields";
  }
  return "?";
}

// Appends every disagreement between the model's schema and the CRD's, each
// with its path ("spec.http[].route[].weight", "spec.subsets[].labels{}").
void Compare(const FieldSchema& model, const YAML::Node& crd, const std::string& path,
             std::vector<std::string>& mismatches) {
  if (!crd.IsMap()) {
    mismatches.push_back(path + ": the CRD schema is not a mapping");
    return;
  }
  const std::string expected = ExpectedCrdType(model.type);
  const std::string actual = CrdType(crd);
  if (expected != actual) {
    mismatches.push_back(
        absl::StrCat(path, ": the model reads ", expected, ", the CRD declares ", actual));
    return;
  }

  std::set<std::string> model_enum(model.enum_values.begin(), model.enum_values.end());
  std::set<std::string> crd_enum;
  if (crd["enum"]) {
    for (const auto& value : crd["enum"]) crd_enum.insert(value.Scalar());
  }
  if (model_enum != crd_enum) {
    mismatches.push_back(absl::StrCat(path, ": enum values differ: model {",
                                      absl::StrJoin(model_enum, ", "), "}, CRD {",
                                      absl::StrJoin(crd_enum, ", "), "}"));
  }

  switch (model.type) {
    case Type::kObject: {
      const YAML::Node properties = crd["properties"];
      for (const auto& [name, field] : model.properties) {
        const std::string field_path = path + "." + name;
        if (!properties || !properties[name]) {
          mismatches.push_back(field_path + ": decoded by the model but missing from the CRD");
        } else if (field == nullptr) {
          mismatches.push_back(field_path + ": the model's schema is null");
        } else {
          Compare(*field, properties[name], field_path, mismatches);
        }
      }
      if (properties) {
        for (const auto& entry : properties) {
          const std::string name = entry.first.Scalar();
          if (!model.properties.contains(name)) {
            mismatches.push_back(path + "." + name +
                                 ": declared by the CRD but not decoded by the model");
          }
        }
      }
      break;
    }
    case Type::kArray:
    case Type::kMap: {
      const bool is_array = model.type == Type::kArray;
      const std::string element_path = path + (is_array ? "[]" : "{}");
      const YAML::Node element = is_array ? crd["items"] : crd["additionalProperties"];
      if (model.items == nullptr) {
        mismatches.push_back(element_path + ": the model has no element schema");
      } else {
        Compare(*model.items, element, element_path, mismatches);
      }
      break;
    }
    default:
      break;
  }
}

std::vector<std::string> Compare(const FieldSchema& model, const YAML::Node& crd) {
  std::vector<std::string> mismatches;
  Compare(model, crd, "spec", mismatches);
  return mismatches;
}

YAML::Node CrdSpecSchema(const std::string& file) {
  const YAML::Node crd = YAML::LoadFile(MESHGATE_SOURCE_DIR "/crds/" + file);
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
}

struct KindFile {
  api::Kind kind;
  std::string file;
};

void PrintTo(const KindFile& kind_file, std::ostream* os) { *os << kind_file.file; }

class CrdAgreesWithModelTest : public ::testing::TestWithParam<KindFile> {};

TEST_P(CrdAgreesWithModelTest, FieldsTypesAndEnumsMatchBothWays) {
  const YAML::Node spec = CrdSpecSchema(GetParam().file);
  ASSERT_TRUE(spec.IsMap()) << GetParam().file << " has no spec schema";
  const std::vector<std::string> mismatches = Compare(api::SpecSchema(GetParam().kind), spec);
  EXPECT_THAT(mismatches, IsEmpty())
      << GetParam().file << " disagrees with api::SpecSchema(" << api::KindName(GetParam().kind)
      << ") in " << mismatches.size() << " place(s):\n  " << absl::StrJoin(mismatches, "\n  ");
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, CrdAgreesWithModelTest,
    ::testing::Values(
        KindFile{api::Kind::kVirtualService, "networking.meshgate.io_virtualservices.yaml"},
        KindFile{api::Kind::kDestinationRule, "networking.meshgate.io_destinationrules.yaml"},
        KindFile{api::Kind::kAPIProduct, "apim.meshgate.io_apiproducts.yaml"}),
    [](const auto& info) { return std::string(api::KindName(info.param.kind)); });

TEST(CrdAgreesWithModelTest, AnotherKindsCrdDisagrees) {
  // The comparison has teeth on the real schemas: the DestinationRule model
  // against the VirtualService CRD reports fields in both directions.
  const std::vector<std::string> mismatches =
      Compare(api::SpecSchema(api::Kind::kDestinationRule),
              CrdSpecSchema("networking.meshgate.io_virtualservices.yaml"));
  EXPECT_THAT(mismatches, Contains("spec.host: decoded by the model but missing from the CRD"));
  EXPECT_THAT(mismatches, Contains("spec.http: declared by the CRD but not decoded by the model"));
}

// ---------------------------------------------------------------------------
// The comparison itself, on small hand-built schemas.

std::shared_ptr<const FieldSchema> Leaf(Type type, std::vector<std::string> enum_values = {}) {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = type;
  schema->enum_values = std::move(enum_values);
  return schema;
}

std::shared_ptr<const FieldSchema> Container(Type type, std::shared_ptr<const FieldSchema> items) {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = type;
  schema->items = std::move(items);
  return schema;
}

FieldSchema Object(std::map<std::string, std::shared_ptr<const FieldSchema>> properties) {
  FieldSchema schema;
  schema.type = Type::kObject;
  schema.properties = std::move(properties);
  return schema;
}

TEST(SchemaComparisonTest, AgreeingSchemasHaveNoMismatch) {
  const FieldSchema model = Object({
      {"name", Leaf(Type::kString)},
      {"timeout", Leaf(Type::kDuration)},
      {"port", Leaf(Type::kInteger)},
      {"share", Leaf(Type::kNumber)},
      {"on", Leaf(Type::kBoolean)},
      {"target", Leaf(Type::kIntOrString)},
      {"extra", Leaf(Type::kAny)},
      {"labels", Container(Type::kMap, Leaf(Type::kString))},
      {"mode", Leaf(Type::kString, {"A", "B"})},
      {"hosts", Container(Type::kArray, Leaf(Type::kString))},
  });
  const YAML::Node crd = YAML::Load(absl::StrCat(R"(
type: object
properties:
  name: {type: string}
  timeout: {type: string, pattern: ')",
                                                 kDurationPattern, R"('}
  port: {type: integer, minimum: 1}
  share: {type: number}
  on: {type: boolean}
  target: {x-kubernetes-int-or-string: true}
  extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  labels: {type: object, additionalProperties: {type: string}}
  mode: {type: string, enum: [B, A]}
  hosts: {type: array, items: {type: string}}
)"));
  EXPECT_THAT(Compare(model, crd), IsEmpty());
}

TEST(SchemaComparisonTest, ReportsEveryMismatchWithItsPath) {
  auto route = std::make_shared<FieldSchema>(Object({
      {"weight", Leaf(Type::kInteger)},
      {"timeout", Leaf(Type::kDuration)},
      {"onlyInModel", Leaf(Type::kString)},
  }));
  const FieldSchema model = Object({
      {"routes", Container(Type::kArray, route)},
      {"labels", Container(Type::kMap, Leaf(Type::kString))},
      {"mode", Leaf(Type::kString, {"A", "B"})},
      {"delay", Leaf(Type::kDuration)},
  });
  const YAML::Node crd = YAML::Load(R"(
type: object
properties:
  routes:
    type: array
    items:
      type: object
      properties:
        weight: {type: string}
        timeout: {type: string}
        onlyInCrd: {type: boolean}
  labels: {type: object, properties: {a: {type: string}}}
  mode: {type: string, enum: [A, C]}
  delay: {type: string, pattern: '^[0-9]+s$'}
)");
  EXPECT_THAT(
      Compare(model, crd),
      ElementsAre("spec.delay: the model reads duration string, the CRD declares string",
                  "spec.labels: the model reads map, the CRD declares object",
                  "spec.mode: enum values differ: model {A, B}, CRD {A, C}",
                  "spec.routes[].onlyInModel: decoded by the model but missing from the CRD",
                  "spec.routes[].timeout: the model reads duration string, the CRD declares string",
                  "spec.routes[].weight: the model reads integer, the CRD declares string",
                  "spec.routes[].onlyInCrd: declared by the CRD but not decoded by the model"));
}

TEST(SchemaComparisonTest, MapValuesAndOpaqueFieldsAreCompared) {
  const FieldSchema model = Object({
      {"to", Container(Type::kMap, Leaf(Type::kInteger))},
      {"spec", Leaf(Type::kAny)},
  });
  const YAML::Node crd = YAML::Load(R"(
type: object
properties:
  to: {type: object, additionalProperties: {type: string}}
  spec: {type: object, properties: {a: {type: string}}}
)");
  EXPECT_THAT(Compare(model, crd),
              ElementsAre("spec.spec: the model reads preserve-unknown-fields, the CRD declares "
                          "object",
                          "spec.to{}: the model reads integer, the CRD declares string"));
}

}  // namespace
}  // namespace meshgate::crds
