#include "proxy/router/string_matcher.h"

#include "absl/strings/str_cat.h"
#include "proxy/router/text.h"

namespace meshgate::proxy {

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(std::string_view pattern,
                                                             bool case_sensitive,
                                                             uint32_t max_program_size) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(case_sensitive);
  auto regex =
      std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!regex->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid RE2 regex '", Av(pattern), "': ", regex->error()));
  }
  if (max_program_size > 0 && static_cast<uint32_t>(regex->ProgramSize()) > max_program_size) {
    return absl::InvalidArgumentError(absl::StrCat("regex '", Av(pattern), "' program size ",
                                                   regex->ProgramSize(),
                                                   " exceeds max_program_size ", max_program_size));
  }
  return regex;
}

absl::StatusOr<StringMatcher> StringMatcher::Create(Kind kind, std::string_view pattern,
                                                    bool ignore_case, uint32_t max_program_size) {
  StringMatcher matcher;
  matcher.kind_ = kind;
  matcher.ignore_case_ = ignore_case;
  matcher.pattern_ = std::string(pattern);
  if (kind == Kind::kRegex) {
    auto regex = CompileRegex(pattern, !ignore_case, max_program_size);
    if (!regex.ok()) return regex.status();
    matcher.regex_ = *std::move(regex);
  } else if (ignore_case) {
    matcher.pattern_ = AsciiLowered(matcher.pattern_);
  }
  return matcher;
}

bool StringMatcher::Matches(std::string_view value) const {
  switch (kind_) {
    case Kind::kExact:
      return ignore_case_ ? EqualsIgnoreCase(value, pattern_) : value == pattern_;
    case Kind::kPrefix:
      return StartsWith(value, pattern_, ignore_case_);
    case Kind::kSuffix:
      return EndsWith(value, pattern_, ignore_case_);
    case Kind::kContains:
      return Contains(value, pattern_, ignore_case_);
    case Kind::kRegex:
      return re2::RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *regex_);
  }
  return false;
}

}  // namespace meshgate::proxy
