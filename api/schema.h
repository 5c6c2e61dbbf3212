// FieldSchema: the shape of the `spec` of each kind, exactly as Decode() reads
// it. The decoder is built from the same tables (api/codec.h), so the schema
// and the decoder cannot disagree; tests compare it with the CRD manifests.
//
// The schemas are built once, on first use, and never change: references
// returned by SpecSchema() stay valid for the life of the process and may be
// read from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/meta.h"

namespace meshgate::api {

struct FieldSchema {
  enum class Type {
    kString,
    kInteger,
    kNumber,
    kBoolean,
    kObject,
    kArray,
    kMap,
    kIntOrString,
    kDuration,
    kAny
  };
  Type type = Type::kString;
  // kObject: properties by their camelCase JSON name.
  std::map<std::string, std::shared_ptr<const FieldSchema>> properties;
  // kArray: the element schema; kMap: the value schema.
  std::shared_ptr<const FieldSchema> items;
  std::vector<std::string> enum_values;  // allowed values for enum strings
};

// The schema of `spec` for a kind, exactly as Decode() reads it (kDuration is a
// string in CRDs). Kinds whose spec is kept opaque (APIProduct) and the
// Kubernetes kinds, which are read leniently, have type kAny.
const FieldSchema& SpecSchema(Kind kind);

}  // namespace meshgate::api
