#include "unit/crds/structural_schema.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <regex>
#include <set>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "re2/re2.h"

namespace meshgate::crds {
namespace {

using Problems = std::vector<std::string>;

const std::set<std::string_view>& KnownKeywords() {
  // The fields of apiextensions.k8s.io/v1 JSONSchemaProps that a structural
  // schema may use. `$ref`, `$schema`, `id`, `definitions`, `dependencies`,
  // `additionalItems` and `patternProperties` are rejected by the API server.
  static const auto* const keywords = new std::set<std::string_view>{
      "description",
      "type",
      "format",
      "title",
      "default",
      "maximum",
      "exclusiveMaximum",
      "minimum",
      "exclusiveMinimum",
      "maxLength",
      "minLength",
      "pattern",
      "maxItems",
      "minItems",
      "uniqueItems",
      "multipleOf",
      "enum",
      "maxProperties",
      "minProperties",
      "required",
      "items",
      "allOf",
      "oneOf",
      "anyOf",
      "not",
      "properties",
      "additionalProperties",
      "nullable",
      "externalDocs",
      "example",
      "x-kubernetes-preserve-unknown-fields",
      "x-kubernetes-embedded-resource",
      "x-kubernetes-int-or-string",
      "x-kubernetes-list-map-keys",
      "x-kubernetes-list-type",
      "x-kubernetes-map-type",
      "x-kubernetes-validations",
  };
  return *keywords;
}

const std::set<std::string_view>& KnownFormats() {
  // The formats the API server validates (k8s.io/kube-openapi strfmt).
  static const auto* const formats = new std::set<std::string_view>{
      "bsonobjectid", "uri",    "email",    "hostname",   "ipv4",     "ipv6",
      "cidr",         "mac",    "uuid",     "uuid3",      "uuid4",    "uuid5",
      "isbn",         "isbn10", "isbn13",   "creditcard", "ssn",      "hexcolor",
      "rgbcolor",     "byte",   "password", "date",       "duration", "datetime",
      "date-time",    "int32",  "int64",    "float",      "double",
  };
  return *formats;
}

bool IsTrue(const YAML::Node& node) {
  return node && node.IsScalar() && node.Scalar() == "true" && node.Tag() != "!";
}

bool IsPlainScalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

// Plain scalars that Kubernetes' YAML 1.1 reader takes for something other
// than a string: `status: [True, False]` would be an enum of booleans.
bool Yaml11ReadsAsNonString(const YAML::Node& node) {
  if (!IsPlainScalar(node)) return false;
  static const std::regex non_string(
      "|~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|"
      "off|Off|OFF|[-+]?[0-9][0-9_]*|[-+]?([0-9][0-9_]*)?\\.[0-9.]*([eE][-+][0-9]+)?|"
      "0x[0-9a-fA-F_]+|\\.inf|\\.Inf|\\.INF|\\.nan|\\.NaN|\\.NAN");
  return std::regex_match(node.Scalar(), non_string);
}

bool IsYamlNull(const YAML::Node& node) {
  return node.IsNull() ||
         (IsPlainScalar(node) && (node.Scalar() == "null" || node.Scalar() == "~"));
}

std::optional<double> AsNumber(const YAML::Node& node) {
  double value = 0;
  if (!IsPlainScalar(node) || !absl::SimpleAtod(node.Scalar(), &value)) return std::nullopt;
  return value;
}

// Whether `value` is a valid instance of a node of `type` (a scalar check:
// defaults and enum values of objects and arrays are only checked for kind).
std::optional<std::string> ValueTypeError(const YAML::Node& value, const std::string& type) {
  if (type == "string") {
    if (!value.IsScalar()) return "is not a string";
    if (Yaml11ReadsAsNonString(value)) {
      return absl::StrCat("'", value.Scalar(),
                          "' is read as a non-string by Kubernetes' YAML parser; quote it");
    }
  } else if (type == "integer") {
    int64_t parsed = 0;
    if (!IsPlainScalar(value) || !absl::SimpleAtoi(value.Scalar(), &parsed)) {
      return "is not an integer";
    }
  } else if (type == "number") {
    if (!AsNumber(value)) return "is not a number";
  } else if (type == "boolean") {
    if (!IsPlainScalar(value) || (value.Scalar() != "true" && value.Scalar() != "false")) {
      return "is not a boolean";
    }
  } else if (type == "object") {
    if (!value.IsMap()) return "is not an object";
  } else if (type == "array") {
    if (!value.IsSequence()) return "is not an array";
  }
  return std::nullopt;
}

// The API server rejects a CEL rule whose estimated cost times the number of
// places it can run exceeds 1e7; a list without maxItems (map without
// maxProperties) counts as ~1e6 elements. Assuming a simple rule costs at most
// kMaxRuleCost, the product of the bounds above a rule must stay under this.
constexpr double kMaxRuleCost = 100;
constexpr double kMaxRuleCardinality = 1e7 / kMaxRuleCost;

struct Context {
  bool is_root = false;
  bool in_junctor = false;  // inside allOf/anyOf/oneOf/not
  // How many times a rule on this node may run per object: the product of
  // the maxItems/maxProperties of the lists and maps above it.
  double cardinality = 1;
  std::string unbounded;  // the nearest unbounded list or map above, if any
};

class SchemaChecker {
 public:
  explicit SchemaChecker(Problems& problems) : problems_(problems) {}

