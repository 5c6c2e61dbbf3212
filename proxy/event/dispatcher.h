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
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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

// A one-shot timer, re-armable. Destroying it cancels it. Timers due at the
// same instant fire in the order they were armed.
class Timer {
 public:
  using Callback = std::function<void()>;
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Re-arming an enabled timer moves its deadline.
  void Enable(std::chrono::milliseconds delay);
  void Disable();
  bool enabled() const { return heap_index_ != kNotQueued; }

 private:
  friend class Dispatcher;
  static constexpr size_t kNotQueued = static_cast<size_t>(-1);
  Timer(Dispatcher& dispatcher, Callback cb) : dispatcher_(dispatcher), cb_(std::move(cb)) {}
  Dispatcher& dispatcher_;
  Callback cb_;
  std::chrono::steady_clock::time_point deadline_;
  uint64_t sequence_ = 0;           // arming order, so equal deadlines stay FIFO
  size_t heap_index_ = kNotQueued;  // position in the dispatcher's heap while armed
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
  // The timer queue is a binary min-heap of armed timers ordered by
  // (deadline, sequence); each timer knows its index, so arming, moving and
  // cancelling cost O(log n) and no allocation once the heap has grown.
  static bool Earlier(const Timer* a, const Timer* b);
  void HeapPush(Timer* timer);
  void HeapRemove(Timer* timer);
  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void RunPosted();
  void ClearDeferred();

  int epoll_fd_;
  int wake_fd_;
  bool exit_requested_ = false;
  std::chrono::steady_clock::time_point now_;
  std::vector<Timer*> timers_;
  uint64_t next_timer_sequence_ = 0;
  // FileEvents destroyed while a batch of epoll results is being dispatched:
  // later results in the same batch may still name them and must be skipped.
  std::vector<const FileEvent*> destroyed_in_batch_;
  bool dispatching_ = false;
  std::vector<std::unique_ptr<DeferredDeletable>> deferred_;
  std::vector<std::unique_ptr<DeferredDeletable>> deleting_;  // the batch being destroyed

  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  bool exit_posted_ = false;
};

}  // namespace meshgate::proxy::event
