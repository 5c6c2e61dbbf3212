// Proxy statistics with Envoy's names, so existing Envoy/Istio dashboards
// work unchanged: cluster (upstream), HTTP connection manager and TCP proxy
// (downstream) counters, gauges and latency histograms, rendered in Prometheus text format
// at the admin endpoint /stats/prometheus.
//
// Every worker owns its own WorkerStats and is the single writer of the
// numbers in it, so recording a request costs a few relaxed atomic stores —
// no locked instruction, no shared cache line between workers. A scrape sums
// the workers. Scopes (per cluster, per listener prefix) are created on first
// use and live as long as the store; the request path caches the pointer.
//
// Thread-safety: Counter/Gauge/Histogram writers: only the owning worker.
// Readers: any thread. WorkerStats::Cluster()/Http() may be called by the
// owning worker only; StatsStore::RenderPrometheus() from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace meshgate::proxy::stats {

// A single-writer counter.
class Counter {
 public:
  void Inc(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A single-writer gauge; summed across workers it is the process-wide value.
class Gauge {
 public:
  void Add(int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  int64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Envoy's default histogram buckets, in milliseconds.
inline constexpr std::array<double, 19> kDefaultBucketsMs = {
    0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
    2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

// A single-writer latency histogram over kDefaultBucketsMs.
class Histogram {
 public:
  void RecordMs(double ms);
  // Per-bucket (non-cumulative) counts; the last slot is +Inf.
  std::array<uint64_t, kDefaultBucketsMs.size() + 1> Buckets() const;
  double SumMs() const;
  uint64_t Count() const;

 private:
  std::array<std::atomic<uint64_t>, kDefaultBucketsMs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};  // integer µs: atomics of double need CAS loops
};

struct ClusterStats {
  Counter upstream_cx_total;
  Gauge upstream_cx_active;
  Counter upstream_cx_connect_fail;
  Counter upstream_cx_connect_timeout;
  Counter upstream_rq_total;
  Gauge upstream_rq_active;
  std::array<Counter, 6> upstream_rq_xx;  // index = status / 100 (1..5)
  Counter upstream_rq_retry;
  Counter upstream_rq_retry_success;
  Counter upstream_rq_timeout;
  Counter upstream_rq_per_try_timeout;
  Counter upstream_rq_pending_overflow;
  // Circuit breaking: connections not opened over max_connections, retries
  // not made over max_retries.
  Counter upstream_cx_overflow;
  Counter upstream_rq_retry_overflow;
  Counter upstream_cx_destroy_remote;
  Counter upstream_rq_rx_reset;
  Histogram upstream_rq_time;
  // TCP proxy connections.
  Counter upstream_cx_none_healthy;
  Counter upstream_cx_rx_bytes_total;
  Counter upstream_cx_tx_bytes_total;
  Counter upstream_flow_control_paused_reading_total;
  Counter upstream_flow_control_resumed_reading_total;
  Histogram upstream_cx_length;
};

struct HttpStats {
  Counter downstream_cx_total;
  Gauge downstream_cx_active;
  Counter downstream_rq_total;
  Gauge downstream_rq_active;
  std::array<Counter, 6> downstream_rq_xx;
  Counter downstream_rq_rx_reset;
  Counter downstream_cx_protocol_error;
  Histogram downstream_rq_time;
};

// Envoy's tcp_proxy statistics, per stat_prefix (`envoy_tcp_*`).
struct TcpStats {
  Counter downstream_cx_total;
  Gauge downstream_cx_active;
  Counter downstream_cx_no_route;
  Counter downstream_cx_rx_bytes_total;
  Counter downstream_cx_tx_bytes_total;
  Counter downstream_flow_control_paused_reading_total;
  Counter downstream_flow_control_resumed_reading_total;
  Counter idle_timeout;
  Counter max_downstream_connection_duration;
};

// The downstream HTTP/2 codecs' protection counters, summed over connections
// as each one closes. Rendered with Envoy's names where Envoy has the stat
// (`envoy_http2_*`), else as `meshgate_http2_*`.
struct Http2Stats {
  Counter rx_reset;  // RST_STREAM received
  Counter tx_reset;  // RST_STREAM sent
  Counter goaway_sent;
  Counter header_overflow;             // header list over its size or field-count limit
  Counter too_many_header_frames;      // CONTINUATION flood
  Counter outbound_control_flood;      // PING / SETTINGS / ... flood (each asks an answer)
  Counter outbound_flood;              // frames queued for a peer that does not read
  Counter inbound_empty_frames_flood;  // DATA / HEADERS without payload in a row
  Counter rapid_reset_flood;           // CVE-2023-44487
  Counter reset_flood;                 // streams we had to reset because of the peer
  Counter streams_refused;             // over max_concurrent_streams or after GOAWAY
  Counter connection_errors;           // connections ended by a protocol error
};

class WorkerStats {
 public:
  // REQUIRES: called on the owning worker.
  ClusterStats& Cluster(const std::string& name);
  HttpStats& Http(const std::string& stat_prefix);
  TcpStats& Tcp(const std::string& stat_prefix);
  Http2Stats& Http2() { return http2_; }

 private:
  friend class StatsStore;
  mutable std::mutex mu_;  // guards the maps' structure against a concurrent scrape
  std::map<std::string, std::unique_ptr<ClusterStats>> clusters_;
  std::map<std::string, std::unique_ptr<HttpStats>> http_;
  std::map<std::string, std::unique_ptr<TcpStats>> tcp_;
  Http2Stats http2_;
};

class StatsStore {
 public:
  explicit StatsStore(size_t workers);
  WorkerStats& Worker(size_t index) { return *workers_[index]; }
  size_t worker_count() const { return workers_.size(); }

  std::string RenderPrometheus() const;

 private:
  std::vector<std::unique_ptr<WorkerStats>> workers_;
};

}  // namespace meshgate::proxy::stats
