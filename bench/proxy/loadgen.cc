// meshgate-loadgen: an open-loop HTTP/1.1 load generator.
//
// Request i of a run is due at start + i/rate, whatever happened before it. Its latency runs from
// that intended time to the last byte of its response, so a stall of the server is charged to
// every request that should have been sent during it (no coordinated omission, unlike a closed
// loop such as wrk's). Requests go out on a fixed set of keep-alive connections, one request in
// flight per connection; a due request waits for the next free connection and its wait counts.
//
// One thread, one epoll set, a timerfd armed at the next due time with nanosecond precision.
//
//   meshgate-loadgen --rate 1000 --duration 10s --connections 8
//       --url http://127.0.0.1:8080/path [--header 'host: x'] [--timeout 5s] [--json]

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/proxy/ascii.h"
#include "bench/proxy/http_response_parser.h"
#include "bench/proxy/latency_histogram.h"

namespace meshgate::bench {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
// After a failed connect, wait this long before the next attempt so a dead server is not spun on.
constexpr int64_t kReconnectBackoffNanos = 10'000'000;

volatile std::sig_atomic_t g_interrupted = 0;
void OnSignal(int) { g_interrupted = 1; }

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * kNanosPerSecond + ts.tv_nsec;
}

struct Options {
  double rate = 1000;
  int64_t duration_nanos = 10 * kNanosPerSecond;
  int64_t timeout_nanos = 5 * kNanosPerSecond;
  int connections = 8;
  std::string host;
  std::string port = "80";
  std::string path = "/";
  std::vector<std::string> headers;
  bool json = false;
  std::string url;
};

// "10s", "250ms", "2m", "1.5" (seconds).
absl::StatusOr<int64_t> ParseDurationNanos(std::string_view flag, std::string_view text) {
  double scale = 1;
  std::string_view number = text;
  if (ConsumeSuffix(number, "ms")) {
    scale = 1e-3;
  } else if (ConsumeSuffix(number, "us")) {
    scale = 1e-6;
  } else if (ConsumeSuffix(number, "s")) {
    scale = 1;
  } else if (ConsumeSuffix(number, "m")) {
    scale = 60;
  }
  double value = 0;
  if (!absl::SimpleAtod(std::string(number), &value) || !(value > 0) || value * scale > 86400) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(flag), ": '", std::string(text),
                                                   "' is not a duration such as 10s, 500ms or 2m"));
  }
  return static_cast<int64_t>(value * scale * kNanosPerSecond);
}

