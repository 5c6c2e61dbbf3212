// `meshgatectl validate`: offline validation of config files, the same
// decoding and validation the control plane applies, with one line per
// problem ("FILE:LINE: Kind/namespace/name: field.path: message").
//
// Stateless; RunValidate may be called from any thread with its own streams.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace meshgate::ctl {

// Exit codes of meshgatectl.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitUsage = 2;

std::string ValidateUsage();

// Runs `meshgatectl validate` with `args` (the words after "validate").
// Problems go to `out`, the summary and usage/I-O errors to `err`; `in` is
// read for "-f -". Returns the process exit code: kExitOk when every object is
// valid, kExitInvalid when any is invalid, kExitUsage on usage or I/O errors.
int RunValidate(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                std::ostream& err);

}  // namespace meshgate::ctl
