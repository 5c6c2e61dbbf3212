#include "proxy/stats/stats.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "common/text_escape.h"

namespace meshgate::proxy::stats {

void Histogram::RecordMs(double ms) {
  size_t i =
      static_cast<size_t>(std::lower_bound(kDefaultBucketsMs.begin(), kDefaultBucketsMs.end(), ms) -
                          kDefaultBucketsMs.begin());
  auto& b = buckets_[i];
  b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  auto us = static_cast<uint64_t>(ms * 1000.0);
  sum_us_.store(sum_us_.load(std::memory_order_relaxed) + us, std::memory_order_relaxed);
}

std::array<uint64_t, kDefaultBucketsMs.size() + 1> Histogram::Buckets() const {
  std::array<uint64_t, kDefaultBucketsMs.size() + 1> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

double Histogram::SumMs() const { return sum_us_.load(std::memory_order_relaxed) / 1000.0; }

uint64_t Histogram::Count() const {
  uint64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

ClusterStats& WorkerStats::Cluster(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = clusters_[name];
  if (!slot) slot = std::make_unique<ClusterStats>();
  return *slot;
}

HttpStats& WorkerStats::Http(const std::string& stat_prefix) {
  std::lock_guard lock(mu_);
  auto& slot = http_[stat_prefix];
  if (!slot) slot = std::make_unique<HttpStats>();
  return *slot;
}

TcpStats& WorkerStats::Tcp(const std::string& stat_prefix) {
  std::lock_guard lock(mu_);
  auto& slot = tcp_[stat_prefix];
  if (!slot) slot = std::make_unique<TcpStats>();
  return *slot;
}

StatsStore::StatsStore(size_t workers) {
  for (size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerStats>());
}

namespace {

struct HistogramSum {
  std::array<uint64_t, kDefaultBucketsMs.size() + 1> buckets{};
  double sum = 0;
  void Add(const Histogram& h) {
    auto b = h.Buckets();
    for (size_t i = 0; i < b.size(); ++i) buckets[i] += b[i];
    sum += h.SumMs();
  }
};

class Writer {
 public:
  void Type(const std::string& name, const char* type) {
    out_ += "# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, const std::string& labels, double value) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", value);
    out_ += labels.empty() ? name + " " + buf + "\n" : name + "{" + labels + "} " + buf + "\n";
  }
  void Histo(const std::string& name, const std::string& labels, const HistogramSum& h) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kDefaultBucketsMs.size(); ++i) {
      cumulative += h.buckets[i];
      char le[32];
      std::snprintf(le, sizeof(le), "%g", kDefaultBucketsMs[i]);
      Sample(name + "_bucket", labels + ",le=\"" + le + "\"", static_cast<double>(cumulative));
    }
    cumulative += h.buckets.back();
    Sample(name + "_bucket", labels + ",le=\"+Inf\"", static_cast<double>(cumulative));
    Sample(name + "_sum", labels, h.sum);
    Sample(name + "_count", labels, static_cast<double>(cumulative));
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

}  // namespace

std::string StatsStore::RenderPrometheus() const {
  // Sum every worker's scopes by name. Taking each worker's lock only guards
  // the maps' structure; the numbers are read with relaxed loads.
  std::map<std::string, std::vector<const ClusterStats*>> clusters;
  std::map<std::string, std::vector<const HttpStats*>> http;
  std::map<std::string, std::vector<const TcpStats*>> tcp;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mu_);
    for (const auto& [name, s] : w->clusters_) clusters[name].push_back(s.get());
    for (const auto& [name, s] : w->http_) http[name].push_back(s.get());
    for (const auto& [name, s] : w->tcp_) tcp[name].push_back(s.get());
  }

