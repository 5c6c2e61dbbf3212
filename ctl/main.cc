// meshgatectl: the meshgate command-line tool.
#include <iostream>
#include <string>
#include <vector>

#include "ctl/validate.h"

namespace {

constexpr char kUsage[] =
    "Usage: meshgatectl COMMAND [flags]\n"
    "\n"
    "Commands:\n"
    "  validate   validate config files offline (meshgatectl validate --help)\n"
    "\n"
    "Flags:\n"
    "  -h, --help   print this help\n";

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
  std::cerr << "meshgatectl: unknown command '" << command << "'\n\n" << kUsage;
  return meshgate::ctl::kExitUsage;
}
