// Full compile of synthetic meshes: N services (each with a VirtualService of
// 3 routes and a DestinationRule of 2 subsets, 3 endpoints each), BuildMesh
// plus one sidecar's resources. Targets: <= 50 ms for 1,000 services and
// <= 1 s for 10,000 on one core.
//
// Run: build/bin/compiler_bench [--benchmark_filter=...]
// Each size also reports peak RSS (getrusage ru_maxrss, process-wide, so the
// sizes run smallest first), the CPU time per compile by getrusage (user +
// system; on a shared machine steadier than wall time), the target, and a
// fingerprint of the output bytes (must not change with optimizations).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <string>

#include "api/snapshot.h"
#include "compiler/compiler.h"

namespace meshgate::compiler {
namespace {

api::ResourcePtr Make(api::Kind kind, const std::string& ns, const std::string& name,
                      api::Spec spec, api::Labels labels = {}) {
  auto r = std::make_shared<api::Resource>();
  r->kind = kind;
  r->metadata.namespace_ = ns;
  r->metadata.name = name;
  r->metadata.labels = std::move(labels);
  r->spec = std::move(spec);
  return r;
}

api::ConfigSnapshotPtr SyntheticMesh(int services) {
  auto snapshot = std::make_shared<api::ConfigSnapshot>();
  auto add = [&](api::ResourcePtr r) { snapshot->objects[r->Key()] = std::move(r); };
  for (int i = 0; i < services; ++i) {
    std::string ns = "ns" + std::to_string(i / 100);
    std::string name = "svc" + std::to_string(i);
    api::Service svc;
    svc.selector = {{"app", name}};
    svc.cluster_ip = "172.16." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    api::ServicePort port;
    port.name = "http";
    port.port = 8080;
    port.target_port_number = 8080;
    svc.ports = {port};
    add(Make(api::Kind::kService, ns, name, svc));
    api::EndpointSlice slice;
    slice.service_name = name;
    slice.ports = {api::EndpointPort{"http", "TCP", "", 8080}};
    for (int e = 0; e < 3; ++e) {
      std::string pod_name = name + "-" + std::to_string(e);
      api::Pod pod;
      pod.service_account_name = name;
      pod.pod_ip = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + "." +
                   std::to_string(e + 1);
      add(Make(api::Kind::kPod, ns, pod_name, pod,
               {{"app", name}, {"version", e == 0 ? "v1" : "v2"}}));
      api::Endpoint endpoint;
      endpoint.addresses = {pod.pod_ip};
      endpoint.conditions.ready = true;
      endpoint.target_ref = api::ObjectReference{"Pod", ns, pod_name};
      slice.endpoints.push_back(endpoint);
    }
    add(Make(api::Kind::kEndpointSlice, ns, name + "-x", slice));
    api::DestinationRule dr;
    dr.host = name;
    dr.subsets = {{"v1", {{"version", "v1"}}, {}}, {"v2", {{"version", "v2"}}, {}}};
    add(Make(api::Kind::kDestinationRule, ns, name, dr));
    api::VirtualService vs;
    vs.hosts = {name};
    api::HTTPRoute by_header;
    by_header.match.emplace_back().headers["end-user"] =
        api::StringMatch{api::StringMatch::Type::kExact, "jason"};
    by_header.route.emplace_back().destination = {name, "v2", {}};
    api::HTTPRoute by_prefix;
    by_prefix.match.emplace_back().uri = api::StringMatch{api::StringMatch::Type::kPrefix, "/api"};
    by_prefix.route.emplace_back().destination = {name, "v1", {}};
    by_prefix.timeout = absl::Seconds(5);
    api::HTTPRoute split;
    split.route.emplace_back().destination = {name, "v1", {}};
    split.route.back().weight = 90;
    split.route.emplace_back().destination = {name, "v2", {}};
    split.route.back().weight = 10;
    vs.http = {by_header, by_prefix, split};
    add(Make(api::Kind::kVirtualService, ns, name, vs));
  }
  return snapshot;
}

double CpuSeconds(const struct rusage& usage) {
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

template <typename T>
void MixInto(const ResourceMap<T>& map, uint64_t* h) {
  for (const auto& [name, v] : map) {
    *h = (*h ^ std::hash<std::string>{}(name)) * 0x100000001b3ULL;
    *h = (*h ^ v.hash) * 0x100000001b3ULL;
  }
}

uint64_t Fingerprint(const CompiledResources& out) {
  uint64_t h = 0xcbf29ce484222325ULL;
  MixInto(out.listeners, &h);
  MixInto(out.routes, &h);
  MixInto(out.clusters, &h);
  MixInto(out.endpoints, &h);
  return h;
}

void BM_FullCompile(benchmark::State& state) {
  const int services = static_cast<int>(state.range(0));
  auto snapshot = SyntheticMesh(services);
  ProxyTarget target;
  target.namespace_ = "ns0";
  target.labels = {{"app", "svc0"}};
  size_t resources = 0;
  uint64_t fingerprint = 0;
  struct rusage before {};
  getrusage(RUSAGE_SELF, &before);
  for (auto _ : state) {
    CompiledMeshPtr mesh = BuildMesh(snapshot, {});
    CompiledResources out = CompileForProxy(*mesh, target);
    resources =
        out.clusters.size() + out.endpoints.size() + out.routes.size() + out.listeners.size();
    fingerprint = Fingerprint(out);
    benchmark::DoNotOptimize(out);
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["rusage_cpu_ms"] =
      (CpuSeconds(usage) - CpuSeconds(before)) * 1e3 / static_cast<double>(state.iterations());
  // A hash over every resource's name and content hash: equal across builds
  // exactly when the output bytes are (the check that an optimization of the
  // compiler changed nothing).
  char label[40];
  std::snprintf(label, sizeof(label), "output=%016llx",
                static_cast<unsigned long long>(fingerprint));
  state.SetLabel(label);
  state.counters["resources"] = static_cast<double>(resources);
  state.counters["peak_rss_MiB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
  const double target_seconds = services <= 1000 ? 0.050 : 1.0;
  state.counters["target_s"] = target_seconds;
}

// The two halves: mesh-wide resources, and one more proxy on a built mesh.
void BM_BuildMesh(benchmark::State& state) {
  auto snapshot = SyntheticMesh(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(BuildMesh(snapshot, {}));
}

void BM_CompileSidecar(benchmark::State& state) {
  auto mesh = BuildMesh(SyntheticMesh(static_cast<int>(state.range(0))), {});
  ProxyTarget target;
  target.namespace_ = "ns1";
  target.labels = {{"app", "svc100"}};
  for (auto _ : state) benchmark::DoNotOptimize(CompileForProxy(*mesh, target));
}

// The EDS fast path: one EndpointSlice gained an endpoint; only load
// assignments are rebuilt (compare with BM_BuildMesh of the same size).
void BM_RebuildEndpoints(benchmark::State& state) {
  auto snapshot = SyntheticMesh(static_cast<int>(state.range(0)));
  CompiledMeshPtr previous = BuildMesh(snapshot, {});
  auto changed = std::make_shared<api::ConfigSnapshot>(*snapshot);
  api::ObjectKey key{api::Kind::kEndpointSlice, "ns0", "svc0-x"};
  auto slice = std::make_shared<api::Resource>(*changed->objects.at(key));
  api::Endpoint extra;
  extra.addresses = {"10.250.0.1"};
  extra.conditions.ready = true;
  std::get<api::EndpointSlice>(slice->spec).endpoints.push_back(extra);
  changed->objects[key] = slice;
  for (auto _ : state) {
    CompiledMeshPtr mesh = RebuildEndpoints(*previous, changed);
    if (mesh == nullptr) state.SkipWithError("fast path refused");
    benchmark::DoNotOptimize(mesh);
  }
}

BENCHMARK(BM_FullCompile)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->MinTime(2.0);

BENCHMARK(BM_BuildMesh)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompileSidecar)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RebuildEndpoints)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace meshgate::compiler

BENCHMARK_MAIN();
