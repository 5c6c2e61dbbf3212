// VirtualService -> Envoy routes, with Istio's semantics: one Envoy route per
// HTTPMatchRequest, first match wins, delegates expanded in place, Istio's
// default retry policy, destination rule hash policies on the routes.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "compiler/internal.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "google/protobuf/util/time_util.h"

namespace meshgate::compiler {
namespace {

using envoy::config::route::v3::Route;
using envoy::config::route::v3::RouteAction;
using envoy::config::route::v3::RouteMatch;
using envoy::config::route::v3::VirtualHost;
using google::protobuf::util::TimeUtil;
using Severity = CompileDiagnostic::Severity;

constexpr char kDefaultRetryOn[] =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

// Istio's route-building context for one VirtualService.
struct VsScope {
  const RouteContext* ctx;
  const api::Resource* vs;  // where diagnostics go
  std::string ns;           // namespace for short host names
  void Report(std::string field, std::string message, Severity severity = Severity::kError) const {
    ctx->diagnostics->push_back(
        MakeDiagnostic(*vs, std::move(field), std::move(message), severity));
  }
};

void SetStringMatcher(const api::StringMatch& in, bool ignore_case,
                      envoy::type::matcher::v3::StringMatcher* out) {
  switch (in.type) {
    case api::StringMatch::Type::kExact:
      out->set_exact(in.value);
      break;
    case api::StringMatch::Type::kPrefix:
      out->set_prefix(in.value);
      break;
    case api::StringMatch::Type::kRegex:
      out->mutable_safe_regex()->set_regex(in.value);
      break;
  }
  if (ignore_case && in.type != api::StringMatch::Type::kRegex) out->set_ignore_case(true);
}

void AddHeaderMatcher(absl::string_view name, const api::StringMatch& in, bool invert,
                      RouteMatch* match) {
  auto* h = match->add_headers();
  h->set_name(std::string(name));
  // An empty prefix or ".*" only asks for presence (Envoy rejects empty prefixes).
  if ((in.type == api::StringMatch::Type::kPrefix && in.value.empty()) ||
      (in.type == api::StringMatch::Type::kRegex && in.value == ".*")) {
    h->set_present_match(true);
  } else {
    SetStringMatcher(in, false, h->mutable_string_match());
  }
  if (invert) h->set_invert_match(true);
}

// nullopt when the match does not apply to this proxy / port / gateway.
std::optional<RouteMatch> TranslateMatch(const VsScope& scope, const api::HTTPMatchRequest& m,
                                         const std::string& field) {
  const RouteContext& ctx = *scope.ctx;
  if (m.port && *m.port != ctx.port) return std::nullopt;
  if (!m.gateways.empty()) {
    bool any = false;
    for (const auto& g : m.gateways) {
      if (ctx.gateway_keys.count(MeshIndex::GatewayKey(g, scope.ns)) > 0) any = true;
    }
    if (!any) return std::nullopt;
  }
  if (!m.source_labels.empty()) {
    if (ctx.proxy_dependent != nullptr) *ctx.proxy_dependent = true;
    if (ctx.proxy_labels == nullptr || !LabelsMatch(m.source_labels, *ctx.proxy_labels)) {
      return std::nullopt;
    }
  }
  if (!m.source_namespace.empty()) {
    if (ctx.proxy_dependent != nullptr) *ctx.proxy_dependent = true;
    if (m.source_namespace != ctx.proxy_namespace) return std::nullopt;
  }

  RouteMatch out;
  if (!m.uri) {
    out.set_prefix("/");
  } else {
    switch (m.uri->type) {
      case api::StringMatch::Type::kExact:
        out.set_path(m.uri->value);
        break;
      case api::StringMatch::Type::kPrefix:
        out.set_prefix(m.uri->value);
        break;
      case api::StringMatch::Type::kRegex:
        out.mutable_safe_regex()->set_regex(m.ignore_uri_case ? "(?i)" + m.uri->value
                                                              : m.uri->value);
        break;
    }
    if (m.ignore_uri_case && m.uri->type != api::StringMatch::Type::kRegex) {
      out.mutable_case_sensitive()->set_value(false);
    }
  }
  if (m.scheme) AddHeaderMatcher(":scheme", *m.scheme, false, &out);
  if (m.method) AddHeaderMatcher(":method", *m.method, false, &out);
  if (m.authority) AddHeaderMatcher(":authority", *m.authority, false, &out);
  for (const auto& [name, sm] : m.headers) AddHeaderMatcher(name, sm, false, &out);
  for (const auto& [name, sm] : m.without_headers) AddHeaderMatcher(name, sm, true, &out);
  for (const auto& [name, sm] : m.query_params) {
    auto* q = out.add_query_parameters();
    q->set_name(name);
    if (sm.type == api::StringMatch::Type::kPrefix && sm.value.empty()) {
      q->set_present_match(true);
    } else {
      SetStringMatcher(sm, false, q->mutable_string_match());
    }
  }
  if (!m.stat_prefix.empty()) {
    scope.Report(field + ".statPrefix", "not supported; ignored", Severity::kWarning);
  }
  return out;
}

// The cluster a destination names, resolving the port as Istio does.
std::optional<std::string> DestinationCluster(const VsScope& scope, const api::Destination& d,
                                              const std::string& field,
                                              const ServiceInfo** service_out = nullptr,
                                              uint32_t* port_out = nullptr) {
  const RouteContext& ctx = *scope.ctx;
  std::string host = ctx.index->ResolveHost(d.host, scope.ns);
  const ServiceInfo* service = ctx.index->FindService(host);
  uint32_t port = 0;
  if (d.port) {
    port = d.port->number;
  } else if (service != nullptr && service->ports.size() == 1) {
    port = service->ports[0].port;
  } else if (!ctx.is_gateway && (service == nullptr || service->FindPort(ctx.port) != nullptr)) {
    port = ctx.port;
  }
  if (port == 0) {
    scope.Report(field + ".port",
                 "host " + host + " has several ports; the destination must name one");
    return std::nullopt;
  }
  if (service == nullptr) {
    scope.Report(field + ".host", "no service for host " + host + "; requests will fail (503)",
                 Severity::kWarning);
  } else if (service->FindPort(port) == nullptr) {
    scope.Report(field + ".port", absl::StrCat("service ", host, " has no port ", port),
                 Severity::kWarning);
  }
  if (!d.subset.empty()) {
    const api::Resource* rule = service ? service->destination_rule : nullptr;
    if (rule == nullptr || FindSubset(rule->As<api::DestinationRule>(), d.subset) == nullptr) {
      scope.Report(field + ".subset",
                   "subset " + d.subset + " is not defined by a DestinationRule for " + host);
    }
  }
  if (service_out != nullptr) *service_out = service;
  if (port_out != nullptr) *port_out = port;
  return OutboundClusterName(port, d.subset, host);
}

void AddHeaderOps(
    const api::HeaderOperations& ops,
    google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>* add,
    google::protobuf::RepeatedPtrField<std::string>* remove) {
  using Action = envoy::config::core::v3::HeaderValueOption;
  for (const auto& [k, v] : ops.set) {
    auto* o = add->Add();
    o->mutable_header()->set_key(k);
    o->mutable_header()->set_value(v);
    o->set_append_action(Action::OVERWRITE_IF_EXISTS_OR_ADD);
  }
  for (const auto& [k, v] : ops.add) {
    auto* o = add->Add();
    o->mutable_header()->set_key(k);
    o->mutable_header()->set_value(v);
    o->set_append_action(Action::APPEND_IF_EXISTS_OR_ADD);
  }
  for (const auto& k : ops.remove) *remove->Add() = k;
}

template <typename T>
void ApplyHeaders(const api::Headers& headers, T* target) {
  if (headers.request) {
    AddHeaderOps(*headers.request, target->mutable_request_headers_to_add(),
                 target->mutable_request_headers_to_remove());
  }
  if (headers.response) {
    AddHeaderOps(*headers.response, target->mutable_response_headers_to_add(),
                 target->mutable_response_headers_to_remove());
  }
}

void SetFraction(double percent, envoy::type::v3::FractionalPercent* out) {
  out->set_numerator(static_cast<uint32_t>(std::clamp(percent, 0.0, 100.0) * 10000 + 0.5));
  out->set_denominator(envoy::type::v3::FractionalPercent::MILLION);
}

std::optional<uint32_t> GrpcStatusCode(absl::string_view name) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  std::string upper = absl::AsciiStrToUpper(name);
  for (uint32_t i = 0; i < std::size(kNames); ++i) {
    if (upper == kNames[i]) return i;
  }
  uint32_t code = 0;
  if (absl::SimpleAtoi(name, &code) && code <= 16) return code;
  return std::nullopt;
}

void ApplyFault(const VsScope& scope, const api::HTTPFaultInjection& fault,
                const std::string& field, Route* route) {
  envoy::extensions::filters::http::fault::v3::HTTPFault out;
  if (fault.delay) {
    const auto& d = *fault.delay;
    if (d.exponential_delay) {
      scope.Report(field + ".delay.exponentialDelay", "exponential delays are not supported");
    }
    if (d.fixed_delay) {
      auto* delay = out.mutable_delay();
      SetDuration(*d.fixed_delay, delay->mutable_fixed_delay());
      if (d.percentage) {
        SetFraction(d.percentage->value, delay->mutable_percentage());
      } else if (d.percent) {
        delay->mutable_percentage()->set_numerator(static_cast<uint32_t>(*d.percent));
      } else {
        SetFraction(100, delay->mutable_percentage());
      }
    }
  }
  if (fault.abort) {
    const auto& a = *fault.abort;
    auto* abort = out.mutable_abort();
    if (a.http_status) {
      abort->set_http_status(static_cast<uint32_t>(*a.http_status));
    } else if (!a.grpc_status.empty()) {
      auto code = GrpcStatusCode(a.grpc_status);
      if (!code) {
        scope.Report(field + ".abort.grpcStatus", "unknown gRPC status " + a.grpc_status);
        out.clear_abort();
      } else {
        abort->set_grpc_status(*code);
      }
    } else {
      scope.Report(field + ".abort", "an abort needs httpStatus or grpcStatus");
      out.clear_abort();
    }
    if (out.has_abort())
      SetFraction(a.percentage ? a.percentage->value : 100, abort->mutable_percentage());
  }
  if (!out.has_delay() && !out.has_abort()) return;
  (*route->mutable_typed_per_filter_config())["envoy.filters.http.fault"].PackFrom(out);
}

void ApplyCors(const VsScope& scope, const api::CorsPolicy& cors, const std::string& field,
               Route* route) {
  if (scope.ctx->grpc) {
    scope.Report(field, "CORS is not available to proxyless gRPC clients; ignored",
                 Severity::kWarning);
    return;
  }
  envoy::extensions::filters::http::cors::v3::CorsPolicy out;
  for (const auto& o : cors.allow_origins) {
    SetStringMatcher(o, false, out.add_allow_origin_string_match());
  }
  for (const auto& o : cors.allow_origin) out.add_allow_origin_string_match()->set_exact(o);
  if (!cors.allow_methods.empty()) out.set_allow_methods(absl::StrJoin(cors.allow_methods, ","));
  if (!cors.allow_headers.empty()) out.set_allow_headers(absl::StrJoin(cors.allow_headers, ","));
  if (!cors.expose_headers.empty()) out.set_expose_headers(absl::StrJoin(cors.expose_headers, ","));
  if (cors.max_age) out.set_max_age(absl::StrCat(absl::ToInt64Seconds(*cors.max_age)));
  if (cors.allow_credentials) out.mutable_allow_credentials()->set_value(*cors.allow_credentials);
  using U = api::CorsPolicy::UnmatchedPreflights;
  if (cors.unmatched_preflights != U::kUnspecified) {
    out.mutable_forward_not_matching_preflights()->set_value(cors.unmatched_preflights ==
                                                             U::kForward);
  }
  (*route->mutable_typed_per_filter_config())["envoy.filters.http.cors"].PackFrom(out);
}

void SetDefaultRetry(RouteAction* action) {
  auto* retry = action->mutable_retry_policy();
  retry->set_retry_on(kDefaultRetryOn);
  retry->mutable_num_retries()->set_value(2);
  retry->add_retriable_status_codes(503);
  auto* predicate = retry->add_retry_host_predicate();
  predicate->set_name("envoy.retry_host_predicates.previous_hosts");
  predicate->mutable_typed_config()->set_type_url(
      "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate");
  retry->set_host_selection_retry_max_attempts(5);
}

void ApplyRetries(const VsScope& scope, const std::optional<api::HTTPRetry>& retries,
                  const std::string& field, RouteAction* action) {
  if (!retries) {
    SetDefaultRetry(action);
    return;
  }
  if (retries->attempts <= 0) return;  // attempts: 0 disables retries
  SetDefaultRetry(action);
  auto* retry = action->mutable_retry_policy();
  retry->mutable_num_retries()->set_value(static_cast<uint32_t>(retries->attempts));
  if (retries->per_try_timeout)
    SetDuration(*retries->per_try_timeout, retry->mutable_per_try_timeout());
  if (!retries->retry_on.empty()) {
    retry->clear_retriable_status_codes();
    std::vector<std::string> conditions;
    for (absl::string_view part : absl::StrSplit(retries->retry_on, ',', absl::SkipWhitespace())) {
      part = absl::StripAsciiWhitespace(part);
      uint32_t code = 0;
      if (absl::SimpleAtoi(part, &code)) {
        retry->add_retriable_status_codes(code);
        if (std::find(conditions.begin(), conditions.end(), "retriable-status-codes") ==
            conditions.end()) {
          conditions.push_back("retriable-status-codes");
        }
      } else {
        conditions.emplace_back(part);
      }
    }
    retry->set_retry_on(absl::StrJoin(conditions, ","));
  }
  if (retries->retry_remote_localities.value_or(false)) {
    scope.Report(field + ".retryRemoteLocalities", "not supported; ignored", Severity::kWarning);
  }
}

void AddHashPolicy(const ServiceInfo* service, uint32_t port, const std::string& subset,
                   RouteAction* action) {
  if (service == nullptr || service->destination_rule == nullptr) return;
  EffectivePolicy policy =
      ResolvePolicy(&service->destination_rule->As<api::DestinationRule>(), port, subset);
  if (!policy.load_balancer || !policy.load_balancer->consistent_hash) return;
  const auto& ch = *policy.load_balancer->consistent_hash;
  auto* hp = action->add_hash_policy();
  if (!ch.http_header_name.empty()) {
    hp->mutable_header()->set_header_name(ch.http_header_name);
  } else if (ch.http_cookie) {
    auto* cookie = hp->mutable_cookie();
    cookie->set_name(ch.http_cookie->name);
    if (!ch.http_cookie->path.empty()) cookie->set_path(ch.http_cookie->path);
    if (ch.http_cookie->ttl) SetDuration(*ch.http_cookie->ttl, cookie->mutable_ttl());
  } else if (ch.use_source_ip) {
    hp->mutable_connection_properties()->set_source_ip(true);
  } else if (!ch.http_query_parameter_name.empty()) {
    hp->mutable_query_parameter()->set_name(ch.http_query_parameter_name);
  } else {
    action->clear_hash_policy();
  }
}

void ApplyMirrors(const VsScope& scope, const api::HTTPRoute& r, const std::string& field,
                  RouteAction* action) {
  auto add = [&](const api::Destination& d, std::optional<double> percent, const std::string& f) {
    auto cluster = DestinationCluster(scope, d, f);
    if (!cluster) return;
    auto* m = action->add_request_mirror_policies();
    m->set_cluster(*cluster);
    SetFraction(percent.value_or(100), m->mutable_runtime_fraction()->mutable_default_value());
  };
  if (r.mirror) {
    std::optional<double> percent;
    if (r.mirror_percentage)
      percent = r.mirror_percentage->value;
    else if (r.mirror_percent)
      percent = *r.mirror_percent;
    add(*r.mirror, percent, field + ".mirror");
  }
  for (size_t i = 0; i < r.mirrors.size(); ++i) {
    std::optional<double> percent;
    if (r.mirrors[i].percentage) percent = r.mirrors[i].percentage->value;
    add(r.mirrors[i].destination, percent, absl::StrCat(field, ".mirrors[", i, "].destination"));
  }
}

bool ApplyRedirect(const VsScope& scope, const api::HTTPRedirect& in, const std::string& field,
                   Route* route) {
  using envoy::config::route::v3::RedirectAction;
  auto* r = route->mutable_redirect();
  if (!in.uri.empty()) r->set_path_redirect(in.uri);
  if (!in.authority.empty()) r->set_host_redirect(in.authority);
  if (in.port) r->set_port_redirect(*in.port);
  if (in.derive_port != api::HTTPRedirect::DerivePort::kUnset) {
    scope.Report(field + ".derivePort", "not supported; ignored", Severity::kWarning);
  }
  if (!in.scheme.empty()) r->set_scheme_redirect(in.scheme);
  switch (in.redirect_code.value_or(301)) {
    case 301:
      r->set_response_code(RedirectAction::MOVED_PERMANENTLY);
      break;
    case 302:
      r->set_response_code(RedirectAction::FOUND);
      break;
    case 303:
      r->set_response_code(RedirectAction::SEE_OTHER);
      break;
    case 307:
      r->set_response_code(RedirectAction::TEMPORARY_REDIRECT);
      break;
    case 308:
      r->set_response_code(RedirectAction::PERMANENT_REDIRECT);
      break;
    default:
      scope.Report(field + ".redirectCode",
                   absl::StrCat("unsupported redirect code ", *in.redirect_code));
      return false;
  }
  return true;
}

// The action part of an Envoy route (everything but the match); false when
// the route cannot be built at all.
bool TranslateAction(const VsScope& scope, const api::HTTPRoute& r, const std::string& field,
                     Route* route) {
  const RouteContext& ctx = *scope.ctx;
  if (!r.name.empty()) route->set_name(r.name);
  if (r.headers) ApplyHeaders(*r.headers, route);
  if (r.fault) ApplyFault(scope, *r.fault, field + ".fault", route);
  if (r.cors_policy) ApplyCors(scope, *r.cors_policy, field + ".corsPolicy", route);

  if (r.redirect) return ApplyRedirect(scope, *r.redirect, field + ".redirect", route);
  if (r.direct_response) {
    auto* d = route->mutable_direct_response();
    d->set_status(r.direct_response->status);
    if (r.direct_response->body_string) {
      d->mutable_body()->set_inline_string(*r.direct_response->body_string);
    } else if (r.direct_response->body_bytes) {
      d->mutable_body()->set_inline_bytes(*r.direct_response->body_bytes);
    }
    if (ctx.grpc)
      scope.Report(field + ".directResponse",
                   "direct responses are not available to proxyless gRPC clients",
                   Severity::kWarning);
    return true;
  }
  if (r.route.empty()) {
    scope.Report(field, "route, redirect, directResponse or delegate is required");
    return false;
  }
  RouteAction* action = route->mutable_route();
  // Istio drops zero-weight destinations when others remain.
  std::vector<size_t> kept;
  int64_t total = 0;
  for (size_t i = 0; i < r.route.size(); ++i) {
    int32_t w = r.route[i].weight.value_or(0);
    if (w < 0) {
      scope.Report(absl::StrCat(field, ".route[", i, "].weight"), "negative weight");
      continue;
    }
    if (w == 0 && r.route.size() > 1) continue;
    kept.push_back(i);
    total += w;
  }
  if (kept.empty() && !r.route.empty()) {
    scope.Report(field + ".route", "all destinations have weight 0; weighing them equally");
    for (size_t i = 0; i < r.route.size(); ++i) kept.push_back(i);
  }
  const ServiceInfo* first_service = nullptr;
  uint32_t first_port = 0;
  std::string first_subset;
  if (kept.size() == 1) {
    const auto& d = r.route[kept[0]];
    std::string f = absl::StrCat(field, ".route[", kept[0], "].destination");
    auto cluster = DestinationCluster(scope, d.destination, f, &first_service, &first_port);
    if (!cluster) return false;
    action->set_cluster(*cluster);
    first_subset = d.destination.subset;
    if (d.headers) ApplyHeaders(*d.headers, route);
  } else {
    auto* wc = action->mutable_weighted_clusters();
    uint32_t sum = 0;
    for (size_t i : kept) {
      const auto& d = r.route[i];
      std::string f = absl::StrCat(field, ".route[", i, "].destination");
      const ServiceInfo* service = nullptr;
      uint32_t port = 0;
      auto cluster = DestinationCluster(scope, d.destination, f, &service, &port);
      if (!cluster) return false;
      if (first_service == nullptr && first_port == 0) {
        first_service = service;
        first_port = port;
        first_subset = d.destination.subset;
      }
      auto* cw = wc->add_clusters();
      cw->set_name(*cluster);
      uint32_t weight = total == 0 ? 1 : static_cast<uint32_t>(d.weight.value_or(0));
      cw->mutable_weight()->set_value(weight);
      sum += weight;
      if (d.headers) ApplyHeaders(*d.headers, cw);
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // Istio v1 semantics: weights are relative. total_weight is stated so that
    // clients checking it (older gRPC) see a consistent sum.
    wc->mutable_total_weight()->set_value(sum);
#pragma GCC diagnostic pop
  }
  AddHashPolicy(first_service, first_port, first_subset, action);
  if (r.rewrite) {
    if (!r.rewrite->uri.empty()) action->set_prefix_rewrite(r.rewrite->uri);
    if (r.rewrite->uri_regex_rewrite) {
      if (!r.rewrite->uri.empty()) {
        scope.Report(field + ".rewrite", "uri and uriRegexRewrite are exclusive; using uri");
      } else {
        auto* rr = action->mutable_regex_rewrite();
        rr->mutable_pattern()->set_regex(r.rewrite->uri_regex_rewrite->match);
        rr->set_substitution(r.rewrite->uri_regex_rewrite->rewrite);
      }
    }
    if (!r.rewrite->authority.empty()) action->set_host_rewrite_literal(r.rewrite->authority);
  }
  SetDuration(r.timeout.value_or(absl::ZeroDuration()), action->mutable_timeout());
  ApplyRetries(scope, r.retries, field + ".retries", action);
  ApplyMirrors(scope, r, field, action);
  return true;
}

// Merges a root match with a delegate match (Istio's delegate semantics: the
// delegate may only narrow the root). nullopt when they conflict.
std::optional<api::HTTPMatchRequest> MergeMatch(const api::HTTPMatchRequest& root,
                                                const api::HTTPMatchRequest& child) {
  api::HTTPMatchRequest out = child;
  if (root.uri) {
    if (!child.uri) {
      out.uri = root.uri;
    } else if (root.uri->type == api::StringMatch::Type::kPrefix) {
      if (child.uri->type == api::StringMatch::Type::kRegex ||
          child.uri->value.rfind(root.uri->value, 0) != 0) {
        return std::nullopt;
      }
    } else if (root.uri->type != child.uri->type || root.uri->value != child.uri->value) {
      return std::nullopt;
    }
  }
  auto merge_opt = [](const std::optional<api::StringMatch>& a,
                      std::optional<api::StringMatch>* b) {
    if (!a) return true;
    if (!*b) {
      *b = a;
      return true;
    }
    return a->type == (*b)->type && a->value == (*b)->value;
  };
  if (!merge_opt(root.scheme, &out.scheme) || !merge_opt(root.method, &out.method) ||
      !merge_opt(root.authority, &out.authority)) {
    return std::nullopt;
  }
  auto merge_map = [](const std::map<std::string, api::StringMatch>& a,
                      std::map<std::string, api::StringMatch>* b) {
    for (const auto& [k, v] : a) {
      auto [it, inserted] = b->emplace(k, v);
      if (!inserted && (it->second.type != v.type || it->second.value != v.value)) return false;
    }
    return true;
  };
  if (!merge_map(root.headers, &out.headers) || !merge_map(root.query_params, &out.query_params) ||
      !merge_map(root.without_headers, &out.without_headers)) {
    return std::nullopt;
  }
  if (root.port) {
    if (out.port && *out.port != *root.port) return std::nullopt;
    out.port = root.port;
  }
  for (const auto& [k, v] : root.source_labels) {
    auto [it, inserted] = out.source_labels.emplace(k, v);
    if (!inserted && it->second != v) return std::nullopt;
  }
  if (!root.gateways.empty() && out.gateways.empty()) out.gateways = root.gateways;
  if (!root.source_namespace.empty()) {
    if (!out.source_namespace.empty() && out.source_namespace != root.source_namespace) {
      return std::nullopt;
    }
    out.source_namespace = root.source_namespace;
  }
  out.ignore_uri_case = root.ignore_uri_case || child.ignore_uri_case;
  return out;
}

void AddHttpRoute(const VsScope& scope, const api::HTTPRoute& r, const std::string& field,
                  VirtualHost* vhost) {
  // Build the action once; copy it under every applicable match.
  std::vector<RouteMatch> matches;
  if (r.match.empty()) {
    RouteMatch all;
    all.set_prefix("/");
    matches.push_back(std::move(all));
  } else {
    for (size_t i = 0; i < r.match.size(); ++i) {
      auto m = TranslateMatch(scope, r.match[i], absl::StrCat(field, ".match[", i, "]"));
      if (m) matches.push_back(std::move(*m));
    }
  }
  if (matches.empty()) return;
  // The action is translated once, in place, and copied for further matches.
  const int first = vhost->routes_size();
  if (!TranslateAction(scope, r, field, vhost->add_routes())) {
    vhost->mutable_routes()->RemoveLast();
    return;
  }
  for (size_t i = 1; i < matches.size(); ++i) {
    Route* route = vhost->add_routes();
    *route = vhost->routes(first);
    *route->mutable_match() = std::move(matches[i]);
  }
  *vhost->mutable_routes(first)->mutable_match() = std::move(matches[0]);
}

void AddRoutesOf(const RouteContext& ctx, const api::Resource& vs, VirtualHost* vhost, int depth) {
  VsScope scope{&ctx, &vs, ctx.index->NamespaceOf(vs)};
  const auto& spec = vs.As<api::VirtualService>();
  for (size_t i = 0; i < spec.http.size(); ++i) {
    const auto& r = spec.http[i];
    std::string field = absl::StrCat("spec.http[", i, "]");
    if (!r.delegate) {
      AddHttpRoute(scope, r, field, vhost);
      continue;
    }
    std::string ns = r.delegate->namespace_.empty() ? scope.ns : r.delegate->namespace_;
    const api::Resource* child = ctx.index->FindVirtualService(ns, r.delegate->name);
    if (child == nullptr) {
      scope.Report(field + ".delegate",
                   "delegate VirtualService " + ns + "/" + r.delegate->name + " not found");
      continue;
    }
    if (depth > 0 || !child->As<api::VirtualService>().hosts.empty()) {
      scope.Report(field + ".delegate",
                   "a delegate must have no hosts and cannot delegate further");
      continue;
    }
    VsScope child_scope{&ctx, child, ctx.index->NamespaceOf(*child)};
    const auto& child_spec = child->As<api::VirtualService>();
    for (size_t j = 0; j < child_spec.http.size(); ++j) {
      api::HTTPRoute merged = child_spec.http[j];
      std::string child_field = absl::StrCat("spec.http[", j, "]");
      if (merged.delegate) {
        child_scope.Report(child_field + ".delegate", "a delegate cannot delegate further");
        continue;
      }
      if (!r.match.empty()) {
        std::vector<api::HTTPMatchRequest> matches;
        std::vector<api::HTTPMatchRequest> child_matches = merged.match;
        if (child_matches.empty()) child_matches.emplace_back();
        for (const auto& rm : r.match) {
          for (const auto& cm : child_matches) {
            auto m = MergeMatch(rm, cm);
            if (m) matches.push_back(std::move(*m));
          }
        }
        if (matches.empty()) {
          child_scope.Report(
              child_field + ".match",
              "conflicts with the matches of root " + vs.Key().ToString() + "; route skipped",
              Severity::kWarning);
          continue;
        }
        merged.match = std::move(matches);
      }
      AddHttpRoute(child_scope, merged, child_field, vhost);
    }
  }
}

void AddDefaultRoute(const RouteContext& ctx, const ServiceInfo& service, uint32_t port,
                     VirtualHost* vhost) {
  Route* route = vhost->add_routes();
  route->set_name("default");
  route->mutable_match()->set_prefix("/");
  auto* action = route->mutable_route();
  action->set_cluster(OutboundClusterName(port, "", service.hostname));
  SetDuration(absl::ZeroDuration(), action->mutable_timeout());
  SetDefaultRetry(action);
  AddHashPolicy(&service, port, "", action);
  (void)ctx;
}

}  // namespace

void AddVirtualServiceRoutes(const RouteContext& ctx, const api::Resource& vs, VirtualHost* vhost) {
  AddRoutesOf(ctx, vs, vhost, 0);
}

const api::Resource* MeshVirtualServiceFor(const RouteContext& ctx, const ServiceInfo& service) {
  return ctx.index->MeshVirtualService(service.hostname, ctx.proxy_namespace, ctx.sidecar,
                                       ctx.port);
}

void AddServiceRoutes(const RouteContext& ctx, const ServiceInfo& service, VirtualHost* vhost) {
  AddServiceRoutesOf(ctx, service, MeshVirtualServiceFor(ctx, service), vhost);
}

void AddServiceRoutesOf(const RouteContext& ctx, const ServiceInfo& service,
                        const api::Resource* vs, VirtualHost* vhost) {
  if (vs != nullptr) {
    AddVirtualServiceRoutes(ctx, *vs, vhost);
    // A VirtualService whose routes all skip this port leaves the default.
    if (vhost->routes_size() > 0) return;
  }
  AddDefaultRoute(ctx, service, ctx.port, vhost);
}

namespace {

void AddDomains(const std::vector<std::string>& candidates, absl::flat_hash_set<std::string>* used,
                VirtualHost* vhost) {
  for (const auto& d : candidates) {
    if (used->insert(d).second) vhost->add_domains(d);
  }
}

}  // namespace

void SidecarRouteConfig(const RouteContext& ctx, uint32_t port, RouteConfiguration* out) {
  RouteConfiguration& rc = *out;
  rc.set_name(absl::StrCat(port));
  rc.mutable_validate_clusters()->set_value(false);
  absl::flat_hash_set<std::string> used;
  used.reserve(ctx.index->services().size() * 6);
  std::string suffix = absl::StrCat(":", port);
  for (const auto& [host, service] : ctx.index->services()) {
    const ServicePortInfo* p = service.FindPort(port);
    if (p == nullptr || !IsHttp(p->protocol)) continue;
    if (!ctx.index->ServiceVisible(service, ctx.proxy_namespace, ctx.sidecar, port)) continue;
    // Built in place (on rc's arena), dropped again when it gets no domain.
    VirtualHost& vhost = *rc.add_virtual_hosts();
    vhost.set_name(absl::StrCat(host, suffix));
    std::vector<std::string> domains = {host, host + suffix};
    if (!service.from_service_entry) {
      if (service.namespace_ == ctx.proxy_namespace) {
        domains.push_back(service.name);
        domains.push_back(service.name + suffix);
      }
      std::string ns_form = service.name + "." + service.namespace_;
      domains.push_back(ns_form);
      domains.push_back(ns_form + suffix);
      domains.push_back(ns_form + ".svc");
      domains.push_back(ns_form + ".svc" + suffix);
    }
    AddDomains(domains, &used, &vhost);
    if (vhost.domains_size() == 0) {
      rc.mutable_virtual_hosts()->RemoveLast();
      continue;
    }
    const VirtualHost* cached = nullptr;
    // The cache holds the translation of the host's first VirtualService.
    if (ctx.cache != nullptr &&
        ctx.index->MeshVirtualService(host, ctx.proxy_namespace, ctx.sidecar, port) ==
            ctx.index->MeshVirtualService(host)) {
      auto it = ctx.cache->routes.find({host, port});
      if (it != ctx.cache->routes.end()) cached = it->second;
    }
    if (cached != nullptr) {
      *vhost.mutable_routes() = cached->routes();
    } else {
      AddServiceRoutes(ctx, service, &vhost);
    }
  }
  // Hosts of mesh VirtualServices that are no service: served on the ports
  // their destinations use.
  for (const auto& [host, vs] : ctx.index->extra_mesh_hosts()) {
    if (!ctx.index->ExportedTo(*vs, vs->As<api::VirtualService>().export_to, ctx.proxy_namespace)) {
      continue;
    }
    if (ctx.sidecar != nullptr && !ctx.sidecar->Imports(ctx.index->NamespaceOf(*vs), host, port)) {
      continue;
    }
    VirtualHost vhost;
    vhost.set_name(absl::StrCat(host, suffix));
    AddDomains({host, host + suffix}, &used, &vhost);
    if (vhost.domains_size() == 0) continue;
    std::vector<CompileDiagnostic> scratch;
    RouteContext probe = ctx;
    probe.diagnostics = &scratch;  // reported once, by the port that serves the host
    AddVirtualServiceRoutes(probe, *vs, &vhost);
    bool serves_port = false;
    for (const auto& r : vhost.routes()) {
      if (r.has_route() && r.route().has_cluster() &&
          absl::StrContains(r.route().cluster(), absl::StrCat("outbound|", port, "|"))) {
        serves_port = true;
      }
      if (r.has_route() && r.route().has_weighted_clusters()) {
        for (const auto& c : r.route().weighted_clusters().clusters()) {
          if (absl::StartsWith(c.name(), absl::StrCat("outbound|", port, "|"))) serves_port = true;
        }
      }
    }
    if (!serves_port) continue;
    ctx.diagnostics->insert(ctx.diagnostics->end(), scratch.begin(), scratch.end());
    *rc.add_virtual_hosts() = std::move(vhost);
  }
  if (ctx.grpc) return;
  // Hosts the mesh does not know: a "*" virtual host whose one route passes
  // them through (ALLOW_ANY) or answers 502 (REGISTRY_ONLY), as in Istio.
  const bool registry_only = ctx.sidecar != nullptr && ctx.sidecar->registry_only();
  const char* name = registry_only ? "block_all" : "allow_any";
  VirtualHost* unknown = rc.add_virtual_hosts();
  unknown->set_name(name);
  unknown->add_domains("*");
  Route* route = unknown->add_routes();
  route->set_name(name);
  route->mutable_match()->set_prefix("/");
  if (registry_only) {
    route->mutable_direct_response()->set_status(502);
  } else {
    route->mutable_route()->set_cluster("PassthroughCluster");
    SetDuration(absl::ZeroDuration(), route->mutable_route()->mutable_timeout());
  }
}

void AddTcpProxyFilter(absl::string_view stat_prefix,
                       const std::vector<std::pair<std::string, uint32_t>>& clusters,
                       envoy::config::listener::v3::FilterChain* chain) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  tcp.set_stat_prefix(std::string(stat_prefix));
  if (clusters.size() == 1) {
    tcp.set_cluster(clusters[0].first);
  } else {
    for (const auto& [name, weight] : clusters) {
      auto* c = tcp.mutable_weighted_clusters()->add_clusters();
      c->set_name(name);
      c->set_weight(weight);
    }
  }
  auto* f = chain->add_filters();
  f->set_name("envoy.filters.network.tcp_proxy");
  f->mutable_typed_config()->PackFrom(tcp);
}

