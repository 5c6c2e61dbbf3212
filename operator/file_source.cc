#include "operator/file_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>

#include "api/decode.h"
#include "spdlog/spdlog.h"

namespace meshgate::operator_ {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kWatchMask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_DELETE | IN_DELETE_SELF | IN_ONLYDIR;

// Matches api::DecodeOptions::max_bytes: larger files are rejected by the
// decoder anyway, so reading more than one byte past it is pointless.
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

void LogDiagnostic(const api::Diagnostic& d) {
  switch (d.severity) {
    case api::Diagnostic::Severity::kError:
      spdlog::error("{}", d.ToString());
      break;
    case api::Diagnostic::Severity::kWarning:
      spdlog::warn("{}", d.ToString());
      break;
    case api::Diagnostic::Severity::kNotice:
      spdlog::info("{}", d.ToString());
      break;
  }
}

enum class ReadOutcome { kOk, kMissing, kError };

// Reads a regular file (following symlinks). kMissing when there is no
// regular file at `path` any more.
ReadOutcome ReadRegularFile(const std::string& path, std::string* content, std::string* error) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::status(path, ec))) return ReadOutcome::kMissing;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return ReadOutcome::kMissing;
    *error = std::strerror(errno);
    return ReadOutcome::kError;
  }
  content->clear();
  char buffer[65536];
  while (in && content->size() <= kMaxFileBytes) {
    in.read(buffer, sizeof(buffer));
    content->append(buffer, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    *error = "read failed";
    return ReadOutcome::kError;
  }
  return ReadOutcome::kOk;
}

// For each resource, the text from its first line up to the next resource's
// first line (or the end): it contains the whole document the resource was
// decoded from, whatever sits between documents.
std::vector<std::string> SourceTexts(const std::string& content,
                                     const std::vector<api::ResourcePtr>& resources) {
  std::vector<size_t> line_starts = {0};
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\n') line_starts.push_back(i + 1);
  }
  std::set<int> lines;
  for (const auto& r : resources) lines.insert(r->source.line);
  std::vector<std::string> texts;
  for (const auto& r : resources) {
    const int line = r->source.line;
    if (line <= 0 || static_cast<size_t>(line) > line_starts.size()) {
      texts.push_back(content);  // unknown position: the whole file
      continue;
    }
    const size_t begin = line_starts[line - 1];
    auto next = lines.upper_bound(line);
    const size_t end = (next == lines.end() || static_cast<size_t>(*next) > line_starts.size())
                           ? content.size()
                           : line_starts[*next - 1];
    texts.push_back(content.substr(begin, end - begin));
  }
  return texts;
}

}  // namespace

bool IsHiddenName(std::string_view name) { return !name.empty() && name.front() == '.'; }

bool IsConfigFileName(std::string_view name) {
  if (name.empty() || IsHiddenName(name) || name.front() == '#' || name.back() == '~') {
    return false;
  }
  return EndsWith(name, ".yaml") || EndsWith(name, ".yml") || EndsWith(name, ".json");
}

FileSource::FileSource(ConfigStore& store, FileSourceOptions options)
    : store_(store), options_(std::move(options)), root_(options_.root) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

FileSource::~FileSource() { Stop(); }

std::string FileSource::Name() const { return "files:" + root_; }

absl::Status FileSource::Start() {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    return absl::InvalidArgumentError("config dir " + root_ + " is not a directory");
  }
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    return absl::InternalError(std::string("inotify_init1: ") + std::strerror(errno));
  }
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    close(inotify_fd_);
    inotify_fd_ = -1;
    return absl::InternalError(std::string("eventfd: ") + std::strerror(errno));
  }
  // Watches go in before the listing, so a file created meanwhile is either
  // listed or reported by an event.
  WatchTree(root_, &dirty_);
  if (!watch_by_dir_.contains(root_)) {
    close(inotify_fd_);
    close(stop_fd_);
    inotify_fd_ = stop_fd_ = -1;
    return absl::InternalError("cannot watch " + root_);
  }
  Flush();
  spdlog::info("watching {} ({} directories, {} files)", root_, watch_by_dir_.size(),
               files_.size());
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void FileSource::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof(one)) < 0) {
      spdlog::error("cannot signal the file watcher to stop: {}", std::strerror(errno));
    }
    thread_.join();
  }
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  inotify_fd_ = stop_fd_ = -1;
}

void FileSource::Run() {
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    fds[0].revents = fds[1].revents = 0;
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("file watcher: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (!DrainEvents()) return;
    // Coalesce the burst: keep collecting until it settles or runs too long.
    const auto deadline = options_.clock->Monotonic() + options_.max_delay;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - options_.clock->Monotonic());
      auto wait = std::min(left, options_.settle);
      if (wait.count() <= 0) break;
      fds[0].revents = fds[1].revents = 0;
      int ready = poll(fds, 2, static_cast<int>(wait.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      if (fds[1].revents != 0) return;
      if (!DrainEvents()) return;
    }
    Flush();
  }
}

