#include "ctl/admin_commands.h"

#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "ctl/admin_client.h"
#include "ctl/output.h"
#include "ctl/proxy_config.h"
#include "ctl/proxy_status.h"
#include "nlohmann/json.hpp"

namespace meshgate::ctl {
namespace {

struct Flags {
  std::string admin = kDefaultAdminAddress;
  OutputFormat format = OutputFormat::kTable;
  std::vector<std::string> positional;
  bool help = false;
};

// Takes the value of `--name VALUE`, `--name=VALUE` or (for a one-letter
// short form) `-xVALUE`; returns false when `arg` is not this flag.
bool TakeValue(const std::vector<std::string>& args, size_t* i, std::string_view long_name,
               std::string_view short_name, std::optional<std::string>* value, std::string* error) {
  const std::string& arg = args[*i];
  for (std::string_view name : {long_name, short_name}) {
    if (name.empty()) continue;
    if (arg == name) {
      if (*i + 1 >= args.size()) {
        *error = absl::StrCat(arg, " needs a value");
        value->reset();
        return true;
      }
      *value = args[++*i];
      return true;
    }
    if (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
        arg[name.size()] == '=') {
      *value = arg.substr(name.size() + 1);
      return true;
    }
  }
  if (!short_name.empty() && short_name.size() == 2 && arg.size() > 2 &&
      arg.compare(0, 2, short_name) == 0 && arg[2] != '-') {
    *value = arg.substr(2);
    return true;
  }
  return false;
}

bool ParseFlags(const std::vector<std::string>& args, Flags* flags, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags->help = true;
      return true;
    }
    std::optional<std::string> value;
    if (TakeValue(args, &i, "--admin", "", &value, error)) {
      if (!value) return false;
      flags->admin = *value;
    } else if (TakeValue(args, &i, "--output", "-o", &value, error)) {
      if (!value) return false;
      std::optional<OutputFormat> format = ParseOutputFormat(*value);
      if (!format) {
        *error = absl::StrCat("unknown output format '", *value, "' (want table or json)");
        return false;
      }
      flags->format = *format;
    } else if (arg.size() > 1 && arg[0] == '-') {
      *error = absl::StrCat("unknown flag '", arg, "'");
      return false;
    } else {
      flags->positional.push_back(arg);
    }
  }
  return true;
}

// The first part of a body, for messages about unexpected answers.
std::string Excerpt(const std::string& body) {
  constexpr size_t kMax = 200;
  std::string s = body.substr(0, kMax);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (body.size() > kMax) s += "...";
  return s.empty() ? "<empty>" : s;
}

