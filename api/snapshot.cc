#include "api/snapshot.h"

namespace meshgate::api {

std::vector<ResourcePtr> ConfigSnapshot::OfKind(Kind kind) const {
  std::vector<ResourcePtr> out;
  auto it = objects.lower_bound(ObjectKey{kind, "", ""});
  for (; it != objects.end() && it->first.kind == kind; ++it) out.push_back(it->second);
  return out;
}

ResourcePtr ConfigSnapshot::Find(const ObjectKey& key) const {
  auto it = objects.find(key);
  return it == objects.end() ? nullptr : it->second;
}

}  // namespace meshgate::api
