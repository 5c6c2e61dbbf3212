// RunCtl: runs the real meshgatectl binary with arguments and stdin, and
// collects its exit code and both output streams, for the ctl e2e tests.
//
// Each call spawns and reaps its own child; safe from any one test thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace meshgate::e2e {

inline const std::string kCtl = MESHGATE_BINARY_DIR "/bin/meshgatectl";

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs meshgatectl with `args`, feeding `input` on stdin, and collects both
// output streams to the end.
inline Result RunCtl(const std::vector<std::string>& args, const std::string& input = "") {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  EXPECT_EQ(pipe2(in_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(out_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err_pipe, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv_storage = {kCtl};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  Result result;
  int rc = posix_spawn(&pid, kCtl.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  EXPECT_EQ(rc, 0) << "cannot start " << kCtl;
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }
  // Small inputs fit the pipe buffer; the child reads stdin only for "-f -".
  if (!input.empty()) {
    EXPECT_EQ(write(in_pipe[1], input.data(), input.size()), ssize_t(input.size()));
  }
  close(in_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, 30000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace meshgate::e2e