// Parses flags and builds the client; on failure reports and returns the
// exit code in *exit_code.
std::optional<AdminClient> Prepare(std::string_view command, const std::string& usage,
                                   const std::vector<std::string>& args, Flags* flags,
                                   std::ostream& out, std::ostream& err, int* exit_code) {
  std::string error;
  if (!ParseFlags(args, flags, &error)) {
    err << "meshgatectl " << command << ": " << error << "\n\n" << usage;
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  if (flags->help) {
    out << usage;
    *exit_code = kExitOk;
    return std::nullopt;
  }
  absl::StatusOr<AdminClient> client = AdminClient::Create(flags->admin);
  if (!client.ok()) {
    err << "meshgatectl " << command << ": --admin: " << client.status().message() << "\n";
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  return *std::move(client);
}

// The trust bundle document of /debug/ca/roots as a table: one row per root,
// active first. Error when the document is not one.
absl::StatusOr<std::string> RenderRoots(const nlohmann::json& bundle) {
  if (!bundle.is_object() || !bundle.contains("roots") || !bundle["roots"].is_array()) {
    return absl::InvalidArgumentError("no \"roots\" list");
  }
  std::vector<std::vector<std::string>> rows;
  for (const nlohmann::json& root : bundle["roots"]) {
    if (!root.is_object() || !root.contains("sha256") || !root["sha256"].is_string()) {
      return absl::InvalidArgumentError("a root without \"sha256\"");
    }
    // A staged root is trusted but signs nothing yet; calling it "retired"
    // would tell an operator mid-rotation the opposite of what is happening.
    const char* state = root.value("active", false)   ? "active"
                        : root.value("staged", false) ? "staged"
                                                      : "retired";
    std::string drop_after = root.contains("drop_after") && root["drop_after"].is_string()
                                 ? root["drop_after"].get<std::string>()
                                 : "-";
    rows.push_back({root["sha256"].get<std::string>(), state, drop_after});
  }
  return RenderTable({"ROOT SHA-256", "STATE", "TRUSTED UNTIL"}, rows);
}

}  // namespace

std::string CaUsage() {
  return "Usage: meshgatectl ca roots|rotate-root [--admin HOST:PORT] [-o table|json]\n"
         "\n"
         "The control plane's certificate authority:\n"
         "  roots         the roots proxies trust (SDS ROOTCA), active first; a staged root is\n"
         "                trusted and signs once the rotation completes; a root retired\n"
         "                by a rotation stays trusted until every certificate it signed expired\n"
         "  rotate-root   make a new root the signer and push the grown trust bundle to every\n"
         "                proxy; proxies move to the new root at their next renewal. Accepted\n"
         "                from the operator's own host only (the admin port on loopback)\n"
         "\n"
         "Flags:\n"
         "  --admin HOST:PORT     the control plane's admin endpoint (default " +
         std::string(kDefaultAdminAddress) +
         ")\n"
         "  -o, --output FORMAT   table (default) or json (the admin endpoint's document)\n"
         "  -h, --help            print this help\n"
         "\n"
         "Exit status: 0 done, 1 refused, unreachable or answering garbage, 2 usage.\n";
}

int RunCa(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags flags;
  int exit_code = kExitOk;
  std::optional<AdminClient> client = Prepare("ca", CaUsage(), args, &flags, out, err, &exit_code);
  if (!client) return exit_code;
  if (flags.positional.size() != 1 ||
      (flags.positional[0] != "roots" && flags.positional[0] != "rotate-root")) {
    err << "meshgatectl ca: want one of roots, rotate-root\n\n" << CaUsage();
    return kExitUsage;
  }
  const bool rotate = flags.positional[0] == "rotate-root";
  const std::string path = rotate ? "/debug/ca/rotate-root" : "/debug/ca/roots";
  absl::StatusOr<AdminResponse> response = rotate ? client->Post(path) : client->Get(path);
  if (!response.ok()) {
    err << "meshgatectl ca: " << response.status().message() << "\n";
    return kExitFailure;
  }
  nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    std::string reason = body.is_object() && body.contains("error") && body["error"].is_string()
                             ? body["error"].get<std::string>()
                             : Excerpt(response->body);
    err << "meshgatectl ca: " << client->base_url() << path << " answered HTTP " << response->status
        << ": " << reason << "\n";
    return kExitFailure;
  }
  if (flags.format == OutputFormat::kJson) {
    out << response->body << "\n";
    return kExitOk;
  }
  const nlohmann::json* bundle = &body;
  if (rotate) {
    if (!body.is_object() || !body.contains("active_root_sha256") ||
        !body["active_root_sha256"].is_string() || !body.contains("bundle")) {
      err << "meshgatectl ca: " << client->base_url() << path
          << " did not answer a rotation: " << Excerpt(response->body) << "\n";
      return kExitFailure;
    }
    out << "rotated: the new root " << body["active_root_sha256"].get<std::string>()
        << " signs from now on\n\n";
    bundle = &body["bundle"];
  }
  absl::StatusOr<std::string> table = RenderRoots(*bundle);
  if (!table.ok()) {
    err << "meshgatectl ca: " << client->base_url() << path << " did not answer a trust bundle ("
        << table.status().message() << "); is this a meshgate control plane's admin port?\n";
    return kExitFailure;
  }
  out << *table;
  return kExitOk;
}

std::string ProxyStatusUsage() {
  return "Usage: meshgatectl proxy-status [--admin HOST:PORT] [-o table|json]\n"
         "\n"
         "Shows, for every proxy connected to the control plane, whether it accepted the\n"
         "configuration last sent of each xDS type:\n"
         "  SYNCED    the proxy ACKed the version last sent\n"
         "  NOT SENT  nothing of this type was sent to the proxy\n"
         "  STALE     sent, but not ACKed (yet); the proxy runs an older version\n"
         "  NACKED    the proxy rejected the version last sent (its error follows the table)\n"
         "\n"
         "Flags:\n"
         "  --admin HOST:PORT     the control plane's admin endpoint (default " +
         std::string(kDefaultAdminAddress) +
         ")\n"
         "  -o, --output FORMAT   table (default) or json (the /debug/syncz document)\n"
         "  -h, --help            print this help\n"
         "\n"
         "Exit status: 0 shown, 1 admin endpoint unreachable or answering garbage, 2 usage.\n";
}

