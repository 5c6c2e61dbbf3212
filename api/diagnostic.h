// Diagnostic: one problem found while decoding or validating config, with
// everything a user needs to find it: file, line, object, field path.
//
// Plain value type; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "api/meta.h"

namespace meshgate::api {

struct Diagnostic {
  enum class Severity {
    kError,    // the object is rejected
    kWarning,  // accepted (e.g. an unknown field outside strict mode)
    kNotice,   // informational (e.g. a kind meshgate does not read)
  };
  Severity severity = Severity::kError;
  SourceLocation location;
  std::string object;      // "Kind/namespace/name"; empty if the object could not be identified
  std::string field_path;  // "spec.http[0].route[1].weight"; empty for whole-document problems
  std::string message;

  // "FILE:LINE: Kind/namespace/name: field.path: message" (empty parts omitted).
  std::string ToString() const;
};

using Diagnostics = std::vector<Diagnostic>;

bool HasErrors(const Diagnostics& diagnostics);

}  // namespace meshgate::api
