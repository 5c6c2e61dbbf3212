// Internal to the api module: a cheap, linear, non-recursive estimate of the
// nesting depth of YAML/JSON text, run before yaml-cpp (whose parser recurses
// once per nesting level) ever sees the text.
//
// The rule: at any point, depth = block depth + flow depth, where
//  - block depth of a line is the number of enclosing lines with strictly
//    smaller indentation, plus the block indicators on the line itself
//    ("- ", "? ", ": "), each of which can open a compact nested collection;
//  - flow depth is the number of '[' and '{' not yet closed.
// Quoted scalars, comments and block scalars (| and >) are skipped, as yaml-cpp
// reads them as text. Plain scalars that happen to contain brackets in block
// context only make the estimate larger, never smaller. yaml-cpp's own
// DepthGuard (2000 levels) stays in place behind this as a hard backstop.
//
// Thread-safety: pure function.
#pragma once

#include <string_view>

namespace meshgate::api {

struct DepthScan {
  bool exceeded = false;
  // A ',' outside any flow collection and outside a plain scalar. It is never
  // valid YAML, and yaml-cpp 0.7 loops forever on some of these (",a: 1",
  // "{a},"), so the scan rejects them before the parser runs.
  bool stray_comma = false;
  int line = 0;    // 1-based, where the problem was found
  int column = 0;  // 1-based
};

DepthScan ScanNestingDepth(std::string_view text, int max_depth);

}  // namespace meshgate::api