std::string ProxyConfigUsage() {
  return "Usage: meshgatectl proxy-config SECTION PROXY [--admin HOST:PORT] [-o table|json]\n"
         "\n"
         "Shows the configuration the control plane currently holds for proxy PROXY\n"
         "(its node id, as in proxy-status). SECTION is one of:\n"
         "  listeners   NAME, ADDRESS:PORT, MATCH, DESTINATION (a row per filter chain)\n"
         "  routes      ROUTE NAME, VIRTUAL HOST, DOMAINS, MATCH, ACTION/CLUSTERS\n"
         "  clusters    NAME, TYPE, LB POLICY, EDS SERVICE\n"
         "  endpoints   CLUSTER, ENDPOINT, HEALTH, WEIGHT\n"
         "\n"
         "Flags:\n"
         "  --admin HOST:PORT     the control plane's admin endpoint (default " +
         std::string(kDefaultAdminAddress) +
         ")\n"
         "  -o, --output FORMAT   table (default) or json (the section's raw resources)\n"
         "  -h, --help            print this help\n"
         "\n"
         "Exit status: 0 shown, 1 proxy not connected or admin endpoint unreachable or\n"
         "answering garbage, 2 usage.\n";
}

int RunProxyStatus(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags flags;
  int exit_code = kExitOk;
  std::optional<AdminClient> client =
      Prepare("proxy-status", ProxyStatusUsage(), args, &flags, out, err, &exit_code);
  if (!client) return exit_code;
  if (!flags.positional.empty()) {
    err << "meshgatectl proxy-status: unexpected argument '" << flags.positional.front() << "'\n\n"
        << ProxyStatusUsage();
    return kExitUsage;
  }
  absl::StatusOr<AdminResponse> response = client->Get("/debug/syncz");
  if (!response.ok()) {
    err << "meshgatectl proxy-status: " << response.status().message() << "\n";
    return kExitFailure;
  }
  if (response->status != 200) {
    err << "meshgatectl proxy-status: " << client->base_url() << "/debug/syncz answered HTTP "
        << response->status << ": " << Excerpt(response->body) << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::string> rendered = RenderProxyStatus(response->body, flags.format);
  if (!rendered.ok()) {
    err << "meshgatectl proxy-status: " << client->base_url()
        << "/debug/syncz did not answer a sync status (" << rendered.status().message()
        << "); is this a meshgate control plane's admin port?\n";
    return kExitFailure;
  }
  out << *rendered;
  return kExitOk;
}

int RunProxyConfig(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags flags;
  int exit_code = kExitOk;
  std::optional<AdminClient> client =
      Prepare("proxy-config", ProxyConfigUsage(), args, &flags, out, err, &exit_code);
  if (!client) return exit_code;
  if (flags.positional.size() != 2) {
    err << "meshgatectl proxy-config: want SECTION and PROXY, got " << flags.positional.size()
        << " argument(s)\n\n"
        << ProxyConfigUsage();
    return kExitUsage;
  }
  std::optional<ConfigSection> section = ParseConfigSection(flags.positional[0]);
  if (!section) {
    err << "meshgatectl proxy-config: unknown section '" << flags.positional[0]
        << "' (want listeners, routes, clusters or endpoints)\n";
    return kExitUsage;
  }
  const std::string& proxy = flags.positional[1];
  absl::StatusOr<AdminResponse> response = client->Get("/debug/config_dump", {{"proxy", proxy}});
  if (!response.ok()) {
    err << "meshgatectl proxy-config: " << response.status().message() << "\n";
    return kExitFailure;
  }
  if (response->status == 404) {
    err << "meshgatectl proxy-config: proxy \"" << proxy
        << "\" is not connected to the control plane at " << client->base_url()
        << " (meshgatectl proxy-status lists the connected proxies)\n";
    return kExitFailure;
  }
  if (response->status != 200) {
    err << "meshgatectl proxy-config: " << client->base_url() << "/debug/config_dump answered HTTP "
        << response->status << ": " << Excerpt(response->body) << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::string> rendered = RenderProxyConfig(*section, response->body, flags.format);
  if (!rendered.ok()) {
    err << "meshgatectl proxy-config: " << client->base_url()
        << "/debug/config_dump did not answer a config dump (" << rendered.status().message()
        << "); is this a meshgate control plane's admin port?\n";
    return kExitFailure;
  }
  out << *rendered;
  return kExitOk;
}

}  // namespace meshgate::ctl
