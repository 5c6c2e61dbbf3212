// Small ASCII helpers over std::string_view. The system abseil is built with its own
// absl::string_view, which std::string_view does not convert to, so absl/strings helpers are only
// used with std::string arguments here. Pure functions; thread-safe.

#ifndef MESHGATE_BENCH_PROXY_ASCII_H_
#define MESHGATE_BENCH_PROXY_ASCII_H_

#include <cstddef>
#include <string_view>

namespace meshgate::bench {

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline std::string_view StripWhitespace(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

inline bool ConsumePrefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

inline bool ConsumeSuffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

}  // namespace meshgate::bench

#endif  // MESHGATE_BENCH_PROXY_ASCII_H_
