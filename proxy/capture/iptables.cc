#include "proxy/capture/iptables.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::capture {
namespace {

constexpr std::string_view kChainPrefix = "MESHGATE_";
constexpr std::string_view kInbound = "MESHGATE_INBOUND";
constexpr std::string_view kInRedirect = "MESHGATE_IN_REDIRECT";
constexpr std::string_view kOutput = "MESHGATE_OUTPUT";
constexpr std::string_view kRedirect = "MESHGATE_REDIRECT";

constexpr char kUsage[] =
    "usage: meshgate-proxy iptables [--inbound-port 15006] [--outbound-port 15001]\n"
    "         [--proxy-uid 1337] [--proxy-gid GID] [--exclude-inbound-ports P,P]\n"
    "         [--exclude-outbound-ports P,P] [--exclude-outbound-cidrs CIDR,CIDR]\n"
    "         [--ipv6] [--dry-run] [--cleanup]\n";

absl::Status FlagError(std::string_view flag, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", Av(flag), ": ", Av(message)));
}

absl::StatusOr<uint32_t> ParseNumber(std::string_view flag, std::string_view text, uint32_t max) {
  uint32_t value = 0;
  if (!absl::SimpleAtoi(Av(text), &value) || value > max) {
    return FlagError(flag, absl::StrCat("'", Av(text), "' is not a number in 0..", max));
  }
  return value;
}

absl::StatusOr<std::vector<uint16_t>> ParsePorts(std::string_view flag, std::string_view text) {
  std::vector<uint16_t> ports;
  for (absl::string_view item : absl::StrSplit(Av(text), ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    auto port = ParseNumber(flag, std::string_view(item.data(), item.size()), 65535);
    if (!port.ok()) return port.status();
    if (*port == 0) return FlagError(flag, "port 0 cannot be excluded");
    ports.push_back(static_cast<uint16_t>(*port));
  }
  return ports;
}

// "a.b.c.d/len" or "v6addr/len" (a bare address is a host route).
struct Cidr {
  std::string text;
  IpFamily family = IpFamily::kIpv4;
};
absl::StatusOr<Cidr> ParseCidr(std::string_view flag, std::string_view text) {
  const size_t slash = text.find('/');
  const std::string ip(text.substr(0, slash));
  in_addr v4{};
  in6_addr v6{};
  IpFamily family;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    family = IpFamily::kIpv4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    family = IpFamily::kIpv6;
  } else {
    return FlagError(flag, absl::StrCat("'", Av(text), "' is not an IPv4 or IPv6 CIDR"));
  }
  const uint32_t max = family == IpFamily::kIpv4 ? 32 : 128;
  uint32_t len = max;
  if (slash != std::string_view::npos) {
    auto parsed = ParseNumber(flag, text.substr(slash + 1), max);
    if (!parsed.ok()) return parsed.status();
    len = *parsed;
  }
  return Cidr{absl::StrCat(ip, "/", len), family};
}

// The chains and the jumps into them that iptables-save reports.
struct ExistingRules {
  std::vector<std::string> chains;     // MESHGATE_* chains
  std::vector<std::string> jump_args;  // "-A CHAIN ..." rules of other chains jumping to ours
};

ExistingRules FindExisting(std::string_view nat_table) {
  ExistingRules out;
  bool in_nat = false;
  for (absl::string_view line : absl::StrSplit(Av(nat_table), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      in_nat = line == "*nat";
      continue;
    }
    if (!in_nat) continue;
    if (line[0] == ':' && absl::StartsWith(line.substr(1), Av(kChainPrefix))) {
      absl::string_view name = line.substr(1, line.find(' ') - 1);
      out.chains.emplace_back(name);
      continue;
    }
    if (!absl::StartsWith(line, "-A ")) continue;
    absl::string_view rest = line.substr(3);
    absl::string_view chain = rest.substr(0, rest.find(' '));
    if (absl::StartsWith(chain, Av(kChainPrefix))) continue;  // goes with its chain
    if (absl::StrContains(line, absl::StrCat("-j ", Av(kChainPrefix)))) {
      out.jump_args.emplace_back(rest);
    }
  }
  return out;
}

// Lines (without table header or COMMIT) removing what `existing` holds.
std::string RemovalLines(const ExistingRules& existing) {
  std::string out;
  for (const auto& jump : existing.jump_args) absl::StrAppend(&out, "-D ", jump, "\n");
  // Flush all before deleting any: our chains jump to each other.
  for (const auto& chain : existing.chains) absl::StrAppend(&out, "-F ", chain, "\n");
  for (const auto& chain : existing.chains) absl::StrAppend(&out, "-X ", chain, "\n");
  return out;
}

// Runs `command`, feeding `input` to its stdin; returns its exit status.
int RunWithInput(const std::string& command, const std::string& input) {
  FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) return -1;
  std::fwrite(input.data(), 1, input.size(), pipe);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

absl::StatusOr<std::string> ReadOutput(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::UnavailableError("cannot run " + command);
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(absl::StrCat(command,
                                               " failed (is the iptables package "
                                               "installed, and do we have CAP_NET_ADMIN?)"));
  }
  return out;
}

}  // namespace

