// String helpers for the HTTP code. Debian's abseil is built with its own
// absl::string_view (not an alias of std::string_view), so absl::StrCat and
// the absl::strings predicates do not accept std::string_view; these small
// equivalents do. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace meshgate::proxy::http {

inline void AppendPart(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPart(std::string& out, const char* s) { out.append(s); }
inline void AppendPart(std::string& out, const std::string& s) { out.append(s); }
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) void AppendPart(std::string& out, T value) {
  out.append(std::to_string(value));
}
inline void AppendPart(std::string& out, const absl::Hex& hex) { absl::StrAppend(&out, hex); }

// Concatenates string-like pieces, integers and absl::Hex.
template <typename... T>
std::string Concat(const T&... parts) {
  std::string out;
  (AppendPart(out, parts), ...);
  return out;
}
template <typename... T>
void Append(std::string& out, const T&... parts) {
  (AppendPart(out, parts), ...);
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(a[i]) != absl::ascii_tolower(b[i])) return false;
  }
  return true;
}

inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(c);
  return out;
}

inline std::string_view StripWhitespace(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(s.front())) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace meshgate::proxy::http
