#include "proxy/accesslog/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "common/text_escape.h"

namespace meshgate::proxy::accesslog {
namespace {

constexpr size_t kFlushThreshold = 64 * 1024;

void Field(std::string& out, const char* name, const std::string& value, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += name;
  out += "\":";
  if (value.empty()) {
    out += "null";
  } else {
    meshgate::AppendJsonString(out, value);
  }
}

void Number(std::string& out, const char* name, uint64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

std::string Iso8601(std::chrono::system_clock::time_point t) {
  auto since_epoch = t.time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs).count();
  std::time_t tt = secs.count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(millis));
  return buf;
}

}  // namespace

std::string FormatJson(const AccessLogEntry& e) {
  std::string out;
  out.reserve(512);
  out += '{';
  Field(out, "start_time", Iso8601(e.start_time), /*first=*/true);
  Field(out, "method", e.method);
  Field(out, "path", e.path);
  Field(out, "authority", e.authority);
  Field(out, "protocol", e.protocol);
  Number(out, "response_code", static_cast<uint64_t>(e.response_code));
  Field(out, "response_flags", e.response_flags.empty() ? "-" : e.response_flags);
  Number(out, "bytes_received", e.bytes_received);
  Number(out, "bytes_sent", e.bytes_sent);
  // Envoy reports whole milliseconds; the microseconds keep sub-ms latency visible.
  Number(out, "duration", static_cast<uint64_t>(e.duration.count() / 1000));
  Number(out, "duration_us", static_cast<uint64_t>(e.duration.count()));
  Field(out, "upstream_host", e.upstream_host);
  Field(out, "upstream_cluster", e.upstream_cluster);
  Field(out, "x_request_id", e.request_id);
  Field(out, "user_agent", e.user_agent);
  Field(out, "downstream_remote_address", e.downstream_remote_address);
  Field(out, "downstream_peer_identity", e.downstream_peer_identity);
  Field(out, "route_name", e.route_name);
  out += '}';
  return out;
}

absl::StatusOr<std::shared_ptr<AccessLogFile>> AccessLogFile::Open(const std::string& path) {
  if (path.empty() || path == "-" || path == "/dev/stdout") {
    return std::shared_ptr<AccessLogFile>(new AccessLogFile(STDOUT_FILENO, false));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError("access log " + path + ": " + std::strerror(errno));
  }
  return std::shared_ptr<AccessLogFile>(new AccessLogFile(fd, true));
}

AccessLogFile::~AccessLogFile() {
  if (owned_) ::close(fd_);
}

void AccessLogWriter::Log(const AccessLogEntry& entry) {
  batch_ += FormatJson(entry);
  batch_ += '\n';
  if (batch_.size() >= kFlushThreshold) Flush();
}

void AccessLogWriter::Flush() {
  size_t off = 0;
  while (off < batch_.size()) {
    ssize_t n = ::write(file_->fd(), batch_.data() + off, batch_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk must not stall the data path; the lines are dropped
    off += static_cast<size_t>(n);
  }
  batch_.clear();
}

}  // namespace meshgate::proxy::accesslog
