// Debouncer: coalesces bursts of change events into one push.
//
// A batch is released when no event arrived for `quiet` (default 100 ms), or
// when the batch's first event is `max_delay` old (default 10 s), whichever
// comes first — so a steady trickle of changes cannot postpone a push forever.
// A batch made only of events flagged endpoints-only is released flagged too,
// letting the caller push EDS alone (the fast path for endpoint churn).
//
// The Debouncer owns no thread and never sleeps: the owner calls Poll() from a
// timer (NextDeadline() says when it is due). Time comes from the injected
// Clock, so tests drive it with ManualClock.
//
// Thread-safety: all methods are thread-safe. The Clock must outlive the
// Debouncer.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "absl/time/time.h"
#include "common/clock.h"
#include "xds-server/metrics.h"

namespace meshgate::xds {

class Debouncer {
 public:
  struct Options {
    absl::Duration quiet = absl::Milliseconds(100);
    absl::Duration max_delay = absl::Seconds(10);
  };
  struct Batch {
    uint64_t events = 0;                                // events coalesced into this batch (>= 1)
    bool endpoints_only = false;                        // every event was endpoints-only
    std::chrono::steady_clock::time_point first_event;  // when the change was first seen
  };

  // `metrics` may be null; otherwise merged events are counted in
  // meshgate_xds_debounce_events_merged_total.
  Debouncer(const Clock& clock, Options options, MetricsRegistry* metrics = nullptr);

  // Records one change event now.
  void Add(bool endpoints_only = false);
  // Releases the pending batch if it is due now; nullopt otherwise.
  std::optional<Batch> Poll();
  // When Poll() will next release a batch; nullopt when nothing is pending.
  std::optional<std::chrono::steady_clock::time_point> NextDeadline() const;
  // Total events merged into earlier events' batches (events - batches).
  uint64_t MergedEvents() const;

 private:
  std::chrono::steady_clock::duration Quiet() const;
  std::chrono::steady_clock::duration MaxDelay() const;

  const Clock& clock_;
  const Options options_;
  Counter* merged_counter_ = nullptr;
  mutable std::mutex mu_;
  std::optional<Batch> pending_;
  std::chrono::steady_clock::time_point last_event_;
  uint64_t merged_ = 0;
};

// Token bucket on the injected clock: `rate` tokens per second, at most `burst`
// banked. Used to limit new ADS streams per second. Thread-safe.
class TokenBucket {
 public:
  // REQUIRES: rate > 0, burst >= 1.
  TokenBucket(const Clock& clock, double rate, double burst);
  bool TryTake();

 private:
  const Clock& clock_;
  const double rate_;
  const double burst_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace meshgate::xds
