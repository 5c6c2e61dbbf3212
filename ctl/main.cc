// meshgatectl: the meshgate command-line tool.
#include <iostream>
#include <string>
#include <vector>

#include "ctl/admin_commands.h"
#include "ctl/validate.h"

namespace {

constexpr char kUsage[] =
    "Usage: meshgatectl COMMAND [flags]\n"
    "\n"
    "Commands:\n"
    "  validate       validate config files offline (meshgatectl validate --help)\n"
    "  proxy-status   sync state of every connected proxy, per xDS type\n"
    "                 (meshgatectl proxy-status --help)\n"
    "  proxy-config   a proxy's listeners, routes, clusters or endpoints\n"
    "                 (meshgatectl proxy-config --help)\n"
    "  ca             the CA's trust bundle; rotate its root (meshgatectl ca --help)\n"
    "\n"
    "Flags:\n"
    "  -h, --help   print this help\n"
    "\n"
    "proxy-status, proxy-config and ca ask the control plane's admin endpoint\n"
    "(--admin HOST:PORT, default 127.0.0.1:15014; kubectl port-forward to reach a cluster's).\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "meshgatectl: no command given\n\n" << kUsage;
    return meshgate::ctl::kExitUsage;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return meshgate::ctl::kExitOk;
  }
  if (command == "validate") {
    return meshgate::ctl::RunValidate(args, std::cin, std::cout, std::cerr);
  }
  if (command == "proxy-status") return meshgate::ctl::RunProxyStatus(args, std::cout, std::cerr);
  if (command == "proxy-config") return meshgate::ctl::RunProxyConfig(args, std::cout, std::cerr);
  if (command == "ca") return meshgate::ctl::RunCa(args, std::cout, std::cerr);
  std::cerr << "meshgatectl: unknown command '" << command << "'\n\n" << kUsage;
  return meshgate::ctl::kExitUsage;
}
