#include "api/decode.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.h"
#include "api/depth_scan.h"
#include "api/kind_codecs.h"
#include "api/validate.h"

namespace meshgate::api {
namespace {

using codec::DecodeContext;
using Severity = Diagnostic::Severity;

struct Document {
  int first_line = 1;  // 1-based line of the chunk's first line in the whole text
  std::string text;
};

// Splits a YAML stream at "---" lines. A "---" at column 0 ends any block or
// quoted scalar in YAML, so splitting here matches the spec; parsing each
// document on its own keeps a syntax error in one from losing the others.
std::vector<Document> SplitDocuments(std::string_view text) {
  std::vector<Document> documents;
  Document current;
  size_t pos = 0;
  int line = 1;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view content = text.substr(pos, end - pos);
    const bool marker =
        content.substr(0, 3) == "---" &&
        (content.size() == 3 || content[3] == ' ' || content[3] == '\t' || content[3] == '\r');
    if (marker) {
      documents.push_back(std::move(current));
      current = Document{line, ""};
    }
    current.text.append(content);
    current.text += '\n';
    ++line;
    if (end == text.size()) break;
    pos = end + 1;
  }
  documents.push_back(std::move(current));
  return documents;
}

struct KindVersions {
  Kind kind;
  std::array<std::string_view, 4> api_versions;
};

constexpr std::array<KindVersions, 13> kSupported = {{
    {Kind::kVirtualService,
     {"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
      "networking.meshgate.io/v1"}},
    {Kind::kDestinationRule,
     {"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
      "networking.meshgate.io/v1"}},
    {Kind::kGateway,
     {"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
      "networking.meshgate.io/v1"}},
    {Kind::kServiceEntry,
     {"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
      "networking.meshgate.io/v1"}},
    {Kind::kAPIProduct, {"apim.meshgate.io/v1alpha1"}},
    {Kind::kService, {"v1"}},
    {Kind::kEndpointSlice, {"discovery.k8s.io/v1"}},
    {Kind::kPod, {"v1"}},
    {Kind::kNamespace, {"v1"}},
    {Kind::kSecret, {"v1"}},
    {Kind::kConfigMap, {"v1"}},
    {Kind::kPeerAuthentication, {"security.istio.io/v1", "security.istio.io/v1beta1"}},
    {Kind::kSidecar,
     {"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"}},
}};

std::optional<Kind> LookupKind(const std::string& kind, const std::string& api_version) {
  for (const auto& entry : kSupported) {
    if (KindName(entry.kind) != kind) continue;
    for (std::string_view version : entry.api_versions) {
      if (!version.empty() && version == api_version) return entry.kind;
    }
  }
  return std::nullopt;
}

bool IsKubernetesKind(Kind kind) {
  return kind != Kind::kVirtualService && kind != Kind::kDestinationRule &&
         kind != Kind::kGateway && kind != Kind::kServiceEntry && kind != Kind::kAPIProduct &&
         kind != Kind::kPeerAuthentication && kind != Kind::kSidecar;
}

std::string ScalarField(const YAML::Node& map, const char* name) {
  // Reading a missing key yields an invalid node, which throws on anything
  // but IsDefined().
  if (!map.IsDefined() || !map.IsMap()) return "";
  const YAML::Node value = map[name];
  return value.IsDefined() && value.IsScalar() ? value.Scalar() : "";
}

// APIProduct's opaque spec as JSON. Plain scalars get JSON's types; quoted
// ones stay strings. Depth and node budget bound aliases that loop or fan out.
bool ToJson(DecodeContext& ctx, const YAML::Node& node, const std::string& path, int depth,
            nlohmann::json& out) {
  if (!ctx.Visit(node, path)) return false;
  // Aliases can nest a node inside itself, so the walk bounds its own depth
  // (never beyond yaml-cpp's 2000, whatever max_depth says).
  const int max_depth = std::min(ctx.options().max_depth, 2000);
  if (depth > max_depth) {
    ctx.Error(node, path, "nesting deeper than " + std::to_string(max_depth));
    return false;
  }
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out = nlohmann::json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) {
          ctx.Error(it->first, path, "map keys must be strings");
          return false;
        }
        const std::string& key = it->first.Scalar();
        if (!ToJson(ctx, it->second, path + "." + key, depth + 1, out[key])) return false;
      }
      return true;
    }
    case YAML::NodeType::Sequence: {
      out = nlohmann::json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        if (!ToJson(ctx, node[i], path + "[" + std::to_string(i) + "]", depth + 1,
                    out.emplace_back())) {
          return false;
        }
      }
      return true;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") {  // quoted
        out = s;
        return true;
      }
      if (s == "true" || s == "True" || s == "TRUE") {
        out = true;
      } else if (s == "false" || s == "False" || s == "FALSE") {
        out = false;
      } else if (s == "null" || s == "Null" || s == "NULL" || s == "~") {
        out = nullptr;
      } else {
        int64_t integer = 0;
        double number = 0;
        auto [iend, iec] = std::from_chars(s.data(), s.data() + s.size(), integer);
        if (iec == std::errc() && iend == s.data() + s.size()) {
          out = integer;
        } else if (auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), number);
                   dec == std::errc() && dend == s.data() + s.size() && std::isfinite(number)) {
          out = number;
        } else {
          out = s;
        }
      }
      return true;
    }
    default:
      out = nullptr;
      return true;
  }
}

