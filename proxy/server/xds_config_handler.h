// XdsConfigHandler: what the proxy does with what the ADS stream delivers.
// It decodes each response, hands it to the ConfigStore (which translates
// everything or refuses the whole response — the NACK), keeps the accepted
// resources for /config_dump, derives the RDS and EDS names to subscribe to
// from the accepted listeners and clusters, and tells the publisher that the
// config changed. The SDS secret names come from the TLS contexts of those
// listeners and clusters, less the names the proxy provides itself (its
// workload certificate `default` when it has a CA client).
//
// Thread-safety: OnResources runs on the ADS client's thread; the accessors
// are safe from any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "proxy/config/config_snapshot.h"
#include "proxy/xds/ads_client.h"

namespace meshgate::proxy::server {

class XdsConfigHandler : public xds::ResourceHandler {
 public:
  // `on_change` runs (on the ADS thread) after every accepted update.
  XdsConfigHandler(config::ConfigStore& store, std::function<void()> on_change);
  void set_client(xds::AdsClient* client) { client_ = client; }
  // Secrets the proxy holds itself and never asks the control plane for.
  // REQUIRES: called before the client starts.
  void set_local_secret_names(std::set<std::string> names) { local_secrets_ = std::move(names); }

  absl::Status OnResources(const std::string& type_url,
                           const std::vector<google::protobuf::Any>& resources,
                           const std::string& version) override;
  void OnStreamState(bool connected) override;

  bool connected() const;
  // JSON: {"versions": {type: version}, "resources": {type: [resource...]}}.
  std::string ConfigDumpJson() const;

  // Whether every listener's routes, every EDS cluster's endpoints and every
  // TLS user's secrets have arrived; `missing` names the first that has not.
  static bool IsComplete(const config::ConfigSnapshot& snapshot, std::string* missing);

 private:
  void UpdateSubscriptions();

  config::ConfigStore& store_;
  std::function<void()> on_change_;
  xds::AdsClient* client_ = nullptr;
  std::set<std::string> local_secrets_;
  mutable std::mutex mu_;
  bool connected_ = false;
  std::map<std::string, std::string> versions_;
  std::map<std::string, std::vector<google::protobuf::Any>> accepted_;
};

}  // namespace meshgate::proxy::server
