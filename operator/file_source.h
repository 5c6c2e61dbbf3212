// FileSource: the file-mode config source. Loads every *.yaml, *.yml and
// *.json file under a directory tree into a ConfigStore and follows changes
// with inotify, so adding, editing, renaming or deleting a file is reflected
// in the store within a second.
//
// Each file is one origin (its path): the file maps to the set of objects it
// currently defines, so an edit that drops an object deletes it. Bad input
// never loses an accepted object: a file that does not parse keeps its last
// objects, and an object edited into an invalid state keeps its last valid
// version; both are logged and recorded as the file's diagnostics in the store.
// Bursts of events (an editor's save, `cp -r`) are coalesced: each file is
// read once per burst and the store moves one version per burst.
//
// Hidden files and directories (".x", which also covers ".#x" and ".x.swp"),
// backups ("x~") and "#x#" autosaves are ignored. A Kubernetes ConfigMap mount
// (files as symlinks into a "..data" directory swapped by rename) is followed
// by rescanning when "..data" moves.
//
// Ownership: the source borrows the store, which must outlive it.
// Thread-safety: Start() and Stop() from one thread; after Start() one
// internal thread reads inotify events and applies changes to the store.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "api/resource.h"
#include "common/clock.h"
#include "operator/config_source.h"
#include "operator/config_store.h"

namespace meshgate::operator_ {

// True for the names of config files the source reads: *.yaml, *.yml, *.json,
// not hidden, not an editor's temporary or backup file.
bool IsConfigFileName(std::string_view name);
// True for names the source never descends into or reads (".git", ".x.swp").
bool IsHiddenName(std::string_view name);

struct FileSourceOptions {
  std::string root;  // REQUIRES: an existing directory
  // Unknown fields are errors (object rejected) rather than warnings.
  bool strict = false;
  // A burst ends when no event arrived for `settle`, or at the latest
  // `max_delay` after its first event.
  std::chrono::milliseconds settle{40};
  std::chrono::milliseconds max_delay{400};
  // Used for the coalescing deadlines. REQUIRES: outlives the source.
  const Clock* clock = &SystemClock::Get();
};

class FileSource final : public ConfigSource {
 public:
  FileSource(ConfigStore& store, FileSourceOptions options);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  // Loads the whole tree into the store, then starts the watcher thread.
  absl::Status Start() override;
  void Stop() override;
  std::string Name() const override;

 private:
  struct FileState {
    size_t content_hash = 0;
    size_t content_size = 0;
    std::map<api::ObjectKey, api::ResourcePtr> objects;
    // The text each object was decoded from (a superset of its document), so
    // that an edit elsewhere in the file keeps the object's identity and is
    // not reported as a change of it.
    std::map<api::ObjectKey, std::string> texts;
  };

  void Run();
  // Reads whatever events are queued; false when the inotify fd broke.
  bool DrainEvents();
  void HandleEvent(int wd, uint32_t mask, std::string_view name);
  // Watches `dir` and every non-hidden directory below it; adds the config
  // files found to `files`.
  void WatchTree(const std::string& dir, std::set<std::string>* files);
  void ForgetTree(const std::string& dir);
  void MarkTreeDirty(const std::string& dir);
  void Rescan();
  // Re-reads every dirty file and applies the result in one store update.
  void Flush();
  // Objects of files that disappeared in the current burst, by key: a file
  // renamed while one of its objects is broken hands that object's last valid
  // version on to its new name.
  using Orphans = std::map<api::ObjectKey, api::ResourcePtr>;
  // The store update for one file, or nothing when the file is unchanged.
  std::optional<OriginUpdate> Reload(const std::string& path, Orphans* orphans);

  ConfigStore& store_;
  const FileSourceOptions options_;
  std::string root_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;

  // Owned by the watcher thread once it runs (by Start() before).
  std::map<int, std::string> dir_by_watch_;
  std::map<std::string, int> watch_by_dir_;
  std::map<std::string, FileState> files_;
  std::set<std::string> dirty_;
  bool rescan_ = false;
};

}  // namespace meshgate::operator_
