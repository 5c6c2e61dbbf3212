#include "proxy/event/dispatcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"

namespace meshgate::proxy::event {
namespace {

constexpr int kMaxEventsPerWait = 256;

}  // namespace

FileEvent::FileEvent(Dispatcher& dispatcher, int fd, Callback cb)
    : dispatcher_(dispatcher), fd_(fd), cb_(std::move(cb)) {}

FileEvent::~FileEvent() {
  epoll_ctl(dispatcher_.epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
  if (dispatcher_.dispatching_) dispatcher_.destroyed_in_batch_.push_back(this);
}

Timer::~Timer() { Disable(); }

void Timer::Enable(std::chrono::milliseconds delay) {
  Disable();
  deadline_ = std::chrono::steady_clock::now() + delay;
  sequence_ = dispatcher_.next_timer_sequence_++;
  dispatcher_.HeapPush(this);
}

void Timer::Disable() {
  if (heap_index_ == kNotQueued) return;
  dispatcher_.HeapRemove(this);
}

bool Dispatcher::Earlier(const Timer* a, const Timer* b) {
  if (a->deadline_ != b->deadline_) return a->deadline_ < b->deadline_;
  return a->sequence_ < b->sequence_;
}

void Dispatcher::HeapPush(Timer* timer) {
  timer->heap_index_ = timers_.size();
  timers_.push_back(timer);
  SiftUp(timer->heap_index_);
}

void Dispatcher::HeapRemove(Timer* timer) {
  const size_t index = timer->heap_index_;
  timer->heap_index_ = Timer::kNotQueued;
  Timer* last = timers_.back();
  timers_.pop_back();
  if (last == timer) return;
  timers_[index] = last;
  last->heap_index_ = index;
  // The moved timer may belong above or below its new place.
  SiftUp(index);
  SiftDown(last->heap_index_);
}

void Dispatcher::SiftUp(size_t index) {
  Timer* timer = timers_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (!Earlier(timer, timers_[parent])) break;
    timers_[index] = timers_[parent];
    timers_[index]->heap_index_ = index;
    index = parent;
  }
  timers_[index] = timer;
  timer->heap_index_ = index;
}

void Dispatcher::SiftDown(size_t index) {
  Timer* timer = timers_[index];
  const size_t size = timers_.size();
  while (true) {
    size_t child = 2 * index + 1;
    if (child >= size) break;
    if (child + 1 < size && Earlier(timers_[child + 1], timers_[child])) ++child;
    if (!Earlier(timers_[child], timer)) break;
    timers_[index] = timers_[child];
    timers_[index]->heap_index_ = index;
    index = child;
  }
  timers_[index] = timer;
  timer->heap_index_ = index;
}

absl::StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Create() {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return absl::InternalError(std::string("epoll_create1: ") + strerror(errno));
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    close(epoll_fd);
    return absl::InternalError(std::string("eventfd: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake-up fd
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    close(epoll_fd);
    close(wake_fd);
    return absl::InternalError(std::string("epoll_ctl: ") + strerror(errno));
  }
  return std::unique_ptr<Dispatcher>(new Dispatcher(epoll_fd, wake_fd));
}

Dispatcher::Dispatcher(int epoll_fd, int wake_fd)
    : epoll_fd_(epoll_fd), wake_fd_(wake_fd), now_(std::chrono::steady_clock::now()) {}

Dispatcher::~Dispatcher() {
  ClearDeferred();
  close(wake_fd_);
  close(epoll_fd_);
}

std::unique_ptr<FileEvent> Dispatcher::CreateFileEvent(int fd, FileEvent::Callback cb) {
  auto event = std::unique_ptr<FileEvent>(new FileEvent(*this, fd, std::move(cb)));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = event.get();
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  return event;
}

std::unique_ptr<Timer> Dispatcher::CreateTimer(Timer::Callback cb) {
  return std::unique_ptr<Timer>(new Timer(*this, std::move(cb)));
}

void Dispatcher::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(post_mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void Dispatcher::Exit() {
  {
    std::lock_guard lock(post_mu_);
    exit_posted_ = true;
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void Dispatcher::DeferredDelete(std::unique_ptr<DeferredDeletable> object) {
  deferred_.push_back(std::move(object));
}

int Dispatcher::NextTimeoutMs() const {
  if (!deferred_.empty()) return 0;
  if (timers_.empty()) return -1;
  auto wait = timers_.front()->deadline_ - std::chrono::steady_clock::now();
  if (wait <= std::chrono::steady_clock::duration::zero()) return 0;
  // Round up so a timer never fires early.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
}

void Dispatcher::RunExpiredTimers() {
  // A callback may arm, disable or destroy any timer, so re-read the heap's
  // top each time instead of iterating.
  while (!timers_.empty() && timers_.front()->deadline_ <= now_) {
    Timer* timer = timers_.front();
    HeapRemove(timer);
    // Owners often destroy a timer from its own callback (a connection that
    // closes on its connect timeout); run a copy so that is safe.
    Timer::Callback cb = timer->cb_;
    cb();
  }
}

void Dispatcher::RunPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(post_mu_);
    batch.swap(posted_);
    if (exit_posted_) {
      exit_requested_ = true;
      exit_posted_ = false;
    }
  }
  for (auto& fn : batch) fn();
}

void Dispatcher::ClearDeferred() {
  // Destructors may defer more objects; loop until quiet. The two vectors
  // trade places and keep their storage, so a loop iteration that releases a
  // finished request allocates nothing for it.
  while (!deferred_.empty()) {
    deleting_.swap(deferred_);
    deleting_.clear();
  }
}

void Dispatcher::Run() {
  epoll_event events[kMaxEventsPerWait];
  exit_requested_ = false;
  while (!exit_requested_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, NextTimeoutMs());
    now_ = std::chrono::steady_clock::now();
    if (n < 0 && errno != EINTR) break;
    dispatching_ = true;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof(count));
        continue;
      }
      auto* fe = static_cast<FileEvent*>(events[i].data.ptr);
      if (!destroyed_in_batch_.empty() &&
          std::find(destroyed_in_batch_.begin(), destroyed_in_batch_.end(), fe) !=
              destroyed_in_batch_.end()) {
        continue;
      }
      uint32_t ready = 0;
      if (events[i].events & (EPOLLIN | EPOLLPRI)) ready |= kReadable;
      if (events[i].events & EPOLLOUT) ready |= kWritable;
      if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kClosed | kReadable;
      fe->cb_(ready);
    }
    dispatching_ = false;
    destroyed_in_batch_.clear();
    RunExpiredTimers();
    RunPosted();
    ClearDeferred();
  }
  ClearDeferred();
}

}  // namespace meshgate::proxy::event