  void Check(const YAML::Node& node, const std::string& path, Context context) {
    if (!node.IsMap()) {
      Add(path, "a schema must be a mapping");
      return;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (!KnownKeywords().contains(key)) {
        Add(path, absl::StrCat("'", key, "' is not allowed in a structural schema"));
      }
    }
    const std::string type = node["type"] ? node["type"].Scalar() : "";
    const bool int_or_string = IsTrue(node["x-kubernetes-int-or-string"]);
    const bool preserve_unknown = IsTrue(node["x-kubernetes-preserve-unknown-fields"]);

    if (context.in_junctor) {
      CheckJunctorMember(node, path);
    } else {
      CheckType(node, path, type, int_or_string, preserve_unknown, context);
    }
    CheckValueValidations(node, path, type);
    CheckEnumAndDefault(node, path, type);
    CheckKubernetesExtensions(node, path, type, context);
    CheckChildren(node, path, type, preserve_unknown, context);
  }

 private:
  void Add(const std::string& path, const std::string& message) {
    problems_.push_back(absl::StrCat(path, ": ", message));
  }

  void CheckType(const YAML::Node& node, const std::string& path, const std::string& type,
                 bool int_or_string, bool preserve_unknown, const Context& context) {
    static const std::set<std::string> kTypes = {"object",  "array",  "string",
                                                 "integer", "number", "boolean"};
    if (int_or_string) {
      if (!type.empty()) Add(path, "x-kubernetes-int-or-string requires that type is not set");
    } else if (type.empty()) {
      if (!preserve_unknown) Add(path, "type must be set");
    } else if (!kTypes.contains(type)) {
      Add(path, absl::StrCat("unknown type '", type, "'"));
    }
    if (context.is_root) {
      if (type != "object") Add(path, "the root schema must have type object");
      if (IsTrue(node["nullable"])) Add(path, "the root schema must not be nullable");
    }
    if (node["properties"] && node["additionalProperties"]) {
      Add(path, "properties and additionalProperties are mutually exclusive");
    }
    if ((node["properties"] || node["additionalProperties"]) && type != "object") {
      Add(path, "properties/additionalProperties require type object");
    }
    if (type == "array" && !node["items"]) Add(path, "type array requires items");
    if (node["items"] && type != "array") Add(path, "items requires type array");
    if (IsTrue(node["x-kubernetes-embedded-resource"]) && type != "object") {
      Add(path, "x-kubernetes-embedded-resource requires type object");
    }
  }

  // Inside allOf/anyOf/oneOf/not only value validations are allowed; the
  // shape itself must be stated outside, where pruning can see it.
  void CheckJunctorMember(const YAML::Node& node, const std::string& path) {
    for (const char* key :
         {"type", "description", "default", "nullable", "additionalProperties",
          "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
          "x-kubernetes-int-or-string", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
          "x-kubernetes-map-type", "x-kubernetes-validations"}) {
      if (node[key]) Add(path, absl::StrCat("'", key, "' is not allowed inside a logical junctor"));
    }
  }

