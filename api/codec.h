// Internal to the api module: the table-driven machinery Decode() is built
// from. A Codec<T> pairs the FieldSchema of T (what SpecSchema() exposes) with
// the function that reads a YAML node into a T, so the published schema and
// the decoder are one table and cannot drift apart.
//
// Codecs are built once (function-local statics) and are immutable afterwards;
// any number of threads may use the same codec. A DecodeContext belongs to one
// decoding of one document and is not thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "api/decode.h"
#include "api/diagnostic.h"
#include "api/schema.h"

namespace meshgate::api::codec {

// Per-document state: diagnostics found so far, where each field path was
// written (so validation findings get a line too), and the node budget that
// bounds work on documents that expand through aliases.
class DecodeContext {
 public:
  // REQUIRES: `node_budget` outlives the context; it is shared by every
  // document of one Decode() call.
  DecodeContext(const DecodeOptions& options, int64_t* node_budget)
      : options_(options), node_budget_(node_budget) {}

  void set_object(std::string object) { object_ = std::move(object); }
  // Added to yaml-cpp's lines: each document is parsed on its own.
  void set_line_offset(int offset) { line_offset_ = offset; }
  // The 1-based line of `node` in the whole text; 0 if unknown.
  int NodeLine(const YAML::Node& node) const;
  const std::string& object() const { return object_; }
  bool strict() const { return options_.strict; }
  const DecodeOptions& options() const { return options_; }

  void Error(const YAML::Node& node, const std::string& path, std::string message);
  void Warning(const YAML::Node& node, const std::string& path, std::string message);
  void Report(Diagnostic::Severity severity, int line, const std::string& path,
              std::string message);
  // An unknown field: an error in strict mode, a warning otherwise.
  void UnknownField(const YAML::Node& key, const std::string& path);

  bool has_errors() const { return errors_ > 0; }
  // False once the budget is spent (reported once, as an error).
  bool Visit(const YAML::Node& node, const std::string& path);

  // Remembers the line where `path` was written.
  void Record(const std::string& path, const YAML::Node& node);
  // The line of `path`, or of its longest recorded prefix; 0 if none.
  int LineOf(const std::string& path) const;

  Diagnostics TakeDiagnostics() { return std::move(diagnostics_); }

 private:
  const DecodeOptions& options_;
  int64_t* node_budget_;
  bool budget_reported_ = false;
  int line_offset_ = 0;
  std::string object_;
  int errors_ = 0;
  Diagnostics diagnostics_;
  std::map<std::string, int> lines_;
};

// 1-based line of a node; 0 when yaml-cpp has no mark for it.
int LineOf(const YAML::Node& node);
// "a map", "a list", "a string", "null" — for "expected X, got Y".
std::string Describe(const YAML::Node& node);
// "retry_on" -> "retryOn"; names without '_' are returned unchanged.
std::string SnakeToCamel(const std::string& name);
// protobuf JSON ("1.5s") and Go ("1m30s", "100ms", "2h") durations.
std::optional<absl::Duration> ParseDuration(const std::string& text);

template <typename T>
using DecodeFn =
    std::function<void(DecodeContext&, const YAML::Node&, const std::string& path, T& out)>;

template <typename T>
struct Codec {
  std::shared_ptr<const FieldSchema> schema;
  DecodeFn<T> decode;
};

std::shared_ptr<const FieldSchema> MakeSchema(FieldSchema::Type type);

// Scalars.
Codec<std::string> String();
// A string that is upper-cased on decode (Gateway port protocols).
Codec<std::string> UpperString();
Codec<bool> Bool();
Codec<double> Number();
Codec<int32_t> Int32();
Codec<uint32_t> UInt32();
Codec<int64_t> Int64();
Codec<uint64_t> UInt64();
Codec<absl::Duration> Duration();

// An enum written by name, case-sensitive as protobuf JSON.
template <typename E>
Codec<E> Enum(std::vector<std::pair<std::string, E>> values) {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = FieldSchema::Type::kString;
  for (const auto& [name, value] : values) schema->enum_values.push_back(name);
  auto table = std::make_shared<const std::vector<std::pair<std::string, E>>>(std::move(values));
  return Codec<E>{
      schema, [table](DecodeContext& ctx, const YAML::Node& node, const std::string& path, E& out) {
        if (!node.IsScalar()) {
          ctx.Error(node, path, "expected a string, got " + Describe(node));
          return;
        }
        for (const auto& [name, value] : *table) {
          if (name == node.Scalar()) {
            out = value;
            return;
          }
        }
        std::string allowed;
        for (const auto& [name, value] : *table) {
          if (!allowed.empty()) allowed += ", ";
          allowed += name;
        }
        ctx.Error(node, path,
                  "unknown value \"" + node.Scalar() + "\" (expected one of " + allowed + ")");
      }};
}

template <typename T>
Codec<std::vector<T>> ListOf(const Codec<T>& element) {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = FieldSchema::Type::kArray;
  schema->items = element.schema;
  auto decode = element.decode;
  return Codec<std::vector<T>>{schema, [decode](DecodeContext& ctx, const YAML::Node& node,
                                                const std::string& path, std::vector<T>& out) {
                                 if (!node.IsSequence()) {
                                   ctx.Error(node, path, "expected a list, got " + Describe(node));
                                   return;
                                 }
                                 out.clear();
                                 for (size_t i = 0; i < node.size(); ++i) {
                                   const YAML::Node item = node[i];
                                   const std::string item_path =
                                       path + "[" + std::to_string(i) + "]";
                                   if (!ctx.Visit(item, item_path)) return;
                                   ctx.Record(item_path, item);
                                   if (item.IsNull()) {
                                     ctx.Error(item, item_path, "list item is null");
                                     continue;
                                   }
                                   decode(ctx, item, item_path, out.emplace_back());
                                 }
                               }};
}

template <typename T>
Codec<std::map<std::string, T>> MapOf(const Codec<T>& value) {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = FieldSchema::Type::kMap;
  schema->items = value.schema;
  auto decode = value.decode;
  return Codec<std::map<std::string, T>>{
      schema, [decode](DecodeContext& ctx, const YAML::Node& node, const std::string& path,
                       std::map<std::string, T>& out) {
        if (!node.IsMap()) {
          ctx.Error(node, path, "expected a map, got " + Describe(node));
          return;
        }
        out.clear();
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node key = it->first;
          const YAML::Node val = it->second;
          if (!key.IsScalar()) {
            ctx.Error(key, path, "map keys must be strings, got " + Describe(key));
            continue;
          }
          const std::string item_path = path + "[" + key.Scalar() + "]";
          if (!ctx.Visit(val, item_path)) return;
          ctx.Record(item_path, key);
          if (out.count(key.Scalar()) != 0) {
            ctx.Error(key, item_path, "duplicate key \"" + key.Scalar() + "\"");
            continue;
          }
          if (val.IsNull()) {
            ctx.Error(val, item_path, "value is null");
            continue;
          }
          decode(ctx, val, item_path, out[key.Scalar()]);
        }
      }};
}

