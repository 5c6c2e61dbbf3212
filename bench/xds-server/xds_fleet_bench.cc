// xds_fleet_bench: a fleet of simulated ADS clients against one AdsServer.
//
// For each protocol (state of the world, then delta) the program forks a
// server process and a client-fleet process (so the server's RSS is its own):
//   - the fleet opens N ADS streams over loopback (callback client API, a few
//     channels), subscribes wildcard LDS/CDS and named RDS/EDS, ACKs every
//     response and reports each RDS ACK with its CLOCK_MONOTONIC time;
//   - the server changes one route K times through the Debouncer (100 ms
//     quiet period) and measures change -> all N proxies ACKed, the bytes
//     written per change, and RSS per connected proxy.
// Usage: xds_fleet_bench [--proxies N] [--changes K] [--mode sotw|delta|both]
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"
#include "xds-server/ads_server.h"
#include "xds-server/debouncer.h"

namespace {

using namespace meshgate::xds;  // NOLINT: a benchmark program
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using Steady = std::chrono::steady_clock;

constexpr int kClusters = 50;
constexpr int kRouteConfigs = 2;
constexpr int kVirtualHosts = 25;
constexpr int kChannels = 16;

struct Config {
  int proxies = 1000;
  int changes = 8;
  std::string mode = "both";
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

std::string ClusterName(int i) { return absl::StrCat("svc-", i, ".shop.svc.cluster.local"); }
std::string RouteName(int i) { return absl::StrCat("routes-", 8080 + i); }

// A mesh-sized snapshot: kClusters EDS clusters with 3 endpoints each,
// kRouteConfigs listeners each with its own route configuration of
// kVirtualHosts virtual hosts. `tag` changes one route of routes-8080.
SnapshotPtr BuildSnapshot(ResourceInterner& interner, int tag) {
  Snapshot::Builder b;
  auto add = [&](const std::string& name, const google::protobuf::Message& m) {
    auto r = interner.Intern(name, m);
    if (!r.ok()) {
      std::fprintf(stderr, "resource %s: %s\n", name.c_str(), r.status().ToString().c_str());
      std::exit(1);
    }
    b.Add(*r);
  };
  for (int i = 0; i < kClusters; ++i) {
    envoy::config::cluster::v3::Cluster c;
    c.set_name(ClusterName(i));
    c.set_type(envoy::config::cluster::v3::Cluster::EDS);
    c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
    c.mutable_connect_timeout()->set_seconds(1);
    add(c.name(), c);
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    cla.set_cluster_name(c.name());
    auto* locality = cla.add_endpoints();
    for (int e = 0; e < 3; ++e) {
      auto* sa = locality->add_lb_endpoints()
                     ->mutable_endpoint()
                     ->mutable_address()
                     ->mutable_socket_address();
      sa->set_address(absl::StrCat("10.1.", i, ".", e + 1));
      sa->set_port_value(8080);
    }
    add(c.name(), cla);
  }
  for (int l = 0; l < kRouteConfigs; ++l) {
    envoy::config::listener::v3::Listener listener;
    listener.set_name(absl::StrCat("0.0.0.0_", 8080 + l));
    listener.mutable_address()->mutable_socket_address()->set_address("0.0.0.0");
    listener.mutable_address()->mutable_socket_address()->set_port_value(8080 + l);
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
    hcm.set_stat_prefix(listener.name());
    hcm.mutable_rds()->set_route_config_name(RouteName(l));
    hcm.mutable_rds()->mutable_config_source()->mutable_ads();
    auto* f = listener.add_filter_chains()->add_filters();
    f->set_name("envoy.filters.network.http_connection_manager");
    f->mutable_typed_config()->PackFrom(hcm);
    add(listener.name(), listener);

    envoy::config::route::v3::RouteConfiguration rc;
    rc.set_name(RouteName(l));
    for (int v = 0; v < kVirtualHosts; ++v) {
      auto* vh = rc.add_virtual_hosts();
      vh->set_name(absl::StrCat("svc-", v));
      vh->add_domains(absl::StrCat("svc-", v, ".shop.svc.cluster.local"));
      vh->add_domains(absl::StrCat("svc-", v, ":", 8080 + l));
      for (int r = 0; r < 3; ++r) {
        auto* route = vh->add_routes();
        route->mutable_match()->set_prefix(absl::StrCat("/api/v", r));
        route->mutable_route()->set_cluster(ClusterName((v + r) % kClusters));
        route->mutable_route()->mutable_timeout()->set_seconds(15);
      }
      if (l == 0 && v == 0) {  // the one route the benchmark changes
        vh->mutable_routes(0)->mutable_route()->mutable_timeout()->set_seconds(15 + tag);
      }
    }
    add(rc.name(), rc);
  }
  return b.Build();
}

// ---------------------------------------------------------------- client fleet

template <bool kDelta>
class FleetClient : public grpc::ClientBidiReactor<
                        std::conditional_t<kDelta, DeltaDiscoveryRequest, DiscoveryRequest>,
                        std::conditional_t<kDelta, DeltaDiscoveryResponse, DiscoveryResponse>> {
 public:
  using Req = std::conditional_t<kDelta, DeltaDiscoveryRequest, DiscoveryRequest>;
  using Resp = std::conditional_t<kDelta, DeltaDiscoveryResponse, DiscoveryResponse>;

  FleetClient(envoy::service::discovery::v3::AggregatedDiscoveryService::Stub* stub, int id,
              FILE* out, std::mutex* out_mu)
      : id_(id), out_(out), out_mu_(out_mu) {
    if constexpr (kDelta) {
      stub->async()->DeltaAggregatedResources(&ctx_, this);
    } else {
      stub->async()->StreamAggregatedResources(&ctx_, this);
    }
    for (const char* type : {"CDS", "EDS", "LDS", "RDS"}) Enqueue(Initial(type));
    this->StartRead(&resp_);
    this->StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const std::string& type = resp_.type_url();
    if (type == kRouteType && ready_) Report(absl::StrCat("A ", id_, " ", NowNs(), "\n"));
    Req ack;
    ack.set_type_url(type);
    ack.set_response_nonce(resp_.nonce());
    if constexpr (!kDelta) {
      ack.set_version_info(resp_.version_info());
      for (const auto& n : NamesFor(type)) ack.add_resource_names(n);
    }
    seen_ |= type == kClusterType ? 1 : type == kEndpointType ? 2 : type == kListenerType ? 4 : 8;
    if (!ready_ && seen_ == 15) {
      ready_ = true;
      Report(absl::StrCat("R ", id_, "\n"));
    }
    Enqueue(std::move(ack));
    this->StartRead(&resp_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    queue_.pop_front();
    if (ok && !queue_.empty()) {
      this->StartWrite(&queue_.front());
    } else {
      writing_ = false;
    }
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      Report(absl::StrCat("E ", id_, " ", status.error_code(), "\n"));
    }
  }

 private:
  static std::vector<std::string> NamesFor(const std::string& type) {
    std::vector<std::string> names;
    if (type == kEndpointType) {
      for (int i = 0; i < kClusters; ++i) names.push_back(ClusterName(i));
    } else if (type == kRouteType) {
      for (int i = 0; i < kRouteConfigs; ++i) names.push_back(RouteName(i));
    }
    return names;  // empty for CDS/LDS: wildcard
  }

  Req Initial(const std::string& which) {
    std::string type = which == "CDS"   ? std::string(kClusterType)
                       : which == "EDS" ? std::string(kEndpointType)
                       : which == "LDS" ? std::string(kListenerType)
                                        : std::string(kRouteType);
    Req r;
    r.set_type_url(type);
    if (which == "CDS") r.mutable_node()->set_id(absl::StrCat("proxy-", id_));
    for (const auto& n : NamesFor(type)) {
      if constexpr (kDelta) {
        r.add_resource_names_subscribe(n);
      } else {
        r.add_resource_names(n);
      }
    }
    return r;
  }

  void Enqueue(Req r) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(r));
    if (!writing_) {
      writing_ = true;
      this->StartWrite(&queue_.front());
    }
  }

