// Checks a CustomResourceDefinition manifest against the rules the Kubernetes
// API server enforces when the CRD is created, so a broken manifest fails here
// rather than at `kubectl apply` time on someone's cluster.
//
// What is checked (apiextensions.k8s.io/v1):
//  - the CRD's own shape: names (plural.group, listKind, lower-case DNS
//    labels), scope, exactly one storage version, status subresource backed
//    by a `status` property, printer columns of a known type whose jsonPath
//    resolves to a field of the schema;
//  - that every openAPIV3Schema is structural: every node has a type (unless
//    int-or-string or preserve-unknown-fields), no `properties` together with
//    `additionalProperties`, `metadata` restricts only name/generateName,
//    list-type/map-type annotations consistent, no forbidden keywords
//    (`$ref`, `uniqueItems: true`, ...), value validations only on types they
//    apply to, `enum`/`default` values of the node's type, `nullable` sane,
//    CEL rules well-formed and within the API server's estimated cost budget
//    (no rule below a list or map without maxItems/maxProperties), patterns
//    that compile.
//
// Every problem is reported with its path in the document, e.g.
// "spec.versions[0].schema.openAPIV3Schema.properties.spec: type must be set".
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include "yaml-cpp/yaml.h"

namespace meshgate::crds {

// The pattern every duration field of the CRDs carries (crds/generate.py).
inline constexpr char kDurationPattern[] = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

// Problems of one schema node and everything below it. `path` names the node
// in messages. `is_root` applies the rules for the root of openAPIV3Schema.
std::vector<std::string> CheckStructuralSchema(const YAML::Node& schema, const std::string& path,
                                               bool is_root);

// Problems of a whole CustomResourceDefinition document, including
// CheckStructuralSchema() of every version's schema.
std::vector<std::string> CheckCustomResourceDefinition(const YAML::Node& crd);

// Problems the API server would report when validating `value` (an object's
// field, as written in YAML) against `schema`: types as Kubernetes' YAML 1.1
// reader sees them, unknown fields (which the server prunes), required,
// enum, pattern, minimum/maximum, min/max items/properties/length. CEL rules
// are not evaluated.
std::vector<std::string> ValidateValue(const YAML::Node& schema, const YAML::Node& value,
                                       const std::string& path);

}  // namespace meshgate::crds
