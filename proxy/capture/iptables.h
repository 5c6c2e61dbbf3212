// Sidecar traffic capture: the nat-table rules (Istio's scheme, MESHGATE_*
// chains) that send a pod's inbound TCP to the proxy's inbound capture port
// and its outbound TCP to the outbound capture port, and the
// `meshgate-proxy iptables ...` subcommand that installs or removes them.
//
//   PREROUTING  -p tcp -> MESHGATE_INBOUND   (excluded ports RETURN)
//                          -> MESHGATE_IN_REDIRECT (REDIRECT --to-ports inbound)
//   OUTPUT      -p tcp -> MESHGATE_OUTPUT    (proxy uid/gid, loopback,
//                          excluded ports and CIDRs RETURN)
//                          -> MESHGATE_REDIRECT (REDIRECT --to-ports outbound)
//
// The proxy's own connections are recognised by its uid (and gid), so what it
// sends upstream is never captured again. Loopback traffic (127.0.0.0/8 and
// anything leaving through `lo`) is left alone: the inbound listener reaches
// the workload on 127.0.0.1.
//
// With --ipv6 the same rules go into ip6tables too (loopback ::1, IPv6
// CIDRs), for dual-stack pods whose listeners also bind [::].
//
// The rule text is built by pure functions (iptables-restore format), so it
// can be tested and printed (--dry-run) without privileges. Install first
// removes earlier MESHGATE rules, so running it twice leaves one copy.
// Applying runs `iptables-save` / `iptables-restore --noflush` (needs
// CAP_NET_ADMIN in the pod's network namespace).
//
// Thread-safety: pure functions, plus RunIptablesCommand, which runs child
// processes and touches only the network namespace it runs in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace meshgate::proxy::capture {

struct CaptureConfig {
  uint16_t inbound_port = 15006;
  uint16_t outbound_port = 15001;
  uint32_t proxy_uid = 1337;
  // The proxy's gid too when set (Istio excludes both).
  std::optional<uint32_t> proxy_gid;
  std::vector<uint16_t> exclude_inbound_ports;
  std::vector<uint16_t> exclude_outbound_ports;
  std::vector<std::string> exclude_outbound_cidrs;     // validated "a.b.c.d/len"
  std::vector<std::string> exclude_outbound_cidrs_v6;  // validated "v6addr/len"
  // Capture IPv6 too (ip6tables), for dual-stack pods.
  bool ipv6 = false;
};

enum class IpFamily { kIpv4, kIpv6 };

// Parses the subcommand's flags (everything after `iptables`). Unknown flags,
// bad numbers and bad CIDRs fail with a message naming the flag.
struct IptablesCommand {
  enum class Mode { kInstall, kCleanup };
  Mode mode = Mode::kInstall;
  bool dry_run = false;
  CaptureConfig config;
};
absl::StatusOr<IptablesCommand> ParseIptablesFlags(const std::vector<std::string>& args);

// The iptables-restore input (for `--noflush`) that installs the capture
// rules, after removing what `current_nat_table` (iptables-save -t nat
// output; empty when unknown) holds of earlier MESHGATE rules.
std::string BuildCaptureRules(const CaptureConfig& config, std::string_view current_nat_table,
                              IpFamily family = IpFamily::kIpv4);

// The iptables-restore input (for `--noflush`) that removes every MESHGATE
// chain and the jumps to it found in `current_nat_table`. Empty when there is
// nothing to remove.
std::string BuildCleanupRules(std::string_view current_nat_table);

// Runs the subcommand: prints the rules (dry run) or applies them. Returns
// the process exit code; errors go to stderr.
int RunIptablesCommand(const std::vector<std::string>& args);

}  // namespace meshgate::proxy::capture
