// Clock: the one source of time for meshgate code.
//
// Everything that waits, expires or measures (debounce windows, certificate
// lifetimes, retry backoff, rate-limit buckets) takes a `Clock&` instead of
// calling the system clock, so tests drive time with ManualClock and never
// sleep.
//
// Thread-safety: SystemClock and ManualClock are safe to call from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace meshgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (certificates, timestamps in logs and status).
  virtual absl::Time Now() const = 0;
  // Monotonic time for measuring intervals; never goes backwards.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

// The process-wide real clock.
class SystemClock final : public Clock {
 public:
  static SystemClock& Get();
  absl::Time Now() const override { return absl::Now(); }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
};

// A clock that only moves when a test tells it to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}

  absl::Time Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(absl::ToInt64Nanoseconds(now_ - absl::UnixEpoch())));
  }
  // REQUIRES: d >= 0 (time never runs backwards).
  void Advance(absl::Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace meshgate
