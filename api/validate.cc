#include "api/validate.h"

namespace meshgate::api {

Diagnostics Validate(const Resource& resource) {
  (void)resource;
  return {};
}

}  // namespace meshgate::api