absl::Status ParseUrl(std::string_view url, Options& options) {
  std::string_view rest = url;
  if (!ConsumePrefix(rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--url: '", std::string(url), "' must start with http://"));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  options.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    options.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    uint32_t port = 0;
    if (!absl::SimpleAtoi(options.port, &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--url: bad port in '", std::string(url), "'"));
    }
  }
  if (ConsumePrefix(authority, "[")) ConsumeSuffix(authority, "]");
  if (authority.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--url: no host in '", std::string(url), "'"));
  }
  if (options.path.find_first_of(" \r\n") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--url: path of '", std::string(url), "' has whitespace"));
  }
  options.host = std::string(authority);
  return absl::OkStatus();
}

constexpr char kUsage[] =
    "usage: meshgate-loadgen --url http://HOST:PORT/PATH [--rate REQ_PER_S] [--duration 10s]\n"
    "                        [--connections N] [--header 'name: value']... [--timeout 5s] "
    "[--json]\n";

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_inline_value = false;
    if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline_value = true;
    }
    auto need_value = [&]() -> absl::Status {
      if (has_inline_value) return absl::OkStatus();
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat(std::string(arg), " needs a value"));
      value = argv[++i];
      return absl::OkStatus();
    };
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") return absl::CancelledError(kUsage);
    if (absl::Status s = need_value(); !s.ok()) return s;
    if (arg == "--rate") {
      if (!absl::SimpleAtod(std::string(value), &options.rate) || !(options.rate > 0) ||
          options.rate > 10'000'000) {
        return absl::InvalidArgumentError(absl::StrCat("--rate: '", std::string(value),
                                                       "' is not a rate in (0, 1e7] requests/s"));
      }
    } else if (arg == "--duration") {
      absl::StatusOr<int64_t> nanos = ParseDurationNanos(arg, value);
      if (!nanos.ok()) return nanos.status();
      options.duration_nanos = *nanos;
    } else if (arg == "--timeout") {
      absl::StatusOr<int64_t> nanos = ParseDurationNanos(arg, value);
      if (!nanos.ok()) return nanos.status();
      options.timeout_nanos = *nanos;
    } else if (arg == "--connections" || arg == "-c") {
      if (!absl::SimpleAtoi(std::string(value), &options.connections) || options.connections < 1 ||
          options.connections > 10000) {
        return absl::InvalidArgumentError(
            absl::StrCat("--connections: '", std::string(value), "' is not in [1, 10000]"));
      }
    } else if (arg == "--url") {
      options.url = std::string(value);
      if (absl::Status s = ParseUrl(value, options); !s.ok()) return s;
    } else if (arg == "--header" || arg == "-H") {
      const size_t colon = value.find(':');
      if (colon == std::string_view::npos || colon == 0 ||
          value.find_first_of("\r\n") != std::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("--header: '", std::string(value), "' is not 'name: value'"));
      }
      options.headers.emplace_back(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", std::string(arg), "'\n", kUsage));
    }
  }
  if (options.url.empty())
    return absl::InvalidArgumentError(absl::StrCat("--url is required\n", kUsage));
  return options;
}

std::string BuildRequest(const Options& options) {
  bool has_host = false;
  std::string headers;
  for (const std::string& header : options.headers) {
    const std::string_view name =
        StripWhitespace(std::string_view(header).substr(0, header.find(':')));
    if (EqualsIgnoreCase(name, "host")) has_host = true;
    absl::StrAppend(&headers, header, "\r\n");
  }
  std::string request = absl::StrCat("GET ", options.path, " HTTP/1.1\r\n");
  if (!has_host) {
    const bool default_port = options.port == "80";
    const bool ipv6 = options.host.find(':') != std::string::npos;
    absl::StrAppend(&request, "host: ", ipv6 ? "[" : "", options.host, ipv6 ? "]" : "",
                    default_port ? "" : ":", default_port ? "" : options.port, "\r\n");
  }
  absl::StrAppend(&request, headers, "user-agent: meshgate-loadgen\r\n\r\n");
  return request;
}

struct Report {
  uint64_t scheduled = 0;
  uint64_t sent = 0;
  uint64_t completed = 0;
  uint64_t unsent = 0;
  uint64_t connect_errors = 0;
  uint64_t reset_errors = 0;
  uint64_t timeouts = 0;
  uint64_t parse_errors = 0;
  uint64_t write_errors = 0;
  std::map<int, uint64_t> status_classes;  // 2 -> count of 2xx, ...
  double elapsed_seconds = 0;
  std::string first_error;
  LatencyHistogram latency_us;
  // How late the generator itself sent each request: when this is large, the client machine,
  // not the server, made the latency.
  LatencyHistogram send_lag_us;

  uint64_t non_2xx() const {
    uint64_t n = 0;
    for (const auto& [klass, count] : status_classes) {
      if (klass != 2) n += count;
    }
    return n;
  }
  uint64_t errors() const {
    return non_2xx() + connect_errors + reset_errors + timeouts + parse_errors + write_errors +
           unsent;
  }
};

class LoadGenerator {
 public:
  explicit LoadGenerator(Options options)
      : options_(std::move(options)), request_(BuildRequest(options_)) {}
  ~LoadGenerator();

  absl::StatusOr<Report> Run();

 private:
  enum class ConnState { kDown, kConnecting, kIdle, kBusy };
  struct Connection {
    int fd = -1;
    ConnState state = ConnState::kDown;
    HttpResponseParser parser;
    size_t written = 0;        // bytes of request_ already written
    int64_t intended = 0;      // due time of the request in flight
    int64_t deadline = 0;      // connect or response deadline
    int64_t reconnect_at = 0;  // for kDown
  };