class Decoder {
 public:
  Decoder(const DecodeOptions& options, size_t text_size)
      : options_(options), node_budget_(static_cast<int64_t>(text_size) * 4 + 100000) {}

  void Document(const YAML::Node& root, int line_offset) {
    if (!root.IsDefined() || root.IsNull()) return;  // empty document
    DecodeContext ctx(options_, &node_budget_);
    ctx.set_line_offset(line_offset);
    if (!root.IsMap()) {
      ctx.Error(root, "", "expected an object (a map), got " + codec::Describe(root));
      Flush(ctx);
      return;
    }
    const std::string kind = ScalarField(root, "kind");
    const YAML::Node items = root["items"];
    if (kind == "List" ||
        (kind.size() > 4 && kind.ends_with("List") && items.IsDefined() && items.IsSequence())) {
      if (!items.IsDefined() || items.IsNull()) return;
      if (!items.IsSequence()) {
        ctx.Error(items, "items", "expected a list, got " + codec::Describe(items));
        Flush(ctx);
        return;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        if (!ctx.Visit(items[i], "items")) break;
        Object(items[i], line_offset);
      }
      Flush(ctx);
      return;
    }
    Object(root, line_offset);
  }

  void ParseError(const YAML::Exception& e, int line_offset) {
    Diagnostic d;
    d.location =
        SourceLocation{options_.source_name, e.mark.line >= 0 ? e.mark.line + line_offset + 1 : 0};
    d.message = "malformed YAML: " + e.msg;
    if (e.mark.column >= 0) d.message += " (column " + std::to_string(e.mark.column + 1) + ")";
    result_.diagnostics.push_back(std::move(d));
  }

  DecodeResult Take() { return std::move(result_); }

 private:
  void Flush(DecodeContext& ctx) {
    for (Diagnostic& d : ctx.TakeDiagnostics()) result_.diagnostics.push_back(std::move(d));
  }

