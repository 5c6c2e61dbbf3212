// The meshgatectl commands that ask the control plane's admin endpoint:
// `proxy-status` (/debug/syncz), `proxy-config` (/debug/config_dump) and
// `ca roots|rotate-root` (/debug/ca/roots, POST /debug/ca/rotate-root). They
// parse flags, fetch over HTTP (AdminClient) and hand the JSON to the pure
// renderers in proxy_status.h and proxy_config.h.
//
// Stateless; each Run* may be called from any thread with its own streams.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace meshgate::ctl {

std::string ProxyStatusUsage();
std::string ProxyConfigUsage();
std::string CaUsage();

// `meshgatectl proxy-status [--admin HOST:PORT] [-o table|json]`, `args` being
// the words after the command. Output to `out`, errors to `err`. Returns
// kExitOk, kExitUsage on bad flags, kExitFailure when the admin endpoint is
// unreachable or answers something that is not a sync status.
int RunProxyStatus(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `meshgatectl proxy-config SECTION PROXY [--admin HOST:PORT] [-o table|json]`.
// Exit codes as RunProxyStatus; also kExitFailure when PROXY is not connected.
int RunProxyConfig(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `meshgatectl ca roots|rotate-root [--admin HOST:PORT] [-o table|json]`.
// Exit codes as RunProxyStatus; also kExitFailure when the operator refuses
// (no CA, plugged-in CA, caller not on loopback).
int RunCa(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace meshgate::ctl