  absl::Status Resolve();
  void StartConnect(size_t index, int64_t now);
  void Close(size_t index, int64_t now, bool backoff);
  void OnEvent(size_t index, uint32_t events, int64_t now);
  void OnWritable(size_t index, int64_t now);
  void OnReadable(size_t index, int64_t now);
  void Send(size_t index, int64_t intended, int64_t now);
  void Complete(size_t index, int64_t now);
  void FailRequest(size_t index, uint64_t& counter, std::string_view why, int64_t now);
  void Watch(size_t index, uint32_t events);
  void NoteError(std::string_view why);
  int64_t IntendedTime(uint64_t request) const {
    return start_ +
           static_cast<int64_t>(static_cast<double>(request) * kNanosPerSecond / options_.rate);
  }

  Options options_;
  const std::string request_;
  sockaddr_storage address_{};
  socklen_t address_len_ = 0;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  std::vector<Connection> connections_;
  std::deque<size_t> idle_;
  int64_t start_ = 0;
  uint64_t next_request_ = 0;  // the first request not yet handed to a connection
  int64_t last_completion_ = 0;
  Report report_;
};

LoadGenerator::~LoadGenerator() {
  for (Connection& c : connections_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (timer_fd_ >= 0) close(timer_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

absl::Status LoadGenerator::Resolve() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(options_.host.c_str(), options_.port.c_str(), &hints, &result);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--url: cannot resolve '", options_.host, "': ", gai_strerror(rc)));
  }
  std::memcpy(&address_, result->ai_addr, result->ai_addrlen);
  address_len_ = result->ai_addrlen;
  freeaddrinfo(result);
  return absl::OkStatus();
}

void LoadGenerator::NoteError(std::string_view why) {
  if (report_.first_error.empty()) report_.first_error = std::string(why);
}

void LoadGenerator::Watch(size_t index, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = index;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connections_[index].fd, &ev);
}

void LoadGenerator::StartConnect(size_t index, int64_t now) {
  Connection& c = connections_[index];
  c.fd = socket(address_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    ++report_.connect_errors;
    NoteError(absl::StrCat("socket: ", std::strerror(errno)));
    c.state = ConnState::kDown;
    c.reconnect_at = now + kReconnectBackoffNanos;
    return;
  }
  const int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c.parser.Reset();
  c.state = ConnState::kConnecting;
  c.deadline = now + options_.timeout_nanos;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = index;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
  if (connect(c.fd, reinterpret_cast<const sockaddr*>(&address_), address_len_) != 0 &&
      errno != EINPROGRESS) {
    ++report_.connect_errors;
    NoteError(absl::StrCat("connect: ", std::strerror(errno)));
    Close(index, now, /*backoff=*/true);
  }
}

void LoadGenerator::Close(size_t index, int64_t now, bool backoff) {
  Connection& c = connections_[index];
  if (c.fd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
  }
  if (c.state == ConnState::kIdle) {
    idle_.erase(std::remove(idle_.begin(), idle_.end(), index), idle_.end());
  }
  c.state = ConnState::kDown;
  c.reconnect_at = backoff ? now + kReconnectBackoffNanos : now;
}

void LoadGenerator::FailRequest(size_t index, uint64_t& counter, std::string_view why,
                                int64_t now) {
  ++counter;
  NoteError(why);
  Close(index, now, /*backoff=*/true);
}

void LoadGenerator::Send(size_t index, int64_t intended, int64_t now) {
  Connection& c = connections_[index];
  c.state = ConnState::kBusy;
  c.intended = intended;
  c.deadline = now + options_.timeout_nanos;
  c.written = 0;
  c.parser.Reset();
  report_.send_lag_us.Record(static_cast<uint64_t>((now - intended + 500) / 1000));
  ++report_.sent;
  OnWritable(index, now);
}

