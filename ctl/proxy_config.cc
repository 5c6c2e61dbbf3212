#include "ctl/proxy_config.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/json_util.h"
#include "ctl/xds_types.h"

namespace meshgate::ctl {
namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

// More domains than this per virtual host are summarised ("+N more"); the
// control plane lists every spelling of a Service's name, which would make the
// table unreadable. -o json shows them all.
constexpr size_t kMaxDomainsShown = 3;

std::string OrDash(std::string s) { return s.empty() ? "-" : s; }

// One entry of the dump: its name and its resource, or the control plane's
// note that it could not decode it.
struct Entry {
  std::string name;
  const json* resource = nullptr;  // null when undecodable
  const json* raw = nullptr;       // as the control plane sent it, for -o json
  std::string error;
};

std::string AddressText(const json* address) {
  if (address == nullptr) return "-";
  if (const json* pipe = Path(*address, {"pipe", "path"})) return Text(pipe, "-");
  const json* socket = Path(*address, {"socketAddress"});
  if (socket == nullptr) return "-";
  std::string ip = Text(Path(*socket, {"address"}));
  if (absl::StrContains(ip, ':')) ip = absl::StrCat("[", ip, "]");
  const json* port = Path(*socket, {"portValue"});
  std::string port_text = port != nullptr ? Text(port) : Text(Path(*socket, {"namedPort"}));
  // proto3 JSON omits a zero port.
  return absl::StrCat(ip.empty() ? "-" : ip, ":", port_text.empty() ? "0" : port_text);
}

std::string JoinTexts(const json* array, absl::string_view separator) {
  std::vector<std::string> parts;
  for (const json& item : ArrayOrEmpty(array)) parts.push_back(Text(&item, "?"));
  return absl::StrJoin(parts, separator);
}

// ---- listeners ----

std::string ChainMatch(const json& chain) {
  const json* match = Path(chain, {"filterChainMatch"});
  if (match == nullptr || !match->is_object() || match->empty()) return "ALL";
  std::vector<std::string> parts;
  if (const json* port = Path(*match, {"destinationPort"})) {
    parts.push_back(absl::StrCat("port ", Text(port, "?")));
  }
  for (const json& range : ArrayOrEmpty(Path(*match, {"prefixRanges"}))) {
    parts.push_back(absl::StrCat("dst ", Text(Path(range, {"addressPrefix"}), "?"), "/",
                                 Text(Path(range, {"prefixLen"}), "0")));
  }
  if (const json* names = Path(*match, {"serverNames"})) {
    parts.push_back(absl::StrCat("sni ", JoinTexts(names, ",")));
  }
  if (const json* transport = Path(*match, {"transportProtocol"})) {
    parts.push_back(Text(transport, "?"));
  }
  if (const json* alpn = Path(*match, {"applicationProtocols"})) {
    parts.push_back(absl::StrCat("alpn ", JoinTexts(alpn, ",")));
  }
  return parts.empty() ? "ALL" : absl::StrJoin(parts, "; ");
}

// Where a filter chain sends traffic: the route configuration of its HTTP
// connection manager, or the cluster(s) of its TCP proxy.
std::string ChainDestination(const json& chain) {
  std::string last_filter;
  for (const json& filter : ArrayOrEmpty(Path(chain, {"filters"}))) {
    last_filter = Text(Path(filter, {"name"}));
    const json* config = Path(filter, {"typedConfig"});
    if (config == nullptr) continue;
    const std::string type = Text(Path(*config, {"@type"}));
    if (absl::EndsWith(type, ".HttpConnectionManager")) {
      if (const json* rds = Path(*config, {"rds", "routeConfigName"})) {
        return absl::StrCat("Route: ", Text(rds, "?"));
      }
      if (const json* inline_routes = Path(*config, {"routeConfig"})) {
        return absl::StrCat("Inline Route: ", OrDash(Text(Path(*inline_routes, {"name"}))));
      }
      return "HTTP (no routes)";
    }
    if (absl::EndsWith(type, ".TcpProxy")) {
      if (const json* cluster = Path(*config, {"cluster"})) {
        return absl::StrCat("Cluster: ", Text(cluster, "?"));
      }
      std::vector<std::string> names;
      for (const json& c : ArrayOrEmpty(Path(*config, {"weightedClusters", "clusters"}))) {
        names.push_back(Text(Path(c, {"name"}), "?"));
      }
      return absl::StrCat("Clusters: ", OrDash(absl::StrJoin(names, ", ")));
    }
  }
  return OrDash(last_filter);
}

void ListenerRows(const Entry& entry, Rows* rows) {
  if (entry.resource == nullptr) {
    rows->push_back({entry.name, "-", "-", entry.error});
    return;
  }
  const json& l = *entry.resource;
  const std::string address = AddressText(Path(l, {"address"}));
  size_t before = rows->size();
  for (const json& chain : ArrayOrEmpty(Path(l, {"filterChains"}))) {
    rows->push_back({entry.name, address, ChainMatch(chain), ChainDestination(chain)});
  }
  if (const json* fallback = Path(l, {"defaultFilterChain"})) {
    rows->push_back({entry.name, address, "DEFAULT", ChainDestination(*fallback)});
  }
  if (rows->size() == before) rows->push_back({entry.name, address, "-", "-"});
}

// ---- routes ----

std::string RouteMatch(const json& route) {
  const json* match = Path(route, {"match"});
  if (match == nullptr) return "-";
  std::string path;
  if (const json* v = Path(*match, {"prefix"})) {
    path = absl::StrCat("prefix ", Text(v));
  } else if (const json* v = Path(*match, {"path"})) {
    path = absl::StrCat("path ", Text(v));
  } else if (const json* v = Path(*match, {"safeRegex", "regex"})) {
    path = absl::StrCat("regex ", Text(v));
  } else if (const json* v = Path(*match, {"pathSeparatedPrefix"})) {
    path = absl::StrCat("path_separated_prefix ", Text(v));
  } else if (Path(*match, {"connectMatcher"}) != nullptr) {
    path = "CONNECT";
  } else {
    path = "-";
  }
  std::vector<std::string> headers;
  for (const json& h : ArrayOrEmpty(Path(*match, {"headers"}))) {
    headers.push_back(Text(Path(h, {"name"}), "?"));
  }
  if (!headers.empty()) absl::StrAppend(&path, " (headers: ", absl::StrJoin(headers, ","), ")");
  std::vector<std::string> params;
  for (const json& q : ArrayOrEmpty(Path(*match, {"queryParameters"}))) {
    params.push_back(Text(Path(q, {"name"}), "?"));
  }
  if (!params.empty()) absl::StrAppend(&path, " (query: ", absl::StrJoin(params, ","), ")");
  return path;
}

std::string RouteAction(const json& route) {
  if (const json* action = Path(route, {"route"})) {
    if (const json* cluster = Path(*action, {"cluster"})) return Text(cluster, "?");
    if (const json* weighted = Path(*action, {"weightedClusters", "clusters"})) {
      std::vector<std::string> parts;
      for (const json& c : ArrayOrEmpty(weighted)) {
        parts.push_back(
            absl::StrCat(Text(Path(c, {"name"}), "?"), " (", Text(Path(c, {"weight"}), "0"), ")"));
      }
      return OrDash(absl::StrJoin(parts, ", "));
    }
    if (const json* header = Path(*action, {"clusterHeader"})) {
      return absl::StrCat("cluster from header ", Text(header, "?"));
    }
    return "-";
  }
  if (const json* redirect = Path(route, {"redirect"})) {
    std::vector<std::string> parts;
    for (std::string_view field :
         {"schemeRedirect", "hostRedirect", "portRedirect", "pathRedirect", "prefixRewrite"}) {
      if (const json* v = Path(*redirect, {field})) parts.push_back(Text(v, "?"));
    }
    return absl::StrCat("redirect", parts.empty() ? "" : " ", absl::StrJoin(parts, " "));
  }
  if (const json* direct = Path(route, {"directResponse"})) {
    return absl::StrCat("direct response ", Text(Path(*direct, {"status"}), "?"));
  }
  if (Path(route, {"nonForwardingAction"}) != nullptr) return "non-forwarding";
  return "-";
}

std::string Domains(const json& vhost) {
  std::vector<std::string> domains;
  for (const json& d : ArrayOrEmpty(Path(vhost, {"domains"}))) domains.push_back(Text(&d, "?"));
  if (domains.size() <= kMaxDomainsShown) return OrDash(absl::StrJoin(domains, ","));
  size_t hidden = domains.size() - kMaxDomainsShown;
  domains.resize(kMaxDomainsShown);
  return absl::StrCat(absl::StrJoin(domains, ","), " +", hidden, " more");
}

void RouteRows(const Entry& entry, Rows* rows) {
  if (entry.resource == nullptr) {
    rows->push_back({entry.name, "-", "-", "-", entry.error});
    return;
  }
  size_t before = rows->size();
  for (const json& vhost : ArrayOrEmpty(Path(*entry.resource, {"virtualHosts"}))) {
    const std::string vhost_name = OrDash(Text(Path(vhost, {"name"})));
    const std::string domains = Domains(vhost);
    size_t vhost_start = rows->size();
    for (const json& route : ArrayOrEmpty(Path(vhost, {"routes"}))) {
      rows->push_back({entry.name, vhost_name, domains, RouteMatch(route), RouteAction(route)});
    }
    if (rows->size() == vhost_start) rows->push_back({entry.name, vhost_name, domains, "-", "-"});
  }
  if (rows->size() == before) rows->push_back({entry.name, "-", "-", "-", "-"});
}

// ---- clusters ----

void ClusterRow(const Entry& entry, Rows* rows) {
  if (entry.resource == nullptr) {
    rows->push_back({entry.name, "-", "-", entry.error});
    return;
  }
  const json& c = *entry.resource;
  // proto3 JSON omits enum defaults: STATIC and ROUND_ROBIN.
  std::string type = Text(Path(c, {"type"}), "STATIC");
  if (const json* custom = Path(c, {"clusterType", "name"})) type = Text(custom, "?");
  std::string eds_service = "-";
  if (type == "EDS") {
    eds_service = Text(Path(c, {"edsClusterConfig", "serviceName"}));
    // Without a service name, EDS asks for the cluster's own name.
    if (eds_service.empty()) eds_service = entry.name;
  }
  rows->push_back({entry.name, type, Text(Path(c, {"lbPolicy"}), "ROUND_ROBIN"), eds_service});
}

// ---- endpoints ----

void EndpointRows(const Entry& entry, Rows* rows) {
  if (entry.resource == nullptr) {
    rows->push_back({entry.name, "-", "-", entry.error});
    return;
  }
  const json& cla = *entry.resource;
  std::string cluster = Text(Path(cla, {"clusterName"}));
  if (cluster.empty()) cluster = entry.name;
  size_t before = rows->size();
  for (const json& locality : ArrayOrEmpty(Path(cla, {"endpoints"}))) {
    for (const json& lb : ArrayOrEmpty(Path(locality, {"lbEndpoints"}))) {
      rows->push_back({cluster, AddressText(Path(lb, {"endpoint", "address"})),
                       Text(Path(lb, {"healthStatus"}), "UNKNOWN"),
                       // Envoy's default weight of an endpoint.
                       Text(Path(lb, {"loadBalancingWeight"}), "1")});
    }
  }
  if (rows->size() == before) rows->push_back({cluster, "-", "-", "-"});
}

absl::Status DumpError(absl::string_view path, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("config dump", path, ": want ", want));
}

