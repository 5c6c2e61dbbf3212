// LatencyHistogram: a log-linear histogram of non-negative integer values (the load generator
// records microseconds), in the manner of HdrHistogram. Values below 2048 have their own bucket;
// above that, every power-of-two range is split into 1024 equal sub-buckets, so any recorded value
// is reported with a relative error below 1/1024 (three significant decimal digits). Memory is
// fixed at construction and recording is O(1), so it can sit on the hot path of a benchmark.
//
// Percentiles are reported as the highest value equivalent to the bucket that holds the rank (the
// HdrHistogram convention: never under-reports), capped at the exact maximum recorded.
// Values above the trackable maximum are clamped to it and counted in saturated().
//
// Thread-safety: none; one owner records. Merge() combines histograms of separate owners.

#ifndef MESHGATE_BENCH_PROXY_LATENCY_HISTOGRAM_H_
#define MESHGATE_BENCH_PROXY_LATENCY_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace meshgate::bench {

class LatencyHistogram {
 public:
  // REQUIRES: max_trackable_value >= 2048.
  explicit LatencyHistogram(uint64_t max_trackable_value = kDefaultMaxTrackable);

  void Record(uint64_t value);
  void RecordN(uint64_t value, uint64_t count);
  // REQUIRES: other was built with the same max_trackable_value.
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return total_count_; }
  uint64_t saturated() const { return saturated_count_; }
  uint64_t min() const { return total_count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const;

  // The value at percentile `percentile` in [0, 100]; 0 when nothing was recorded.
  uint64_t ValueAtPercentile(double percentile) const;

  // Bucket geometry, exposed for tests.
  static size_t BucketIndex(uint64_t value);
  static uint64_t LowestEquivalent(size_t index);
  static uint64_t HighestEquivalent(size_t index);

  // One hour in microseconds.
  static constexpr uint64_t kDefaultMaxTrackable = 3'600'000'000ULL;

 private:
  uint64_t max_trackable_;  // the largest value counted as itself
  std::vector<uint64_t> counts_;
  uint64_t total_count_ = 0;
  uint64_t saturated_count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Sum in long double so a long run of large values does not overflow or lose the mean.
  long double sum_ = 0;
};

}  // namespace meshgate::bench

#endif  // MESHGATE_BENCH_PROXY_LATENCY_HISTOGRAM_H_
