// Where the CA keeps its keys and certificates.
//
// CaStorage is a flat name -> bytes store. The file implementation keeps each
// name as a file in one directory and replaces files atomically (temp file,
// fsync, rename, fsync of the directory), so a crash leaves either the old or
// the new content, never half a key. Secrets are created with mode 0600.
// A Kubernetes Secret implementation will live beside it (operator side).
//
// Thread-safety: implementations are safe for concurrent use; a Write is
// atomic with respect to Read of the same name.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace meshgate::ca {

class CaStorage {
 public:
  virtual ~CaStorage() = default;
  // NOT_FOUND when `name` was never written.
  virtual absl::StatusOr<std::string> Read(absl::string_view name) const = 0;
  // Replaces `name` atomically. `secret` content is readable by the owner only.
  virtual absl::Status Write(absl::string_view name, absl::string_view data, bool secret) = 0;
  // Human-readable location for error messages ("/var/lib/meshgate/ca").
  virtual std::string Describe() const = 0;
};

class FileCaStorage final : public CaStorage {
 public:
  // Creates `dir` (mode 0700) if missing.
  static absl::StatusOr<std::unique_ptr<FileCaStorage>> Open(std::filesystem::path dir);

  absl::StatusOr<std::string> Read(absl::string_view name) const override;
  absl::Status Write(absl::string_view name, absl::string_view data, bool secret) override;
  std::string Describe() const override { return dir_.string(); }

 private:
  explicit FileCaStorage(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

// Process-local storage, for embedding and benchmarks; nothing survives exit.
class MemoryCaStorage final : public CaStorage {
 public:
  absl::StatusOr<std::string> Read(absl::string_view name) const override;
  absl::Status Write(absl::string_view name, absl::string_view data, bool secret) override;
  std::string Describe() const override { return "memory"; }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> files_;
};

}  // namespace meshgate::ca
