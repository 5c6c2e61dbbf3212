#include "xds-server/debouncer.h"

#include <algorithm>

namespace meshgate::xds {

Debouncer::Debouncer(const Clock& clock, Options options, MetricsRegistry* metrics)
    : clock_(clock), options_(options) {
  if (metrics != nullptr) {
    merged_counter_ = metrics->GetCounter("meshgate_xds_debounce_events_merged_total",
                                          "Change events merged into an earlier pending push.");
  }
}

std::chrono::steady_clock::duration Debouncer::Quiet() const {
  return absl::ToChronoNanoseconds(options_.quiet);
}
std::chrono::steady_clock::duration Debouncer::MaxDelay() const {
  return absl::ToChronoNanoseconds(options_.max_delay);
}

void Debouncer::Add(bool endpoints_only) {
  auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  last_event_ = now;
  if (!pending_) {
    pending_ = Batch{1, endpoints_only, now};
    return;
  }
  pending_->events++;
  pending_->endpoints_only = pending_->endpoints_only && endpoints_only;
  merged_++;
  if (merged_counter_ != nullptr) merged_counter_->Inc();
}

std::optional<std::chrono::steady_clock::time_point> Debouncer::NextDeadline() const {
  std::lock_guard lock(mu_);
  if (!pending_) return std::nullopt;
  return std::min(last_event_ + Quiet(), pending_->first_event + MaxDelay());
}

std::optional<Debouncer::Batch> Debouncer::Poll() {
  auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (!pending_) return std::nullopt;
  auto due = std::min(last_event_ + Quiet(), pending_->first_event + MaxDelay());
  if (now < due) return std::nullopt;
  std::optional<Batch> out = pending_;
  pending_.reset();
  return out;
}

uint64_t Debouncer::MergedEvents() const {
  std::lock_guard lock(mu_);
  return merged_;
}

TokenBucket::TokenBucket(const Clock& clock, double rate, double burst)
    : clock_(clock), rate_(rate), burst_(burst), tokens_(burst), last_(clock.Monotonic()) {}

bool TokenBucket::TryTake() {
  auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace meshgate::xds