  void Report(const std::string& line) {
    std::lock_guard lock(*out_mu_);
    std::fputs(line.c_str(), out_);
    std::fflush(out_);
  }

  const int id_;
  FILE* out_;
  std::mutex* out_mu_;
  grpc::ClientContext ctx_;
  Resp resp_;
  std::mutex mu_;
  std::deque<Req> queue_;
  bool writing_ = false;
  int seen_ = 0;
  bool ready_ = false;
};

template <bool kDelta>
[[noreturn]] void RunFleet(int proxies, int port_fd, int report_fd) {
  int port = 0;
  if (read(port_fd, &port, sizeof(port)) != sizeof(port)) std::_Exit(2);
  FILE* out = fdopen(report_fd, "w");
  std::mutex out_mu;
  std::vector<std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub>>
      stubs;
  for (int c = 0; c < kChannels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per channel
    args.SetInt("meshgate.bench.channel", c);
    stubs.push_back(envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                  grpc::InsecureChannelCredentials(), args)));
  }
  std::vector<std::unique_ptr<FleetClient<kDelta>>> clients;
  for (int i = 0; i < proxies; ++i) {
    clients.push_back(
        std::make_unique<FleetClient<kDelta>>(stubs[i % kChannels].get(), i, out, &out_mu));
  }
  // Runs until the server process ends it.
  while (true) pause();
}

