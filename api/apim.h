// APIProduct (apim.meshgate.io/v1alpha1): an API exposed as a product at the
// gateway. Registered now with its metadata and an opaque spec; typed fields
// arrive with the API-product feature.
//
// Plain value type; immutable once decoded and safe to share across threads.
#pragma once

#include <string>

namespace meshgate::api {

struct APIProduct {
  // The spec as canonical JSON text, kept verbatim so nothing is lost before
  // the typed model exists.
  std::string spec_json;
};

}  // namespace meshgate::api