  void CheckValueValidations(const YAML::Node& node, const std::string& path,
                             const std::string& type) {
    auto require_type = [&](const char* keyword, std::set<std::string> types) {
      if (node[keyword] && !type.empty() && !types.contains(type)) {
        Add(path, absl::StrCat(keyword, " does not apply to type ", type));
      }
    };
    require_type("pattern", {"string"});
    require_type("minLength", {"string"});
    require_type("maxLength", {"string"});
    require_type("format", {"string", "integer", "number"});
    require_type("minimum", {"integer", "number"});
    require_type("maximum", {"integer", "number"});
    require_type("multipleOf", {"integer", "number"});
    require_type("minItems", {"array"});
    require_type("maxItems", {"array"});
    require_type("minProperties", {"object"});
    require_type("maxProperties", {"object"});
    require_type("required", {"object"});

    if (IsTrue(node["uniqueItems"])) {
      Add(path, "uniqueItems must not be true (use x-kubernetes-list-type: set)");
    }
    if (const auto pattern = node["pattern"]) {
      RE2 re(pattern.Scalar(), RE2::Quiet);
      if (!re.ok()) Add(path, absl::StrCat("pattern does not compile: ", re.error()));
    }
    if (const auto format = node["format"]; format && !KnownFormats().contains(format.Scalar())) {
      Add(path, absl::StrCat("unknown format '", format.Scalar(), "'"));
    }
    for (const auto& [low, high] :
         {std::pair{"minimum", "maximum"}, std::pair{"minLength", "maxLength"},
          std::pair{"minItems", "maxItems"}, std::pair{"minProperties", "maxProperties"}}) {
      std::optional<double> min, max;
      if (node[low] && !(min = AsNumber(node[low])))
        Add(path, absl::StrCat(low, " is not a number"));
      if (node[high] && !(max = AsNumber(node[high]))) {
        Add(path, absl::StrCat(high, " is not a number"));
      }
      if (min && max && *min > *max) Add(path, absl::StrCat(low, " is greater than ", high));
    }
    if (const auto required = node["required"]) {
      if (!required.IsSequence()) {
        Add(path, "required must be a list");
      } else if (node["properties"] && !IsTrue(node["x-kubernetes-preserve-unknown-fields"])) {
        for (const auto& name : required) {
          if (!node["properties"][name.Scalar()]) {
            Add(path, absl::StrCat("required field '", name.Scalar(), "' is not in properties"));
          }
        }
      }
    }
    if (const auto nullable = node["nullable"];
        nullable &&
        !(nullable.IsScalar() && (nullable.Scalar() == "true" || nullable.Scalar() == "false"))) {
      Add(path, "nullable must be a boolean");
    }
  }

  void CheckEnumAndDefault(const YAML::Node& node, const std::string& path,
                           const std::string& type) {
    const bool nullable = IsTrue(node["nullable"]);
    if (const auto values = node["enum"]) {
      if (!values.IsSequence() || values.size() == 0) {
        Add(path, "enum must be a non-empty list");
      } else {
        std::set<std::string> seen;
        for (size_t i = 0; i < values.size(); ++i) {
          const YAML::Node value = values[i];
          const std::string where = absl::StrCat(path, ".enum[", i, "]");
          if (IsYamlNull(value)) {
            if (!nullable) Add(where, "null is only allowed in the enum of a nullable node");
            continue;
          }
          if (auto error = ValueTypeError(value, type)) Add(where, *error);
          if (value.IsScalar() && !seen.insert(value.Scalar()).second) {
            Add(where, absl::StrCat("duplicate value '", value.Scalar(), "'"));
          }
        }
      }
    }
    if (const auto value = node["default"]) {
      if (IsYamlNull(value)) {
        if (!nullable) Add(path, "default is null but the node is not nullable");
      } else if (auto error = ValueTypeError(value, type)) {
        Add(path, absl::StrCat("default ", *error));
      } else if (const auto values = node["enum"];
                 values && values.IsSequence() && value.IsScalar()) {
        bool listed = false;
        for (const auto& allowed : values)
          listed |= allowed.IsScalar() && allowed.Scalar() == value.Scalar();
        if (!listed) Add(path, absl::StrCat("default '", value.Scalar(), "' is not in enum"));
      }
    }
  }

