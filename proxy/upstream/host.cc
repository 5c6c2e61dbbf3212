#include "proxy/upstream/host.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace meshgate::proxy {

bool IsRoutable(HostHealth health) {
  return health == HostHealth::kHealthy || health == HostHealth::kUnknown;
}

std::shared_ptr<const HostSet> HostSet::FromEndpoints(const std::vector<Endpoint>& endpoints) {
  uint32_t best_priority = std::numeric_limits<uint32_t>::max();
  for (const Endpoint& e : endpoints) {
    if (IsRoutable(e.health)) best_priority = std::min(best_priority, e.priority);
  }
  auto set = std::make_shared<HostSet>();
  for (const Endpoint& e : endpoints) {
    if (!IsRoutable(e.health) || e.priority != best_priority) continue;
    Host host;
    host.address = e.address;
    host.port = e.port;
    host.weight = std::max<uint32_t>(e.weight, 1);
    host.index = set->hosts_.size();
    host.transport_socket_match = e.transport_socket_match;
    // IPv6 literals get brackets so the key parses back as host:port.
    host.key = e.address.find(':') != std::string::npos ? absl::StrCat("[", e.address, "]:", e.port)
                                                        : absl::StrCat(e.address, ":", e.port);
    set->total_weight_ += host.weight;
    if (!set->hosts_.empty() && set->hosts_.front().weight != host.weight) {
      set->uniform_weights_ = false;
    }
    set->hosts_.push_back(std::move(host));
  }
  return set;
}

}  // namespace meshgate::proxy