void LoadGenerator::OnWritable(size_t index, int64_t now) {
  Connection& c = connections_[index];
  while (c.written < request_.size()) {
    const ssize_t n =
        send(c.fd, request_.data() + c.written, request_.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Watch(index, EPOLLIN | EPOLLOUT);
      return;
    }
    FailRequest(index, report_.write_errors, absl::StrCat("send: ", std::strerror(errno)), now);
    return;
  }
  Watch(index, EPOLLIN);
}

void LoadGenerator::Complete(size_t index, int64_t now) {
  Connection& c = connections_[index];
  const int status = c.parser.status_code();
  ++report_.completed;
  ++report_.status_classes[status / 100];
  if (status / 100 == 2) {
    // Round to the nearest microsecond.
    report_.latency_us.Record(static_cast<uint64_t>((now - c.intended + 500) / 1000));
  } else {
    NoteError(absl::StrCat("HTTP status ", status));
  }
  last_completion_ = now;
}

void LoadGenerator::OnReadable(size_t index, int64_t now) {
  Connection& c = connections_[index];
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      const std::string why =
          n == 0 ? "connection closed by server" : absl::StrCat("recv: ", std::strerror(errno));
      if (c.state != ConnState::kBusy) {
        // An idle keep-alive connection closed: not a request's failure; dial again.
        Close(index, now, /*backoff=*/n < 0);
        return;
      }
      if (n == 0) {
        absl::Status eof = c.parser.FinishOnEof();
        if (eof.ok() && c.parser.complete()) {
          Complete(index, now);
          Close(index, now, /*backoff=*/false);
          return;
        }
      }
      FailRequest(index, report_.reset_errors, why, now);
      return;
    }
    if (c.state != ConnState::kBusy) {
      FailRequest(index, report_.parse_errors, "bytes received with no request in flight", now);
      return;
    }
    std::string_view data(buffer, static_cast<size_t>(n));
    absl::StatusOr<size_t> used = c.parser.Feed(data);
    if (!used.ok()) {
      FailRequest(index, report_.parse_errors, std::string(used.status().message()), now);
      return;
    }
    if (!c.parser.complete()) continue;
    if (*used != data.size()) {
      FailRequest(index, report_.parse_errors, "bytes after the end of the response", now);
      return;
    }
    Complete(index, now);
    if (!c.parser.keep_alive()) {
      Close(index, now, /*backoff=*/false);
      return;
    }
    c.state = ConnState::kIdle;
    idle_.push_back(index);
    return;
  }
}

void LoadGenerator::OnEvent(size_t index, uint32_t events, int64_t now) {
  Connection& c = connections_[index];
  if (c.fd < 0) return;
  if (c.state == ConnState::kConnecting) {
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      ++report_.connect_errors;
      NoteError(absl::StrCat("connect to ", options_.host, ":", options_.port, ": ",
                             std::strerror(error != 0 ? error : ECONNREFUSED)));
      Close(index, now, /*backoff=*/true);
      return;
    }
    c.state = ConnState::kIdle;
    idle_.push_back(index);
    Watch(index, EPOLLIN);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnReadable(index, now);
  if (c.fd >= 0 && c.state == ConnState::kBusy && (events & EPOLLOUT)) OnWritable(index, now);
}

