#include "xds-server/status_tracker.h"

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace meshgate::xds {
namespace {

std::string TimeJson(absl::Time t) {
  if (t == absl::Time()) return "null";
  return JsonQuote(absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone()));
}

google::protobuf::util::TypeResolver* Resolver() {
  static google::protobuf::util::TypeResolver* resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool());
  return resolver;
}

// The resource as JSON with nested Any's expanded; an object carrying the error
// when the type is not linked into this binary.
std::string ResourceJson(const Resource& r) {
  std::string out;
  auto status = google::protobuf::util::BinaryToJsonString(Resolver(), r.body->type_url(),
                                                           r.body->value(), &out);
  if (!status.ok()) {
    return absl::StrCat("{\"@type\":", JsonQuote(r.body->type_url()),
                        ",\"error\":", JsonQuote(status.ToString()), "}");
  }
  return out;
}

}  // namespace

void StatusTracker::Connect(uint64_t stream_id, std::string node_id, std::string group,
                            std::string metadata_json, std::string protocol, absl::Time now) {
  std::lock_guard lock(mu_);
  ProxyStatus& p = proxies_[stream_id];
  p.stream_id = stream_id;
  p.node_id = std::move(node_id);
  p.group = std::move(group);
  p.metadata_json = std::move(metadata_json);
  p.protocol = std::move(protocol);
  p.connected_since = now;
}

void StatusTracker::Disconnect(uint64_t stream_id) {
  std::lock_guard lock(mu_);
  proxies_.erase(stream_id);
}

void StatusTracker::RecordSent(uint64_t stream_id, const std::string& type_url,
                               const std::string& version, const std::string& nonce, absl::Time now,
                               std::vector<ResourcePtr> resources) {
  std::lock_guard lock(mu_);
  auto it = proxies_.find(stream_id);
  if (it == proxies_.end()) return;
  TypeStatus& t = it->second.types[type_url];
  t.last_version_sent = version;
  t.last_nonce = nonce;
  t.last_sent_time = now;
  t.resources = std::move(resources);
}

void StatusTracker::RecordAck(uint64_t stream_id, const std::string& type_url,
                              const std::string& version, absl::Time now) {
  std::lock_guard lock(mu_);
  auto it = proxies_.find(stream_id);
  if (it == proxies_.end()) return;
  TypeStatus& t = it->second.types[type_url];
  t.last_acked_version = version;
  t.last_ack_time = now;
}

void StatusTracker::RecordNack(uint64_t stream_id, const std::string& type_url,
                               const std::string& version, const std::string& message,
                               absl::Time now) {
  std::lock_guard lock(mu_);
  auto it = proxies_.find(stream_id);
  if (it == proxies_.end()) return;
  TypeStatus& t = it->second.types[type_url];
  t.last_nack = NackRecord{version, message, now};
  t.nack_count++;
}

std::vector<ProxyStatus> StatusTracker::Proxies() const {
  std::lock_guard lock(mu_);
  std::vector<ProxyStatus> out;
  out.reserve(proxies_.size());
  for (const auto& [id, p] : proxies_) out.push_back(p);
  return out;
}

size_t StatusTracker::ConnectedCount() const {
  std::lock_guard lock(mu_);
  return proxies_.size();
}

std::string StatusTracker::ToJson() const {
  std::vector<ProxyStatus> proxies = Proxies();
  std::string out = "{\"proxies\":[";
  bool first = true;
  for (const ProxyStatus& p : proxies) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, "{\"stream_id\":", p.stream_id, ",\"node_id\":", JsonQuote(p.node_id),
                    ",\"group\":", JsonQuote(p.group),
                    ",\"metadata\":", p.metadata_json.empty() ? "{}" : p.metadata_json,
                    ",\"protocol\":", JsonQuote(p.protocol),
                    ",\"connected_since\":", TimeJson(p.connected_since), ",\"types\":{");
    bool first_type = true;
    for (const auto& [type_url, t] : p.types) {
      if (!first_type) out += ',';
      first_type = false;
      absl::StrAppend(
          &out, JsonQuote(type_url), ":{\"last_version_sent\":", JsonQuote(t.last_version_sent),
          ",\"last_nonce\":", JsonQuote(t.last_nonce),
          ",\"last_sent_time\":", TimeJson(t.last_sent_time),
          ",\"last_acked_version\":", JsonQuote(t.last_acked_version), ",\"acked\":",
          !t.last_version_sent.empty() && t.last_acked_version == t.last_version_sent ? "true"
                                                                                      : "false",
          ",\"resource_count\":", t.resources.size(), ",\"nack_count\":", t.nack_count,
          ",\"last_nack\":");
      if (t.last_nack) {
        absl::StrAppend(&out, "{\"version\":", JsonQuote(t.last_nack->version),
                        ",\"message\":", JsonQuote(t.last_nack->message),
                        ",\"time\":", TimeJson(t.last_nack->time), "}");
      } else {
        out += "null";
      }
      out += '}';
    }
    out += "}}";
  }
  out += "]}";
  return out;
}

absl::StatusOr<std::string> StatusTracker::ConfigDumpJson(std::string_view node_id) const {
  std::optional<ProxyStatus> newest;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : proxies_) {
      if (p.node_id == node_id && (!newest || p.connected_since >= newest->connected_since)) {
        newest = p;
      }
    }
  }
  if (!newest) {
    return absl::NotFoundError(
        absl::StrCat("no connected proxy with node id \"", std::string(node_id), "\""));
  }
  std::string out = absl::StrCat("{\"node_id\":", JsonQuote(newest->node_id),
                                 ",\"group\":", JsonQuote(newest->group), ",\"resources\":{");
  bool first_type = true;
  for (const auto& [type_url, t] : newest->types) {
    if (!first_type) out += ',';
    first_type = false;
    absl::StrAppend(&out, JsonQuote(type_url), ":[");
    bool first = true;
    for (const ResourcePtr& r : t.resources) {
      if (!first) out += ',';
      first = false;
      absl::StrAppend(&out, "{\"name\":", JsonQuote(r->name),
                      ",\"version\":", JsonQuote(r->version), ",\"resource\":", ResourceJson(*r),
                      "}");
    }
    out += ']';
  }
  out += "}}";
  return out;
}

}  // namespace meshgate::xds
