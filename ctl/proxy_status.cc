#include "ctl/proxy_status.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ctl/json_util.h"
#include "ctl/xds_types.h"

namespace meshgate::ctl {
namespace {

using nlohmann::json;

struct Column {
  const char* title;
  const char* type_url;
};

constexpr Column kColumns[] = {
    {"CDS", kClusterType}, {"LDS", kListenerType}, {"EDS", kEndpointType},
    {"RDS", kRouteType},   {"SDS", kSecretType},
};

absl::Status ShapeError(absl::string_view path, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("syncz", path, ": want ", want));
}

// Reads the optional string member `name` of `object`; absent and null read
// as "".
absl::Status ReadString(const json& object, absl::string_view name, absl::string_view path,
                        std::string* out) {
  auto it = object.find(std::string(name));
  if (it == object.end() || it->is_null()) {
    out->clear();
    return absl::OkStatus();
  }
  if (!it->is_string()) return ShapeError(absl::StrCat(path, ".", name), "a string");
  *out = it->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status ParseType(const json& entry, absl::string_view path, TypeSync* out) {
  if (!entry.is_object()) return ShapeError(path, "an object");
  if (absl::Status s = ReadString(entry, "last_version_sent", path, &out->sent_version); !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadString(entry, "last_acked_version", path, &out->acked_version);
      !s.ok()) {
    return s;
  }
  std::optional<std::string> nacked_version;
  auto nack = entry.find("last_nack");
  if (nack != entry.end() && !nack->is_null()) {
    const std::string nack_path = absl::StrCat(path, ".last_nack");
    if (!nack->is_object()) return ShapeError(nack_path, "an object or null");
    std::string version;
    if (absl::Status s = ReadString(*nack, "version", nack_path, &version); !s.ok()) return s;
    if (absl::Status s = ReadString(*nack, "message", nack_path, &out->nack_message); !s.ok()) {
      return s;
    }
    nacked_version = std::move(version);
  }
  out->state = ClassifySync(out->sent_version, out->acked_version,
                            nacked_version ? &*nacked_version : nullptr);
  if (out->state != SyncState::kNacked) out->nack_message.clear();
  return absl::OkStatus();
}

absl::Status ParseProxy(const json& entry, absl::string_view path, ProxySync* out) {
  if (!entry.is_object()) return ShapeError(path, "an object");
  if (absl::Status s = ReadString(entry, "node_id", path, &out->node_id); !s.ok()) return s;
  if (out->node_id.empty()) return ShapeError(absl::StrCat(path, ".node_id"), "a node id");
  if (absl::Status s = ReadString(entry, "group", path, &out->group); !s.ok()) return s;
  if (absl::Status s = ReadString(entry, "protocol", path, &out->protocol); !s.ok()) return s;
  auto types = entry.find("types");
  if (types == entry.end() || types->is_null()) return absl::OkStatus();
  if (!types->is_object()) return ShapeError(absl::StrCat(path, ".types"), "an object");
  for (const auto& [type_url, type_entry] : types->items()) {
    TypeSync sync;
    if (absl::Status s =
            ParseType(type_entry, absl::StrCat(path, ".types[\"", type_url, "\"]"), &sync);
        !s.ok()) {
      return s;
    }
    out->types.emplace(type_url, std::move(sync));
  }
  return absl::OkStatus();
}

const TypeSync* FindType(const ProxySync& proxy, const char* type_url) {
  auto it = proxy.types.find(type_url);
  return it == proxy.types.end() ? nullptr : &it->second;
}

}  // namespace

std::string_view SyncStateName(SyncState state) {
  switch (state) {
    case SyncState::kNotSent:
      return "NOT SENT";
    case SyncState::kSynced:
      return "SYNCED";
    case SyncState::kStale:
      return "STALE";
    case SyncState::kNacked:
      return "NACKED";
  }
  return "?";
}

SyncState ClassifySync(std::string_view sent_version, std::string_view acked_version,
                       const std::string* nacked_version) {
  if (sent_version.empty()) return SyncState::kNotSent;
  if (acked_version == sent_version) return SyncState::kSynced;
  if (nacked_version != nullptr && *nacked_version == sent_version) return SyncState::kNacked;
  return SyncState::kStale;
}

absl::StatusOr<std::vector<ProxySync>> ParseSyncz(std::string_view text) {
  std::optional<json> doc = ParseJson(text);
  if (!doc) return absl::InvalidArgumentError("syncz: not a JSON document");
  if (!doc->is_object()) return ShapeError("", "an object {\"proxies\": [...]}");
  auto proxies = doc->find("proxies");
  if (proxies == doc->end() || !proxies->is_array()) return ShapeError(".proxies", "an array");
  std::vector<ProxySync> out;
  out.reserve(proxies->size());
  for (size_t i = 0; i < proxies->size(); ++i) {
    ProxySync proxy;
    if (absl::Status s = ParseProxy((*proxies)[i], absl::StrCat(".proxies[", i, "]"), &proxy);
        !s.ok()) {
      return s;
    }
    out.push_back(std::move(proxy));
  }
  return out;
}

std::string RenderProxyStatusTable(const std::vector<ProxySync>& proxies) {
  std::vector<const ProxySync*> sorted;
  sorted.reserve(proxies.size());
  for (const ProxySync& p : proxies) sorted.push_back(&p);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const ProxySync* a, const ProxySync* b) { return a->node_id < b->node_id; });

  // SDS only matters to meshes with mTLS or gateway certificates; the column
  // appears once any proxy subscribes to secrets.
  bool any_secrets = std::any_of(proxies.begin(), proxies.end(),
                                 [](const ProxySync& p) { return p.types.count(kSecretType) > 0; });
  std::vector<const Column*> columns;
  for (const Column& column : kColumns) {
    if (std::string_view(column.type_url) == kSecretType && !any_secrets) continue;
    columns.push_back(&column);
  }

  std::vector<std::string> header = {"NAME", "GROUP"};
  for (const Column* column : columns) header.push_back(column->title);
  std::vector<std::vector<std::string>> rows;
  std::string nacks;
  for (const ProxySync* proxy : sorted) {
    std::vector<std::string> row = {proxy->node_id, proxy->group.empty() ? "-" : proxy->group};
    for (const Column* column : columns) {
      const TypeSync* sync = FindType(*proxy, column->type_url);
      SyncState state = sync == nullptr ? SyncState::kNotSent : sync->state;
      row.emplace_back(SyncStateName(state));
      if (state == SyncState::kNacked) {
        absl::StrAppend(&nacks, "  ", proxy->node_id, " ", column->title, " version ",
                        sync->sent_version, ":\n    ",
                        absl::StrReplaceAll(sync->nack_message, {{"\n", "\n    "}}), "\n");
      }
    }
    rows.push_back(std::move(row));
  }
  std::string out = RenderTable(header, rows);
  if (!nacks.empty()) absl::StrAppend(&out, "\nNACKed configuration:\n", nacks);
  return out;
}

absl::StatusOr<std::string> RenderProxyStatus(std::string_view syncz_json, OutputFormat format) {
  absl::StatusOr<std::vector<ProxySync>> proxies = ParseSyncz(syncz_json);
  if (!proxies.ok()) return proxies.status();
  if (format == OutputFormat::kTable) return RenderProxyStatusTable(*proxies);
  // Already known to parse; re-parsed here to print it pretty.
  std::optional<json> doc = ParseJson(syncz_json);
  return doc->dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace meshgate::ctl