  Writer w;
  using CounterOf = std::function<double(const ClusterStats&)>;
  auto cluster_metric = [&](const std::string& metric, const char* type, const CounterOf& get) {
    std::string name = "envoy_cluster_" + metric;
    w.Type(name, type);
    for (const auto& [cluster, stats] : clusters) {
      double sum = 0;
      for (const auto* s : stats) sum += get(*s);
      w.Sample(name, "envoy_cluster_name=\"" + PrometheusLabelValue(cluster) + "\"", sum);
    }
  };
  cluster_metric("upstream_cx_total", "counter",
                 [](auto& s) { return s.upstream_cx_total.Value(); });
  cluster_metric("upstream_cx_active", "gauge",
                 [](auto& s) { return s.upstream_cx_active.Value(); });
  cluster_metric("upstream_cx_connect_fail", "counter",
                 [](auto& s) { return s.upstream_cx_connect_fail.Value(); });
  cluster_metric("upstream_cx_connect_timeout", "counter",
                 [](auto& s) { return s.upstream_cx_connect_timeout.Value(); });
  cluster_metric("upstream_cx_destroy_remote", "counter",
                 [](auto& s) { return s.upstream_cx_destroy_remote.Value(); });
  cluster_metric("upstream_cx_none_healthy", "counter",
                 [](auto& s) { return s.upstream_cx_none_healthy.Value(); });
  cluster_metric("upstream_cx_rx_bytes_total", "counter",
                 [](auto& s) { return s.upstream_cx_rx_bytes_total.Value(); });
  cluster_metric("upstream_cx_tx_bytes_total", "counter",
                 [](auto& s) { return s.upstream_cx_tx_bytes_total.Value(); });
  cluster_metric("upstream_flow_control_paused_reading_total", "counter",
                 [](auto& s) { return s.upstream_flow_control_paused_reading_total.Value(); });
  cluster_metric("upstream_flow_control_resumed_reading_total", "counter",
                 [](auto& s) { return s.upstream_flow_control_resumed_reading_total.Value(); });
  cluster_metric("upstream_rq_total", "counter",
                 [](auto& s) { return s.upstream_rq_total.Value(); });
  cluster_metric("upstream_rq_active", "gauge",
                 [](auto& s) { return s.upstream_rq_active.Value(); });
  cluster_metric("upstream_rq_retry", "counter",
                 [](auto& s) { return s.upstream_rq_retry.Value(); });
  cluster_metric("upstream_rq_retry_success", "counter",
                 [](auto& s) { return s.upstream_rq_retry_success.Value(); });
  cluster_metric("upstream_rq_timeout", "counter",
                 [](auto& s) { return s.upstream_rq_timeout.Value(); });
  cluster_metric("upstream_rq_per_try_timeout", "counter",
                 [](auto& s) { return s.upstream_rq_per_try_timeout.Value(); });
  cluster_metric("upstream_rq_pending_overflow", "counter",
                 [](auto& s) { return s.upstream_rq_pending_overflow.Value(); });
  cluster_metric("upstream_cx_overflow", "counter",
                 [](auto& s) { return s.upstream_cx_overflow.Value(); });
  cluster_metric("upstream_rq_retry_overflow", "counter",
                 [](auto& s) { return s.upstream_rq_retry_overflow.Value(); });
  cluster_metric("upstream_rq_rx_reset", "counter",
                 [](auto& s) { return s.upstream_rq_rx_reset.Value(); });

  w.Type("envoy_cluster_upstream_rq_xx", "counter");
  for (const auto& [cluster, stats] : clusters) {
    for (int cls = 1; cls <= 5; ++cls) {
      double sum = 0;
      for (const auto* s : stats) sum += s->upstream_rq_xx[cls].Value();
      w.Sample("envoy_cluster_upstream_rq_xx",
               "envoy_response_code_class=\"" + std::to_string(cls) + "\",envoy_cluster_name=\"" +
                   PrometheusLabelValue(cluster) + "\"",
               sum);
    }
  }
  w.Type("envoy_cluster_upstream_rq_time", "histogram");
  for (const auto& [cluster, stats] : clusters) {
    HistogramSum h;
    for (const auto* s : stats) h.Add(s->upstream_rq_time);
    w.Histo("envoy_cluster_upstream_rq_time",
            "envoy_cluster_name=\"" + PrometheusLabelValue(cluster) + "\"", h);
  }
  w.Type("envoy_cluster_upstream_cx_length_ms", "histogram");
  for (const auto& [cluster, stats] : clusters) {
    HistogramSum h;
    for (const auto* s : stats) h.Add(s->upstream_cx_length);
    w.Histo("envoy_cluster_upstream_cx_length_ms",
            "envoy_cluster_name=\"" + PrometheusLabelValue(cluster) + "\"", h);
  }

