// Builders for compiler tests: small meshes assembled from api types, so a
// test states exactly the objects it compiles.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/snapshot.h"
#include "compiler/compiler.h"

namespace meshgate::compiler::testing {

inline api::ResourcePtr MakeResource(api::Kind kind, std::string ns, std::string name,
                                     api::Spec spec, api::Labels labels = {}) {
  auto r = std::make_shared<api::Resource>();
  r->kind = kind;
  r->metadata.namespace_ = std::move(ns);
  r->metadata.name = std::move(name);
  r->metadata.labels = std::move(labels);
  r->spec = std::move(spec);
  return r;
}

inline api::ServicePort HttpPort(uint32_t port, uint32_t target, std::string name = "http") {
  api::ServicePort p;
  p.name = std::move(name);
  p.port = port;
  p.target_port_number = target;
  return p;
}

class MeshBuilder {
 public:
  MeshBuilder& Add(api::ResourcePtr r) {
    objects_.push_back(std::move(r));
    return *this;
  }
  MeshBuilder& Add(api::Kind kind, std::string ns, std::string name, api::Spec spec,
                   api::Labels labels = {}) {
    return Add(
        MakeResource(kind, std::move(ns), std::move(name), std::move(spec), std::move(labels)));
  }

  // A Service selecting app=NAME with the given ports, and one ready Pod per
  // entry of `versions` (labels app=NAME, version=V), joined by an
  // EndpointSlice. Pod IPs are 10.NS_INDEX.SVC_INDEX.POD_INDEX-ish: unique.
  MeshBuilder& AddService(const std::string& ns, const std::string& name,
                          std::vector<api::ServicePort> ports,
                          const std::vector<std::string>& versions = {"v1"},
                          const std::string& app_protocol = "") {
    api::Service svc;
    svc.selector = {{"app", name}};
    svc.cluster_ip = "172.20." + std::to_string(service_count_ / 250) + "." +
                     std::to_string(service_count_ % 250 + 1);
    for (auto& p : ports) {
      if (!app_protocol.empty()) p.app_protocol = app_protocol;
    }
    svc.ports = ports;
    Add(api::Kind::kService, ns, name, svc);
    api::EndpointSlice slice;
    slice.service_name = name;
    for (const auto& p : ports) {
      api::EndpointPort ep;
      ep.name = p.name;
      ep.port = p.target_port_number.value_or(p.port);
      slice.ports.push_back(ep);
    }
    for (size_t i = 0; i < versions.size(); ++i) {
      std::string pod_name = name + "-" + versions[i] + "-" + std::to_string(i);
      api::Pod pod;
      pod.service_account_name = "bookinfo-" + name;
      pod.pod_ip = "10." + std::to_string(service_count_ / 250) + "." +
                   std::to_string(service_count_ % 250) + "." + std::to_string(i + 1);
      pod.phase = "Running";
      Add(api::Kind::kPod, ns, pod_name, pod, {{"app", name}, {"version", versions[i]}});
      api::Endpoint e;
      e.addresses = {pod.pod_ip};
      e.conditions.ready = true;
      e.target_ref = api::ObjectReference{"Pod", ns, pod_name};
      slice.endpoints.push_back(e);
    }
    Add(api::Kind::kEndpointSlice, ns, name + "-abcde", slice,
        {{"kubernetes.io/service-name", name}});
    ++service_count_;
    return *this;
  }

  api::ConfigSnapshotPtr Build() const {
    auto snapshot = std::make_shared<api::ConfigSnapshot>();
    snapshot->resource_version = 1;
    for (const auto& r : objects_) snapshot->objects[r->Key()] = r;
    return snapshot;
  }

  std::vector<api::ResourcePtr>& objects() { return objects_; }

 private:
  std::vector<api::ResourcePtr> objects_;
  int service_count_ = 0;
};

inline api::HTTPRouteDestination To(std::string host, std::string subset = "",
                                    std::optional<int32_t> weight = std::nullopt,
                                    std::optional<uint32_t> port = std::nullopt) {
  api::HTTPRouteDestination d;
  d.destination.host = std::move(host);
  d.destination.subset = std::move(subset);
  if (port) d.destination.port = api::PortSelector{*port};
  d.weight = weight;
  return d;
}

inline api::StringMatch Exact(std::string v) {
  return api::StringMatch{api::StringMatch::Type::kExact, std::move(v)};
}
inline api::StringMatch Prefix(std::string v) {
  return api::StringMatch{api::StringMatch::Type::kPrefix, std::move(v)};
}
inline api::StringMatch Regex(std::string v) {
  return api::StringMatch{api::StringMatch::Type::kRegex, std::move(v)};
}

inline ProxyTarget Sidecar(std::string ns, api::Labels labels = {}) {
  ProxyTarget t;
  t.role = ProxyTarget::Role::kSidecar;
  t.namespace_ = std::move(ns);
  t.labels = std::move(labels);
  return t;
}

inline const envoy::config::route::v3::VirtualHost* FindVhost(
    const envoy::config::route::v3::RouteConfiguration& rc, const std::string& name) {
  for (const auto& v : rc.virtual_hosts()) {
    if (v.name() == name) return &v;
  }
  return nullptr;
}

}  // namespace meshgate::compiler::testing
