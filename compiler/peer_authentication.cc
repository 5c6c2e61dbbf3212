// Istio's PeerAuthentication resolution: the inbound mTLS mode of one
// workload port, from the most specific policy that sets it.
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "compiler/internal.h"

namespace meshgate::compiler {
namespace {

using api::MtlsMode;

// Policies of one scope, oldest first; Istio lets the oldest win when several
// workload or namespace policies apply, and warns. Creation time is not in
// file mode's model, so name order stands in for it deterministically.
std::vector<api::ResourcePtr> Sorted(std::vector<api::ResourcePtr> policies) {
  std::sort(policies.begin(), policies.end(),
            [](const api::ResourcePtr& a, const api::ResourcePtr& b) {
              return a->metadata.name < b->metadata.name;
            });
  return policies;
}

}  // namespace

PeerAuthenticationPolicy ResolvePeerAuthentication(const CompiledMesh& mesh,
                                                   const ProxyTarget& target,
                                                   std::vector<CompileDiagnostic>* diags) {
  std::vector<api::ResourcePtr> workload, in_namespace, mesh_wide;
  for (const auto& r : mesh.snapshot->OfKind(api::Kind::kPeerAuthentication)) {
    const auto& pa = r->As<api::PeerAuthentication>();
    const std::string ns = mesh.index->NamespaceOf(*r);
    const bool selects = !pa.selector.match_labels.empty();
    if (ns == mesh.options.root_namespace && !selects) {
      mesh_wide.push_back(r);
    } else if (ns == target.namespace_) {
      if (!selects) {
        in_namespace.push_back(r);
      } else if (!target.labels.empty() && LabelsMatch(pa.selector.match_labels, target.labels)) {
        workload.push_back(r);
      }
    }
  }
  auto first = [&](std::vector<api::ResourcePtr> policies,
                   const char* scope) -> const api::PeerAuthentication* {
    if (policies.empty()) return nullptr;
    policies = Sorted(std::move(policies));
    for (size_t i = 1; i < policies.size(); ++i) {
      diags->push_back(MakeDiagnostic(
          *policies[i], "spec",
          absl::StrCat("another ", scope, " PeerAuthentication (", policies[0]->Key().ToString(),
                       ") applies to the same workloads and wins"),
          CompileDiagnostic::Severity::kWarning));
    }
    return &policies[0]->As<api::PeerAuthentication>();
  };
  PeerAuthenticationPolicy out;
  const api::PeerAuthentication* chosen[] = {first(mesh_wide, "mesh-wide"),
                                             first(in_namespace, "namespace-wide"),
                                             first(workload, "workload")};
  // From the widest scope to the narrowest, each set mode overrides.
  for (const api::PeerAuthentication* pa : chosen) {
    if (pa == nullptr) continue;
    if (pa->mtls && pa->mtls->mode != MtlsMode::kUnset) out.mode = pa->mtls->mode;
  }
  if (const api::PeerAuthentication* pa = chosen[2]) {
    for (const auto& [port, mtls] : pa->port_level_mtls) {
      uint32_t number = 0;
      if (mtls.mode == MtlsMode::kUnset || !absl::SimpleAtoi(port, &number)) continue;
      out.port_modes[number] = mtls.mode;
    }
  }
  return out;
}

api::MtlsMode PeerAuthenticationPolicy::ModeFor(uint32_t port) const {
  auto it = port_modes.find(port);
  return it != port_modes.end() ? it->second : mode;
}

}  // namespace meshgate::compiler
