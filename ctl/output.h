// Output helpers shared by meshgatectl's commands: the -o formats and a plain
// text table in the style of kubectl / istioctl (left-aligned columns separated
// by three spaces, header in capitals).
//
// Pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshgate::ctl {

// Exit codes of meshgatectl.
inline constexpr int kExitOk = 0;
// Some object is invalid (validate), or the command failed: the admin endpoint
// was unreachable, answered garbage, or does not know the proxy.
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

enum class OutputFormat { kTable, kJson };

// "table" or "json"; nullopt for anything else.
std::optional<OutputFormat> ParseOutputFormat(std::string_view name);

// Renders `rows` under `header`. Each column is as wide as its widest cell;
// rows shorter than the header are padded with empty cells. Every line ends in
// '\n' and carries no trailing blanks.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace meshgate::ctl
