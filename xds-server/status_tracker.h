// StatusTracker: what each connected proxy has been sent and has ACKed or
// NACKed, for /debug/syncz, proxy-status, config dumps and the operator's
// status writer ("N of M proxies accepted version X", last NACK message).
//
// ADS streams report into it (Connect / RecordSent / RecordAck / RecordNack /
// Disconnect); readers take copies (Proxies) or rendered JSON. Entries are keyed
// by stream id, since a proxy may briefly hold two streams while reconnecting.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/text_escape.h"
#include "xds-server/resource.h"

namespace meshgate::xds {

struct NackRecord {
  std::string version;  // the rejected version
  std::string message;  // error_detail.message from the proxy
  absl::Time time;
};

struct TypeStatus {
  std::string last_version_sent;
  std::string last_nonce;
  absl::Time last_sent_time;
  std::string last_acked_version;
  absl::Time last_ack_time;
  std::optional<NackRecord> last_nack;
  uint64_t nack_count = 0;
  // The resources the proxy holds of this type, as last sent.
  std::vector<ResourcePtr> resources;
};

struct ProxyStatus {
  uint64_t stream_id = 0;
  std::string node_id;
  std::string group;
  std::string metadata_json;  // node metadata as a JSON object
  std::string protocol;       // "sotw" or "delta"
  absl::Time connected_since;
  std::map<std::string, TypeStatus> types;  // by type URL
};

class StatusTracker {
 public:
  void Connect(uint64_t stream_id, std::string node_id, std::string group,
               std::string metadata_json, std::string protocol, absl::Time now);
  void Disconnect(uint64_t stream_id);
  void RecordSent(uint64_t stream_id, const std::string& type_url, const std::string& version,
                  const std::string& nonce, absl::Time now, std::vector<ResourcePtr> resources);
  void RecordAck(uint64_t stream_id, const std::string& type_url, const std::string& version,
                 absl::Time now);
  void RecordNack(uint64_t stream_id, const std::string& type_url, const std::string& version,
                  const std::string& message, absl::Time now);

  std::vector<ProxyStatus> Proxies() const;
  size_t ConnectedCount() const;

  // The /debug/syncz document: {"proxies":[{node_id, group, metadata, protocol,
  // connected_since, types:{<type_url>:{last_version_sent, last_nonce,
  // last_acked_version, acked, nack_count, last_nack:{version,message,time}}}}]}.
  std::string ToJson() const;
  // The resources the newest stream of `node_id` currently holds, Any's
  // expanded: {"node_id":..., "resources":{<type_url>:[{"name","version",
  // "resource":{...}}]}}. NotFound when no such proxy is connected.
  absl::StatusOr<std::string> ConfigDumpJson(std::string_view node_id) const;

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, ProxyStatus> proxies_;
};

// JSON string literals, shared with the rest of meshgate.
using ::meshgate::JsonQuote;

}  // namespace meshgate::xds
