#include "operator/config_store.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace meshgate::operator_ {
namespace {

std::string DescribeOrigin(const std::string& origin, const api::Resource& resource) {
  if (resource.source.file.empty()) return origin;
  std::string out = resource.source.file;
  if (resource.source.line > 0) out += ":" + std::to_string(resource.source.line);
  return out;
}

}  // namespace

ConfigStore::ConfigStore() = default;

int64_t ConfigStore::Apply(const std::vector<OriginUpdate>& updates) {
  std::lock_guard apply_lock(apply_mu_);
  StoreChange change;
  {
    std::lock_guard lock(mu_);
    // What was in effect for every key this Apply touches, before it.
    std::map<api::ObjectKey, api::ResourcePtr> before;
    auto touch = [&](const api::ObjectKey& key) {
      if (before.contains(key)) return;
      auto it = claims_.find(key);
      before[key] =
          (it == claims_.end() || it->second.empty()) ? nullptr : it->second.front().resource;
    };

    for (const OriginUpdate& update : updates) {
      for (const api::ObjectKey& key : update.deletes) {
        touch(key);
        auto it = claims_.find(key);
        if (it == claims_.end()) continue;
        std::erase_if(it->second, [&](const Claim& c) { return c.origin == update.origin; });
      }
      for (const api::ResourcePtr& resource : update.upserts) {
        if (resource == nullptr) continue;
        const api::ObjectKey key = resource->Key();
        touch(key);
        Claims& claims = claims_[key];
        auto it = std::find_if(claims.begin(), claims.end(),
                               [&](const Claim& c) { return c.origin == update.origin; });
        if (it != claims.end()) {
          it->resource = resource;
        } else {
          claims.push_back(Claim{update.origin, resource, next_claim_seq_++});
        }
      }
      if (update.diagnostics.has_value()) {
        if (update.diagnostics->empty()) {
          origin_diagnostics_.erase(update.origin);
        } else {
          origin_diagnostics_[update.origin] = *update.diagnostics;
        }
      }
    }

    for (const auto& [key, old_resource] : before) {
      auto it = claims_.find(key);
      api::ResourcePtr now;
      if (it != claims_.end()) {
        if (it->second.empty()) {
          claims_.erase(it);
        } else {
          now = it->second.front().resource;
        }
      }
      RecomputeConflict(key);
      if (now == old_resource) continue;
      if (now == nullptr) {
        change.deleted.push_back(key);
      } else {
        change.upserted.push_back(key);
        if (old_resource != nullptr && old_resource->source.file != now->source.file &&
            !old_resource->source.file.empty()) {
          spdlog::info("{}: now in effect from {}", key.ToString(),
                       DescribeOrigin(claims_[key].front().origin, *now));
        }
      }
    }
    if (!change.upserted.empty() || !change.deleted.empty()) ++version_;
    change.version = version_;
  }

  if (change.upserted.empty() && change.deleted.empty()) return change.version;
  std::vector<std::shared_ptr<Callback>> callbacks;
  {
    std::lock_guard lock(subscribers_mu_);
    for (const auto& [id, callback] : subscribers_) callbacks.push_back(callback);
  }
  for (const auto& callback : callbacks) (*callback)(change);
  return change.version;
}

void ConfigStore::RecomputeConflict(const api::ObjectKey& key) {
  std::map<std::string, api::Diagnostic> previous;
  for (auto it = conflicts_.begin(); it != conflicts_.end();) {
    auto found = it->second.find(key);
    if (found != it->second.end()) {
      previous.emplace(it->first, std::move(found->second));
      it->second.erase(found);
    }
    it = it->second.empty() ? conflicts_.erase(it) : std::next(it);
  }
  auto it = claims_.find(key);
  if (it == claims_.end() || it->second.size() < 2) return;
  const Claim& winner = it->second.front();
  const std::string winner_place = DescribeOrigin(winner.origin, *winner.resource);
  for (size_t i = 1; i < it->second.size(); ++i) {
    const Claim& loser = it->second[i];
    api::Diagnostic d;
    d.severity = api::Diagnostic::Severity::kError;
    d.location = loser.resource->source;
    if (d.location.file.empty()) d.location.file = loser.origin;
    d.object = key.ToString();
    d.message = "conflict: also defined in " + winner_place +
                ", which was seen first and stays in effect; this definition is ignored";
    auto prev = previous.find(loser.origin);
    if (prev == previous.end() || prev->second.ToString() != d.ToString()) {
      spdlog::error("{}", d.ToString());
    }
    conflicts_[loser.origin][key] = std::move(d);
  }
}

api::ConfigSnapshotPtr ConfigStore::Snapshot() const {
  std::lock_guard lock(mu_);
  if (cached_snapshot_ != nullptr && cached_snapshot_->resource_version == version_) {
    return cached_snapshot_;
  }
  auto snapshot = std::make_shared<api::ConfigSnapshot>();
  snapshot->resource_version = version_;
  for (const auto& [key, claims] : claims_) {
    if (!claims.empty()) snapshot->objects.emplace(key, claims.front().resource);
  }
  cached_snapshot_ = std::move(snapshot);
  return cached_snapshot_;
}

int64_t ConfigStore::Version() const {
  std::lock_guard lock(mu_);
  return version_;
}

std::map<std::string, api::Diagnostics> ConfigStore::Diagnostics() const {
  std::lock_guard lock(mu_);
  std::map<std::string, api::Diagnostics> out = origin_diagnostics_;
  for (const auto& [origin, by_key] : conflicts_) {
    for (const auto& [key, diagnostic] : by_key) out[origin].push_back(diagnostic);
  }
  return out;
}

std::vector<api::ObjectKey> ConfigStore::KeysOf(const std::string& origin) const {
  std::lock_guard lock(mu_);
  std::vector<api::ObjectKey> out;
  for (const auto& [key, claims] : claims_) {
    for (const Claim& c : claims) {
      if (c.origin == origin) out.push_back(key);
    }
  }
  return out;
}

ConfigStore::SubscriptionId ConfigStore::Subscribe(Callback callback) {
  std::lock_guard lock(subscribers_mu_);
  SubscriptionId id = next_subscription_++;
  subscribers_.emplace(id, std::make_shared<Callback>(std::move(callback)));
  return id;
}

void ConfigStore::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(subscribers_mu_);
  subscribers_.erase(id);
}

}  // namespace meshgate::operator_