  void CheckKubernetesExtensions(const YAML::Node& node, const std::string& path,
                                 const std::string& type, const Context& context) {
    if (const auto list_type = node["x-kubernetes-list-type"]) {
      const std::string kind = list_type.Scalar();
      const YAML::Node items = node["items"];
      if (type != "array") Add(path, "x-kubernetes-list-type requires type array");
      if (kind != "atomic" && kind != "set" && kind != "map") {
        Add(path, absl::StrCat("x-kubernetes-list-type '", kind, "' is not atomic, set or map"));
      }
      if (kind == "set" && items && items.IsMap() && items["type"] &&
          (items["type"].Scalar() == "object" || items["type"].Scalar() == "array") &&
          !(items["x-kubernetes-map-type"] &&
            items["x-kubernetes-map-type"].Scalar() == "atomic")) {
        Add(path, "x-kubernetes-list-type set requires scalar (or atomic) items");
      }
      if (kind == "map") {
        const YAML::Node keys = node["x-kubernetes-list-map-keys"];
        if (!keys || !keys.IsSequence() || keys.size() == 0) {
          Add(path, "x-kubernetes-list-type map requires x-kubernetes-list-map-keys");
        } else if (!items || !items.IsMap() || !items["type"] ||
                   items["type"].Scalar() != "object") {
          Add(path, "x-kubernetes-list-type map requires items of type object");
        } else {
          std::set<std::string> required;
          if (items["required"] && items["required"].IsSequence()) {
            for (const auto& name : items["required"]) required.insert(name.Scalar());
          }
          for (const auto& key : keys) {
            const YAML::Node field = items["properties"][key.Scalar()];
            if (!field) {
              Add(path,
                  absl::StrCat("list map key '", key.Scalar(), "' is not a property of items"));
              continue;
            }
            if (!required.contains(key.Scalar()) && !field["default"]) {
              Add(path, absl::StrCat("list map key '", key.Scalar(),
                                     "' must be required or have a default"));
            }
            if (field["type"] &&
                (field["type"].Scalar() == "object" || field["type"].Scalar() == "array")) {
              Add(path, absl::StrCat("list map key '", key.Scalar(), "' must be a scalar"));
            }
          }
        }
      }
    }
    if (node["x-kubernetes-list-map-keys"] &&
        !(node["x-kubernetes-list-type"] && node["x-kubernetes-list-type"].Scalar() == "map")) {
      Add(path, "x-kubernetes-list-map-keys requires x-kubernetes-list-type map");
    }
    if (const auto map_type = node["x-kubernetes-map-type"]) {
      if (type != "object") Add(path, "x-kubernetes-map-type requires type object");
      if (map_type.Scalar() != "granular" && map_type.Scalar() != "atomic") {
        Add(path, "x-kubernetes-map-type must be granular or atomic");
      }
    }
    if (const auto rules = node["x-kubernetes-validations"]) {
      CheckValidationRules(rules, path);
      if (!context.unbounded.empty()) {
        Add(path, absl::StrCat("CEL rules under ", context.unbounded,
                               ", which has no maxItems/maxProperties: the API server's cost "
                               "estimate would reject them"));
      } else if (context.cardinality > kMaxRuleCardinality) {
        Add(path, absl::StrCat("CEL rules may run ", context.cardinality,
                               " times per object (the product of the maxItems/maxProperties "
                               "above); at most ",
                               kMaxRuleCardinality, " fit the API server's cost budget"));
      }
    }
  }

  void CheckValidationRules(const YAML::Node& rules, const std::string& path) {
    if (!rules.IsSequence()) {
      Add(path, "x-kubernetes-validations must be a list");
      return;
    }
    static const std::set<std::string> kRuleKeys = {"rule",   "message",   "messageExpression",
                                                    "reason", "fieldPath", "optionalOldSelf"};
    static const std::set<std::string> kReasons = {"FieldValueInvalid", "FieldValueForbidden",
                                                   "FieldValueRequired", "FieldValueDuplicate"};
    for (size_t i = 0; i < rules.size(); ++i) {
      const YAML::Node rule = rules[i];
      const std::string where = absl::StrCat(path, ".x-kubernetes-validations[", i, "]");
      if (!rule.IsMap()) {
        Add(where, "a validation rule must be a mapping");
        continue;
      }
      for (const auto& entry : rule) {
        if (!kRuleKeys.contains(entry.first.Scalar())) {
          Add(where, absl::StrCat("unknown key '", entry.first.Scalar(), "'"));
        }
      }
      if (!rule["rule"] || !rule["rule"].IsScalar() || rule["rule"].Scalar().empty()) {
        Add(where, "rule must be a non-empty string");
      }
      if (rule["reason"] && !kReasons.contains(rule["reason"].Scalar())) {
        Add(where, absl::StrCat("unknown reason '", rule["reason"].Scalar(), "'"));
      }
    }
  }

