#include "e2e/support/subprocess.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

extern char** environ;

namespace meshgate::e2e {

std::string RunCommand(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    if (exit_code != nullptr) *exit_code = -1;
    return out;
  }
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int status = pclose(pipe);
  if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Subprocess::Subprocess(std::vector<std::string> argv, std::vector<std::string> extra_env) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return;

  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (auto& e : extra_env) env.push_back(std::move(e));
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  pid_ = fork();
  if (pid_ == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    // Die with the test runner, never outlive it.
    setpgid(0, 0);
    execve(c_argv[0], c_argv.data(), c_env.data());
    std::fprintf(stderr, "execve %s: %s\n", c_argv[0], std::strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  if (pid_ < 0) {
    close(pipe_fds[0]);
    return;
  }
  reader_ = std::thread([this, fd = pipe_fds[0]] { ReadLoop(fd); });
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && exit_status_ < 0) Stop(SIGKILL, std::chrono::seconds(5));
  if (reader_.joinable()) reader_.join();
}

void Subprocess::ReadLoop(int fd) {
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    partial_.append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = partial_.find('\n')) != std::string::npos) {
      lines_.push_back(partial_.substr(0, pos));
      partial_.erase(0, pos + 1);
    }
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard lock(mu_);
  if (!partial_.empty()) lines_.push_back(std::move(partial_));
  eof_ = true;
  cv_.notify_all();
}

bool Subprocess::WaitForLine(const std::function<bool(const std::string&)>& predicate,
                             std::chrono::milliseconds timeout, std::string* line) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (; next_unmatched_ < lines_.size(); ++next_unmatched_) {
      if (predicate(lines_[next_unmatched_])) {
        if (line != nullptr) *line = lines_[next_unmatched_];
        ++next_unmatched_;
        return true;
      }
    }
    if (eof_) return false;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      // One last scan of what arrived with the timeout.
      for (; next_unmatched_ < lines_.size(); ++next_unmatched_) {
        if (predicate(lines_[next_unmatched_])) {
          if (line != nullptr) *line = lines_[next_unmatched_];
          ++next_unmatched_;
          return true;
        }
      }
      return false;
    }
  }
}

bool Subprocess::WaitForSubstring(const std::string& needle, std::chrono::milliseconds timeout,
                                  std::string* line) {
  return WaitForLine([&](const std::string& l) { return l.find(needle) != std::string::npos; },
                     timeout, line);
}

std::vector<std::string> Subprocess::Lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::string Subprocess::Output() const {
  std::string out;
  for (const auto& l : Lines()) out += l + "\n";
  return out;
}

int Subprocess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  if (exit_status_ >= 0) return exit_status_;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      exit_status_ = 128 + SIGKILL;
      return -1;
    }
    // Polling the child's exit: the kernel offers no timed waitpid.
    usleep(10'000);
  }
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_status_;
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meshgate-e2e.XXXXXX").string();
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

void TempDir::WriteFile(const std::string& relative, const std::string& contents) const {
  std::filesystem::path target = std::filesystem::path(path_) / relative;
  std::filesystem::create_directories(target.parent_path());
  // The temp name is hidden so a directory watcher ignores it.
  std::filesystem::path tmp = target.parent_path() / ("." + target.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  std::filesystem::rename(tmp, target);
}

}  // namespace meshgate::e2e
