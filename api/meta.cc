#include "api/meta.h"

#include <array>
#include <utility>

namespace meshgate::api {
namespace {

constexpr std::array<std::pair<Kind, std::string_view>, 13> kKindNames = {{
    {Kind::kVirtualService, "VirtualService"},
    {Kind::kDestinationRule, "DestinationRule"},
    {Kind::kGateway, "Gateway"},
    {Kind::kServiceEntry, "ServiceEntry"},
    {Kind::kAPIProduct, "APIProduct"},
    {Kind::kService, "Service"},
    {Kind::kEndpointSlice, "EndpointSlice"},
    {Kind::kPod, "Pod"},
    {Kind::kNamespace, "Namespace"},
    {Kind::kSecret, "Secret"},
    {Kind::kConfigMap, "ConfigMap"},
    {Kind::kPeerAuthentication, "PeerAuthentication"},
    {Kind::kSidecar, "Sidecar"},
}};

}  // namespace

std::string_view KindName(Kind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "Unknown";
}

std::optional<Kind> KindFromName(std::string_view name) {
  for (const auto& [k, n] : kKindNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

bool IsNamespaced(Kind kind) { return kind != Kind::kNamespace; }

std::string ObjectKey::ToString() const {
  std::string out(KindName(kind));
  out += '/';
  if (IsNamespaced(kind)) {
    out += namespace_;
    out += '/';
  }
  out += name;
  return out;
}

}  // namespace meshgate::api
