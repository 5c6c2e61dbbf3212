// Status propagation macros for the config translators, where nearly every
// step can fail with a field-path error. Internal to proxy/config.
#pragma once

#include "absl/status/status.h"

#define MG_CONCAT_INNER(a, b) a##b
#define MG_CONCAT(a, b) MG_CONCAT_INNER(a, b)

#define MG_RETURN_IF_ERROR(expr)                                               \
  do {                                                                         \
    if (absl::Status _mg_status = (expr); !_mg_status.ok()) return _mg_status; \
  } while (0)

#define MG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

#define MG_ASSIGN_OR_RETURN(lhs, expr) \
  MG_ASSIGN_OR_RETURN_IMPL(MG_CONCAT(_mg_statusor_, __LINE__), lhs, expr)