  void CheckChildren(const YAML::Node& node, const std::string& path, const std::string& type,
                     bool preserve_unknown, const Context& context) {
    Context child = context;
    child.is_root = false;
    // Elements of a list or map may repeat: scale the cardinality by the bound.
    Context element = child;
    const char* bound_keyword = type == "array" ? "maxItems" : "maxProperties";
    if (const auto bound = node[bound_keyword]; bound && AsNumber(bound)) {
      element.cardinality *= *AsNumber(bound);
    } else if (element.unbounded.empty()) {
      element.unbounded = path;
    }
    if (const auto properties = node["properties"]) {
      if (!properties.IsMap()) {
        Add(path, "properties must be a mapping");
      } else {
        for (const auto& entry : properties) {
          const std::string name = entry.first.Scalar();
          const std::string child_path = absl::StrCat(path, ".properties.", name);
          if (context.is_root && name == "metadata") {
            CheckRootMetadata(entry.second, child_path);
          } else if (context.is_root && (name == "apiVersion" || name == "kind") &&
                     !(entry.second.IsMap() && entry.second["type"] &&
                       entry.second["type"].Scalar() == "string")) {
            Add(child_path, "must have type string");
          }
          Check(entry.second, child_path, child);
        }
      }
    }
    if (const auto additional = node["additionalProperties"]) {
      if (additional.IsScalar()) {
        Add(path,
            "additionalProperties must be a schema (use x-kubernetes-preserve-unknown-fields "
            "for arbitrary fields)");
      } else {
        Check(additional, path + ".additionalProperties", element);
      }
    }
    if (const auto items = node["items"]) {
      if (items.IsSequence()) {
        Add(path, "items must be a single schema, not a list");
      } else {
        Check(items, path + ".items", element);
      }
    }
    Context junctor = child;
    junctor.in_junctor = true;
    for (const char* key : {"allOf", "anyOf", "oneOf"}) {
      if (const auto members = node[key]) {
        if (!members.IsSequence()) {
          Add(path, absl::StrCat(key, " must be a list"));
          continue;
        }
        for (size_t i = 0; i < members.size(); ++i) {
          const std::string member_path = absl::StrCat(path, ".", key, "[", i, "]");
          Check(members[i], member_path, junctor);
          CheckJunctorPropertiesDeclared(members[i], node, member_path, preserve_unknown);
        }
      }
    }
    if (const auto negated = node["not"]) {
      Check(negated, path + ".not", junctor);
      CheckJunctorPropertiesDeclared(negated, node, path + ".not", preserve_unknown);
    }
  }

  // A property a junctor constrains must be declared in the enclosing schema
  // too, or pruning would drop the field the junctor talks about.
  void CheckJunctorPropertiesDeclared(const YAML::Node& member, const YAML::Node& outer,
                                      const std::string& path, bool preserve_unknown) {
    if (preserve_unknown || !member.IsMap() || !member["properties"]) return;
    for (const auto& entry : member["properties"]) {
      if (!outer["properties"] || !outer["properties"][entry.first.Scalar()]) {
        Add(path, absl::StrCat("property '", entry.first.Scalar(),
                               "' is constrained here but not declared outside the junctor"));
      }
    }
  }

  // The API server owns metadata: a CRD may only restrict name and
  // generateName, and only with string validations.
  void CheckRootMetadata(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) return;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key != "type" && key != "properties" && key != "description") {
        Add(path,
            absl::StrCat("metadata may only restrict name and generateName, not set '", key, "'"));
      }
    }
    if (node["type"] && node["type"].Scalar() != "object") {
      Add(path, "metadata must have type object");
    }
    if (const auto properties = node["properties"]; properties && properties.IsMap()) {
      for (const auto& entry : properties) {
        const std::string name = entry.first.Scalar();
        if (name != "name" && name != "generateName") {
          Add(path,
              absl::StrCat("metadata may only restrict name and generateName, not '", name, "'"));
        } else if (entry.second["type"] && entry.second["type"].Scalar() != "string") {
          Add(path + ".properties." + name, "must have type string");
        }
      }
    }
  }

  Problems& problems_;
};

