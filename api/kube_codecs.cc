// Decoding of the Kubernetes kinds. The control plane reads a small part of
// each, so unknown fields are skipped silently rather than reported.
#include "api/kind_codecs.h"

namespace meshgate::api::codec {
namespace {

// Runs `decode` on object[field] when present and not null.
template <typename T>
void DecodeField(DecodeContext& ctx, const YAML::Node& object, const std::string& field,
                 const Codec<T>& codec, T& out) {
  if (!object.IsMap()) return;
  const YAML::Node value = object[field];
  if (!value.IsDefined() || value.IsNull()) return;
  ctx.Record(field, value);
  codec.decode(ctx, value, field, out);
}

// targetPort: an int or the name of a container port.
Codec<ServicePort> ServicePortCodec() {
  return ObjectCodec<ServicePort>()
      .IgnoreUnknown()
      .Field("name", &ServicePort::name, String())
      .Field("protocol", &ServicePort::protocol, String())
      .Field("appProtocol", &ServicePort::app_protocol, String())
      .Field("port", &ServicePort::port, UInt32())
      .Custom("targetPort", MakeSchema(FieldSchema::Type::kIntOrString),
              [](DecodeContext& ctx, const YAML::Node& node, const std::string& path,
                 ServicePort& out) {
                if (!node.IsScalar()) {
                  ctx.Error(node, path, "expected an integer or a string, got " + Describe(node));
                  return;
                }
                const std::string& text = node.Scalar();
                const bool numeric =
                    !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
                if (numeric) {
                  UInt32().decode(ctx, node, path, out.target_port_number.emplace());
                } else {
                  out.target_port_name = text;
                }
              })
      .Build();
}

}  // namespace

void DecodeService(DecodeContext& ctx, const YAML::Node& object, Service& out) {
  static const Codec<Service> spec =
      ObjectCodec<Service>()
          .IgnoreUnknown()
          .Field("type", &Service::type, String())
          .Field("clusterIP", &Service::cluster_ip, String())
          .Field("ports", &Service::ports, ListOf(ServicePortCodec()))
          .Field("selector", &Service::selector, MapOf(String()))
          .Field("externalName", &Service::external_name, String())
          .Build();
  DecodeField(ctx, object, "spec", spec, out);
}

void DecodeEndpointSlice(DecodeContext& ctx, const YAML::Node& object, EndpointSlice& out) {
  static const Codec<Endpoint> endpoint = [] {
    auto conditions = ObjectCodec<EndpointConditions>()
                          .IgnoreUnknown()
                          .Field("ready", &EndpointConditions::ready, Bool())
                          .Field("serving", &EndpointConditions::serving, Bool())
                          .Field("terminating", &EndpointConditions::terminating, Bool())
                          .Build();
    auto target_ref = ObjectCodec<ObjectReference>()
                          .IgnoreUnknown()
                          .Field("kind", &ObjectReference::kind, String())
                          .Field("namespace", &ObjectReference::namespace_, String())
                          .Field("name", &ObjectReference::name, String())
                          .Build();
    return ObjectCodec<Endpoint>()
        .IgnoreUnknown()
        .Field("addresses", &Endpoint::addresses, ListOf(String()))
        .Field("conditions", &Endpoint::conditions, conditions)
        .Field("targetRef", &Endpoint::target_ref, target_ref)
        .Field("nodeName", &Endpoint::node_name, String())
        .Field("zone", &Endpoint::zone, String())
        .Build();
  }();
  static const Codec<EndpointPort> port =
      ObjectCodec<EndpointPort>()
          .IgnoreUnknown()
          .Field("name", &EndpointPort::name, String())
          .Field("protocol", &EndpointPort::protocol, String())
          .Field("appProtocol", &EndpointPort::app_protocol, String())
          .Field("port", &EndpointPort::port, UInt32())
          .Build();
  static const Codec<std::vector<Endpoint>> endpoints = ListOf(endpoint);
  static const Codec<std::vector<EndpointPort>> ports = ListOf(port);
  static const Codec<std::string> string = String();
  DecodeField(ctx, object, "addressType", string, out.address_type);
  DecodeField(ctx, object, "endpoints", endpoints, out.endpoints);
  DecodeField(ctx, object, "ports", ports, out.ports);
}

void DecodePod(DecodeContext& ctx, const YAML::Node& object, Pod& out) {
  struct Container {
    std::vector<ContainerPort> ports;
  };
  struct PodSpec {
    std::string service_account_name;
    std::string node_name;
    std::vector<Container> containers;
  };
  struct PodIP {
    std::string ip;
  };
  struct PodStatus {
    std::string phase;
    std::string pod_ip;
    std::vector<PodIP> pod_ips;
  };
  static const Codec<PodSpec> spec = [] {
    auto port = ObjectCodec<ContainerPort>()
                    .IgnoreUnknown()
                    .Field("name", &ContainerPort::name, String())
                    .Field("containerPort", &ContainerPort::container_port, UInt32())
                    .Field("protocol", &ContainerPort::protocol, String())
                    .Build();
    auto container = ObjectCodec<Container>()
                         .IgnoreUnknown()
                         .Field("ports", &Container::ports, ListOf(port))
                         .Build();
    return ObjectCodec<PodSpec>()
        .IgnoreUnknown()
        .Field("serviceAccountName", &PodSpec::service_account_name, String())
        .Field("nodeName", &PodSpec::node_name, String())
        .Field("containers", &PodSpec::containers, ListOf(container))
        .Build();
  }();
  static const Codec<PodStatus> status = [] {
    auto ip = ObjectCodec<PodIP>().IgnoreUnknown().Field("ip", &PodIP::ip, String()).Build();
    return ObjectCodec<PodStatus>()
        .IgnoreUnknown()
        .Field("phase", &PodStatus::phase, String())
        .Field("podIP", &PodStatus::pod_ip, String())
        .Field("podIPs", &PodStatus::pod_ips, ListOf(ip))
        .Build();
  }();
  PodSpec pod_spec;
  PodStatus pod_status;
  DecodeField(ctx, object, "spec", spec, pod_spec);
  DecodeField(ctx, object, "status", status, pod_status);
  out.service_account_name = pod_spec.service_account_name;
  out.node_name = pod_spec.node_name;
  for (const Container& c : pod_spec.containers) {
    out.container_ports.insert(out.container_ports.end(), c.ports.begin(), c.ports.end());
  }
  out.phase = pod_status.phase;
  out.pod_ip = pod_status.pod_ip;
  for (const PodIP& ip : pod_status.pod_ips) out.pod_ips.push_back(ip.ip);
}

void DecodeSecret(DecodeContext& ctx, const YAML::Node& object, Secret& out) {
  static const Codec<std::map<std::string, std::string>> data = MapOf(String());
  static const Codec<std::string> string = String();
  DecodeField(ctx, object, "type", string, out.type);
  std::map<std::string, std::string> encoded;
  DecodeField(ctx, object, "data", data, encoded);
  for (const auto& [key, value] : encoded) {
    std::vector<unsigned char> bytes = YAML::DecodeBase64(value);
    if (bytes.empty() && !value.empty()) {
      ctx.Report(Diagnostic::Severity::kError, ctx.LineOf("data[" + key + "]"), "data[" + key + "]",
                 "invalid base64");
      continue;
    }
    out.data[key] = std::string(bytes.begin(), bytes.end());
  }
  // stringData is write-only in the API server; files may still carry it.
  std::map<std::string, std::string> plain;
  DecodeField(ctx, object, "stringData", data, plain);
  for (auto& [key, value] : plain) out.data[key] = std::move(value);
}

void DecodeConfigMap(DecodeContext& ctx, const YAML::Node& object, ConfigMap& out) {
  static const Codec<std::map<std::string, std::string>> data = MapOf(String());
  DecodeField(ctx, object, "data", data, out.data);
}

}  // namespace meshgate::api::codec