  void Object(const YAML::Node& node, int line_offset) {
    DecodeContext ctx(options_, &node_budget_);
    ctx.set_line_offset(line_offset);
    if (!node.IsMap()) {
      ctx.Error(node, "", "expected an object (a map), got " + codec::Describe(node));
      Flush(ctx);
      return;
    }
    const std::string kind_name = ScalarField(node, "kind");
    const std::string api_version = ScalarField(node, "apiVersion");
    if (kind_name.empty()) {
      ctx.Error(node, "kind", "missing required field \"kind\"");
      Flush(ctx);
      return;
    }
    if (api_version.empty()) {
      ctx.Error(node, "apiVersion", "missing required field \"apiVersion\"");
      Flush(ctx);
      return;
    }
    const std::optional<Kind> kind = LookupKind(kind_name, api_version);
    if (!kind) {
      ctx.Report(Severity::kNotice, ctx.NodeLine(node), "",
                 "unsupported kind " + kind_name + " (apiVersion " + api_version + "), skipped");
      Flush(ctx);
      return;
    }

    auto resource = std::make_shared<Resource>();
    resource->kind = *kind;
    resource->api_version = api_version;
    resource->source = SourceLocation{options_.source_name, ctx.NodeLine(node)};
    // Top-level fields point at their key's line, so a finding about a
    // missing spec field lands on "spec:".
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar()) ctx.Record(it->first.Scalar(), it->first);
    }
    const YAML::Node metadata = node["metadata"];
    {
      const std::string name = ScalarField(metadata, "name");
      std::string ns = ScalarField(metadata, "namespace");
      if (ns.empty() && IsNamespaced(*kind)) ns = "default";
      ctx.set_object(ObjectKey{*kind, ns, name}.ToString());
    }
    if (!metadata.IsDefined() || metadata.IsNull()) {
      ctx.Error(node, "metadata", "missing required field \"metadata\"");
      Flush(ctx);
      return;
    }
    codec::Metadata().decode(ctx, metadata, "metadata", resource->metadata);
    if (!ctx.has_errors() && resource->metadata.name.empty()) {
      ctx.Error(metadata, "metadata.name", "missing required field \"name\"");
    }
    if (!IsNamespaced(*kind)) {
      resource->metadata.namespace_.clear();
    } else if (resource->metadata.namespace_.empty()) {
      resource->metadata.namespace_ = "default";
    }

    if (!IsKubernetesKind(*kind)) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
        if (key == "apiVersion" || key == "kind" || key == "metadata" || key == "spec" ||
            key == "status") {
          continue;
        }
        if (it->first.IsScalar()) {
          ctx.UnknownField(it->first, key);
        } else {
          ctx.Error(it->first, "", "field names must be strings");
        }
      }
    }
    const YAML::Node spec = node["spec"];
    const bool has_spec = spec.IsDefined() && !spec.IsNull();
    switch (*kind) {
      case Kind::kVirtualService:
        resource->spec = DecodeSpec(ctx, spec, codec::VirtualServiceSpec());
        break;
      case Kind::kDestinationRule:
        resource->spec = DecodeSpec(ctx, spec, codec::DestinationRuleSpec());
        break;
      case Kind::kGateway:
        resource->spec = DecodeSpec(ctx, spec, codec::GatewaySpec());
        break;
      case Kind::kServiceEntry:
        resource->spec = DecodeSpec(ctx, spec, codec::ServiceEntrySpec());
        break;
      case Kind::kPeerAuthentication:
        resource->spec = DecodeSpec(ctx, spec, codec::PeerAuthenticationSpec());
        break;
      case Kind::kSidecar:
        resource->spec = DecodeSpec(ctx, spec, codec::SidecarSpec());
        break;
      case Kind::kAPIProduct: {
        APIProduct product;
        nlohmann::json json = nlohmann::json::object();
        if (has_spec) {
          if (!spec.IsMap()) {
            ctx.Error(spec, "spec", "expected a map, got " + codec::Describe(spec));
          } else {
            ToJson(ctx, spec, "spec", 1, json);
          }
        }
        product.spec_json = json.dump();
        resource->spec = std::move(product);
        break;
      }
      case Kind::kService: {
        Service service;
        codec::DecodeService(ctx, node, service);
        resource->spec = std::move(service);
        break;
      }
      case Kind::kEndpointSlice: {
        EndpointSlice slice;
        codec::DecodeEndpointSlice(ctx, node, slice);
        auto owner = resource->metadata.labels.find("kubernetes.io/service-name");
        if (owner != resource->metadata.labels.end()) slice.service_name = owner->second;
        resource->spec = std::move(slice);
        break;
      }
      case Kind::kPod: {
        Pod pod;
        codec::DecodePod(ctx, node, pod);
        resource->spec = std::move(pod);
        break;
      }
      case Kind::kNamespace:
        resource->spec = Namespace{};
        break;
      case Kind::kSecret: {
        Secret secret;
        codec::DecodeSecret(ctx, node, secret);
        resource->spec = std::move(secret);
        break;
      }
      case Kind::kConfigMap: {
        ConfigMap config_map;
        codec::DecodeConfigMap(ctx, node, config_map);
        resource->spec = std::move(config_map);
        break;
      }
    }

    if (!ctx.has_errors()) {
      bool valid = true;
      for (Diagnostic& d : Validate(*resource)) {
        if (d.severity == Severity::kError) valid = false;
        const int line = ctx.LineOf(d.field_path);
        if (line > 0) d.location.line = line;
        ctx.Report(d.severity, d.location.line, d.field_path, std::move(d.message));
      }
      if (valid) result_.resources.push_back(std::move(resource));
    }
    Flush(ctx);
  }

  template <typename T>
  T DecodeSpec(DecodeContext& ctx, const YAML::Node& spec, const codec::Codec<T>& codec) {
    T out{};
    if (spec.IsDefined() && !spec.IsNull()) codec.decode(ctx, spec, "spec", out);
    return out;
  }

  const DecodeOptions& options_;
  int64_t node_budget_;
  DecodeResult result_;
};

}  // namespace

