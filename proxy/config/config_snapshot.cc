#include "proxy/config/config_snapshot.h"

#include <algorithm>

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

ConfigStore::ConfigStore(const Clock& clock)
    : clock_(clock), current_(std::make_shared<const ConfigSnapshot>()) {}

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
  auto previous = current_.load();
  auto next = std::make_shared<ConfigSnapshot>(*previous);
  ++next->generation;
  auto& map = (*next).*member;
  if (replace_all) map.clear();
  if (removed != nullptr) {
    for (const std::string& gone : *removed) map.erase(gone);
  }
  for (auto& [key, value] : translated) map[key] = std::move(value);
  if (absl::Status s = ResolveTls(*next, *previous); !s.ok()) return s;
  current_.store(std::shared_ptr<const ConfigSnapshot>(std::move(next)));
  return absl::OkStatus();
}

const std::vector<std::string>& SupportedAlpn() {
  static const std::vector<std::string> protocols = {"h2", "http/1.1"};
  return protocols;
}

const std::vector<std::string>& UpstreamAlpn(UpstreamProtocol protocol) {
  static const std::vector<std::string> http1 = {"http/1.1"};
  static const std::vector<std::string> http2 = {"h2"};
  // A pool per downstream protocol shares the cluster's one context, so
  // nothing is negotiated that one of them could not speak.
  static const std::vector<std::string> none;
  switch (protocol) {
    case UpstreamProtocol::kHttp1:
      return http1;
    case UpstreamProtocol::kHttp2:
      return http2;
    case UpstreamProtocol::kUseDownstream:
      return none;
  }
  return none;
}

std::string ConfigSnapshot::ListenerTlsKey(std::string_view listener, const ListenerConfig& config,
                                           const FilterChainConfig& chain) {
  if (config.default_filter_chain && &chain == &*config.default_filter_chain) {
    return absl::StrCat("listener/", Av(listener), "/default");
  }
  return absl::StrCat("listener/", Av(listener), "/", &chain - config.filter_chains.data());
}

std::string ConfigSnapshot::ClusterTlsKey(std::string_view cluster) {
  return absl::StrCat("cluster/", Av(cluster));
}

std::shared_ptr<const SecretConfig> ConfigSnapshot::FindSecret(const std::string& name) const {
  if (auto it = local_secrets.find(name); it != local_secrets.end()) return it->second;
  if (auto it = secrets.find(name); it != secrets.end()) return it->second;
  return nullptr;
}

const ResolvedTls* ConfigSnapshot::ListenerTls(const ListenerConfig& listener,
                                               const FilterChainConfig& chain) const {
  if (chain.tls == nullptr) return nullptr;
  auto it = tls.find(ListenerTlsKey(listener.name, listener, chain));
  return it == tls.end() ? nullptr : it->second.get();
}

const ResolvedTls* ConfigSnapshot::ClusterTls(std::string_view cluster) const {
  auto it = tls.find(ClusterTlsKey(cluster));
  return it == tls.end() ? nullptr : it->second.get();
}

std::string ConfigSnapshot::ClusterMatchTlsKey(std::string_view cluster, size_t match) {
  return absl::StrCat("cluster/", Av(cluster), "/transport_socket_matches/", match);
}

const ResolvedTls* ConfigSnapshot::ClusterMatchTls(std::string_view cluster, size_t match) const {
  auto it = tls.find(ClusterMatchTlsKey(cluster, match));
  return it == tls.end() ? nullptr : it->second.get();
}

std::shared_ptr<const SecretConfig> ConfigStore::FileSecret(const std::string& name) const {
  auto read = ReadFileSecret(name);
  if (!read.ok()) return nullptr;  // not there (yet): the user waits, as for SDS
  auto it = file_secrets_.find(name);
  if (it != file_secrets_.end()) {
    const SecretConfig& old = *it->second;
    const SecretConfig& now = **read;
    bool same_cert = old.certificate.has_value() == now.certificate.has_value() &&
                     (!old.certificate ||
                      (old.certificate->chain_pem == now.certificate->chain_pem &&
                       old.certificate->private_key_pem == now.certificate->private_key_pem));
    bool same_roots =
        old.validation.has_value() == now.validation.has_value() &&
        (!old.validation || old.validation->trusted_ca_pem == now.validation->trusted_ca_pem);
    if (same_cert && same_roots) return it->second;
  }
  file_secrets_[name] = *read;
  return *read;
}

