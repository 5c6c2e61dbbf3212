// Small ASCII string helpers on std::string_view for the routing code.
//
// The system abseil is built with its own absl::string_view (not an alias of
// std::string_view), so absl's string functions do not accept std views
// directly; these helpers keep the routing code on std::string_view and
// convert at the few absl call sites (Av()).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace meshgate::proxy {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline std::string AsciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool StartsWith(std::string_view s, std::string_view prefix, bool ignore_case = false) {
  if (s.size() < prefix.size()) return false;
  return ignore_case ? EqualsIgnoreCase(s.substr(0, prefix.size()), prefix)
                     : s.substr(0, prefix.size()) == prefix;
}

inline bool EndsWith(std::string_view s, std::string_view suffix, bool ignore_case = false) {
  if (s.size() < suffix.size()) return false;
  const std::string_view tail = s.substr(s.size() - suffix.size());
  return ignore_case ? EqualsIgnoreCase(tail, suffix) : tail == suffix;
}

inline bool Contains(std::string_view s, std::string_view needle, bool ignore_case = false) {
  if (!ignore_case) return s.find(needle) != std::string_view::npos;
  return AsciiLowered(s).find(AsciiLowered(needle)) != std::string::npos;
}

inline std::string_view StripAsciiWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace meshgate::proxy