namespace {

// Does an L4 (TCP or TLS) match apply to this proxy, port and gateway?
template <typename Match>
bool L4MatchApplies(const VsScope& scope, const Match& m) {
  const RouteContext& ctx = *scope.ctx;
  if (m.port && *m.port != ctx.port) return false;
  if (!m.gateways.empty()) {
    bool any = false;
    for (const auto& g : m.gateways) {
      if (ctx.gateway_keys.count(MeshIndex::GatewayKey(g, scope.ns)) > 0) any = true;
    }
    if (!any) return false;
  }
  if (!m.source_labels.empty() &&
      (ctx.proxy_labels == nullptr || !LabelsMatch(m.source_labels, *ctx.proxy_labels))) {
    return false;
  }
  if (!m.source_namespace.empty() && m.source_namespace != ctx.proxy_namespace) return false;
  return true;
}

// Clusters and weights of an L4 route (zero weights dropped when others
// remain, as for HTTP); empty when a destination cannot be resolved.
std::vector<std::pair<std::string, uint32_t>> L4Destinations(
    const VsScope& scope, const std::vector<api::RouteDestination>& route,
    const std::string& field) {
  std::vector<std::pair<std::string, uint32_t>> out;
  if (route.empty()) {
    scope.Report(field + ".route", "a TCP or TLS route needs a destination");
    return out;
  }
  bool all_zero = true;
  for (const auto& d : route) all_zero = all_zero && d.weight.value_or(0) == 0;
  for (size_t i = 0; i < route.size(); ++i) {
    int32_t weight = route[i].weight.value_or(0);
    if (weight < 0) {
      scope.Report(absl::StrCat(field, ".route[", i, "].weight"), "negative weight");
      return {};
    }
    if (weight == 0 && route.size() > 1 && !all_zero) continue;
    auto cluster = DestinationCluster(scope, route[i].destination,
                                      absl::StrCat(field, ".route[", i, "].destination"));
    if (!cluster) return {};
    out.emplace_back(*cluster, all_zero ? 1u : static_cast<uint32_t>(std::max(weight, 1)));
  }
  return out;
}

std::string ChainName(const VsScope& scope, const std::string& field) {
  return absl::StrCat(scope.ns, "/", scope.vs->metadata.name, ".", field);
}

}  // namespace