absl::StatusOr<std::vector<Entry>> ReadEntries(const json& doc, std::string_view type_url) {
  if (!doc.is_object()) return DumpError("", "an object {\"resources\": {...}}");
  auto resources = doc.find("resources");
  if (resources == doc.end() || !resources->is_object()) {
    return DumpError(".resources", "an object keyed by type URL");
  }
  std::vector<Entry> out;
  auto of_type = resources->find(type_url);
  if (of_type == resources->end() || of_type->is_null()) return out;
  const std::string path = absl::StrCat(".resources[\"", std::string(type_url), "\"]");
  if (!of_type->is_array()) return DumpError(path, "an array");
  for (size_t i = 0; i < of_type->size(); ++i) {
    const json& item = (*of_type)[i];
    if (!item.is_object()) return DumpError(absl::StrCat(path, "[", i, "]"), "an object");
    Entry entry;
    entry.name = OrDash(Text(Path(item, {"name"})));
    const json* resource = Path(item, {"resource"});
    entry.raw = resource;
    if (resource == nullptr || !resource->is_object()) {
      entry.error = "<no resource>";
    } else if (const json* error = Path(*resource, {"error"}); error != nullptr) {
      entry.error = absl::StrCat("<undecodable: ", Text(error, "?"), ">");
    } else {
      entry.resource = resource;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

std::optional<ConfigSection> ParseConfigSection(std::string_view name) {
  if (name == "listeners" || name == "listener") return ConfigSection::kListeners;
  if (name == "routes" || name == "route") return ConfigSection::kRoutes;
  if (name == "clusters" || name == "cluster") return ConfigSection::kClusters;
  if (name == "endpoints" || name == "endpoint") return ConfigSection::kEndpoints;
  return std::nullopt;
}

std::string_view SectionTypeUrl(ConfigSection section) {
  switch (section) {
    case ConfigSection::kListeners:
      return kListenerType;
    case ConfigSection::kRoutes:
      return kRouteType;
    case ConfigSection::kClusters:
      return kClusterType;
    case ConfigSection::kEndpoints:
      return kEndpointType;
  }
  return "";
}

absl::StatusOr<std::string> RenderProxyConfig(ConfigSection section, std::string_view dump_json,
                                              OutputFormat format) {
  std::optional<json> doc = ParseJson(dump_json);
  if (!doc) return absl::InvalidArgumentError("config dump: not a JSON document");
  absl::StatusOr<std::vector<Entry>> entries = ReadEntries(*doc, SectionTypeUrl(section));
  if (!entries.ok()) return entries.status();

  if (format == OutputFormat::kJson) {
    json array = json::array();
    for (const Entry& entry : *entries) {
      array.push_back(entry.raw != nullptr ? *entry.raw : json(nullptr));
    }
    return array.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  }

  std::vector<std::string> header;
  Rows rows;
  for (const Entry& entry : *entries) {
    switch (section) {
      case ConfigSection::kListeners:
        ListenerRows(entry, &rows);
        break;
      case ConfigSection::kRoutes:
        RouteRows(entry, &rows);
        break;
      case ConfigSection::kClusters:
        ClusterRow(entry, &rows);
        break;
      case ConfigSection::kEndpoints:
        EndpointRows(entry, &rows);
        break;
    }
  }
  switch (section) {
    case ConfigSection::kListeners:
      header = {"NAME", "ADDRESS:PORT", "MATCH", "DESTINATION"};
      break;
    case ConfigSection::kRoutes:
      header = {"ROUTE NAME", "VIRTUAL HOST", "DOMAINS", "MATCH", "ACTION/CLUSTERS"};
      break;
    case ConfigSection::kClusters:
      header = {"NAME", "TYPE", "LB POLICY", "EDS SERVICE"};
      break;
    case ConfigSection::kEndpoints:
      header = {"CLUSTER", "ENDPOINT", "HEALTH", "WEIGHT"};
      break;
  }
  return RenderTable(header, rows);
}

}  // namespace meshgate::ctl
