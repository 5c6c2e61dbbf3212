// Dispatcher: one worker thread's event loop (epoll, edge-triggered), with
// file events, timers, cross-thread posts and deferred deletion.
//
// Each proxy worker owns one Dispatcher and everything registered on it
// (connections, pools, timers): shared-nothing, so the request path takes no
// locks. Objects that close themselves from inside their own callbacks hand
// themselves to DeferredDelete() and are destroyed after the current loop
// iteration, never under their own stack frame.
//
// Thread-safety: Post() and Exit() may be called from any thread. Everything
// else, and every FileEvent/Timer, belongs to the thread running Run().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace meshgate::proxy::event {

// Readiness flags for FileEvent.
inline constexpr uint32_t kReadable = 1u << 0;
inline constexpr uint32_t kWritable = 1u << 1;
inline constexpr uint32_t kClosed = 1u << 2;  // peer hung up or error; read to learn which

// Something whose destruction must wait until the loop is outside callbacks.
class DeferredDeletable {
 public:
  virtual ~DeferredDeletable() = default;
};

class Dispatcher;

// Watches one file descriptor. Edge-triggered: the callback must read/write
// until EAGAIN. Unregisters on destruction; does not close the fd.
class FileEvent {
 public:
  using Callback = std::function<void(uint32_t ready)>;
  ~FileEvent();
  FileEvent(const FileEvent&) = delete;
  FileEvent& operator=(const FileEvent&) = delete;

 private:
  friend class Dispatcher;
  FileEvent(Dispatcher& dispatcher, int fd, Callback cb);
  Dispatcher& dispatcher_;
  int fd_;
  Callback cb_;
};

// A one-shot timer, re-armable. Destroying it cancels it.
class Timer {
 public:
  using Callback = std::function<void()>;
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Re-arming an enabled timer moves its deadline.
  void Enable(std::chrono::milliseconds delay);
  void Disable();
  bool enabled() const { return position_.has_value(); }

 private:
  friend class Dispatcher;
  using Queue = std::multimap<std::chrono::steady_clock::time_point, Timer*>;
  Timer(Dispatcher& dispatcher, Callback cb) : dispatcher_(dispatcher), cb_(std::move(cb)) {}
  Dispatcher& dispatcher_;
  Callback cb_;
  std::optional<Queue::iterator> position_;  // set while armed
};

class Dispatcher {
 public:
  static absl::StatusOr<std::unique_ptr<Dispatcher>> Create();
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // REQUIRES: fd is non-blocking and stays open while the FileEvent lives.
  std::unique_ptr<FileEvent> CreateFileEvent(int fd, FileEvent::Callback cb);
  std::unique_ptr<Timer> CreateTimer(Timer::Callback cb);

  // Runs `fn` on the loop thread soon. Thread-safe.
  void Post(std::function<void()> fn);
  // Destroys `object` after the current iteration's callbacks.
  void DeferredDelete(std::unique_ptr<DeferredDeletable> object);

  // Runs until Exit(). Returns after the iteration in which Exit was seen.
  void Run();
  // Thread-safe.
  void Exit();

  // The loop's cached "now", refreshed once per iteration (cheap for hot paths).
  std::chrono::steady_clock::time_point ApproximateNow() const { return now_; }

 private:
  friend class FileEvent;
  friend class Timer;

  Dispatcher(int epoll_fd, int wake_fd);
  int NextTimeoutMs() const;
  void RunExpiredTimers();
  void RunPosted();
  void ClearDeferred();

  int epoll_fd_;
  int wake_fd_;
  bool exit_requested_ = false;
  std::chrono::steady_clock::time_point now_;
  Timer::Queue timers_;
  // FileEvents destroyed while a batch of epoll results is being dispatched:
  // later results in the same batch may still name them and must be skipped.
  std::vector<const FileEvent*> destroyed_in_batch_;
  bool dispatching_ = false;
  std::vector<std::unique_ptr<DeferredDeletable>> deferred_;

  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  bool exit_posted_ = false;
};

}  // namespace meshgate::proxy::event
