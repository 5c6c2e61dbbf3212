// Debouncer and TokenBucket, driven by ManualClock (no sleeping).
#include "xds-server/debouncer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshgate::xds {
namespace {

using ::testing::HasSubstr;

Debouncer::Options Opts(int quiet_ms, int max_ms) {
  Debouncer::Options o;
  o.quiet = absl::Milliseconds(quiet_ms);
  o.max_delay = absl::Milliseconds(max_ms);
  return o;
}

TEST(Debouncer, ReleasesAfterTheQuietPeriod) {
  ManualClock clock;
  MetricsRegistry metrics;
  Debouncer d(clock, {}, &metrics);  // defaults: 100 ms quiet, 10 s max
  EXPECT_FALSE(d.Poll().has_value());
  EXPECT_FALSE(d.NextDeadline().has_value());
  auto start = clock.Monotonic();
  d.Add();
  clock.Advance(absl::Milliseconds(60));
  d.Add();
  clock.Advance(absl::Milliseconds(60));
  d.Add();
  // 120 ms after the first event but only 60 ms of quiet: not yet.
  EXPECT_FALSE(d.Poll().has_value());
  EXPECT_EQ(*d.NextDeadline(), start + std::chrono::milliseconds(220));
  clock.Advance(absl::Milliseconds(99));
  EXPECT_FALSE(d.Poll().has_value());
  clock.Advance(absl::Milliseconds(1));
  auto batch = d.Poll();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->events, 3u);
  EXPECT_EQ(batch->first_event, start);
  EXPECT_FALSE(batch->endpoints_only);
  EXPECT_FALSE(d.Poll().has_value());  // released once
  EXPECT_EQ(d.MergedEvents(), 2u);
  EXPECT_THAT(metrics.TextExposition(), HasSubstr("meshgate_xds_debounce_events_merged_total 2"));
}

TEST(Debouncer, MaximumDelayBoundsAStream) {
  ManualClock clock;
  Debouncer d(clock, Opts(100, 1000));
  auto start = clock.Monotonic();
  int released = 0;
  // An event every 50 ms never leaves 100 ms of quiet...
  for (int i = 0; i < 30; ++i) {
    d.Add();
    clock.Advance(absl::Milliseconds(50));
    if (auto b = d.Poll()) {
      ++released;
      EXPECT_EQ(b->first_event, start);
      EXPECT_EQ(b->events, 20u);  // events at 0, 50, ..., 950 ms
      EXPECT_EQ(clock.Monotonic(), start + std::chrono::milliseconds(1000));
    }
  }
  // ...but the maximum delay releases the first batch at 1 s.
  EXPECT_EQ(released, 1);
}

TEST(Debouncer, EndpointsOnlyFlagSurvivesOnlyIfEveryEventHadIt) {
  ManualClock clock;
  Debouncer d(clock, Opts(100, 10000));
  d.Add(/*endpoints_only=*/true);
  d.Add(true);
  clock.Advance(absl::Milliseconds(100));
  auto b = d.Poll();
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->endpoints_only);
  d.Add(true);
  d.Add(false);
  clock.Advance(absl::Milliseconds(100));
  b = d.Poll();
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->endpoints_only);
}

TEST(TokenBucket, RefillsWithTheClock) {
  ManualClock clock;
  TokenBucket bucket(clock, /*rate=*/10, /*burst=*/3);
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(absl::Seconds(10));  // never more than the burst
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryTake());
  EXPECT_FALSE(bucket.TryTake());
}

TEST(Metrics, TextExposition) {
  MetricsRegistry m;
  m.GetCounter("c_total", "A counter.", {{"type", "Cluster"}})->Inc(2);
  m.GetGauge("g", "A gauge.")->Set(5);
  auto* h = m.GetHistogram("h_seconds", "A histogram.", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(7);
  std::string text = m.TextExposition();
  EXPECT_THAT(text, HasSubstr("# TYPE c_total counter\nc_total{type=\"Cluster\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE g gauge\ng 5\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_count 3\n"));
  EXPECT_EQ(m.GetCounter("c_total", "", {{"type", "Cluster"}})->Value(), 2);
}

}  // namespace
}  // namespace meshgate::xds