absl::StatusOr<IptablesCommand> ParseIptablesFlags(const std::vector<std::string>& args) {
  IptablesCommand command;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "--help" || flag == "-h") return absl::InvalidArgumentError(kUsage);
    if (flag.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", flag, "'\n", kUsage));
    }
    flag = flag.substr(2);
    if (flag == "dry-run") {
      command.dry_run = true;
      continue;
    }
    if (flag == "cleanup") {
      command.mode = IptablesCommand::Mode::kCleanup;
      continue;
    }
    if (flag == "ipv6") {
      command.config.ipv6 = true;
      continue;
    }
    std::string value;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return FlagError(flag, "needs a value");
    }
    CaptureConfig& c = command.config;
    if (flag == "inbound-port" || flag == "outbound-port") {
      auto port = ParseNumber(flag, value, 65535);
      if (!port.ok()) return port.status();
      if (*port == 0) return FlagError(flag, "must be 1..65535");
      (flag == "inbound-port" ? c.inbound_port : c.outbound_port) = static_cast<uint16_t>(*port);
    } else if (flag == "proxy-uid") {
      auto uid = ParseNumber(flag, value, UINT32_MAX - 1);
      if (!uid.ok()) return uid.status();
      c.proxy_uid = *uid;
    } else if (flag == "proxy-gid") {
      auto gid = ParseNumber(flag, value, UINT32_MAX - 1);
      if (!gid.ok()) return gid.status();
      c.proxy_gid = *gid;
    } else if (flag == "exclude-inbound-ports" || flag == "exclude-outbound-ports") {
      auto ports = ParsePorts(flag, value);
      if (!ports.ok()) return ports.status();
      auto& target =
          flag == "exclude-inbound-ports" ? c.exclude_inbound_ports : c.exclude_outbound_ports;
      target.insert(target.end(), ports->begin(), ports->end());
    } else if (flag == "exclude-outbound-cidrs") {
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        item = absl::StripAsciiWhitespace(item);
        auto cidr = ParseCidr(flag, std::string_view(item.data(), item.size()));
        if (!cidr.ok()) return cidr.status();
        (cidr->family == IpFamily::kIpv4 ? c.exclude_outbound_cidrs : c.exclude_outbound_cidrs_v6)
            .push_back(cidr->text);
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", flag, "\n", kUsage));
    }
  }
  if (!command.config.exclude_outbound_cidrs_v6.empty() && !command.config.ipv6) {
    return FlagError("exclude-outbound-cidrs",
                     absl::StrCat("'", command.config.exclude_outbound_cidrs_v6.front(),
                                  "' is IPv6: add --ipv6 to capture IPv6 too"));
  }
  return command;
}

