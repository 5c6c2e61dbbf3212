// Helpers for meshgatectl's unit tests: the recorded admin-endpoint documents
// in unit/ctl/testdata and a table splitter, so assertions compare cells
// rather than column padding.
#pragma once

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace meshgate::ctl::testing {

inline std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(MESHGATE_SOURCE_DIR) + "/unit/ctl/testdata/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The cells of each line of a rendered table (columns are separated by at
// least three blanks; cells themselves never hold three in a row).
inline std::vector<std::vector<std::string>> SplitTable(const std::string& table) {
  std::vector<std::vector<std::string>> out;
  std::istringstream lines(table);
  std::string line;
  static const std::regex kSeparator(" {3,}");
  while (std::getline(lines, line)) {
    if (line.empty()) break;  // the table ends at the first blank line
    std::vector<std::string> cells(
        std::sregex_token_iterator(line.begin(), line.end(), kSeparator, -1),
        std::sregex_token_iterator());
    out.push_back(std::move(cells));
  }
  return out;
}

}  // namespace meshgate::ctl::testing
