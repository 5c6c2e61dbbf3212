// StringMatcher: the runtime form of envoy.type.matcher.v3.StringMatcher
// (exact / prefix / suffix / contains / RE2 full match, optional ASCII
// case-insensitivity), shared by header, query-parameter and CORS origin
// matching.
//
// Built once at config translation (regexes are compiled then, so a bad
// pattern is a NACK, never a per-request failure) and immutable afterwards.
//
// Thread-safety: immutable; Matches() is safe from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "re2/re2.h"

namespace meshgate::proxy {

// Compiles `pattern` with RE2. `max_program_size` (0 = RE2's default limit)
// bounds the compiled program, as RegexMatcher.GoogleRE2 allows.
absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(std::string_view pattern,
                                                             bool case_sensitive = true,
                                                             uint32_t max_program_size = 0);

class StringMatcher {
 public:
  enum class Kind { kExact, kPrefix, kSuffix, kContains, kRegex };

  // Fails only for kRegex with an invalid pattern.
  static absl::StatusOr<StringMatcher> Create(Kind kind, std::string_view pattern,
                                              bool ignore_case = false,
                                              uint32_t max_program_size = 0);

  bool Matches(std::string_view value) const;
  Kind kind() const { return kind_; }
  const std::string& pattern() const { return pattern_; }

 private:
  StringMatcher() = default;
  Kind kind_ = Kind::kExact;
  std::string pattern_;
  bool ignore_case_ = false;
  std::shared_ptr<const re2::RE2> regex_;
};

}  // namespace meshgate::proxy
