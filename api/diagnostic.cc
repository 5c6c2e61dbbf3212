#include "api/diagnostic.h"

#include <algorithm>

namespace meshgate::api {

std::string Diagnostic::ToString() const {
  std::string out;
  if (!location.file.empty()) {
    out += location.file;
    if (location.line > 0) out += ":" + std::to_string(location.line);
    out += ": ";
  }
  if (severity == Severity::kWarning) out += "warning: ";
  if (severity == Severity::kNotice) out += "notice: ";
  if (!object.empty()) out += object + ": ";
  if (!field_path.empty()) out += field_path + ": ";
  out += message;
  return out;
}

bool HasErrors(const Diagnostics& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  });
}

}  // namespace meshgate::api