absl::StatusOr<Report> LoadGenerator::Run() {
  if (absl::Status s = Resolve(); !s.ok()) return s;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || timer_fd_ < 0) {
    return absl::InternalError(absl::StrCat("epoll/timerfd: ", std::strerror(errno)));
  }
  constexpr uint64_t kTimerKey = UINT64_MAX;
  epoll_event timer_event{};
  timer_event.events = EPOLLIN;
  timer_event.data.u64 = kTimerKey;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &timer_event);

  // Dial every connection before the clock starts, so the first requests do not pay for it.
  connections_.resize(static_cast<size_t>(options_.connections));
  int64_t now = MonotonicNanos();
  for (size_t i = 0; i < connections_.size(); ++i) StartConnect(i, now);
  const int64_t dial_deadline = now + options_.timeout_nanos;
  std::vector<epoll_event> events(connections_.size() + 1);
  while (idle_.size() < connections_.size() && now < dial_deadline && !g_interrupted) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 10);
    now = MonotonicNanos();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 != kTimerKey) OnEvent(events[i].data.u64, events[i].events, now);
    }
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (connections_[i].state == ConnState::kDown) {
        if (idle_.empty() && report_.connect_errors >= connections_.size()) {
          return absl::UnavailableError(
              absl::StrCat("cannot connect to ", options_.url, ": ", report_.first_error));
        }
        if (connections_[i].reconnect_at <= now) StartConnect(i, now);
      }
    }
  }
  if (idle_.empty()) {
    return absl::UnavailableError(absl::StrCat("no connection to ", options_.url, " within ",
                                               options_.timeout_nanos / 1e9, " s"));
  }

  report_.scheduled =
      static_cast<uint64_t>(options_.rate * static_cast<double>(options_.duration_nanos) / 1e9);
  start_ = MonotonicNanos();
  const int64_t schedule_end = IntendedTime(report_.scheduled);
  const int64_t hard_end = schedule_end + options_.timeout_nanos;

  for (;;) {
    now = MonotonicNanos();
    // Hand every due request to a free connection, oldest first.
    while (next_request_ < report_.scheduled && !idle_.empty() &&
           IntendedTime(next_request_) <= now) {
      const size_t index = idle_.front();
      idle_.pop_front();
      Send(index, IntendedTime(next_request_), now);
      ++next_request_;
    }
    // Expire, redial, and find the next moment something is due.
    int64_t wake = hard_end;
    size_t busy = 0;
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = connections_[i];
      if (c.state == ConnState::kBusy || c.state == ConnState::kConnecting) {
        if (c.deadline <= now) {
          if (c.state == ConnState::kBusy) {
            FailRequest(i, report_.timeouts, "response timed out", now);
          } else {
            FailRequest(i, report_.connect_errors, "connect timed out", now);
          }
        } else {
          wake = std::min(wake, c.deadline);
          busy += c.state == ConnState::kBusy;
        }
      }
      if (c.state == ConnState::kDown) {
        if (c.reconnect_at <= now) {
          StartConnect(i, now);
        } else {
          wake = std::min(wake, c.reconnect_at);
        }
      }
    }
    if (next_request_ < report_.scheduled && !idle_.empty()) {
      wake = std::min(wake, IntendedTime(next_request_));
    }
    const bool done = next_request_ >= report_.scheduled && busy == 0;
    if (done || now >= hard_end || g_interrupted) break;

    itimerspec spec{};
    spec.it_value.tv_sec = wake / kNanosPerSecond;
    spec.it_value.tv_nsec = wake % kNanosPerSecond;
    if (wake <= now) spec.it_value.tv_nsec += 1;  // an all-zero value would disarm the timer
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
    now = MonotonicNanos();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kTimerKey) {
        uint64_t expirations;
        [[maybe_unused]] ssize_t r = read(timer_fd_, &expirations, sizeof(expirations));
        continue;
      }
      OnEvent(events[i].data.u64, events[i].events, now);
    }
  }
  now = MonotonicNanos();
  for (size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i].state == ConnState::kBusy) {
      FailRequest(i, report_.timeouts, "response outstanding at the end of the run", now);
    }
  }
  report_.unsent = report_.scheduled - next_request_;
  if (report_.unsent > 0) NoteError("requests never sent: every connection stayed busy");
  report_.elapsed_seconds =
      static_cast<double>(std::max(schedule_end, last_completion_) - start_) / 1e9;
  return std::move(report_);
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void PrintReport(const Options& options, const Report& r) {
  const LatencyHistogram& h = r.latency_us;
  const LatencyHistogram& lag = r.send_lag_us;
  const double achieved = r.elapsed_seconds > 0 ? r.completed / r.elapsed_seconds : 0;
  if (options.json) {
    std::string classes;
    for (const auto& [klass, count] : r.status_classes) {
      absl::StrAppend(&classes, classes.empty() ? "" : ",", "\"", klass, "xx\":", count);
    }
    absl::PrintF(
        "{\"url\":%s,\"target_rate\":%g,\"duration_s\":%g,\"connections\":%d,"
        "\"scheduled\":%d,\"sent\":%d,\"completed\":%d,\"achieved_rate\":%.1f,"
        "\"elapsed_s\":%.3f,\"status\":{%s},"
        "\"errors\":{\"total\":%d,\"non_2xx\":%d,\"connect\":%d,\"reset\":%d,\"timeout\":%d,"
        "\"parse\":%d,\"write\":%d,\"unsent\":%d},\"first_error\":%s,"
        "\"max_send_lag_us\":%d,\"send_lag_us\":{\"p50\":%d,\"p99\":%d,\"max\":%d},"
        "\"latency_us\":{\"count\":%d,\"min\":%d,\"mean\":%.1f,"
        "\"p50\":%d,\"p90\":%d,\"p99\":%d,\"p99_9\":%d,\"max\":%d}}\n",
        JsonString(options.url), options.rate, options.duration_nanos / 1e9, options.connections,
        r.scheduled, r.sent, r.completed, achieved, r.elapsed_seconds, classes, r.errors(),
        r.non_2xx(), r.connect_errors, r.reset_errors, r.timeouts, r.parse_errors, r.write_errors,
        r.unsent, JsonString(r.first_error), lag.max(), lag.ValueAtPercentile(50),
        lag.ValueAtPercentile(99), lag.max(), h.count(), h.min(), h.mean(), h.ValueAtPercentile(50),
        h.ValueAtPercentile(90), h.ValueAtPercentile(99), h.ValueAtPercentile(99.9), h.max());
    return;
  }
  absl::PrintF("%s: %g req/s for %.1f s on %d connections (open loop)\n", options.url, options.rate,
               options.duration_nanos / 1e9, options.connections);
  absl::PrintF("  requests  scheduled %d, sent %d, completed %d, achieved %.1f req/s\n",
               r.scheduled, r.sent, r.completed, achieved);
  absl::PrintF(
      "  errors    %d (non-2xx %d, connect %d, reset %d, timeout %d, parse %d, write %d, "
      "unsent %d)%s%s\n",
      r.errors(), r.non_2xx(), r.connect_errors, r.reset_errors, r.timeouts, r.parse_errors,
      r.write_errors, r.unsent, r.first_error.empty() ? "" : "; first: ", r.first_error);
  absl::PrintF("  latency   from intended send time, 2xx only, microseconds:\n");
  absl::PrintF("            p50 %d  p90 %d  p99 %d  p99.9 %d  max %d  (mean %.1f, n %d)\n",
               h.ValueAtPercentile(50), h.ValueAtPercentile(90), h.ValueAtPercentile(99),
               h.ValueAtPercentile(99.9), h.max(), h.mean(), h.count());
  absl::PrintF("  send lag  how late the generator sent: p50 %d  p99 %d  max %d us\n",
               lag.ValueAtPercentile(50), lag.ValueAtPercentile(99), lag.max());
}

}  // namespace
}  // namespace meshgate::bench

int main(int argc, char** argv) {
  using namespace meshgate::bench;
  absl::StatusOr<Options> options = ParseOptions(argc, argv);
  if (!options.ok()) {
    const bool help = absl::IsCancelled(options.status());
    std::fprintf(help ? stdout : stderr, "%s%s\n",
                 help ? "" : "meshgate-loadgen: ", std::string(options.status().message()).c_str());
    return help ? 0 : 2;
  }
  // The default 50 us timer slack would be added to every scheduled send and so to every latency.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  LoadGenerator generator(*options);
  absl::StatusOr<Report> report = generator.Run();
  if (!report.ok()) {
    std::fprintf(stderr, "meshgate-loadgen: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  PrintReport(*options, *report);
  return report->errors() == 0 ? 0 : 3;
}
