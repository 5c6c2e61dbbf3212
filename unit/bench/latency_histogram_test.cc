#include "bench/proxy/latency_histogram.h"

#include <cstdint>
#include <random>

#include "gtest/gtest.h"

namespace meshgate::bench {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_EQ(h.mean(), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.ValueAtPercentile(0), 1u);
  EXPECT_EQ(h.ValueAtPercentile(50), 500u);
  EXPECT_EQ(h.ValueAtPercentile(90), 900u);
  EXPECT_EQ(h.ValueAtPercentile(99), 990u);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 999u);
  EXPECT_EQ(h.ValueAtPercentile(100), 1000u);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
}

TEST(LatencyHistogramTest, BucketsTileTheRangeWithBoundedRelativeWidth) {
  const size_t last = LatencyHistogram::BucketIndex(LatencyHistogram::kDefaultMaxTrackable);
  for (size_t i = 0; i < last; ++i) {
    const uint64_t low = LatencyHistogram::LowestEquivalent(i);
    const uint64_t high = LatencyHistogram::HighestEquivalent(i);
    ASSERT_LE(low, high) << "bucket " << i;
    ASSERT_EQ(high + 1, LatencyHistogram::LowestEquivalent(i + 1)) << "gap after bucket " << i;
    ASSERT_EQ(LatencyHistogram::BucketIndex(low), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(high), i);
    // A bucket is at most 1/1024 of its smallest value wide (exact below 2048).
    ASSERT_LE(high - low, low / 1024) << "bucket " << i;
  }
}

TEST(LatencyHistogramTest, LargeValuesWithinOnePermilleAndNeverUnderReported) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> dist(2'048, 100'000'000);
  for (int trial = 0; trial < 1000; ++trial) {
    const uint64_t v = dist(rng);
    LatencyHistogram h;
    h.Record(v);
    h.Record(v + 5'000'000'000ULL / 1000);  // a larger second value keeps max from capping p50
    const uint64_t p50 = h.ValueAtPercentile(50);
    ASSERT_GE(p50, v);
    ASSERT_LE(static_cast<double>(p50 - v), static_cast<double>(v) / 1024.0) << v;
  }
}

TEST(LatencyHistogramTest, PercentileIsCappedAtExactMax) {
  LatencyHistogram h;
  h.Record(123'456);
  EXPECT_EQ(h.ValueAtPercentile(50), 123'456u);
  EXPECT_EQ(h.ValueAtPercentile(100), 123'456u);
  EXPECT_EQ(h.max(), 123'456u);
  EXPECT_EQ(h.min(), 123'456u);
}

TEST(LatencyHistogramTest, TailPercentilesOfSkewedDistribution) {
  LatencyHistogram h;
  h.RecordN(100, 9'990);  // 99.9 % fast
  h.RecordN(50'000, 9);   // slow tail
  h.Record(2'000'000);    // one stall
  EXPECT_EQ(h.ValueAtPercentile(50), 100u);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 100u);
  const uint64_t p9995 = h.ValueAtPercentile(99.95);
  EXPECT_GE(p9995, 50'000u);
  EXPECT_LT(p9995, 50'050u);
  EXPECT_EQ(h.ValueAtPercentile(100), 2'000'000u);
}

TEST(LatencyHistogramTest, ValuesAboveTheLimitSaturate) {
  LatencyHistogram h(10'000);
  h.Record(5);
  h.Record(1'000'000);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.saturated(), 1u);
  EXPECT_EQ(h.max(), 10'000u);
  EXPECT_EQ(h.ValueAtPercentile(100), 10'000u);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingIntoOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(6.0, 1.5);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 20'000; ++i) {
    const auto v = static_cast<uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
}

TEST(LatencyHistogramTest, ResetForgetsEverything) {
  LatencyHistogram h;
  h.RecordN(3'000, 10);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(99), 0u);
  h.Record(7);
  EXPECT_EQ(h.min(), 7u);
  EXPECT_EQ(h.max(), 7u);
}

}  // namespace
}  // namespace meshgate::bench
