#include "xds-server/resource.h"

#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace meshgate::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using envoy::config::listener::v3::FilterChain;
using envoy::config::listener::v3::Listener;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

constexpr std::string_view kHcmType =
    "type.googleapis.com/"
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

absl::Status AddRdsName(const google::protobuf::Any& config, const std::string& where,
                        std::vector<std::string>& out) {
  if (config.type_url() != kHcmType) return absl::OkStatus();
  HttpConnectionManager hcm;
  if (!config.UnpackTo(&hcm)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": HttpConnectionManager does not parse"));
  }
  if (hcm.has_rds()) out.push_back(hcm.rds().route_config_name());
  return absl::OkStatus();
}

absl::Status AddChainRdsNames(const FilterChain& chain, const std::string& where,
                              std::vector<std::string>& out) {
  for (int i = 0; i < chain.filters_size(); ++i) {
    const auto& filter = chain.filters(i);
    if (!filter.has_typed_config()) continue;
    absl::Status s = AddRdsName(
        filter.typed_config(), absl::StrCat(where, ".filters[", i, "] (", filter.name(), ")"), out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ComputeDependencies(const google::protobuf::Any& any, const std::string& name,
                                 Resource& r) {
  if (any.type_url() == kClusterType) {
    Cluster cluster;
    if (!any.UnpackTo(&cluster)) {
      return absl::InvalidArgumentError(absl::StrCat("cluster ", name, ": does not parse"));
    }
    if (cluster.has_type() ? cluster.type() == Cluster::EDS : false) {
      r.dependency_type = std::string(kEndpointType);
      const std::string& service = cluster.eds_cluster_config().service_name();
      r.dependencies.push_back(service.empty() ? cluster.name() : service);
    }
  } else if (any.type_url() == kListenerType) {
    Listener listener;
    if (!any.UnpackTo(&listener)) {
      return absl::InvalidArgumentError(absl::StrCat("listener ", name, ": does not parse"));
    }
    r.dependency_type = std::string(kRouteType);
    const std::string where = absl::StrCat("listener ", name);
    for (int i = 0; i < listener.filter_chains_size(); ++i) {
      absl::Status s =
          AddChainRdsNames(listener.filter_chains(i),
                           absl::StrCat(where, ".filter_chains[", i, "]"), r.dependencies);
      if (!s.ok()) return s;
    }
    if (listener.has_default_filter_chain()) {
      absl::Status s =
          AddChainRdsNames(listener.default_filter_chain(),
                           absl::StrCat(where, ".default_filter_chain"), r.dependencies);
      if (!s.ok()) return s;
    }
    if (listener.has_api_listener() && listener.api_listener().has_api_listener()) {
      absl::Status s = AddRdsName(listener.api_listener().api_listener(),
                                  absl::StrCat(where, ".api_listener"), r.dependencies);
      if (!s.ok()) return s;
    }
    if (r.dependencies.empty()) r.dependency_type.clear();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!message.SerializeToCodedStream(&coded)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot serialize ", message.GetTypeName(), " (missing required fields?)"));
    }
  }
  return bytes;
}

}  // namespace

int PushRank(std::string_view type_url) {
  static constexpr std::array<std::string_view, 5> kOrder = {
      kSecretType, kClusterType, kEndpointType, kListenerType, kRouteType};
  for (size_t i = 0; i < kOrder.size(); ++i) {
    if (kOrder[i] == type_url) return static_cast<int>(i);
  }
  return static_cast<int>(kOrder.size());
}

uint64_t StableHash64(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // Avalanche (murmur3 fmix64) so nearby inputs give unrelated versions.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

std::string HashToVersion(uint64_t hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[hash & 0xf];
    hash >>= 4;
  }
  return out;
}

absl::StatusOr<ResourcePtr> MakeResource(std::string name,
                                         const google::protobuf::Message& message) {
  absl::StatusOr<std::string> bytes = DeterministicBytes(message);
  if (!bytes.ok()) return bytes.status();
  auto any = std::make_shared<google::protobuf::Any>();
  any->set_type_url(absl::StrCat("type.googleapis.com/", message.GetTypeName()));
  any->set_value(*std::move(bytes));
  auto r = std::make_shared<Resource>();
  r->name = std::move(name);
  r->type_url = any->type_url();
  r->hash = StableHash64(any->value(), StableHash64(r->type_url));
  r->version = HashToVersion(r->hash);
  absl::Status s = ComputeDependencies(*any, r->name, *r);
  if (!s.ok()) return s;
  r->body = std::move(any);
  return ResourcePtr(std::move(r));
}

absl::StatusOr<ResourcePtr> ResourceInterner::Intern(std::string name,
                                                     const google::protobuf::Message& message) {
  absl::StatusOr<ResourcePtr> made = MakeResource(std::move(name), message);
  if (!made.ok()) return made;
  const Resource& r = **made;
  std::string key = absl::StrCat(r.type_url, "\n", r.name, "\n", r.hash);
  std::lock_guard lock(mu_);
  auto& slot = by_key_[key];
  if (ResourcePtr existing = slot.lock()) return existing;
  slot = *made;
  // Sweep expired entries now and then so the map does not grow without bound.
  if (++interns_since_sweep_ > 4096 && interns_since_sweep_ > by_key_.size()) {
    interns_since_sweep_ = 0;
    std::erase_if(by_key_, [](const auto& kv) { return kv.second.expired(); });
    std::erase_if(by_content_hash_, [](const auto& kv) { return kv.second.expired(); });
  }
  return made;
}

absl::StatusOr<ResourcePtr> ResourceInterner::Intern(std::string name,
                                                     const google::protobuf::Message& message,
                                                     uint64_t content_hash) {
  std::string key = absl::StrCat(message.GetTypeName(), "\n", name, "\n", content_hash);
  {
    std::lock_guard lock(mu_);
    auto it = by_content_hash_.find(key);
    if (it != by_content_hash_.end()) {
      if (ResourcePtr existing = it->second.lock()) return existing;
    }
  }
  absl::StatusOr<ResourcePtr> made = Intern(std::move(name), message);
  if (!made.ok()) return made;
  std::lock_guard lock(mu_);
  by_content_hash_[key] = *made;
  return made;
}

size_t ResourceInterner::LiveCount() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [key, weak] : by_key_) n += weak.expired() ? 0 : 1;
  return n;
}

}  // namespace meshgate::xds
