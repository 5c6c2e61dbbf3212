#include "api/depth_scan.h"

#include <vector>

namespace meshgate::api {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

DepthScan ScanNestingDepth(std::string_view text, int max_depth) {
  std::vector<int> indents;     // indentation columns of the enclosing block lines
  int flow = 0;                 // open flow collections
  int block_at_flow = 0;        // block depth where the outermost flow collection opened
  char quote = 0;               // '\'' or '"' while inside a quoted scalar
  bool in_plain = false;        // inside a plain scalar (flow context carries it across lines)
  int block_scalar_owner = -1;  // >= 0: skipping a | or > block scalar's content lines
  int previous_indent = -1;

  const size_t size = text.size();
  size_t pos = 0;
  int line_number = 0;
  while (pos < size) {
    ++line_number;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = size;
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;

    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    const bool blank = indent == line.size() || line[indent] == '\r' || line[indent] == '#';

    // A document marker ends every scalar and collection; Decode() parses
    // each document on its own, so the scan starts afresh as well.
    if (line.substr(0, 3) == "---" && (line.size() == 3 || IsBlank(line[3]))) {
      indents.clear();
      flow = 0;
      quote = 0;
      in_plain = false;
      block_scalar_owner = -1;
      previous_indent = -1;
    }
    if (block_scalar_owner >= 0) {
      if (blank || static_cast<int>(indent) > block_scalar_owner) continue;
      block_scalar_owner = -1;
    }

    int block = 0;
    int indicators = 0;
    bool token_start = true;
    if (quote == 0 && flow == 0) {
      if (blank) continue;
      while (!indents.empty() && indents.back() >= static_cast<int>(indent)) indents.pop_back();
      // A more indented line right after a plain scalar continues that scalar.
      const bool continuation = in_plain && static_cast<int>(indent) > previous_indent;
      previous_indent = static_cast<int>(indent);
      indents.push_back(static_cast<int>(indent));
      if (continuation) token_start = false;
      in_plain = continuation;
    } else {
      token_start = !in_plain;
    }
    block = static_cast<int>(indents.size());

    int owner_column = static_cast<int>(indent);
    int scalar_column = static_cast<int>(indent);
    auto depth = [&] { return flow > 0 ? block_at_flow + flow : block + indicators; };
    auto exceeded = [&](size_t column) {
      return DepthScan{true, false, line_number, static_cast<int>(column) + 1};
    };
    auto stray_comma = [&](size_t column) {
      return DepthScan{false, true, line_number, static_cast<int>(column) + 1};
    };

    for (size_t i = indent; i < line.size(); ++i) {
      const char c = line[i];
      const char next = i + 1 < line.size() ? line[i + 1] : '\n';
      if (quote != 0) {
        if (quote == '"' && c == '\\') {
          ++i;
        } else if (c == quote) {
          if (quote == '\'' && next == '\'') {
            ++i;
          } else {
            quote = 0;
          }
        }
        continue;
      }
      if (c == '#' && (i == 0 || IsBlank(line[i - 1]))) break;  // comment
      if (c == ' ' || c == '\t' || c == '\r') continue;
      if (token_start) {
        if (c == '\'' || c == '"') {
          quote = c;
          token_start = false;
          scalar_column = static_cast<int>(i);
          continue;
        }
        if (c == '[' || c == '{') {
          if (flow == 0) block_at_flow = block + indicators;
          ++flow;
          if (depth() > max_depth) return exceeded(i);
          continue;
        }
        if ((c == ']' || c == '}') && flow > 0) {
          --flow;
          token_start = false;
          continue;
        }
        if (c == ',') {
          if (flow == 0) return stray_comma(i);
          continue;
        }
        if ((c == '-' || c == '?' || c == ':') && IsBlank(next)) {
          if (flow == 0) {
            ++indicators;
            if (depth() > max_depth) return exceeded(i);
            owner_column = c == ':' ? scalar_column : static_cast<int>(i);
          }
          continue;
        }
        if (c == '&' || c == '!') {  // anchor or tag: a prefix of the node
          while (i + 1 < line.size() && !IsBlank(line[i + 1])) ++i;
          continue;
        }
        if ((c == '|' || c == '>') && flow == 0) {
          block_scalar_owner = owner_column;
          break;
        }
        token_start = false;
        in_plain = c != '*';
        scalar_column = static_cast<int>(i);
        continue;
      }
      // Inside a plain scalar, after a quoted scalar, or after an alias.
      if (flow > 0) {
        if (c == ',' || c == '[' || c == '{') {
          if (c != ',') {
            ++flow;
            if (depth() > max_depth) return exceeded(i);
          }
          token_start = true;
          in_plain = false;
        } else if (c == ']' || c == '}') {
          --flow;
          in_plain = false;
        } else if (c == ':' &&
                   (!in_plain || IsBlank(next) || next == ',' || next == ']' || next == '}')) {
          // After a quoted key, JSON's adjacent "a":"b" starts a value too.
          token_start = true;
          in_plain = false;
        }
      } else if (c == ',' && !in_plain) {
        return stray_comma(i);  // right after a quoted scalar or a flow collection
      } else if (c == ':' && IsBlank(next)) {
        ++indicators;
        if (depth() > max_depth) return exceeded(i);
        owner_column = scalar_column;
        token_start = true;
        in_plain = false;
      }
    }
    if (flow == 0 && quote == 0 && token_start) in_plain = false;
  }
  return DepthScan{};
}

}  // namespace meshgate::api