bool FileSource::DrainEvents() {
  alignas(inotify_event) char buffer[64 * 1024];
  while (true) {
    ssize_t n = read(inotify_fd_, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EAGAIN) return true;
      if (errno == EINTR) continue;
      spdlog::error("file watcher: read: {}", std::strerror(errno));
      return false;
    }
    if (n == 0) return true;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      std::string_view name(event->len > 0 ? event->name : "");
      name = name.substr(0, name.find('\0'));
      HandleEvent(event->wd, event->mask, name);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
}

void FileSource::HandleEvent(int wd, uint32_t mask, std::string_view name) {
  if (mask & IN_Q_OVERFLOW) {
    spdlog::warn("file watcher: event queue overflowed; rescanning {}", root_);
    rescan_ = true;
    return;
  }
  auto dir_it = dir_by_watch_.find(wd);
  if (dir_it == dir_by_watch_.end()) return;  // a watch already forgotten
  const std::string dir = dir_it->second;
  if (mask & (IN_DELETE_SELF | IN_IGNORED)) {
    if (dir == root_ && (mask & IN_DELETE_SELF)) {
      spdlog::error("config dir {} was deleted; its objects are removed", root_);
    }
    MarkTreeDirty(dir);
    watch_by_dir_.erase(dir);
    dir_by_watch_.erase(dir_it);
    return;
  }
  if (name.empty()) return;
  const std::string path = dir + "/" + std::string(name);
  if (IsHiddenName(name)) {
    // A ConfigMap volume swaps its "..data" symlink to publish a new version.
    if (name == "..data" && (mask & (IN_MOVED_TO | IN_CREATE))) rescan_ = true;
    return;
  }
  if (mask & IN_ISDIR) {
    if (mask & (IN_CREATE | IN_MOVED_TO)) {
      WatchTree(path, &dirty_);
    } else if (mask & (IN_MOVED_FROM | IN_DELETE)) {
      MarkTreeDirty(path);
      ForgetTree(path);
    }
    return;
  }
  if (!IsConfigFileName(name)) return;
  // A plain IN_CREATE is followed by IN_CLOSE_WRITE once the writer is done;
  // reading now would see a half-written file. A new symlink or hard link
  // gets no IN_CLOSE_WRITE, so it is read at once.
  if (mask & IN_CREATE) {
    std::error_code ec;
    const bool symlink = fs::is_symlink(fs::symlink_status(path, ec));
    const bool hard_link = !ec && fs::hard_link_count(path, ec) > 1;
    if (!symlink && !hard_link) return;
  }
  dirty_.insert(path);
}

void FileSource::WatchTree(const std::string& dir, std::set<std::string>* files) {
  int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
  if (wd < 0) {
    spdlog::error("cannot watch {}: {}", dir, std::strerror(errno));
    return;
  }
  // Re-watching a directory (after a rescan) returns its existing wd.
  auto old = watch_by_dir_.find(dir);
  if (old != watch_by_dir_.end() && old->second != wd) dir_by_watch_.erase(old->second);
  watch_by_dir_[dir] = wd;
  dir_by_watch_[wd] = dir;

  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    spdlog::error("cannot list {}: {}", dir, ec.message());
    return;
  }
  std::vector<std::string> subdirs;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (IsHiddenName(name)) continue;
    const std::string path = dir + "/" + name;
    std::error_code type_ec;
    // Symlinked directories are not followed, so a link cycle cannot loop.
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
      subdirs.push_back(path);
    } else if (IsConfigFileName(name)) {
      files->insert(path);
    }
  }
  for (const std::string& sub : subdirs) WatchTree(sub, files);
}

void FileSource::ForgetTree(const std::string& dir) {
  for (auto it = watch_by_dir_.begin(); it != watch_by_dir_.end();) {
    if (it->first == dir || IsUnder(it->first, dir)) {
      inotify_rm_watch(inotify_fd_, it->second);
      dir_by_watch_.erase(it->second);
      it = watch_by_dir_.erase(it);
    } else {
      ++it;
    }
  }
}

void FileSource::MarkTreeDirty(const std::string& dir) {
  for (const auto& [path, state] : files_) {
    if (IsUnder(path, dir)) dirty_.insert(path);
  }
}

void FileSource::Rescan() {
  rescan_ = false;
  for (const auto& [path, state] : files_) dirty_.insert(path);
  WatchTree(root_, &dirty_);
}

void FileSource::Flush() {
  if (rescan_) Rescan();
  std::vector<OriginUpdate> updates;
  Orphans orphans;
  // Disappeared files first, so their objects can be adopted by the files
  // read after them.
  std::vector<std::string> present;
  for (const std::string& path : dirty_) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
      present.push_back(path);
    } else if (auto update = Reload(path, &orphans); update.has_value()) {
      updates.push_back(std::move(*update));
    }
  }
  for (const std::string& path : present) {
    if (auto update = Reload(path, &orphans); update.has_value()) {
      updates.push_back(std::move(*update));
    }
  }
  dirty_.clear();
  if (!updates.empty()) store_.Apply(updates);
}

