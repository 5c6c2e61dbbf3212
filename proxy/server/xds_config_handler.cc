#include "proxy/server/xds_config_handler.h"

#include <google/protobuf/util/json_util.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"

namespace meshgate::proxy::server {
namespace {

template <typename T>
absl::StatusOr<std::vector<T>> Unpack(const std::vector<google::protobuf::Any>& resources) {
  std::vector<T> out;
  out.reserve(resources.size());
  for (size_t i = 0; i < resources.size(); ++i) {
    T message;
    if (!resources[i].UnpackTo(&message)) {
      return absl::InvalidArgumentError("resources[" + std::to_string(i) + "]: not a " +
                                        T::descriptor()->full_name() + " (" +
                                        resources[i].type_url() + ")");
    }
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace

XdsConfigHandler::XdsConfigHandler(config::ConfigStore& store, std::function<void()> on_change)
    : store_(store), on_change_(std::move(on_change)) {}

absl::Status XdsConfigHandler::OnResources(const std::string& type_url,
                                           const std::vector<google::protobuf::Any>& resources,
                                           const std::string& version) {
  absl::Status status;
  if (type_url == xds::kListenerType) {
    auto v = Unpack<envoy::config::listener::v3::Listener>(resources);
    status = v.ok() ? store_.SetListeners(*v) : v.status();
  } else if (type_url == xds::kRouteType) {
    auto v = Unpack<envoy::config::route::v3::RouteConfiguration>(resources);
    status = v.ok() ? store_.SetRouteConfigurations(*v) : v.status();
  } else if (type_url == xds::kClusterType) {
    auto v = Unpack<envoy::config::cluster::v3::Cluster>(resources);
    status = v.ok() ? store_.SetClusters(*v) : v.status();
  } else if (type_url == xds::kSecretType) {
    auto v = Unpack<envoy::extensions::transport_sockets::tls::v3::Secret>(resources);
    status = v.ok() ? store_.SetSecrets(*v) : v.status();
  } else if (type_url == xds::kEndpointType) {
    auto v = Unpack<envoy::config::endpoint::v3::ClusterLoadAssignment>(resources);
    status = v.ok() ? store_.SetClusterLoadAssignments(*v) : v.status();
  } else {
    status = absl::InvalidArgumentError("unsupported resource type " + type_url);
  }
  if (!status.ok()) return status;
  {
    std::lock_guard lock(mu_);
    versions_[type_url] = version;
    accepted_[type_url] = resources;
  }
  UpdateSubscriptions();
  if (on_change_) on_change_();
  return absl::OkStatus();
}

void XdsConfigHandler::OnStreamState(bool connected) {
  std::lock_guard lock(mu_);
  connected_ = connected;
}

bool XdsConfigHandler::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

void XdsConfigHandler::UpdateSubscriptions() {
  if (client_ == nullptr) return;
  auto snapshot = store_.Current();
  std::set<std::string> routes;
  for (const auto& [name, listener] : snapshot->listeners) {
    auto add = [&](const config::FilterChainConfig& chain) {
      if (!chain.http.rds_route_config_name.empty())
        routes.insert(chain.http.rds_route_config_name);
    };
    for (const auto& chain : listener->filter_chains) add(chain);
    if (listener->default_filter_chain) add(*listener->default_filter_chain);
  }
  std::set<std::string> endpoints;
  for (const auto& [name, cluster] : snapshot->clusters) {
    if (cluster->type == config::DiscoveryType::kEds) endpoints.insert(cluster->eds_service_name);
  }
  std::set<std::string> secrets;
  auto add_secrets = [&](const auto& tls) {
    std::vector<std::string> names = config::SdsSecretNames(tls.common_tls_context());
    // A context that needs a secret this proxy can never have (no workload
    // identity) is never built: fetching and parsing its others is waste.
    for (const std::string& name : names) {
      if (store_.SecretUnavailable(name)) return;
    }
    for (std::string& name : names) {
      if (local_secrets_.count(name) == 0 && !config::IsFileSecretName(name)) {
        secrets.insert(std::move(name));
      }
    }
  };
  for (const auto& [name, listener] : snapshot->listeners) {
    for (const auto& chain : listener->filter_chains) {
      if (chain.tls) add_secrets(*chain.tls);
    }
    if (listener->default_filter_chain && listener->default_filter_chain->tls) {
      add_secrets(*listener->default_filter_chain->tls);
    }
  }
  for (const auto& [name, cluster] : snapshot->clusters) {
    if (cluster->tls) add_secrets(*cluster->tls);
    for (const auto& match : cluster->transport_socket_matches) {
      if (match.tls) add_secrets(*match.tls);
    }
  }
  client_->SetSubscription(xds::kRouteType, std::move(routes));
  client_->SetSubscription(xds::kEndpointType, std::move(endpoints));
  client_->SetSubscription(xds::kSecretType, std::move(secrets));
}

bool XdsConfigHandler::IsComplete(const config::ConfigSnapshot& snapshot, std::string* missing) {
  for (const auto& [name, listener] : snapshot.listeners) {
    auto check = [&](const config::FilterChainConfig& chain) {
      if (chain.tcp_proxy) return true;  // no routes to wait for
      if (snapshot.RoutesFor(chain.http) == nullptr) {
        if (missing) *missing = "route configuration " + chain.http.rds_route_config_name;
        return false;
      }
      return true;
    };
    for (const auto& chain : listener->filter_chains) {
      if (!check(chain)) return false;
    }
    if (listener->default_filter_chain && !check(*listener->default_filter_chain)) return false;
  }
  for (const auto& [name, cluster] : snapshot.clusters) {
    if (snapshot.EndpointsFor(*cluster) == nullptr) {
      if (missing) *missing = "endpoints of cluster " + name;
      return false;
    }
  }
  for (const auto& [key, tls] : snapshot.tls) {
    if (tls->context == nullptr && !tls->unavailable) {
      if (missing) *missing = key + " (" + std::string(tls->status.message()) + ")";
      return false;
    }
  }
  return true;
}

std::string XdsConfigHandler::ConfigDumpJson() const {
  std::lock_guard lock(mu_);
  std::string out = "{\"versions\":{";
  bool first = true;
  for (const auto& [type, version] : versions_) {
    if (!first) out += ',';
    first = false;
    out += "\"" + type + "\":\"" + version + "\"";
  }
  out += "},\"resources\":{";
  first = true;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  for (const auto& [type, resources] : accepted_) {
    if (!first) out += ',';
    first = false;
    out += "\"" + type + "\":[";
    for (size_t i = 0; i < resources.size(); ++i) {
      std::string json;
      if (!google::protobuf::util::MessageToJsonString(resources[i], &json, options).ok()) {
        json = "null";
      }
      if (i > 0) out += ',';
      out += json;
    }
    out += ']';
  }
  out += "}}";
  return out;
}

}  // namespace meshgate::proxy::server
