// `meshgatectl proxy-status`: whether every proxy connected to the control
// plane has accepted the configuration it was sent, per xDS type, rendered
// from the control plane's /debug/syncz document (xds::StatusTracker::ToJson).
//
// The functions here are pure (JSON text in, text out) so they are tested
// without a control plane; RunProxyStatus in admin_commands.h does the I/O.
// Safe from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ctl/output.h"

namespace meshgate::ctl {

// Where one proxy stands for one xDS type.
enum class SyncState {
  kNotSent,  // nothing of this type was sent to the proxy
  kSynced,   // the proxy ACKed the version last sent
  kStale,    // sent, but not (yet) ACKed; the proxy runs an older version
  kNacked,   // the proxy rejected the version last sent
};

// "NOT SENT", "SYNCED", "STALE", "NACKED".
std::string_view SyncStateName(SyncState state);

struct TypeSync {
  SyncState state = SyncState::kNotSent;
  std::string sent_version;
  std::string acked_version;
  // Set when state == kNacked: the proxy's error message for sent_version.
  std::string nack_message;
};

struct ProxySync {
  std::string node_id;
  std::string group;
  std::string protocol;                   // "sotw" or "delta"
  std::map<std::string, TypeSync> types;  // by type URL
};

// Classifies one type's entry from the syncz counters.
SyncState ClassifySync(std::string_view sent_version, std::string_view acked_version,
                       const std::string* nacked_version);

// Parses a /debug/syncz document. InvalidArgument naming the offending JSON
// path when `json` is not such a document.
absl::StatusOr<std::vector<ProxySync>> ParseSyncz(std::string_view json);

// The proxy-status table: NAME, GROUP, CDS, LDS, EDS, RDS, and SDS when any
// proxy was sent secrets; rows sorted by node id. NACK messages follow the
// table, one block per NACKed proxy and type.
std::string RenderProxyStatusTable(const std::vector<ProxySync>& proxies);

// The whole command output for `format`: the table, or the syncz document
// pretty-printed. Fails like ParseSyncz.
absl::StatusOr<std::string> RenderProxyStatus(std::string_view syncz_json, OutputFormat format);

}  // namespace meshgate::ctl