bool IsDnsLabel(const std::string& value) {
  static const RE2 label("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return value.size() <= 63 && RE2::FullMatch(value, label);
}

bool IsDnsSubdomain(const std::string& value) {
  if (value.empty() || value.size() > 253) return false;
  const std::vector<std::string> parts = absl::StrSplit(value, '.');
  for (const std::string& part : parts) {
    if (!IsDnsLabel(part)) return false;
  }
  return true;
}

// Walks a printer column's JSONPath (".spec.hosts",
// ".status.conditions[?(@.type==\"Programmed\")].status") through the schema.
std::optional<std::string> ResolveColumnPath(const YAML::Node& schema,
                                             const std::string& json_path) {
  if (json_path.empty() || json_path[0] != '.') return "jsonPath must start with '.'";
  // Split on dots outside brackets; a bracketed suffix steps into array items.
  std::vector<std::string> segments;
  std::string current;
  int depth = 0;
  for (char c : json_path.substr(1)) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == '.' && depth == 0) {
      segments.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  segments.push_back(current);
  if (segments[0] == "metadata") {
    static const std::set<std::string> kMeta = {"name",   "namespace",        "creationTimestamp",
                                                "labels", "annotations",      "generation",
                                                "uid",    "deletionTimestamp"};
    if (segments.size() >= 2 && kMeta.contains(segments[1].substr(0, segments[1].find('[')))) {
      return std::nullopt;
    }
    return absl::StrCat("'", json_path, "' is not a standard metadata field");
  }
  // reset(), not operator=: assigning a YAML::Node overwrites the node it refers to.
  YAML::Node node = schema;
  for (const std::string& segment : segments) {
    const size_t bracket = segment.find('[');
    const std::string name = segment.substr(0, bracket);
    if (IsTrue(node["x-kubernetes-preserve-unknown-fields"])) return std::nullopt;
    if (!node["properties"] || !node["properties"][name]) {
      return absl::StrCat("'", json_path, "': no field '", name, "' in the schema");
    }
    node.reset(node["properties"][name]);
    if (bracket != std::string::npos) {
      if (!node["items"]) return absl::StrCat("'", json_path, "': '", name, "' is not a list");
      node.reset(node["items"]);
    }
  }
  return std::nullopt;
}

void CheckVersion(const YAML::Node& version, const std::string& path, Problems& problems) {
  auto add = [&](const std::string& where, const std::string& message) {
    problems.push_back(absl::StrCat(where, ": ", message));
  };
  const YAML::Node schema = version["schema"]["openAPIV3Schema"];
  if (!schema) {
    add(path, "schema.openAPIV3Schema is required");
    return;
  }
  const std::string schema_path = path + ".schema.openAPIV3Schema";
  for (std::string& problem : CheckStructuralSchema(schema, schema_path, /*is_root=*/true)) {
    problems.push_back(std::move(problem));
  }
  if (const auto subresources = version["subresources"]) {
    for (const auto& entry : subresources) {
      const std::string name = entry.first.Scalar();
      if (name != "status" && name != "scale") {
        add(path + ".subresources", absl::StrCat("unknown subresource '", name, "'"));
      }
    }
    if (subresources["status"]) {
      if (!subresources["status"].IsMap()) add(path + ".subresources.status", "must be {}");
      if (!schema["properties"] || !schema["properties"]["status"]) {
        add(schema_path, "the status subresource needs a status property");
      }
    }
  }
  if (const auto columns = version["additionalPrinterColumns"]) {
    static const std::set<std::string> kColumnTypes = {"integer", "number", "string", "boolean",
                                                       "date"};
    std::set<std::string> names;
    for (size_t i = 0; i < columns.size(); ++i) {
      const YAML::Node column = columns[i];
      const std::string where = absl::StrCat(path, ".additionalPrinterColumns[", i, "]");
      if (!column["name"] || column["name"].Scalar().empty()) add(where, "name is required");
      if (column["name"] && !names.insert(column["name"].Scalar()).second) {
        add(where, absl::StrCat("duplicate column '", column["name"].Scalar(), "'"));
      }
      if (!column["type"] || !kColumnTypes.contains(column["type"].Scalar())) {
        add(where, "type must be integer, number, string, boolean or date");
      }
      if (!column["jsonPath"]) {
        add(where, "jsonPath is required");
      } else if (auto error = ResolveColumnPath(schema, column["jsonPath"].Scalar())) {
        add(where, *error);
      }
    }
  }
}

}  // namespace

std::vector<std::string> CheckStructuralSchema(const YAML::Node& schema, const std::string& path,
                                               bool is_root) {
  Problems problems;
  try {
    SchemaChecker(problems).Check(schema, path, Context{.is_root = is_root, .in_junctor = false});
  } catch (const std::exception& e) {  // yaml-cpp throws on malformed nodes
    problems.push_back(absl::StrCat(path, ": ", e.what()));
  }
  return problems;
}

