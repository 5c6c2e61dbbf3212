// Helpers shared by the api tests: decoding a string and finding diagnostics.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api/decode.h"

namespace meshgate::api::testing {

inline DecodeResult DecodeText(const std::string& text, bool strict = false) {
  DecodeOptions options;
  options.source_name = "test.yaml";
  options.strict = strict;
  return Decode(text, options);
}

// Every diagnostic of `severity` as "LINE|PATH|MESSAGE", for matchers.
inline std::vector<std::string> Findings(
    const DecodeResult& result, Diagnostic::Severity severity = Diagnostic::Severity::kError) {
  std::vector<std::string> out;
  for (const Diagnostic& d : result.diagnostics) {
    if (d.severity == severity) {
      out.push_back(std::to_string(d.location.line) + "|" + d.field_path + "|" + d.message);
    }
  }
  return out;
}

inline std::string Dump(const DecodeResult& result) {
  std::string out;
  for (const Diagnostic& d : result.diagnostics) out += d.ToString() + "\n";
  return out;
}

}  // namespace meshgate::api::testing