absl::Status ConfigStore::ResolveTls(ConfigSnapshot& next, const ConfigSnapshot& previous) const {
  ConfigSnapshot::ByName<ResolvedTls> resolved;
  std::vector<std::string> errors;
  // Records which secrets a resolution read, so reuse can compare them.
  auto resolve = [&](const std::string& key, const void* tls_config, auto build) {
    std::vector<std::shared_ptr<const SecretConfig>> used;
    std::string unavailable;  // why a secret this needs will never come
    SecretLookup lookup = [&](const std::string& name) {
      auto secret = next.FindSecret(name);
      if (secret == nullptr && IsFileSecretName(name)) secret = FileSecret(name);
      if (secret == nullptr) {
        if (auto it = unavailable_secrets_.find(name); it != unavailable_secrets_.end()) {
          unavailable = absl::StrCat("secret '", name, "' is unavailable: ", it->second);
        }
      }
      used.push_back(secret);
      return secret;
    };
    auto out = std::make_shared<ResolvedTls>();
    out->tls_config = tls_config;
    absl::StatusOr<network::TlsContextOptions> options = build(lookup);
    out->secrets = used;
    if (auto it = previous.tls.find(key); it != previous.tls.end() &&
                                          it->second->tls_config == tls_config &&
                                          it->second->secrets == used && it->second->context) {
      resolved[key] = it->second;
      return;
    }
    if (options.ok()) {
      options->clock = &clock_;
      auto context = network::TlsContext::Create(*std::move(options));
      if (context.ok()) {
        out->context = *std::move(context);
      } else {
        out->status = context.status();
      }
    } else if (!unavailable.empty()) {
      out->status = absl::FailedPreconditionError(unavailable);
      out->unavailable = true;
    } else {
      out->status = options.status();
    }
    if (!out->status.ok() && !absl::IsNotFound(out->status) && !out->unavailable) {
      errors.push_back(absl::StrCat(key, ": ", out->status.message()));
    }
    resolved[key] = std::move(out);
  };
  for (const auto& [name, listener] : next.listeners) {
    auto chain_tls = [&](const FilterChainConfig& chain) {
      if (chain.tls == nullptr) return;
      resolve(ConfigSnapshot::ListenerTlsKey(name, *listener, chain), chain.tls.get(),
              [&](const SecretLookup& lookup) {
                return DownstreamTlsOptions(*chain.tls, SupportedAlpn(), lookup);
              });
    };
    for (const auto& chain : listener->filter_chains) chain_tls(chain);
    if (listener->default_filter_chain) chain_tls(*listener->default_filter_chain);
  }
  std::map<std::pair<const void*, int>, std::shared_ptr<const ResolvedTls>> shared_client_tls;
  for (const auto& [name, cluster] : next.clusters) {
    auto client =
        [&](const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext& tls) {
          return [&cluster, context = &tls](
                     const SecretLookup& lookup) -> absl::StatusOr<network::TlsContextOptions> {
            auto options = UpstreamTlsOptions(*context, lookup);
            if (!options.ok()) return options;
            // Offer only what the cluster's codec speaks; an HTTP/2
            // cluster offers h2 even when the config names nothing, so
            // servers that pick their protocol by ALPN pick the right one.
            const std::vector<std::string>& ours = UpstreamAlpn(cluster->protocol);
            std::vector<std::string> offered;
            for (const std::string& p : options->alpn_protocols) {
              if (std::find(ours.begin(), ours.end(), p) != ours.end()) offered.push_back(p);
            }
            if (options->alpn_protocols.empty() && cluster->protocol == UpstreamProtocol::kHttp2) {
              offered = ours;
            }
            options->alpn_protocols = std::move(offered);
            return options;
          };
        };
    // Clusters whose (interned) contexts are one object and whose codecs
    // speak the same protocols share one resolved context: one TLS context
    // per distinct config, not per cluster (the SNI is per connection).
    auto resolve_shared =
        [&](const std::string& key,
            const envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext& tls) {
          auto [it, fresh] = shared_client_tls.try_emplace(
              std::make_pair(static_cast<const void*>(&tls), static_cast<int>(cluster->protocol)));
          if (!fresh) {
            resolved[key] = it->second;
            const ResolvedTls& same = *it->second;
            if (!same.status.ok() && !absl::IsNotFound(same.status) && !same.unavailable) {
              errors.push_back(absl::StrCat(key, ": ", same.status.message()));
            }
            return;
          }
          resolve(key, &tls, client(tls));
          it->second = resolved[key];
        };
    if (cluster->tls != nullptr) {
      resolve_shared(ConfigSnapshot::ClusterTlsKey(name), *cluster->tls);
    }
    for (size_t i = 0; i < cluster->transport_socket_matches.size(); ++i) {
      const auto& match_tls = cluster->transport_socket_matches[i].tls;
      if (match_tls == nullptr) continue;
      resolve_shared(ConfigSnapshot::ClusterMatchTlsKey(name, i), *match_tls);
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  next.tls = std::move(resolved);
  return absl::OkStatus();
}

namespace {

const std::string& ListenerName(const envoy::config::listener::v3::Listener& l) { return l.name(); }
const std::string& RouteName(const envoy::config::route::v3::RouteConfiguration& r) {
  return r.name();
}
const std::string& ClusterName(const envoy::config::cluster::v3::Cluster& c) { return c.name(); }
const std::string& SecretName(const envoy::extensions::transport_sockets::tls::v3::Secret& s) {
  return s.name();
}
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

absl::Status ConfigStore::SetSecrets(
    const std::vector<envoy::extensions::transport_sockets::tls::v3::Secret>& resources) {
  return Apply<envoy::extensions::transport_sockets::tls::v3::Secret, SecretConfig>(
      resources, nullptr, true, TranslateSecret, SecretName, &ConfigSnapshot::secrets);
}

absl::Status ConfigStore::UpdateSecrets(
    const std::vector<envoy::extensions::transport_sockets::tls::v3::Secret>& updated,
    const std::vector<std::string>& removed) {
  return Apply<envoy::extensions::transport_sockets::tls::v3::Secret, SecretConfig>(
      updated, &removed, false, TranslateSecret, SecretName, &ConfigSnapshot::secrets);
}

absl::Status ConfigStore::SetLocalSecret(std::shared_ptr<const SecretConfig> secret) {
  std::lock_guard lock(writer_mu_);
  auto previous = current_.load();
  auto next = std::make_shared<ConfigSnapshot>(*previous);
  ++next->generation;
  next->local_secrets[secret->name] = std::move(secret);
  if (absl::Status s = ResolveTls(*next, *previous); !s.ok()) return s;
  current_.store(std::shared_ptr<const ConfigSnapshot>(std::move(next)));
  return absl::OkStatus();
}

}  // namespace meshgate::proxy::config
