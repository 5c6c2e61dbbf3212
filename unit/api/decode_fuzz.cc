// Fuzz target: arbitrary bytes through Decode() (which also validates), in
// both strict and lenient modes, with small limits so deep and large inputs
// exercise the rejection paths.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  meshgate::api::DecodeOptions options;
  options.source_name = "fuzz.yaml";
  options.max_bytes = 1 << 20;
  options.max_depth = 64;
  meshgate::api::Decode(text, options);
  options.strict = true;
  const auto result = meshgate::api::Decode(text, options);
  for (const auto& d : result.diagnostics) (void)d.ToString();
  return 0;
}
