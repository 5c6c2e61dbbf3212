#include "ca/storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace meshgate::ca {
namespace {

absl::Status Errno(absl::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(absl::StrCat(what, " ", path.string(), ": ", std::strerror(errno)));
}

bool ValidName(absl::string_view name) {
  return !name.empty() && name.find('/') == absl::string_view::npos && name != "." &&
         name != ".." && name.front() != '.';
}

absl::Status WriteAll(int fd, absl::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("writing", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileCaStorage>> FileCaStorage::Open(std::filesystem::path dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating CA state directory ", dir.string(), ": ", ec.message()));
  }
  if (!std::filesystem::is_directory(dir)) {
    return absl::FailedPreconditionError(absl::StrCat(dir.string(), " is not a directory"));
  }
  ::chmod(dir.c_str(), 0700);
  return std::unique_ptr<FileCaStorage>(new FileCaStorage(std::move(dir)));
}

absl::StatusOr<std::string> FileCaStorage::Read(absl::string_view name) const {
  if (!ValidName(name)) return absl::InvalidArgumentError(absl::StrCat("bad file name ", name));
  std::filesystem::path path = dir_ / std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return absl::NotFoundError(absl::StrCat(path.string(), " does not exist"));
    }
    return absl::PermissionDeniedError(absl::StrCat("cannot read ", path.string()));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::Status FileCaStorage::Write(absl::string_view name, absl::string_view data, bool secret) {
  if (!ValidName(name)) return absl::InvalidArgumentError(absl::StrCat("bad file name ", name));
  std::filesystem::path path = dir_ / std::string(name);
  std::filesystem::path temp = dir_ / absl::StrCat(".", name, ".tmp");
  // The temp file is created with the final mode, so a secret is never
  // readable by others, not even for an instant.
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) return Errno("creating", temp);
  absl::Status status = WriteAll(fd, data, temp);
  if (status.ok() && ::fchmod(fd, secret ? 0600 : 0644) != 0) status = Errno("chmod", temp);
  if (status.ok() && ::fsync(fd) != 0) status = Errno("fsync", temp);
  if (::close(fd) != 0 && status.ok()) status = Errno("closing", temp);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) status = Errno("renaming", temp);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("opening", dir_);
  if (::fsync(dir_fd) != 0) status = Errno("fsync", dir_);
  ::close(dir_fd);
  return status;
}

absl::StatusOr<std::string> MemoryCaStorage::Read(absl::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = files_.find(name);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat(name, " does not exist"));
  return it->second;
}

absl::Status MemoryCaStorage::Write(absl::string_view name, absl::string_view data, bool) {
  std::lock_guard lock(mu_);
  files_[std::string(name)] = std::string(data);
  return absl::OkStatus();
}

}  // namespace meshgate::ca
