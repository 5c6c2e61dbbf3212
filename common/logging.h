// Logging setup shared by meshgate's binaries.
//
// meshgate logs through spdlog. Binaries call InitLogging() once at start-up;
// libraries just use spdlog's default logger. Thread-safety: InitLogging is
// not thread-safe and must run before other threads start; logging itself is.
#pragma once

#include <string_view>

namespace meshgate {

// `level` is one of trace, debug, info, warn, error, off. Unknown values fall
// back to info. Log lines go to stderr so stdout stays free for data.
void InitLogging(std::string_view program, std::string_view level);

}  // namespace meshgate
