// Fuzz target: matches fuzzed requests against a fixed route table built from
// a RouteConfiguration that uses every matcher and action kind, then runs the
// matched route's actions (cluster choice, rewrites, redirect, hashing,
// header mutations). Must never crash, whatever the authority, path or
// headers.
//
// Input format: line 1 authority, line 2 path, line 3 source ip, then one
// "name: value" header per line (lines without ':' are skipped).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "envoy/config/route/v3/route.pb.h"
#include "google/protobuf/text_format.h"
#include "proxy/config/route_translator.h"
#include "proxy/router/route_actions.h"
#include "proxy/router/route_table.h"

namespace {

constexpr char kConfig[] = R"pb(
  name: "fuzz"
  request_headers_to_add { header { key: "x-config" value: "1" } }
  virtual_hosts {
    name: "exact"
    domains: "shop.example.com"
    domains: "shop.example.com:8080"
    request_headers_to_add {
      header { key: "x-vhost" value: "shop" }
      append_action: OVERWRITE_IF_EXISTS_OR_ADD
    }
    routes {
      match {
        path: "/exact"
        case_sensitive { value: false }
      }
      direct_response {
        status: 200
        body { inline_string: "ok" }
      }
    }
    routes {
      match { safe_regex { regex: "/items/([0-9]+)/?" } }
      route {
        cluster: "items"
        regex_rewrite {
          pattern { regex: "^/items/([0-9]+)" }
          substitution: "/v2/item/\\1"
        }
      }
    }
    routes {
      match {
        path_separated_prefix: "/api"
        headers {
          name: "x-version"
          string_match { prefix: "v" ignore_case: true }
        }
      }
      route {
        weighted_clusters {
          clusters {
            name: "api-v1"
            weight { value: 90 }
          }
          clusters {
            name: "api-v2"
            weight { value: 10 }
            host_rewrite_literal: "v2.internal"
          }
        }
        hash_policy { header { header_name: "x-user" } }
        hash_policy {
          cookie { name: "sid" }
          terminal: true
        }
        hash_policy { connection_properties { source_ip: true } }
        hash_policy { query_parameter { name: "t" } }
      }
    }
    routes {
      match {
        prefix: "/old/"
        query_parameters { name: "keep" present_match: true }
      }
      redirect { prefix_rewrite: "/new/" https_redirect: true port_redirect: 8443 }
    }
    routes {
      match { prefix: "/old/" }
      redirect {
        regex_rewrite {
          pattern { regex: "/old/(.*)" }
          substitution: "/\\1"
        }
        strip_query: true
        response_code: FOUND
      }
    }
    routes {
      match {
        prefix: "/"
        headers {
          name: "x-range"
          range_match { start: -5 end: 5 }
          invert_match: true
        }
      }
      route { cluster: "range" prefix_rewrite: "/r" }
    }
    routes {
      match { prefix: "/" }
      route { cluster: "default" }
      response_headers_to_remove: "server"
    }
  }
  virtual_hosts {
    name: "suffix"
    domains: "*.example.com"
    routes {
      match {
        prefix: "/"
        headers { name: "x-present" present_match: false }
      }
      route { cluster: "suffix" }
    }
  }
  virtual_hosts {
    name: "prefix"
    domains: "api.*"
    routes {
      match { prefix: "/" }
      redirect { host_redirect: "api.example.com" path_redirect: "/moved?x=1" }
    }
  }
  virtual_hosts {
    name: "default"
    domains: "*"
    routes {
      match {
        safe_regex { regex: ".*\\.(js|css)" }
        case_sensitive { value: false }
      }
      route { cluster: "static" }
    }
  }
)pb";

const meshgate::proxy::RouteTable& FixedTable() {
  static const std::shared_ptr<const meshgate::proxy::RouteTable> table = [] {
    envoy::config::route::v3::RouteConfiguration config;
    if (!google::protobuf::TextFormat::ParseFromString(kConfig, &config)) std::abort();
    auto translated = meshgate::proxy::config::TranslateRouteConfiguration(config);
    if (!translated.ok()) std::abort();
    return *translated;
  }();
  return *table;
}

std::vector<std::string_view> Lines(std::string_view input) {
  std::vector<std::string_view> lines;
  while (!input.empty()) {
    const size_t end = input.find('\n');
    lines.push_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meshgate::proxy;
  const RouteTable& table = FixedTable();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = Lines(input);
  RequestView request;
  request.method = "GET";
  request.authority = lines.size() > 0 ? lines[0] : "";
  request.path = lines.size() > 1 ? lines[1] : "/";
  request.source_ip = lines.size() > 2 ? lines[2] : "";
  for (size_t i = 3; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':', 1);
    if (colon == std::string_view::npos) continue;
    std::string_view value = lines[i].substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    request.headers.emplace_back(lines[i].substr(0, colon), value);
  }

  auto match = table.Match(request);
  if (!match.has_value()) return 0;
  const Route& route = *match->route;
  const WeightedClusterEntry* weighted = nullptr;
  if (const auto* forward = std::get_if<ForwardAction>(&route.action)) {
    ClusterChoice choice = SelectCluster(*forward, size * 2654435761u);
    if (choice.cluster == nullptr) std::abort();
    weighted = choice.weighted;
    (void)RewritePath(route, *forward, request.path);
    (void)RewriteHost(*forward, weighted);
    (void)ComputeRequestHash(forward->hash_policies, request);
  } else if (const auto* redirect = std::get_if<RedirectAction>(&route.action)) {
    const std::string location = ComposeRedirectLocation(route, *redirect, request);
    if (location.find("://") == std::string::npos) std::abort();
  }
  HeaderList headers;
  for (const auto& [name, value] : request.headers) headers.emplace_back(name, value);
  table.ApplyRequestHeaders(*match, weighted, headers);
  table.ApplyResponseHeaders(*match, weighted, headers);
  return 0;
}
