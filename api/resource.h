// Resource: one decoded, validated object of any kind meshgate reads, with its
// metadata and where it came from. This is the unit the config store holds and
// the compiler consumes.
//
// Resources are immutable and shared as std::shared_ptr<const Resource>; any
// number of threads may read one concurrently.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "api/apim.h"
#include "api/kube.h"
#include "api/meta.h"
#include "api/networking.h"
#include "api/security.h"

namespace meshgate::api {

using Spec =
    std::variant<VirtualService, DestinationRule, Gateway, ServiceEntry, APIProduct, Service,
                 EndpointSlice, Pod, Namespace, Secret, ConfigMap, PeerAuthentication, Sidecar>;

struct Resource {
  Kind kind = Kind::kVirtualService;
  std::string api_version;  // as written, e.g. "networking.istio.io/v1beta1"
  ObjectMeta metadata;
  SourceLocation source;
  Spec spec;

  ObjectKey Key() const { return ObjectKey{kind, metadata.namespace_, metadata.name}; }

  // REQUIRES: T is the alternative matching `kind`.
  template <typename T>
  const T& As() const {
    return std::get<T>(spec);
  }
};

using ResourcePtr = std::shared_ptr<const Resource>;

}  // namespace meshgate::api
