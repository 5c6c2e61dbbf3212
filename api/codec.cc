#include "api/codec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace meshgate::api::codec {

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string \"" + node.Scalar().substr(0, 64) + "\"";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string SnakeToCamel(const std::string& name) {
  if (name.find('_') == std::string::npos) return name;
  std::string out;
  out.reserve(name.size());
  bool upper_next = false;
  for (char c : name) {
    if (c == '_') {
      upper_next = true;
      continue;
    }
    out += upper_next ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper_next = false;
  }
  return out;
}

std::optional<absl::Duration> ParseDuration(const std::string& text) {
  // absl::ParseDuration implements Go's grammar, of which protobuf JSON's
  // "<seconds>[.<fraction>]s" is a subset; it also accepts "inf", which no
  // config field means.
  if (text.empty() || text.find("inf") != std::string::npos) return std::nullopt;
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration)) return std::nullopt;
  return duration;
}

int DecodeContext::NodeLine(const YAML::Node& node) const {
  const int line = codec::LineOf(node);
  return line > 0 ? line + line_offset_ : 0;
}

void DecodeContext::Report(Diagnostic::Severity severity, int line, const std::string& path,
                           std::string message) {
  if (severity == Diagnostic::Severity::kError) ++errors_;
  Diagnostic d;
  d.severity = severity;
  d.location = SourceLocation{options_.source_name, line};
  d.object = object_;
  d.field_path = path;
  d.message = std::move(message);
  diagnostics_.push_back(std::move(d));
}

void DecodeContext::Error(const YAML::Node& node, const std::string& path, std::string message) {
  Report(Diagnostic::Severity::kError, NodeLine(node), path, std::move(message));
}

void DecodeContext::Warning(const YAML::Node& node, const std::string& path, std::string message) {
  Report(Diagnostic::Severity::kWarning, NodeLine(node), path, std::move(message));
}

void DecodeContext::UnknownField(const YAML::Node& key, const std::string& path) {
  Report(options_.strict ? Diagnostic::Severity::kError : Diagnostic::Severity::kWarning,
         NodeLine(key), path, "unknown field \"" + key.Scalar() + "\"");
}

bool DecodeContext::Visit(const YAML::Node& node, const std::string& path) {
  if (*node_budget_ > 0) {
    --*node_budget_;
    return true;
  }
  if (!budget_reported_) {
    budget_reported_ = true;
    Error(node, path, "document expands to too many nodes (alias expansion?)");
  }
  return false;
}

void DecodeContext::Record(const std::string& path, const YAML::Node& node) {
  const int line = NodeLine(node);
  if (line > 0) lines_.emplace(path, line);
}

int DecodeContext::LineOf(const std::string& path) const {
  std::string prefix = path;
  while (true) {
    auto it = lines_.find(prefix);
    if (it != lines_.end()) return it->second;
    const size_t cut = prefix.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) return 0;
    prefix.resize(cut);
  }
}

std::shared_ptr<const FieldSchema> MakeSchema(FieldSchema::Type type) {
  auto schema = std::make_shared<FieldSchema>();
  schema->type = type;
  return schema;
}

namespace {

bool ExpectScalar(DecodeContext& ctx, const YAML::Node& node, const std::string& path,
                  const char* expected) {
  if (node.IsScalar()) return true;
  ctx.Error(node, path, std::string("expected ") + expected + ", got " + Describe(node));
  return false;
}

// Integers as protobuf JSON takes them: a number, or a string holding one.
template <typename T>
Codec<T> Integer(const char* type_name) {
  return Codec<T>{
      MakeSchema(FieldSchema::Type::kInteger),
      [type_name](DecodeContext& ctx, const YAML::Node& node, const std::string& path, T& out) {
        if (!ExpectScalar(ctx, node, path, "an integer")) return;
        std::string text = node.Scalar();
        if (!text.empty() && text[0] == '+') text.erase(0, 1);
        // Whole-valued floats ("1.0", "1e3") are integers in JSON.
        long double value = 0;
        bool is_integer = false;
        {
          int64_t as_int = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), as_int);
          if (ec == std::errc() && end == text.data() + text.size()) {
            value = static_cast<long double>(as_int);
            is_integer = true;
          } else if (ec == std::errc::result_out_of_range) {
            ctx.Error(node, path, "value " + text + " is out of range for " + type_name);
            return;
          }
        }
        if (!is_integer) {
          uint64_t as_uint = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), as_uint);
          if (ec == std::errc() && end == text.data() + text.size()) {
            value = static_cast<long double>(as_uint);
            is_integer = true;
          }
        }
        if (!is_integer) {
          double as_double = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), as_double);
          if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(as_double) &&
              std::floor(as_double) == as_double) {
            value = as_double;
            is_integer = true;
          }
        }
        if (!is_integer) {
          ctx.Error(node, path, "expected an integer, got " + Describe(node));
          return;
        }
        if (value < static_cast<long double>(std::numeric_limits<T>::min()) ||
            value > static_cast<long double>(std::numeric_limits<T>::max())) {
          ctx.Error(node, path, "value " + text + " is out of range for " + type_name);
          return;
        }
        out = static_cast<T>(value);
      }};
}

}  // namespace

Codec<std::string> String() {
  return Codec<std::string>{
      MakeSchema(FieldSchema::Type::kString),
      [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, std::string& out) {
        if (ExpectScalar(ctx, node, path, "a string")) out = node.Scalar();
      }};
}

Codec<std::string> UpperString() {
  return Codec<std::string>{
      MakeSchema(FieldSchema::Type::kString),
      [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, std::string& out) {
        if (!ExpectScalar(ctx, node, path, "a string")) return;
        out = node.Scalar();
        for (char& c : out) {
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
      }};
}

Codec<bool> Bool() {
  return Codec<bool>{
      MakeSchema(FieldSchema::Type::kBoolean),
      [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, bool& out) {
        if (!ExpectScalar(ctx, node, path, "a boolean")) return;
        const std::string& s = node.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") {
          out = true;
        } else if (s == "false" || s == "False" || s == "FALSE") {
          out = false;
        } else {
          ctx.Error(node, path, "expected a boolean, got " + Describe(node));
        }
      }};
}

Codec<double> Number() {
  return Codec<double>{
      MakeSchema(FieldSchema::Type::kNumber),
      [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, double& out) {
        if (!ExpectScalar(ctx, node, path, "a number")) return;
        const std::string& s = node.Scalar();
        double value = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
        if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
          ctx.Error(node, path, "expected a number, got " + Describe(node));
          return;
        }
        out = value;
      }};
}

Codec<int32_t> Int32() { return Integer<int32_t>("int32"); }
Codec<uint32_t> UInt32() { return Integer<uint32_t>("uint32"); }
Codec<int64_t> Int64() { return Integer<int64_t>("int64"); }
Codec<uint64_t> UInt64() { return Integer<uint64_t>("uint64"); }

Codec<absl::Duration> Duration() {
  return Codec<absl::Duration>{
      MakeSchema(FieldSchema::Type::kDuration),
      [](DecodeContext& ctx, const YAML::Node& node, const std::string& path, absl::Duration& out) {
        if (!ExpectScalar(ctx, node, path, "a duration string")) return;
        auto duration = ParseDuration(node.Scalar());
        if (!duration) {
          ctx.Error(
              node, path,
              "invalid duration \"" + node.Scalar() + "\" (expected e.g. \"1.5s\", \"100ms\")");
          return;
        }
        out = *duration;
      }};
}

}  // namespace meshgate::api::codec