std::vector<std::string> CheckCustomResourceDefinition(const YAML::Node& crd) {
  Problems problems;
  auto add = [&](const std::string& where, const std::string& message) {
    problems.push_back(absl::StrCat(where, ": ", message));
  };
  try {
    if (!crd.IsMap()) return {"<document>: not a mapping"};
    if (!crd["apiVersion"] || crd["apiVersion"].Scalar() != "apiextensions.k8s.io/v1") {
      add("apiVersion", "must be apiextensions.k8s.io/v1");
    }
    if (!crd["kind"] || crd["kind"].Scalar() != "CustomResourceDefinition") {
      add("kind", "must be CustomResourceDefinition");
    }
    const YAML::Node spec = crd["spec"];
    const YAML::Node names = spec["names"];
    const std::string group = spec["group"] ? spec["group"].Scalar() : "";
    const std::string plural = names["plural"] ? names["plural"].Scalar() : "";
    const std::string kind = names["kind"] ? names["kind"].Scalar() : "";
    if (!IsDnsSubdomain(group) || group.find('.') == std::string::npos) {
      add("spec.group", absl::StrCat("'", group, "' is not a DNS subdomain with a dot"));
    }
    if (!IsDnsLabel(plural)) add("spec.names.plural", "must be a lower-case DNS label");
    if (!names["singular"] || !IsDnsLabel(names["singular"].Scalar())) {
      add("spec.names.singular", "must be a lower-case DNS label");
    }
    if (!RE2::FullMatch(kind, "[A-Z][A-Za-z0-9]*")) {
      add("spec.names.kind", "must be a CamelCase identifier");
    }
    if (!names["listKind"] || names["listKind"].Scalar() != kind + "List") {
      add("spec.names.listKind", absl::StrCat("must be ", kind, "List"));
    }
    for (const char* list : {"shortNames", "categories"}) {
      if (const auto values = names[list]) {
        std::set<std::string> seen;
        for (const auto& value : values) {
          if (!IsDnsLabel(value.Scalar())) {
            add(absl::StrCat("spec.names.", list),
                absl::StrCat("'", value.Scalar(), "' is not a lower-case DNS label"));
          }
          if (!seen.insert(value.Scalar()).second) {
            add(absl::StrCat("spec.names.", list),
                absl::StrCat("duplicate '", value.Scalar(), "'"));
          }
        }
      }
    }
    const std::string name = crd["metadata"]["name"] ? crd["metadata"]["name"].Scalar() : "";
    if (name != plural + "." + group) {
      add("metadata.name", absl::StrCat("'", name, "' must be ", plural, ".", group));
    }
    const std::string scope = spec["scope"] ? spec["scope"].Scalar() : "";
    if (scope != "Namespaced" && scope != "Cluster") {
      add("spec.scope", "must be Namespaced or Cluster");
    }
    const YAML::Node versions = spec["versions"];
    if (!versions || !versions.IsSequence() || versions.size() == 0) {
      add("spec.versions", "at least one version is required");
      return problems;
    }
    int storage = 0;
    std::set<std::string> version_names;
    for (size_t i = 0; i < versions.size(); ++i) {
      const YAML::Node version = versions[i];
      const std::string path = absl::StrCat("spec.versions[", i, "]");
      const std::string version_name = version["name"] ? version["name"].Scalar() : "";
      if (!IsDnsLabel(version_name)) add(path + ".name", "must be a DNS label");
      if (!version_names.insert(version_name).second) add(path + ".name", "duplicate version");
      if (IsTrue(version["storage"])) ++storage;
      if (!version["served"]) add(path + ".served", "is required");
      CheckVersion(version, path, problems);
    }
    if (storage != 1) {
      add("spec.versions", absl::StrCat("exactly one version must be storage, found ", storage));
    }
  } catch (const std::exception& e) {
    problems.push_back(absl::StrCat("<document>: ", e.what()));
  }
  return problems;
}