// ---------------------------------------------------------------- server side

long RssKb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Reads the fleet's reports: readiness and RDS ACK times.
class Reports {
 public:
  explicit Reports(int fd) : in_(fdopen(fd, "r")), thread_([this] { Run(); }) {}
  ~Reports() { thread_.detach(); }

  bool WaitReady(int n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ready_ >= n || errors_ > 0; }) && errors_ == 0;
  }
  // The first RDS ACK time of every proxy after `since`; empty on timeout.
  std::vector<int64_t> WaitAcks(int n, int64_t since, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    std::vector<int64_t> out;
    cv_.wait_for(lock, timeout, [&] {
      int count = 0;
      for (int64_t t : last_ack_) count += t > since ? 1 : 0;
      return count >= n;
    });
    for (int64_t t : last_ack_) {
      if (t > since) out.push_back(t);
    }
    return out;
  }
  void Resize(int n) {
    std::lock_guard lock(mu_);
    last_ack_.assign(n, 0);
  }

 private:
  void Run() {
    char line[128];
    while (std::fgets(line, sizeof(line), in_) != nullptr) {
      std::lock_guard lock(mu_);
      int id = 0;
      long long t = 0;
      if (line[0] == 'R') {
        ready_++;
      } else if (line[0] == 'A' && std::sscanf(line + 2, "%d %lld", &id, &t) == 2) {
        if (id >= 0 && id < static_cast<int>(last_ack_.size()) && last_ack_[id] == 0) {
          last_ack_[id] = t;
        } else if (id >= 0 && id < static_cast<int>(last_ack_.size())) {
          last_ack_[id] = std::max<int64_t>(last_ack_[id], t);
        }
      } else if (line[0] == 'E') {
        errors_++;
        std::fprintf(stderr, "fleet stream error: %s", line);
      }
      cv_.notify_all();
    }
  }

  FILE* in_;
  std::mutex mu_;
  std::condition_variable cv_;
  int ready_ = 0;
  int errors_ = 0;
  std::vector<int64_t> last_ack_;
  std::thread thread_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double PushedBytes(MetricsRegistry& metrics, const char* protocol) {
  double sum = 0;
  for (const char* type : {"Cluster", "ClusterLoadAssignment", "Listener", "RouteConfiguration"}) {
    sum += metrics
               .GetCounter("meshgate_xds_push_bytes_total", "",
                           {{"type", type}, {"protocol", protocol}})
               ->Value();
  }
  return sum;
}

