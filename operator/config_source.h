// ConfigSource: something that feeds objects into a ConfigStore (a directory of
// files, the Kubernetes API). Sources are interchangeable: the store and the
// compiler never know where an object came from, only its origin string.
//
// A source pushes OriginUpdates to the store it was given; it owns nothing in
// the store. Thread-safety: Start() and Stop() are called from one thread;
// a source may push from its own threads in between.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace meshgate::operator_ {

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;

  // Loads the current state into the store (returning once it is there) and
  // starts following changes. An error means nothing is being followed.
  virtual absl::Status Start() = 0;
  // Stops following changes; objects already pushed stay in the store.
  // Idempotent.
  virtual void Stop() = 0;
  // For logs: "files:/etc/meshgate", "kubernetes", ...
  virtual std::string Name() const = 0;
};

}  // namespace meshgate::operator_
