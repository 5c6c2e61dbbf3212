// `meshgatectl proxy-config`: one proxy's current listeners, routes, clusters
// or endpoints as readable tables, rendered from the control plane's
// /debug/config_dump?proxy=ID document (xds::StatusTracker::ConfigDumpJson:
// {"node_id", "group", "resources": {TYPE_URL: [{"name", "version",
// "resource": {...}}]}}, resources in the protobuf JSON mapping).
//
// Pure functions (JSON text in, text out); RunProxyConfig in
// admin_commands.h does the I/O. Safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ctl/output.h"

namespace meshgate::ctl {

enum class ConfigSection { kListeners, kRoutes, kClusters, kEndpoints };

// "listeners", "routes", "clusters", "endpoints" (singular accepted too).
std::optional<ConfigSection> ParseConfigSection(std::string_view name);

// The type URL of the section's resources.
std::string_view SectionTypeUrl(ConfigSection section);

// The command output for one section:
//  - table: listeners (NAME, ADDRESS:PORT, MATCH, DESTINATION; a row per filter
//    chain), routes (ROUTE NAME, VIRTUAL HOST, DOMAINS, MATCH, ACTION/CLUSTERS;
//    a row per route), clusters (NAME, TYPE, LB POLICY, EDS SERVICE), endpoints
//    (CLUSTER, ENDPOINT, HEALTH, WEIGHT; a row per endpoint);
//  - json: the section's resources as a JSON array, pretty-printed.
// Fields a table cannot read show as "-". InvalidArgument naming the JSON path
// when `dump_json` is not a config dump.
absl::StatusOr<std::string> RenderProxyConfig(ConfigSection section, std::string_view dump_json,
                                              OutputFormat format);

}  // namespace meshgate::ctl
