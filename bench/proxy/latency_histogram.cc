#include "bench/proxy/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace meshgate::bench {
namespace {

// Values below kLinearLimit are counted exactly; above it each power-of-two range has
// kSubBuckets buckets.
constexpr uint64_t kSubBucketBits = 10;
constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // 1024
constexpr uint64_t kLinearLimit = kSubBuckets * 2;               // 2048

}  // namespace

size_t LatencyHistogram::BucketIndex(uint64_t value) {
  if (value < kLinearLimit) return static_cast<size_t>(value);
  const uint64_t top_bit = static_cast<uint64_t>(std::bit_width(value)) - 1;  // >= 11
  const uint64_t shift = top_bit - kSubBucketBits;                            // >= 1
  const uint64_t sub = (value >> shift) - kSubBuckets;                        // [0, 1024)
  return static_cast<size_t>(kLinearLimit + (shift - 1) * kSubBuckets + sub);
}

uint64_t LatencyHistogram::LowestEquivalent(size_t index) {
  if (index < kLinearLimit) return index;
  const uint64_t offset = index - kLinearLimit;
  const uint64_t shift = offset / kSubBuckets + 1;
  const uint64_t sub = offset % kSubBuckets;
  return (kSubBuckets + sub) << shift;
}

uint64_t LatencyHistogram::HighestEquivalent(size_t index) {
  if (index < kLinearLimit) return index;
  const uint64_t shift = (index - kLinearLimit) / kSubBuckets + 1;
  return LowestEquivalent(index) + (uint64_t{1} << shift) - 1;
}

LatencyHistogram::LatencyHistogram(uint64_t max_trackable_value)
    : max_trackable_(std::max(max_trackable_value, kLinearLimit)),
      counts_(BucketIndex(max_trackable_) + 1, 0) {}

void LatencyHistogram::Record(uint64_t value) { RecordN(value, 1); }

void LatencyHistogram::RecordN(uint64_t value, uint64_t count) {
  if (count == 0) return;
  if (value > max_trackable_) {
    value = max_trackable_;
    saturated_count_ += count;
  }
  counts_[BucketIndex(value)] += count;
  total_count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value) * count;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (other.total_count_ == 0) return;
  total_count_ += other.total_count_;
  saturated_count_ += other.saturated_count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  saturated_count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const {
  if (total_count_ == 0) return 0;
  return static_cast<double>(sum_ / total_count_);
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (total_count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value that `percentile` percent of all values are at or below (nearest-rank,
  // with a little slack so 99.9 % of 1000 is 999 despite binary fractions); at least 1 so
  // percentile 0 names the smallest value.
  const double exact = percentile / 100.0 * static_cast<double>(total_count_);
  uint64_t rank = static_cast<uint64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<uint64_t>(rank, 1, total_count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(HighestEquivalent(i), max_);
  }
  return max_;
}

}  // namespace meshgate::bench