namespace {

bool IsYaml11Boolean(const std::string& text) {
  static const std::set<std::string> kBooleans = {
      "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
      "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
  return kBooleans.contains(text);
}

class ValueValidator {
 public:
  explicit ValueValidator(Problems& problems) : problems_(problems) {}

  void Validate(const YAML::Node& schema, const YAML::Node& value, const std::string& path) {
    if (IsYamlNull(value)) {
      if (!IsTrue(schema["nullable"])) Add(path, "must not be null");
      return;
    }
    if (IsTrue(schema["x-kubernetes-int-or-string"])) {
      if (!value.IsScalar()) Add(path, "must be an integer or a string");
      return;
    }
    const std::string type = schema["type"] ? schema["type"].Scalar() : "";
    if (!CheckType(type, value, path)) return;
    CheckEnum(schema, value, path);
    if (type == "string") CheckString(schema, value.Scalar(), path);
    if (type == "integer" || type == "number") CheckNumber(schema, *AsNumber(value), path);
    if (type == "array") CheckArray(schema, value, path);
    if (type == "object" || (type.empty() && value.IsMap())) CheckObject(schema, value, path);
  }

 private:
  void Add(const std::string& path, const std::string& message) {
    problems_.push_back(absl::StrCat(path, ": ", message));
  }

  bool CheckType(const std::string& type, const YAML::Node& value, const std::string& path) {
    bool ok = true;
    if (type == "string") {
      ok = value.IsScalar() && !Yaml11ReadsAsNonString(value);
    } else if (type == "integer") {
      int64_t parsed = 0;
      ok = IsPlainScalar(value) && absl::SimpleAtoi(value.Scalar(), &parsed);
    } else if (type == "number") {
      ok = AsNumber(value).has_value();
    } else if (type == "boolean") {
      ok = IsPlainScalar(value) && IsYaml11Boolean(value.Scalar());
    } else if (type == "object") {
      ok = value.IsMap();
    } else if (type == "array") {
      ok = value.IsSequence();
    }
    if (!ok) Add(path, absl::StrCat("must be of type ", type));
    return ok;
  }

  void CheckEnum(const YAML::Node& schema, const YAML::Node& value, const std::string& path) {
    const YAML::Node values = schema["enum"];
    if (!values || !value.IsScalar()) return;
    std::vector<std::string> allowed;
    for (const auto& candidate : values) {
      if (candidate.Scalar() == value.Scalar()) return;
      allowed.push_back(candidate.Scalar());
    }
    Add(path, absl::StrCat("'", value.Scalar(), "' is not one of ", absl::StrJoin(allowed, ", ")));
  }

  void CheckString(const YAML::Node& schema, const std::string& text, const std::string& path) {
    if (const auto pattern = schema["pattern"]) {
      RE2 re(pattern.Scalar(), RE2::Quiet);
      if (re.ok() && !RE2::PartialMatch(text, re)) {
        Add(path, absl::StrCat("'", text, "' does not match ", pattern.Scalar()));
      }
    }
    // Lengths count characters (code points), not bytes.
    const auto length = static_cast<double>(
        std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
    CheckBounds(schema, "minLength", "maxLength", length, path, "length");
  }

  void CheckNumber(const YAML::Node& schema, double number, const std::string& path) {
    CheckBounds(schema, "minimum", "maximum", number, path, "value");
  }

  void CheckArray(const YAML::Node& schema, const YAML::Node& value, const std::string& path) {
    CheckBounds(schema, "minItems", "maxItems", static_cast<double>(value.size()), path,
                "number of items");
    if (!schema["items"]) return;
    for (size_t i = 0; i < value.size(); ++i) {
      Validate(schema["items"], value[i], absl::StrCat(path, "[", i, "]"));
    }
  }

  void CheckObject(const YAML::Node& schema, const YAML::Node& value, const std::string& path) {
    CheckBounds(schema, "minProperties", "maxProperties", static_cast<double>(value.size()), path,
                "number of fields");
    const YAML::Node properties = schema["properties"];
    const YAML::Node additional = schema["additionalProperties"];
    const bool preserve = IsTrue(schema["x-kubernetes-preserve-unknown-fields"]);
    for (const auto& entry : value) {
      const std::string key = entry.first.Scalar();
      const std::string child = path + "." + key;
      if (properties && properties[key]) {
        Validate(properties[key], entry.second, child);
      } else if (additional && additional.IsMap()) {
        Validate(additional, entry.second, child);
      } else if (!preserve) {
        Add(child, "unknown field (the API server would prune it)");
      }
    }
    if (const auto required = schema["required"]) {
      for (const auto& name : required) {
        if (!value[name.Scalar()]) Add(path + "." + name.Scalar(), "required field is missing");
      }
    }
  }

  void CheckBounds(const YAML::Node& schema, const char* low, const char* high, double actual,
                   const std::string& path, const char* what) {
    if (const auto min = schema[low] ? AsNumber(schema[low]) : std::nullopt; min && actual < *min) {
      Add(path, absl::StrCat(what, " ", actual, " is less than ", low, " ", *min));
    }
    if (const auto max = schema[high] ? AsNumber(schema[high]) : std::nullopt;
        max && actual > *max) {
      Add(path, absl::StrCat(what, " ", actual, " is greater than ", high, " ", *max));
    }
  }

  Problems& problems_;
};

}  // namespace

std::vector<std::string> ValidateValue(const YAML::Node& schema, const YAML::Node& value,
                                       const std::string& path) {
  Problems problems;
  try {
    ValueValidator(problems).Validate(schema, value, path);
  } catch (const std::exception& e) {
    problems.push_back(absl::StrCat(path, ": ", e.what()));
  }
  return problems;
}

}  // namespace meshgate::crds
