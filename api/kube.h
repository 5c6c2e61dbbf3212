// The Kubernetes kinds the mesh reads, reduced to the fields the control
// plane uses: Service, EndpointSlice (discovery.k8s.io/v1), Pod, Namespace,
// Secret and ConfigMap.
//
// Plain value types; immutable once decoded and safe to share across threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/meta.h"

namespace meshgate::api {

struct ServicePort {
  std::string name;
  std::string protocol = "TCP";  // TCP|UDP|SCTP
  std::string app_protocol;      // e.g. "http", "grpc", "kubernetes.io/h2c"
  uint32_t port = 0;
  // targetPort is an int or a named container port.
  std::optional<uint32_t> target_port_number;
  std::string target_port_name;
};

struct Service {
  std::string type = "ClusterIP";  // ClusterIP|NodePort|LoadBalancer|ExternalName
  std::string cluster_ip;
  std::vector<ServicePort> ports;
  Labels selector;
  std::string external_name;
};

struct EndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
};

struct ObjectReference {
  std::string kind;
  std::string namespace_;
  std::string name;
};

struct Endpoint {
  std::vector<std::string> addresses;
  EndpointConditions conditions;
  std::optional<ObjectReference> target_ref;
  std::string node_name;
  std::string zone;
};

struct EndpointPort {
  std::string name;
  std::string protocol = "TCP";
  std::string app_protocol;
  std::optional<uint32_t> port;
};

struct EndpointSlice {
  std::string address_type = "IPv4";  // IPv4|IPv6|FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
  // The owning Service, from the label kubernetes.io/service-name.
  std::string service_name;
};

struct ContainerPort {
  std::string name;
  uint32_t container_port = 0;
  std::string protocol = "TCP";
};

struct Pod {
  std::string service_account_name;
  std::string node_name;
  std::vector<ContainerPort> container_ports;  // across all containers
  std::string phase;                           // Pending|Running|Succeeded|Failed|Unknown
  std::string pod_ip;
  std::vector<std::string> pod_ips;
};

struct Namespace {};

struct Secret {
  std::string type = "Opaque";
  std::map<std::string, std::string> data;  // values base64-decoded
};

struct ConfigMap {
  std::map<std::string, std::string> data;
};

}  // namespace meshgate::api
