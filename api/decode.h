// Decoding of YAML and JSON text into validated Resources.
//
// Accepts multi-document YAML, JSON, and `List` kinds (v1 List and any
// `*List` with `items`). Every object is decoded and validated independently:
// a broken object yields diagnostics and is left out, while the valid ones in
// the same text are returned. Input is untrusted: size and nesting depth are
// bounded before parsing (see api/depth_scan.h for the depth rule), alias
// expansion is bounded by a node budget while decoding, and yaml-cpp's
// exceptions never escape, so no input exhausts memory or the stack.
//
// Every diagnostic carries the file (source_name), the 1-based line of the
// offending node, the object ("Kind/namespace/name") and the field path
// (`spec.http[0].route[1].weight`, map keys as `headers[x-user]`).
//
// Thread-safety: the functions are pure and may be called concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api/diagnostic.h"
#include "api/resource.h"

namespace meshgate::api {

struct DecodeOptions {
  // Name reported in diagnostics (a file path, "<stdin>", ...).
  std::string source_name;
  // Unknown fields are errors when strict, warnings otherwise (Kubernetes
  // prunes them, so a non-strict reader ignores them).
  bool strict = false;
  // Inputs above these limits are rejected whole with one diagnostic.
  size_t max_bytes = 16 * 1024 * 1024;
  int max_depth = 128;
};

struct DecodeResult {
  std::vector<ResourcePtr> resources;  // valid objects, in document order
  Diagnostics diagnostics;             // every problem found, in document order
};

DecodeResult Decode(std::string_view text, const DecodeOptions& options);

}  // namespace meshgate::api
