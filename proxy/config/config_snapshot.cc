#include "proxy/config/config_snapshot.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/config/route_translator.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::config {

std::shared_ptr<const RouteTable> ConfigSnapshot::RoutesFor(
    const HttpConnectionManagerConfig& http) const {
  if (http.inline_routes != nullptr) return http.inline_routes;
  auto it = routes.find(http.rds_route_config_name);
  return it == routes.end() ? nullptr : it->second;
}

std::shared_ptr<const ClusterConfig> ConfigSnapshot::FindCluster(std::string_view name) const {
  auto it = clusters.find(Av(name));
  return it == clusters.end() ? nullptr : it->second;
}

std::shared_ptr<const EndpointSet> ConfigSnapshot::EndpointsFor(
    const ClusterConfig& cluster) const {
  if (cluster.type != DiscoveryType::kEds) return cluster.static_endpoints;
  auto it = endpoints.find(cluster.eds_service_name);
  return it == endpoints.end() ? nullptr : it->second;
}

ConfigStore::ConfigStore() : current_(std::make_shared<const ConfigSnapshot>()) {}

template <typename Proto, typename Runtime, typename Translate, typename Name, typename Member>
absl::Status ConfigStore::Apply(const std::vector<Proto>& updated,
                                const std::vector<std::string>* removed, bool replace_all,
                                Translate translate, Name name, Member member) {
  // Translate everything before touching the snapshot: an update is taken
  // whole or not at all.
  ConfigSnapshot::ByName<Runtime> translated;
  std::vector<std::string> errors;
  for (const Proto& resource : updated) {
    const std::string& key = name(resource);
    auto result = translate(resource);
    if (!result.ok()) {
      errors.emplace_back(result.status().message());
      continue;
    }
    if (!translated.emplace(key, *std::move(result)).second) {
      errors.push_back(absl::StrCat("duplicate resource name '", key, "' in one update"));
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));

  std::lock_guard lock(writer_mu_);
  auto next = std::make_shared<ConfigSnapshot>(*current_.load());
  ++next->generation;
  auto& map = (*next).*member;
  if (replace_all) map.clear();
  if (removed != nullptr) {
    for (const std::string& gone : *removed) map.erase(gone);
  }
  for (auto& [key, value] : translated) map[key] = std::move(value);
  current_.store(std::shared_ptr<const ConfigSnapshot>(std::move(next)));
  return absl::OkStatus();
}

namespace {

const std::string& ListenerName(const envoy::config::listener::v3::Listener& l) { return l.name(); }
const std::string& RouteName(const envoy::config::route::v3::RouteConfiguration& r) {
  return r.name();
}
const std::string& ClusterName(const envoy::config::cluster::v3::Cluster& c) { return c.name(); }
const std::string& AssignmentName(const envoy::config::endpoint::v3::ClusterLoadAssignment& a) {
  return a.cluster_name();
}

}  // namespace

absl::Status ConfigStore::SetListeners(
    const std::vector<envoy::config::listener::v3::Listener>& resources) {
  return Apply<envoy::config::listener::v3::Listener, ListenerConfig>(
      resources, nullptr, true, TranslateListener, ListenerName, &ConfigSnapshot::listeners);
}

absl::Status ConfigStore::SetRouteConfigurations(
    const std::vector<envoy::config::route::v3::RouteConfiguration>& resources) {
  return Apply<envoy::config::route::v3::RouteConfiguration, RouteTable>(
      resources, nullptr, true, TranslateRouteConfiguration, RouteName, &ConfigSnapshot::routes);
}

absl::Status ConfigStore::SetClusters(
    const std::vector<envoy::config::cluster::v3::Cluster>& resources) {
  return Apply<envoy::config::cluster::v3::Cluster, ClusterConfig>(
      resources, nullptr, true, TranslateCluster, ClusterName, &ConfigSnapshot::clusters);
}

absl::Status ConfigStore::SetClusterLoadAssignments(
    const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& resources) {
  return Apply<envoy::config::endpoint::v3::ClusterLoadAssignment, EndpointSet>(
      resources, nullptr, true, TranslateClusterLoadAssignment, AssignmentName,
      &ConfigSnapshot::endpoints);
}

absl::Status ConfigStore::UpdateListeners(
    const std::vector<envoy::config::listener::v3::Listener>& updated,
    const std::vector<std::string>& removed) {
  return Apply<envoy::config::listener::v3::Listener, ListenerConfig>(
      updated, &removed, false, TranslateListener, ListenerName, &ConfigSnapshot::listeners);
}

absl::Status ConfigStore::UpdateRouteConfigurations(
    const std::vector<envoy::config::route::v3::RouteConfiguration>& updated,
    const std::vector<std::string>& removed) {
  return Apply<envoy::config::route::v3::RouteConfiguration, RouteTable>(
      updated, &removed, false, TranslateRouteConfiguration, RouteName, &ConfigSnapshot::routes);
}

absl::Status ConfigStore::UpdateClusters(
    const std::vector<envoy::config::cluster::v3::Cluster>& updated,
    const std::vector<std::string>& removed) {
  return Apply<envoy::config::cluster::v3::Cluster, ClusterConfig>(
      updated, &removed, false, TranslateCluster, ClusterName, &ConfigSnapshot::clusters);
}

absl::Status ConfigStore::UpdateClusterLoadAssignments(
    const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& updated,
    const std::vector<std::string>& removed) {
  return Apply<envoy::config::endpoint::v3::ClusterLoadAssignment, EndpointSet>(
      updated, &removed, false, TranslateClusterLoadAssignment, AssignmentName,
      &ConfigSnapshot::endpoints);
}

}  // namespace meshgate::proxy::config