std::optional<OriginUpdate> FileSource::Reload(const std::string& path, Orphans* orphans) {
  OriginUpdate update;
  update.origin = path;
  std::string content, error;
  ReadOutcome outcome = ReadRegularFile(path, &content, &error);
  auto known = files_.find(path);

  if (outcome == ReadOutcome::kMissing) {
    if (known == files_.end()) return std::nullopt;
    for (const auto& [key, resource] : known->second.objects) {
      update.deletes.push_back(key);
      orphans->emplace(key, resource);
    }
    update.diagnostics = api::Diagnostics{};
    files_.erase(known);
    spdlog::info("{}: removed", path);
    return update;
  }
  if (outcome == ReadOutcome::kError) {
    // The file is still there but unreadable (permissions): keep what it had.
    api::Diagnostic d;
    d.location.file = path;
    d.message = "cannot read: " + error + "; its last objects stay in effect";
    LogDiagnostic(d);
    update.diagnostics = api::Diagnostics{d};
    return update;
  }

  const size_t hash = std::hash<std::string>{}(content);
  if (known != files_.end() && known->second.content_hash == hash &&
      known->second.content_size == content.size()) {
    return std::nullopt;
  }
  FileState& state = files_[path];
  state.content_hash = hash;
  state.content_size = content.size();

  api::DecodeOptions decode_options;
  decode_options.source_name = path;
  decode_options.strict = options_.strict;
  decode_options.max_bytes = kMaxFileBytes;
  api::DecodeResult decoded = api::Decode(content, decode_options);
  api::Diagnostics diagnostics = std::move(decoded.diagnostics);

  std::map<api::ObjectKey, api::ResourcePtr> objects;
  std::map<api::ObjectKey, std::string> texts;
  const std::vector<std::string> source_texts = SourceTexts(content, decoded.resources);
  for (size_t i = 0; i < decoded.resources.size(); ++i) {
    const api::ResourcePtr& resource = decoded.resources[i];
    const api::ObjectKey key = resource->Key();
    // Unchanged text at the same place: keep the object already in effect.
    api::ResourcePtr effective = resource;
    auto old = state.objects.find(key);
    auto old_text = state.texts.find(key);
    if (old != state.objects.end() && old_text != state.texts.end() &&
        old->second->source.line == resource->source.line && old_text->second == source_texts[i]) {
      effective = old->second;
    }
    auto [it, inserted] = objects.emplace(key, effective);
    if (inserted) {
      texts.emplace(key, source_texts[i]);
    } else {
      api::Diagnostic d;
      d.location = resource->source;
      d.object = resource->Key().ToString();
      d.message = "defined twice in this file; the definition at line " +
                  std::to_string(it->second->source.line) + " is used";
      diagnostics.push_back(std::move(d));
    }
  }

  // Objects this file had before but not now: deleted, unless the edit broke
  // them (or broke the file so that we cannot tell), in which case the last
  // valid version stays in effect.
  std::set<std::string> broken_objects;
  bool unidentified_error = false;
  for (const api::Diagnostic& d : diagnostics) {
    if (d.severity != api::Diagnostic::Severity::kError) continue;
    if (d.object.empty()) {
      unidentified_error = true;
    } else {
      broken_objects.insert(d.object);
    }
  }
  std::vector<api::Diagnostic> kept;
  for (const auto& [key, old] : state.objects) {
    if (objects.contains(key)) continue;
    if (unidentified_error || broken_objects.contains(key.ToString())) {
      objects.emplace(key, old);
      if (auto text = state.texts.find(key); text != state.texts.end()) {
        texts.emplace(key, text->second);
      }
      api::Diagnostic d;
      d.severity = api::Diagnostic::Severity::kWarning;
      d.location = old->source;
      d.location.file = path;
      d.object = key.ToString();
      d.message = "the last valid version stays in effect until the errors are fixed";
      kept.push_back(std::move(d));
    } else {
      update.deletes.push_back(key);
    }
  }
  for (const std::string& broken : broken_objects) {
    for (auto it = orphans->begin(); it != orphans->end(); ++it) {
      if (objects.contains(it->first) || it->first.ToString() != broken) continue;
      objects.emplace(it->first, it->second);
      api::Diagnostic d;
      d.severity = api::Diagnostic::Severity::kWarning;
      d.location = it->second->source;
      d.object = broken;
      d.message = "the last valid version (from " + it->second->source.file +
                  ") stays in effect until the errors are fixed";
      kept.push_back(std::move(d));
      orphans->erase(it);
      break;
    }
  }
  diagnostics.insert(diagnostics.end(), kept.begin(), kept.end());
  for (const api::Diagnostic& d : diagnostics) LogDiagnostic(d);

  for (const auto& [key, resource] : objects) {
    auto old = state.objects.find(key);
    if (old == state.objects.end() || old->second != resource) update.upserts.push_back(resource);
  }
  state.objects = std::move(objects);
  state.texts = std::move(texts);
  update.diagnostics = std::move(diagnostics);
  return update;
}

}  // namespace meshgate::operator_
