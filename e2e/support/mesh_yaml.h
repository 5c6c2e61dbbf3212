// Builders for the Kubernetes objects black-box tests put in a config dir:
// a Service, its Pods and EndpointSlices, all on 127.0.0.1 (backends are
// processes on loopback, told apart by port). Each returns one YAML document
// starting with `---`, ready to concatenate.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>

namespace meshgate::e2e {

inline std::string ServiceYaml(const std::string& ns, const std::string& name,
                               const std::string& port_name, int port,
                               const std::string& app_protocol = "") {
  std::string y = "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name +
                  ", namespace: " + ns + "}\nspec:\n  selector: {app: " + name +
                  "}\n  ports:\n  - {name: " + port_name + ", port: " + std::to_string(port) +
                  ", targetPort: " + port_name;
  if (!app_protocol.empty()) y += ", appProtocol: " + app_protocol;
  return y + "}\n";
}

// A Pod of app `app` with extra labels (e.g. {"version", "v1"}).
inline std::string PodYaml(const std::string& ns, const std::string& name, const std::string& app,
                           const std::map<std::string, std::string>& labels) {
  std::string y = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
                  ", namespace: " + ns + ", labels: {app: " + app;
  for (const auto& [k, v] : labels) y += ", " + k + ": " + v;
  return y + "}}\nspec: {serviceAccountName: " + app + "}\nstatus: {podIP: 127.0.0.1}\n";
}

// One ready endpoint, 127.0.0.1:`port`, backed by `pod`, for `service`.
inline std::string EndpointSliceYaml(const std::string& ns, const std::string& name,
                                     const std::string& service, const std::string& pod,
                                     const std::string& port_name, int port) {
  return "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + name +
         ", namespace: " + ns + ", labels: {kubernetes.io/service-name: " + service +
         "}}\naddressType: IPv4\nports: [{name: " + port_name + ", port: " + std::to_string(port) +
         "}]\nendpoints:\n- addresses: [127.0.0.1]\n  conditions: {ready: true}\n  targetRef: "
         "{kind: Pod, namespace: " +
         ns + ", name: " + pod + "}\n";
}

}  // namespace meshgate::e2e