  using HttpOf = std::function<double(const HttpStats&)>;
  auto http_metric = [&](const std::string& metric, const char* type, const HttpOf& get) {
    std::string name = "envoy_http_" + metric;
    w.Type(name, type);
    for (const auto& [prefix, stats] : http) {
      double sum = 0;
      for (const auto* s : stats) sum += get(*s);
      w.Sample(name, "envoy_http_conn_manager_prefix=\"" + PrometheusLabelValue(prefix) + "\"",
               sum);
    }
  };
  http_metric("downstream_cx_total", "counter",
              [](auto& s) { return s.downstream_cx_total.Value(); });
  http_metric("downstream_cx_active", "gauge",
              [](auto& s) { return s.downstream_cx_active.Value(); });
  http_metric("downstream_rq_total", "counter",
              [](auto& s) { return s.downstream_rq_total.Value(); });
  http_metric("downstream_rq_active", "gauge",
              [](auto& s) { return s.downstream_rq_active.Value(); });
  http_metric("downstream_rq_rx_reset", "counter",
              [](auto& s) { return s.downstream_rq_rx_reset.Value(); });
  http_metric("downstream_cx_protocol_error", "counter",
              [](auto& s) { return s.downstream_cx_protocol_error.Value(); });
  w.Type("envoy_http_downstream_rq_xx", "counter");
  for (const auto& [prefix, stats] : http) {
    for (int cls = 1; cls <= 5; ++cls) {
      double sum = 0;
      for (const auto* s : stats) sum += s->downstream_rq_xx[cls].Value();
      w.Sample("envoy_http_downstream_rq_xx",
               "envoy_response_code_class=\"" + std::to_string(cls) +
                   "\",envoy_http_conn_manager_prefix=\"" + PrometheusLabelValue(prefix) + "\"",
               sum);
    }
  }
  w.Type("envoy_http_downstream_rq_time", "histogram");
  for (const auto& [prefix, stats] : http) {
    HistogramSum h;
    for (const auto* s : stats) h.Add(s->downstream_rq_time);
    w.Histo("envoy_http_downstream_rq_time",
            "envoy_http_conn_manager_prefix=\"" + PrometheusLabelValue(prefix) + "\"", h);
  }

  using Http2Of = std::function<double(const Http2Stats&)>;
  auto http2_metric = [&](const std::string& name, const Http2Of& get) {
    w.Type(name, "counter");
    double sum = 0;
    for (const auto& worker : workers_) sum += get(worker->http2_);
    w.Sample(name, "", sum);
  };
  http2_metric("envoy_http2_rx_reset", [](auto& s) { return s.rx_reset.Value(); });
  http2_metric("envoy_http2_tx_reset", [](auto& s) { return s.tx_reset.Value(); });
  http2_metric("envoy_http2_goaway_sent", [](auto& s) { return s.goaway_sent.Value(); });
  http2_metric("envoy_http2_header_overflow", [](auto& s) { return s.header_overflow.Value(); });
  http2_metric("envoy_http2_too_many_header_frames",
               [](auto& s) { return s.too_many_header_frames.Value(); });
  http2_metric("envoy_http2_outbound_control_flood",
               [](auto& s) { return s.outbound_control_flood.Value(); });
  http2_metric("envoy_http2_outbound_flood", [](auto& s) { return s.outbound_flood.Value(); });
  http2_metric("envoy_http2_inbound_empty_frames_flood",
               [](auto& s) { return s.inbound_empty_frames_flood.Value(); });
  http2_metric("meshgate_http2_rapid_reset_flood",
               [](auto& s) { return s.rapid_reset_flood.Value(); });
  http2_metric("meshgate_http2_reset_flood", [](auto& s) { return s.reset_flood.Value(); });
  http2_metric("meshgate_http2_streams_refused", [](auto& s) { return s.streams_refused.Value(); });
  http2_metric("meshgate_http2_connection_errors",
               [](auto& s) { return s.connection_errors.Value(); });

  using TcpOf = std::function<double(const TcpStats&)>;
  auto tcp_metric = [&](const std::string& metric, const char* type, const TcpOf& get) {
    std::string name = "envoy_tcp_" + metric;
    w.Type(name, type);
    for (const auto& [prefix, stats] : tcp) {
      double sum = 0;
      for (const auto* s : stats) sum += get(*s);
      w.Sample(name, "envoy_tcp_prefix=\"" + PrometheusLabelValue(prefix) + "\"", sum);
    }
  };
  tcp_metric("downstream_cx_total", "counter",
             [](auto& s) { return s.downstream_cx_total.Value(); });
  tcp_metric("downstream_cx_active", "gauge",
             [](auto& s) { return s.downstream_cx_active.Value(); });
  tcp_metric("downstream_cx_no_route", "counter",
             [](auto& s) { return s.downstream_cx_no_route.Value(); });
  tcp_metric("downstream_cx_rx_bytes_total", "counter",
             [](auto& s) { return s.downstream_cx_rx_bytes_total.Value(); });
  tcp_metric("downstream_cx_tx_bytes_total", "counter",
             [](auto& s) { return s.downstream_cx_tx_bytes_total.Value(); });
  tcp_metric("downstream_flow_control_paused_reading_total", "counter",
             [](auto& s) { return s.downstream_flow_control_paused_reading_total.Value(); });
  tcp_metric("downstream_flow_control_resumed_reading_total", "counter",
             [](auto& s) { return s.downstream_flow_control_resumed_reading_total.Value(); });
  tcp_metric("idle_timeout", "counter", [](auto& s) { return s.idle_timeout.Value(); });
  tcp_metric("max_downstream_connection_duration", "counter",
             [](auto& s) { return s.max_downstream_connection_duration.Value(); });

  return std::move(w.out());
}

}  // namespace meshgate::proxy::stats