// Builds the codec of a message type field by field. Each field is declared
// once, with its JSON name, the member it fills and the member's codec;
// std::optional members are engaged when the field is present.
template <typename T>
class ObjectCodec {
 public:
  // Unknown fields are skipped silently (Kubernetes kinds and metadata, of
  // which meshgate reads a subset).
  ObjectCodec& IgnoreUnknown() {
    ignore_unknown_ = true;
    return *this;
  }

  template <typename M, typename V>
  ObjectCodec& Field(const std::string& json_name, M T::*member, const Codec<V>& codec) {
    auto decode = codec.decode;
    return Custom(json_name, codec.schema,
                  [member, decode](DecodeContext& ctx, const YAML::Node& node,
                                   const std::string& path, T& out) {
                    if constexpr (std::is_same_v<M, V>) {
                      decode(ctx, node, path, out.*member);
                    } else {
                      static_assert(std::is_same_v<M, std::optional<V>>,
                                    "member must be V or std::optional<V>");
                      decode(ctx, node, path, (out.*member).emplace());
                    }
                  });
  }

  // A field decoded by hand (one-ofs, int-or-string, ...).
  ObjectCodec& Custom(const std::string& json_name, std::shared_ptr<const FieldSchema> schema,
                      DecodeFn<T> decode) {
    schema_->properties[json_name] = schema;
    fields_->emplace(json_name, std::move(decode));
    return *this;
  }

  Codec<T> Build() const {
    auto fields = fields_;
    const bool ignore_unknown = ignore_unknown_;
    return Codec<T>{schema_, [fields, ignore_unknown](DecodeContext& ctx, const YAML::Node& node,
                                                      const std::string& path, T& out) {
                      if (!node.IsMap()) {
                        ctx.Error(node, path, "expected a map, got " + Describe(node));
                        return;
                      }
                      std::set<std::string> seen;
                      for (auto it = node.begin(); it != node.end(); ++it) {
                        const YAML::Node key = it->first;
                        const YAML::Node value = it->second;
                        if (!key.IsScalar()) {
                          ctx.Error(key, path, "field names must be strings, got " + Describe(key));
                          continue;
                        }
                        auto field = fields->find(key.Scalar());
                        if (field == fields->end())
                          field = fields->find(SnakeToCamel(key.Scalar()));
                        if (field == fields->end()) {
                          if (!ignore_unknown) {
                            ctx.UnknownField(key, (path.empty() ? "" : path + ".") + key.Scalar());
                          }
                          continue;
                        }
                        const std::string field_path =
                            (path.empty() ? "" : path + ".") + field->first;
                        if (!seen.insert(field->first).second) {
                          ctx.Error(key, field_path, "duplicate field \"" + key.Scalar() + "\"");
                          continue;
                        }
                        if (!ctx.Visit(value, field_path)) return;
                        ctx.Record(field_path, key);
                        // null is protobuf JSON's "unset".
                        if (value.IsNull()) continue;
                        field->second(ctx, value, field_path, out);
                      }
                    }};
  }

 private:
  std::shared_ptr<FieldSchema> schema_ = [] {
    auto schema = std::make_shared<FieldSchema>();
    schema->type = FieldSchema::Type::kObject;
    return schema;
  }();
  std::shared_ptr<std::map<std::string, DecodeFn<T>>> fields_ =
      std::make_shared<std::map<std::string, DecodeFn<T>>>();
  bool ignore_unknown_ = false;
};

}  // namespace meshgate::api::codec