std::string BuildCaptureRules(const CaptureConfig& c, std::string_view current_nat_table,
                              IpFamily family) {
  const bool v6 = family == IpFamily::kIpv6;
  std::string out = "*nat\n";
  out += RemovalLines(FindExisting(current_nat_table));
  for (std::string_view chain : {kInbound, kInRedirect, kOutput, kRedirect}) {
    absl::StrAppend(&out, "-N ", Av(chain), "\n");
  }
  absl::StrAppend(&out, "-A ", Av(kRedirect), " -p tcp -j REDIRECT --to-ports ", c.outbound_port,
                  "\n");
  absl::StrAppend(&out, "-A ", Av(kInRedirect), " -p tcp -j REDIRECT --to-ports ", c.inbound_port,
                  "\n");

  // Inbound: everything but the excluded ports reaches the inbound listener.
  absl::StrAppend(&out, "-A PREROUTING -p tcp -j ", Av(kInbound), "\n");
  for (uint16_t port : c.exclude_inbound_ports) {
    absl::StrAppend(&out, "-A ", Av(kInbound), " -p tcp --dport ", port, " -j RETURN\n");
  }
  absl::StrAppend(&out, "-A ", Av(kInbound), " -p tcp -j ", Av(kInRedirect), "\n");

  // Outbound: the proxy's own traffic first, or it would loop through itself.
  absl::StrAppend(&out, "-A OUTPUT -p tcp -j ", Av(kOutput), "\n");
  absl::StrAppend(&out, "-A ", Av(kOutput), " -m owner --uid-owner ", c.proxy_uid, " -j RETURN\n");
  if (c.proxy_gid) {
    absl::StrAppend(&out, "-A ", Av(kOutput), " -m owner --gid-owner ", *c.proxy_gid,
                    " -j RETURN\n");
  }
  absl::StrAppend(&out, "-A ", Av(kOutput), " -o lo -j RETURN\n");
  absl::StrAppend(&out, "-A ", Av(kOutput), v6 ? " -d ::1/128" : " -d 127.0.0.0/8", " -j RETURN\n");
  for (uint16_t port : c.exclude_outbound_ports) {
    absl::StrAppend(&out, "-A ", Av(kOutput), " -p tcp --dport ", port, " -j RETURN\n");
  }
  for (const auto& cidr : v6 ? c.exclude_outbound_cidrs_v6 : c.exclude_outbound_cidrs) {
    absl::StrAppend(&out, "-A ", Av(kOutput), " -d ", cidr, " -j RETURN\n");
  }
  absl::StrAppend(&out, "-A ", Av(kOutput), " -j ", Av(kRedirect), "\n");
  out += "COMMIT\n";
  return out;
}

std::string BuildCleanupRules(std::string_view current_nat_table) {
  std::string lines = RemovalLines(FindExisting(current_nat_table));
  if (lines.empty()) return "";
  return "*nat\n" + lines + "COMMIT\n";
}

namespace {

// Installs or removes the rules of one family with `tool`-save/-restore
// (iptables or ip6tables). `optional`: a family this host cannot handle is
// skipped (cleanup of IPv6 where ip6tables is missing). Returns the exit code.
int ApplyFamily(const IptablesCommand& command, IpFamily family, bool optional) {
  const std::string tool = family == IpFamily::kIpv6 ? "ip6tables" : "iptables";
  std::string current;
  if (!command.dry_run || command.mode == IptablesCommand::Mode::kCleanup) {
    auto saved = ReadOutput(tool + "-save -t nat");
    if (!saved.ok()) {
      if (optional) return 0;
      if (!command.dry_run) {
        std::fprintf(stderr, "meshgate-proxy iptables: %s\n",
                     std::string(saved.status().message()).c_str());
        return 1;
      }
    } else {
      current = *saved;
    }
  }
  const std::string rules = command.mode == IptablesCommand::Mode::kCleanup
                                ? BuildCleanupRules(current)
                                : BuildCaptureRules(command.config, current, family);
  if (command.dry_run) {
    if (!rules.empty()) std::printf("# %s-restore --noflush\n%s", tool.c_str(), rules.c_str());
    return 0;
  }
  if (rules.empty()) return 0;  // cleanup with nothing installed
  // A restore that dies early must not take us down with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  int status = RunWithInput(tool + "-restore --noflush", rules);
  if (status != 0) {
    std::fprintf(stderr, "meshgate-proxy iptables: %s-restore exited with %d%s; input was:\n%s",
                 tool.c_str(), status,
                 status == 127 ? " (not installed: Debian package iptables)" : "", rules.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int RunIptablesCommand(const std::vector<std::string>& args) {
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  auto command = ParseIptablesFlags(args);
  if (!command.ok()) {
    std::fprintf(stderr, "meshgate-proxy iptables: %s\n",
                 std::string(command.status().message()).c_str());
    return 2;
  }
  if (int status = ApplyFamily(*command, IpFamily::kIpv4, /*optional=*/false); status != 0) {
    return status;
  }
  const bool cleanup = command->mode == IptablesCommand::Mode::kCleanup;
  if (command->config.ipv6 || cleanup) {
    // Cleanup removes IPv6 rules wherever ip6tables can see them.
    return ApplyFamily(*command, IpFamily::kIpv6, /*optional=*/cleanup && !command->config.ipv6);
  }
  return 0;
}

}  // namespace meshgate::proxy::capture