bool AddTcpRouteChains(const RouteContext& ctx, const api::Resource& vs, Listener* listener,
                       std::set<std::string>* used) {
  VsScope scope{&ctx, &vs, ctx.index->NamespaceOf(vs)};
  const auto& spec = vs.As<api::VirtualService>();
  for (size_t i = 0; i < spec.tcp.size(); ++i) {
    const auto& r = spec.tcp[i];
    std::string field = absl::StrCat("spec.tcp[", i, "]");
    // Applicable matches; one without subnets (or no match at all) takes
    // every connection the listener gets.
    std::set<std::string> subnets;
    bool catch_all = r.match.empty();
    for (size_t j = 0; j < r.match.size(); ++j) {
      const auto& m = r.match[j];
      if (!L4MatchApplies(scope, m)) continue;
      if (!m.source_subnet.empty()) {
        scope.Report(absl::StrCat(field, ".match[", j, "].sourceSubnet"),
                     "not supported; match ignored", Severity::kWarning);
        continue;
      }
      if (m.destination_subnets.empty()) catch_all = true;
      subnets.insert(m.destination_subnets.begin(), m.destination_subnets.end());
    }
    if (!catch_all && subnets.empty()) continue;
    std::string key = catch_all ? "*" : absl::StrJoin(subnets, ",");
    if (!used->insert(key).second) {
      scope.Report(field, "shadowed by an earlier route with the same match; ignored",
                   Severity::kWarning);
      continue;
    }
    auto clusters = L4Destinations(scope, r.route, field);
    if (clusters.empty()) continue;
    auto* chain = listener->add_filter_chains();
    chain->set_name(ChainName(scope, field));
    if (!catch_all) {
      for (const auto& subnet : subnets) {
        std::vector<absl::string_view> parts = absl::StrSplit(subnet, '/');
        uint32_t length = 0;
        if (parts.size() > 2 || (parts.size() == 2 && !absl::SimpleAtoi(parts[1], &length))) {
          scope.Report(field + ".match",
                       "destination subnet " + subnet + " is not an address/length");
          continue;
        }
        auto* range = chain->mutable_filter_chain_match()->add_prefix_ranges();
        range->set_address_prefix(std::string(parts[0]));
        range->mutable_prefix_len()->set_value(
            parts.size() == 2 ? length : (absl::StrContains(parts[0], ':') ? 128 : 32));
      }
    }
    AddTcpProxyFilter(chain->name(), clusters, chain);
    if (!catch_all) continue;
    for (size_t k = i + 1; k < spec.tcp.size(); ++k) {
      scope.Report(
          absl::StrCat("spec.tcp[", k, "]"),
          "shadowed by an earlier route matching every connection (" + field + "); ignored",
          Severity::kWarning);
    }
    return true;
  }
  return false;
}

