#include "proxy/stats/stats.h"

#include <thread>

#include "gtest/gtest.h"

namespace meshgate::proxy::stats {
namespace {

TEST(StatsTest, SumsWorkersUnderEnvoyNames) {
  StatsStore store(2);
  std::thread w0([&] {
    auto& c = store.Worker(0).Cluster("outbound|80||a.default.svc.cluster.local");
    for (int i = 0; i < 1000; ++i) c.upstream_rq_total.Inc();
    c.upstream_rq_xx[2].Inc(990);
    c.upstream_rq_xx[5].Inc(10);
    c.upstream_rq_time.RecordMs(0.3);
    c.upstream_rq_time.RecordMs(7);
  });
  std::thread w1([&] {
    auto& c = store.Worker(1).Cluster("outbound|80||a.default.svc.cluster.local");
    for (int i = 0; i < 500; ++i) c.upstream_rq_total.Inc();
    c.upstream_cx_active.Inc();
    store.Worker(1).Http("inbound_0.0.0.0_8080").downstream_rq_total.Inc(3);
  });
  w0.join();
  w1.join();
  std::string text = store.RenderPrometheus();
  const std::string label = "envoy_cluster_name=\"outbound|80||a.default.svc.cluster.local\"";
  EXPECT_NE(text.find("envoy_cluster_upstream_rq_total{" + label + "} 1500\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("envoy_cluster_upstream_cx_active{" + label + "} 1\n"), std::string::npos);
  EXPECT_NE(
      text.find("envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"5\"," + label + "} 10\n"),
      std::string::npos);
  // Cumulative buckets: 0.3 ms falls in le=0.5, 7 ms in le=10.
  EXPECT_NE(text.find("envoy_cluster_upstream_rq_time_bucket{" + label + ",le=\"0.5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("envoy_cluster_upstream_rq_time_bucket{" + label + ",le=\"5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("envoy_cluster_upstream_rq_time_bucket{" + label + ",le=\"10\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("envoy_cluster_upstream_rq_time_count{" + label + "} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix=\"inbound_0."
                      "0.0.0_8080\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE envoy_cluster_upstream_rq_time histogram\n"), std::string::npos);
}

TEST(StatsTest, LabelValuesAreEscaped) {
  StatsStore store(1);
  store.Worker(0).Cluster("we\"ird\\name").upstream_rq_total.Inc();
  std::string text = store.RenderPrometheus();
  EXPECT_NE(text.find("envoy_cluster_name=\"we\\\"ird\\\\name\""), std::string::npos) << text;
}

}  // namespace
}  // namespace meshgate::proxy::stats
