// Semantic validation of decoded objects, following Istio's rules for the
// networking kinds (relative weights, durations >= 1ms, RE2 regexes that
// compile, one route action, unique subsets, well-formed hosts and header
// names, ...). Decode() already calls it; it is public for callers that build
// Resources by other means (tests, the Kubernetes source).
//
// Thread-safety: pure; may be called concurrently.
#pragma once

#include "api/diagnostic.h"
#include "api/resource.h"

namespace meshgate::api {

// Returns every problem found, each with its field path. Errors mean the
// object must be rejected.
Diagnostics Validate(const Resource& resource);

}  // namespace meshgate::api