void AddTlsRouteChains(const RouteContext& ctx, const api::Resource& vs,
                       const std::vector<std::string>& server_hosts, Listener* listener,
                       std::set<std::string>* used) {
  VsScope scope{&ctx, &vs, ctx.index->NamespaceOf(vs)};
  const auto& spec = vs.As<api::VirtualService>();
  for (size_t i = 0; i < spec.tls.size(); ++i) {
    const auto& r = spec.tls[i];
    std::string field = absl::StrCat("spec.tls[", i, "]");
    std::set<std::string> sni;
    for (size_t j = 0; j < r.match.size(); ++j) {
      const auto& m = r.match[j];
      if (!L4MatchApplies(scope, m)) continue;
      if (!m.destination_subnets.empty()) {
        scope.Report(absl::StrCat(field, ".match[", j, "].destinationSubnets"),
                     "not supported for TLS routes; ignored", Severity::kWarning);
      }
      for (const auto& host : m.sni_hosts) {
        bool served = server_hosts.empty();
        for (const auto& server_host : server_hosts) {
          if (HostMatches(server_host, host)) served = true;
        }
        if (served) sni.insert(host);
      }
    }
    // Istio: an SNI host belongs to the first route naming it.
    for (auto it = sni.begin(); it != sni.end();) {
      if (used->count(*it) > 0) {
        scope.Report(field + ".match", "SNI host " + *it + " is already routed; ignored here",
                     Severity::kWarning);
        it = sni.erase(it);
      } else {
        ++it;
      }
    }
    if (sni.empty()) continue;
    auto clusters = L4Destinations(scope, r.route, field);
    if (clusters.empty()) continue;
    used->insert(sni.begin(), sni.end());
    auto* chain = listener->add_filter_chains();
    chain->set_name(ChainName(scope, field));
    for (const auto& host : sni) chain->mutable_filter_chain_match()->add_server_names(host);
    AddTcpProxyFilter(chain->name(), clusters, chain);
  }
}

}  // namespace meshgate::compiler