DecodeResult Decode(std::string_view text, const DecodeOptions& options) {
  if (text.size() > options.max_bytes) {
    DecodeResult result;
    Diagnostic d;
    d.location = SourceLocation{options.source_name, 0};
    d.message = "input is " + std::to_string(text.size()) + " bytes, above the limit of " +
                std::to_string(options.max_bytes);
    result.diagnostics.push_back(std::move(d));
    return result;
  }
  if (const DepthScan scan = ScanNestingDepth(text, options.max_depth); scan.stray_comma) {
    DecodeResult result;
    Diagnostic d;
    d.location = SourceLocation{options.source_name, scan.line};
    d.message = "malformed YAML: unexpected ',' outside a flow collection (column " +
                std::to_string(scan.column) + ")";
    result.diagnostics.push_back(std::move(d));
    return result;
  } else if (scan.exceeded) {
    DecodeResult result;
    Diagnostic d;
    d.location = SourceLocation{options.source_name, scan.line};
    d.message = "nesting deeper than " + std::to_string(options.max_depth) + " levels (column " +
                std::to_string(scan.column) + "), input rejected";
    result.diagnostics.push_back(std::move(d));
    return result;
  }

  Decoder decoder(options, text.size());
  for (const auto& document : SplitDocuments(text)) {
    std::vector<YAML::Node> nodes;
    try {
      nodes = YAML::LoadAll(document.text);
    } catch (const YAML::Exception& e) {
      decoder.ParseError(e, document.first_line - 1);
      continue;
    } catch (const std::exception& e) {
      decoder.ParseError(YAML::Exception(YAML::Mark::null_mark(), e.what()),
                         document.first_line - 1);
      continue;
    }
    for (const YAML::Node& node : nodes) {
      try {
        decoder.Document(node, document.first_line - 1);
      } catch (const std::exception& e) {
        // yaml-cpp throws from node accessors on shapes we did not expect;
        // the document is dropped, the rest of the input is still read.
        decoder.ParseError(YAML::Exception(node.Mark(), e.what()), document.first_line - 1);
      }
    }
  }
  return decoder.Take();
}

}  // namespace meshgate::api
