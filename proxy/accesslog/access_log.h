// Access log: one JSON object per request, one line each, with the fields
// Envoy's default JSON format users expect (start time, method, path,
// authority, protocol, response code and flags, bytes, duration, upstream
// host and cluster, x-request-id, user agent, downstream peer identity).
//
// Formatting is a pure function of an AccessLogEntry. Each worker owns an
// AccessLogWriter that batches lines and writes them with one write(2) per
// loop iteration (or when the batch grows large) to a shared O_APPEND file
// descriptor, so lines from different workers never interleave.
//
// Thread-safety: FormatJson is pure. An AccessLogWriter belongs to one worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace meshgate::proxy::accesslog {

struct AccessLogEntry {
  std::chrono::system_clock::time_point start_time;
  std::string method;
  std::string path;
  std::string authority;
  std::string protocol;        // "HTTP/1.1", "HTTP/2"
  int response_code = 0;       // 0 when no response was sent
  std::string response_flags;  // Envoy's short flags: "UF", "UH", "NR", "UT", "URX", "DC", "-"
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  std::chrono::microseconds duration{0};
  std::string upstream_host;
  std::string upstream_cluster;
  std::string request_id;
  std::string user_agent;
  std::string downstream_remote_address;
  std::string downstream_peer_identity;  // SPIFFE ID of an mTLS peer
  std::string route_name;
};

// One JSON object, without the trailing newline. Strings are escaped per
// RFC 8259; absent values are written as null, as Envoy does.
std::string FormatJson(const AccessLogEntry& entry);

// A shared output: stdout ("-" / "/dev/stdout") or a file opened O_APPEND.
class AccessLogFile {
 public:
  static absl::StatusOr<std::shared_ptr<AccessLogFile>> Open(const std::string& path);
  ~AccessLogFile();
  int fd() const { return fd_; }

 private:
  AccessLogFile(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
};

class AccessLogWriter {
 public:
  explicit AccessLogWriter(std::shared_ptr<AccessLogFile> file) : file_(std::move(file)) {}
  ~AccessLogWriter() { Flush(); }
  void Log(const AccessLogEntry& entry);
  // Writes the batch; called by the worker once per loop iteration.
  void Flush();

 private:
  std::shared_ptr<AccessLogFile> file_;
  std::string batch_;
};

}  // namespace meshgate::proxy::accesslog
