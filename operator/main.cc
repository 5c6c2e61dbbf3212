// meshgate-operator: the control plane process.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/logging.h"
#include "operator/operator.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto flags = meshgate::operator_::ParseOperatorFlags(args);
  if (!flags.ok()) {
    std::fprintf(stderr, "meshgate-operator: %s\n\n%s",
                 std::string(flags.status().message()).c_str(),
                 meshgate::operator_::OperatorUsage().c_str());
    return 2;
  }
  if (flags->help) {
    std::fputs(meshgate::operator_::OperatorUsage().c_str(), stdout);
    return 0;
  }
  meshgate::InitLogging("meshgate-operator", flags->options.log_level);

  // Block the shutdown signals before any thread starts, so every thread
  // inherits the mask and only sigwait() below receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  meshgate::operator_::Operator op(flags->options, std::cout);
  if (absl::Status status = op.Start(); !status.ok()) {
    spdlog::error("cannot start: {}", status.ToString());
    return 1;
  }
  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  spdlog::info("received {}, shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  op.Stop();
  return 0;
}
