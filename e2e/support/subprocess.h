// Subprocess: a child process for black-box tests — the real meshgate
// binaries, started with arguments and an environment, whose stdout and
// stderr are captured line by line.
//
// Thread-safety: a Subprocess is used by one test thread; its output is read
// by an internal reader thread and handed over under a lock, so WaitForLine
// may be called while the child is writing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace meshgate::e2e {

class Subprocess {
 public:
  // Starts `argv[0]` (a path) with the given arguments; stdout and stderr are
  // merged and captured. Extra environment entries are "NAME=value".
  // REQUIRES: argv is not empty.
  Subprocess(std::vector<std::string> argv, std::vector<std::string> extra_env = {});
  ~Subprocess();  // SIGKILLs the child if it still runs
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Waits until a line matching `predicate` has been printed (searching lines
  // printed since the previous successful wait) or the timeout passes.
  // Returns the matching line, or nullopt-like empty string with *found=false.
  bool WaitForLine(const std::function<bool(const std::string&)>& predicate,
                   std::chrono::milliseconds timeout, std::string* line = nullptr);
  bool WaitForSubstring(const std::string& needle, std::chrono::milliseconds timeout,
                        std::string* line = nullptr);

  // Every line printed so far.
  std::vector<std::string> Lines() const;
  std::string Output() const;

  // Sends `signal` and waits up to `timeout` for exit. Returns the exit status
  // as from waitpid's WEXITSTATUS, 128+signal when killed by a signal, or -1
  // on timeout (the child is then SIGKILLed).
  int Stop(int signal, std::chrono::milliseconds timeout);

 private:
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::string partial_;
  size_t next_unmatched_ = 0;
  bool eof_ = false;
};

// Runs `command` with /bin/sh and returns its standard output (stderr too
// when the command says 2>&1); the exit status goes to `exit_code` if given.
std::string RunCommand(const std::string& command, int* exit_code = nullptr);

// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read the
// port, close). Good enough for tests that start a server right after.
int PickFreePort();

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `contents` to path()/relative atomically (temp file + rename), so a
  // watcher never sees half a file. Creates parent directories.
  void WriteFile(const std::string& relative, const std::string& contents) const;

 private:
  std::string path_;
};

}  // namespace meshgate::e2e