template <bool kDelta>
int RunMode(const Config& cfg) {
  const char* protocol = kDelta ? "delta" : "sotw";
  int port_pipe[2], report_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(report_pipe) != 0) return 1;
  pid_t fleet = fork();
  if (fleet == 0) {
    close(port_pipe[1]);
    close(report_pipe[0]);
    RunFleet<kDelta>(cfg.proxies, port_pipe[0], report_pipe[1]);
  }
  close(port_pipe[0]);
  close(report_pipe[1]);

  meshgate::SystemClock& clock = meshgate::SystemClock::Get();
  SnapshotCache cache([](const envoy::config::core::v3::Node&) { return std::string("fleet"); });
  StatusTracker tracker;
  MetricsRegistry metrics;
  ResourceInterner interner;
  AdsServerOptions options;
  options.max_new_streams_per_second = 5000;
  options.new_stream_burst = 5000;
  AdsServer ads(cache, tracker, metrics, clock, options);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(ads.service());
  auto server = builder.BuildAndStart();
  int tag = 0;
  if (!cache.SetSnapshot("fleet", BuildSnapshot(interner, tag)).ok()) return 1;
  long rss_base = RssKb();

  Reports reports(report_pipe[0]);
  reports.Resize(cfg.proxies);
  auto connect_start = Steady::now();
  if (write(port_pipe[1], &port, sizeof(port)) != sizeof(port)) return 1;
  if (!reports.WaitReady(cfg.proxies, std::chrono::seconds(30))) {
    std::fprintf(stderr, "%s: fleet did not get ready\n", protocol);
    kill(fleet, SIGKILL);
    return 1;
  }
  double connect_s = std::chrono::duration<double>(Steady::now() - connect_start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let ACKs settle
  long rss_loaded = RssKb();

  // The debouncer is driven by a timer thread, as the operator does.
  Debouncer debouncer(clock, {}, &metrics);
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop) {
      if (auto batch = debouncer.Poll()) {
        ++tag;
        auto s = cache.SetSnapshot("fleet", BuildSnapshot(interner, tag), batch->first_event);
        if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  std::vector<double> all_acked_ms, per_proxy_ms, bytes_per_change;
  for (int k = 0; k < cfg.changes; ++k) {
    double bytes_before = PushedBytes(metrics, protocol);
    int64_t t0 = NowNs();
    debouncer.Add();
    auto acks = reports.WaitAcks(cfg.proxies, t0, std::chrono::seconds(20));
    if (static_cast<int>(acks.size()) < cfg.proxies) {
      std::fprintf(stderr, "%s: change %d: only %zu of %d proxies ACKed\n", protocol, k,
                   acks.size(), cfg.proxies);
      break;
    }
    int64_t last = 0;
    for (int64_t t : acks) {
      per_proxy_ms.push_back(static_cast<double>(t - t0) / 1e6);
      last = std::max(last, t);
    }
    all_acked_ms.push_back(static_cast<double>(last - t0) / 1e6);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // ACKs settle, bytes counted
    bytes_per_change.push_back(PushedBytes(metrics, protocol) - bytes_before);
  }
  stop = true;
  poller.join();

  std::printf("%-5s proxies=%d connect_all=%.2fs changes=%zu\n", protocol, cfg.proxies, connect_s,
              all_acked_ms.size());
  std::printf("%-5s change->all ACKed (ms, 100 ms debounce included): p50=%.1f p99=%.1f max=%.1f\n",
              protocol, Percentile(all_acked_ms, 0.5), Percentile(all_acked_ms, 0.99),
              Percentile(all_acked_ms, 1.0));
  std::printf("%-5s change->proxy ACKed, per proxy (ms): p50=%.1f p99=%.1f max=%.1f\n", protocol,
              Percentile(per_proxy_ms, 0.5), Percentile(per_proxy_ms, 0.99),
              Percentile(per_proxy_ms, 1.0));
  std::printf("%-5s bytes sent per single-route change: total=%.0f per proxy=%.0f\n", protocol,
              Percentile(bytes_per_change, 0.5), Percentile(bytes_per_change, 0.5) / cfg.proxies);
  std::printf("%-5s server RSS: base=%ld KB loaded=%ld KB per proxy=%.1f KB\n", protocol, rss_base,
              rss_loaded, static_cast<double>(rss_loaded - rss_base) / cfg.proxies);
  std::printf("RESULT %s p99_all_acked_ms=%.1f bytes_per_change=%.0f rss_per_proxy_kb=%.1f\n",
              protocol, Percentile(all_acked_ms, 0.99), Percentile(bytes_per_change, 0.5),
              static_cast<double>(rss_loaded - rss_base) / cfg.proxies);
  std::fflush(stdout);

  kill(fleet, SIGKILL);
  waitpid(fleet, nullptr, 0);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  std::_Exit(0);  // skip teardown of a thousand streams
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--proxies") cfg.proxies = std::atoi(argv[i + 1]);
    if (flag == "--changes") cfg.changes = std::atoi(argv[i + 1]);
    if (flag == "--mode") cfg.mode = argv[i + 1];
  }
  spdlog::set_level(spdlog::level::warn);
  // Each mode runs in its own process so RSS and threads do not mix.
  std::vector<bool> modes;
  if (cfg.mode != "delta") modes.push_back(false);
  if (cfg.mode != "sotw") modes.push_back(true);
  int rc = 0;
  for (bool delta : modes) {
    pid_t pid = fork();
    if (pid == 0) std::_Exit(delta ? RunMode<true>(cfg) : RunMode<false>(cfg));
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
  }
  return rc;
}
