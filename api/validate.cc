// Semantic checks of decoded objects. The rules follow Istio's
// pkg/config/validation for the networking kinds; messages name the field
// path, and Decode() maps the path back to a line.
#include "api/validate.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace meshgate::api {
namespace {

using Severity = Diagnostic::Severity;

class Checker {
 public:
  explicit Checker(const Resource& resource) : resource_(resource) {}

  void Error(const std::string& path, std::string message) {
    Add(Severity::kError, path, std::move(message));
  }
  void Warning(const std::string& path, std::string message) {
    Add(Severity::kWarning, path, std::move(message));
  }
  Diagnostics Take() { return std::move(diagnostics_); }

 private:
  void Add(Severity severity, const std::string& path, std::string message) {
    Diagnostic d;
    d.severity = severity;
    d.location = resource_.source;
    d.object = resource_.Key().ToString();
    d.field_path = path;
    d.message = std::move(message);
    diagnostics_.push_back(std::move(d));
  }

  const Resource& resource_;
  Diagnostics diagnostics_;
};

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// ---------------------------------------------------------------------------
// Names and addresses

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// RFC 1123 label; Istio's check accepts upper case as well.
bool IsDNS1123Label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (!IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
  return std::all_of(label.begin(), label.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

// Subset names and Kubernetes namespace names: lower-case labels.
bool IsLowerDNSLabel(std::string_view label) {
  return IsDNS1123Label(label) && std::none_of(label.begin(), label.end(), [](char c) {
           return std::isupper(static_cast<unsigned char>(c));
         });
}

bool IsIP(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

bool IsCIDR(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return IsIP(text);
  const std::string ip = text.substr(0, slash);
  const std::string bits = text.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  if (ec != std::errc() || end != bits.data() + bits.size() || bits.empty()) return false;
  const bool v6 = ip.find(':') != std::string::npos;
  return IsIP(ip) && prefix >= 0 && prefix <= (v6 ? 128 : 32);
}

// Dot-separated labels; a trailing dot is allowed; the top-level label may
// not be all digits.
std::string CheckDNSLabels(const std::string& domain) {
  std::vector<std::string_view> labels = Split(domain, '.');
  if (labels.size() > 1 && labels.back().empty()) labels.pop_back();
  for (std::string_view label : labels) {
    if (!IsDNS1123Label(label)) {
      return "domain name \"" + domain + "\" invalid (label \"" + std::string(label) +
             "\" invalid)";
    }
  }
  const std::string_view top = labels.back();
  if (std::all_of(top.begin(), top.end(), [](char c) { return std::isdigit(c) != 0; })) {
    return "domain name \"" + domain + "\" invalid (top level domain \"" + std::string(top) +
           "\" cannot be all-numeric)";
  }
  return "";
}

// Istio's ValidateWildcardDomain: a wildcard only as the first label
// ("*", "*.example.com", "*-suffix.example.com").
std::string CheckWildcardDomain(const std::string& domain) {
  if (domain.empty()) return "domain name must not be empty";
  if (domain.size() > 255) return "domain name \"" + domain.substr(0, 32) + "...\" too long";
  const size_t dot = domain.find('.');
  const std::string first = domain.substr(0, dot);
  const bool first_ok =
      first == "*" || IsDNS1123Label(first) ||
      (first.size() > 1 && first[0] == '*' &&
       (IsDNS1123Label(first.substr(1)) || (first[1] == '-' && IsDNS1123Label(first.substr(2)))));
  if (!first_ok) {
    return "domain name \"" + domain + "\" invalid (label \"" + first + "\" invalid)";
  }
  if (dot == std::string::npos) return "";
  std::string rest = domain.substr(dot + 1);
  if (rest.empty()) return "";
  return CheckDNSLabels(rest);
}

std::string CheckFQDN(const std::string& domain) {
  if (domain.empty()) return "domain name must not be empty";
  if (domain.size() > 255) return "domain name too long";
  return CheckDNSLabels(domain);
}

void CheckPort(Checker& c, const std::string& path, uint32_t port) {
  if (port < 1 || port > 65535) {
    c.Error(path, "port number " + std::to_string(port) + " must be in the range 1..65535");
  }
}

void CheckPercent(Checker& c, const std::string& path, double value) {
  if (value < 0 || value > 100) {
    c.Error(path, "percentage " + std::to_string(value) + " must be in the range 0..100");
  }
}

void CheckDuration(Checker& c, const std::string& path, const std::optional<absl::Duration>& d) {
  if (!d) return;
  if (*d < absl::Milliseconds(1)) {
    c.Error(path, "duration " + absl::FormatDuration(*d) + " must be at least 1ms");
  } else if (*d % absl::Milliseconds(1) != absl::ZeroDuration()) {
    c.Error(path, "only durations to ms precision are supported, got " + absl::FormatDuration(*d));
  }
}

void CheckRegex(Checker& c, const std::string& path, const std::string& pattern) {
  if (pattern.empty()) {
    c.Error(path, "regex must not be empty");
    return;
  }
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) c.Error(path, "invalid regex \"" + pattern + "\": " + re.error());
}

void CheckStringMatch(Checker& c, const std::string& path, const StringMatch& m) {
  if (m.type == StringMatch::Type::kRegex) CheckRegex(c, path + ".regex", m.value);
}

bool IsTokenChar(char c) {
  return IsAlnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsHeaderName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsTokenChar);
}

// Header match names: lower-case HTTP header names (HTTP/2 forbids upper case
// on the wire), or a JWT claim route "@request.auth.claims.<name>".
void CheckMatchHeaderName(Checker& c, const std::string& path, const std::string& name) {
  if (name.rfind("@request.auth.claims.", 0) == 0) {
    if (name.size() == std::string_view("@request.auth.claims.").size()) {
      c.Error(path, "JWT claim name must not be empty");
    }
    return;
  }
  if (!IsHeaderName(name)) {
    c.Error(path, "\"" + name + "\" is not a valid HTTP header name");
  } else if (std::any_of(name.begin(), name.end(),
                         [](char ch) { return std::isupper(static_cast<unsigned char>(ch)); })) {
    c.Error(path, "header name \"" + name + "\" must be lower case");
  }
}

void CheckHeaderOperations(Checker& c, const std::string& path, const HeaderOperations& ops) {
  auto check = [&](const std::string& p, const std::string& name) {
    if (name.empty()) {
      c.Error(p, "header name must not be empty");
    } else if (name[0] == ':' || !IsHeaderName(name)) {
      c.Error(p, "\"" + name + "\" is not a valid header name to modify");
    }
  };
  for (const auto& [name, value] : ops.set) check(path + ".set[" + name + "]", name);
  for (const auto& [name, value] : ops.add) check(path + ".add[" + name + "]", name);
  for (size_t i = 0; i < ops.remove.size(); ++i) check(Index(path + ".remove", i), ops.remove[i]);
}

void CheckHeaders(Checker& c, const std::string& path, const std::optional<Headers>& headers) {
  if (!headers) return;
  if (headers->request) CheckHeaderOperations(c, path + ".request", *headers->request);
  if (headers->response) CheckHeaderOperations(c, path + ".response", *headers->response);
}

// "mesh", "name", "namespace/name" (Istio's ValidateGatewayNames).
void CheckGatewayNames(Checker& c, const std::string& path, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::string p = Index(path, i);
    const size_t slash = name.find('/');
    if (slash == std::string::npos) {
      if (const std::string err = CheckFQDN(name); !err.empty()) {
        c.Error(p, "invalid gateway name \"" + name + "\": " + err);
      }
      continue;
    }
    const std::string ns = name.substr(0, slash);
    const std::string gw = name.substr(slash + 1);
    if (ns.empty() || gw.empty()) {
      c.Error(p, "gateway \"" + name + "\": namespace and name must not be empty");
    } else if (!IsLowerDNSLabel(ns)) {
      c.Error(p, "gateway \"" + name + "\": invalid namespace \"" + ns + "\"");
    } else if (!IsDNS1123Label(gw) && CheckFQDN(gw) != "") {
      c.Error(p, "gateway \"" + name + "\": invalid gateway name \"" + gw + "\"");
    }
  }
}

void CheckExportTo(Checker& c, const std::string& path, const std::vector<std::string>& export_to) {
  std::set<std::string> seen;
  for (size_t i = 0; i < export_to.size(); ++i) {
    const std::string& ns = export_to[i];
    const std::string p = Index(path, i);
    if (!seen.insert(ns).second) {
      c.Error(p, "duplicate exportTo entry \"" + ns + "\"");
    } else if (ns != "." && ns != "*" && ns != "~" && !IsLowerDNSLabel(ns)) {
      c.Error(p, "exportTo entry \"" + ns + "\" is not \".\", \"*\", \"~\" or a namespace name");
    }
  }
  if (export_to.size() > 1 && (seen.count("*") || seen.count("~"))) {
    c.Error(path, "\"*\" and \"~\" must be the only exportTo entry");
  }
}

void CheckLabels(Checker& c, const std::string& path, const Labels& labels) {
  for (const auto& [key, value] : labels) {
    // Key: optional DNS prefix "/" then a name of [A-Za-z0-9._-], <= 63.
    const size_t slash = key.rfind('/');
    const std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
    const bool name_ok = !name.empty() && name.size() <= 63 && IsAlnum(name.front()) &&
                         IsAlnum(name.back()) && std::all_of(name.begin(), name.end(), [](char ch) {
                           return IsAlnum(ch) || ch == '-' || ch == '_' || ch == '.';
                         });
    const bool prefix_ok = slash == std::string::npos || CheckFQDN(key.substr(0, slash)).empty();
    if (!name_ok || !prefix_ok)
      c.Error(path + "[" + key + "]", "invalid label key \"" + key + "\"");
    const bool value_ok =
        value.empty() || (value.size() <= 63 && IsAlnum(value.front()) && IsAlnum(value.back()) &&
                          std::all_of(value.begin(), value.end(), [](char ch) {
                            return IsAlnum(ch) || ch == '-' || ch == '_' || ch == '.';
                          }));
    if (!value_ok) c.Error(path + "[" + key + "]", "invalid label value \"" + value + "\"");
  }
}

// ---------------------------------------------------------------------------
// VirtualService

void CheckDestination(Checker& c, const std::string& path, const Destination& d) {
  if (d.host.empty()) {
    c.Error(path + ".host", "destination host is required");
  } else if (d.host == "*") {
    c.Error(path + ".host", "invalid destination host \"*\"");
  } else if (const std::string err = CheckWildcardDomain(d.host); !err.empty() && !IsIP(d.host)) {
    c.Error(path + ".host", err);
  }
  if (!d.subset.empty() && !IsLowerDNSLabel(d.subset)) {
    c.Error(path + ".subset", "subset name \"" + d.subset + "\" is not a valid DNS-1123 label");
  }
  if (d.port) CheckPort(c, path + ".port.number", d.port->number);
}

template <typename RouteDestinationT>
void CheckWeights(Checker& c, const std::string& path,
                  const std::vector<RouteDestinationT>& destinations) {
  int64_t total = 0;
  for (size_t i = 0; i < destinations.size(); ++i) {
    const auto& dest = destinations[i];
    const std::string p = Index(path, i);
    CheckDestination(c, p + ".destination", dest.destination);
    const int32_t weight = dest.weight.value_or(0);
    if (weight < 0)
      c.Error(p + ".weight", "weight " + std::to_string(weight) + " must not be negative");
    total += weight;
  }
  if (destinations.size() > 1 && total == 0) {
    c.Error(path, "total destination weight is 0; at least one destination needs a weight");
  }
}

constexpr std::string_view kRetryOn[] = {"5xx",
                                         "gateway-error",
                                         "reset",
                                         "reset-before-request",
                                         "connect-failure",
                                         "envoy-ratelimited",
                                         "retriable-4xx",
                                         "refused-stream",
                                         "retriable-status-codes",
                                         "retriable-headers",
                                         "http3-post-connect-failure",
                                         "cancelled",
                                         "deadline-exceeded",
                                         "internal",
                                         "resource-exhausted",
                                         "unavailable"};

void CheckRetries(Checker& c, const std::string& path, const HTTPRetry& retries) {
  if (retries.attempts < 0) c.Error(path + ".attempts", "attempts must not be negative");
  CheckDuration(c, path + ".perTryTimeout", retries.per_try_timeout);
  if (retries.attempts == 0 && (retries.per_try_timeout || !retries.retry_on.empty())) {
    c.Warning(path, "retry policy is configured but attempts is 0 (retries disabled)");
  }
  if (retries.retry_on.empty()) return;
  for (std::string_view raw : Split(retries.retry_on, ',')) {
    std::string_view policy = raw;
    while (!policy.empty() && policy.front() == ' ') policy.remove_prefix(1);
    while (!policy.empty() && policy.back() == ' ') policy.remove_suffix(1);
    if (std::find(std::begin(kRetryOn), std::end(kRetryOn), policy) != std::end(kRetryOn)) {
      continue;
    }
    int status = 0;
    auto [end, ec] = std::from_chars(policy.data(), policy.data() + policy.size(), status);
    if (!policy.empty() && ec == std::errc() && end == policy.data() + policy.size()) {
      if (status < 100 || status > 599) {
        c.Error(path + ".retryOn",
                "retryOn status code " + std::string(policy) + " must be in the range 100..599");
      }
      continue;
    }
    c.Error(path + ".retryOn", "unknown retryOn condition \"" + std::string(policy) + "\"");
  }
}

constexpr std::string_view kGrpcStatus[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

void CheckFault(Checker& c, const std::string& path, const HTTPFaultInjection& fault) {
  if (!fault.delay && !fault.abort) {
    c.Error(path, "fault injection needs an abort and/or a delay");
  }
  if (fault.delay) {
    const std::string p = path + ".delay";
    const auto& delay = *fault.delay;
    if (delay.percentage) CheckPercent(c, p + ".percentage.value", delay.percentage->value);
    if (delay.percent) CheckPercent(c, p + ".percent", *delay.percent);
    if (delay.exponential_delay) {
      c.Error(p + ".exponentialDelay", "exponentialDelay is not supported");
    } else if (!delay.fixed_delay) {
      c.Error(p + ".fixedDelay", "a delay needs fixedDelay");
    }
    CheckDuration(c, p + ".fixedDelay", delay.fixed_delay);
  }
  if (fault.abort) {
    const std::string p = path + ".abort";
    const auto& abort = *fault.abort;
    if (abort.percentage) CheckPercent(c, p + ".percentage.value", abort.percentage->value);
    if (abort.http_status && !abort.grpc_status.empty()) {
      c.Error(p, "only one of httpStatus and grpcStatus may be set");
    } else if (abort.http_status) {
      if (*abort.http_status < 200 || *abort.http_status > 599) {
        c.Error(p + ".httpStatus", "abort httpStatus " + std::to_string(*abort.http_status) +
                                       " must be in the range 200..599");
      }
    } else if (!abort.grpc_status.empty()) {
      if (std::find(std::begin(kGrpcStatus), std::end(kGrpcStatus), abort.grpc_status) ==
          std::end(kGrpcStatus)) {
        c.Error(p + ".grpcStatus", "unknown gRPC status \"" + abort.grpc_status + "\"");
      }
    } else {
      c.Error(p, "an abort needs httpStatus or grpcStatus");
    }
  }
}

constexpr std::string_view kHttpMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                             "CONNECT", "OPTIONS", "TRACE", "PATCH"};

void CheckCors(Checker& c, const std::string& path, const CorsPolicy& cors) {
  for (size_t i = 0; i < cors.allow_origins.size(); ++i) {
    CheckStringMatch(c, Index(path + ".allowOrigins", i), cors.allow_origins[i]);
  }
  for (size_t i = 0; i < cors.allow_methods.size(); ++i) {
    if (std::find(std::begin(kHttpMethods), std::end(kHttpMethods), cors.allow_methods[i]) ==
        std::end(kHttpMethods)) {
      c.Error(Index(path + ".allowMethods", i),
              "\"" + cors.allow_methods[i] + "\" is not a valid HTTP method");
    }
  }
  auto names = [&](const std::string& p, const std::vector<std::string>& headers) {
    for (size_t i = 0; i < headers.size(); ++i) {
      if (!IsHeaderName(headers[i])) {
        c.Error(Index(p, i), "\"" + headers[i] + "\" is not a valid header name");
      }
    }
  };
  names(path + ".allowHeaders", cors.allow_headers);
  names(path + ".exposeHeaders", cors.expose_headers);
  CheckDuration(c, path + ".maxAge", cors.max_age);
  if (cors.max_age && *cors.max_age >= absl::Milliseconds(1) &&
      *cors.max_age % absl::Seconds(1) != absl::ZeroDuration()) {
    c.Error(path + ".maxAge", "maxAge is accurate only to seconds");
  }
}

void CheckMatch(Checker& c, const std::string& path, const HTTPMatchRequest& m) {
  if (m.uri) CheckStringMatch(c, path + ".uri", *m.uri);
  if (m.scheme) CheckStringMatch(c, path + ".scheme", *m.scheme);
  if (m.method) CheckStringMatch(c, path + ".method", *m.method);
  if (m.authority) CheckStringMatch(c, path + ".authority", *m.authority);
  for (const auto* headers : {&m.headers, &m.without_headers}) {
    const std::string field = headers == &m.headers ? ".headers" : ".withoutHeaders";
    for (const auto& [name, match] : *headers) {
      const std::string p = path + field + "[" + name + "]";
      CheckMatchHeaderName(c, p, name);
      CheckStringMatch(c, p, match);
    }
  }
  for (const auto& [name, match] : m.query_params) {
    const std::string p = path + ".queryParams[" + name + "]";
    if (name.empty()) c.Error(p, "query parameter name must not be empty");
    CheckStringMatch(c, p, match);
  }
  if (m.port) CheckPort(c, path + ".port", *m.port);
  CheckLabels(c, path + ".sourceLabels", m.source_labels);
  CheckGatewayNames(c, path + ".gateways", m.gateways);
}

void CheckHTTPRoute(Checker& c, const std::string& path, const HTTPRoute& route, bool in_delegate) {
  for (size_t i = 0; i < route.match.size(); ++i)
    CheckMatch(c, Index(path + ".match", i), route.match[i]);

  if (route.delegate) {
    if (in_delegate) c.Error(path + ".delegate", "a delegate VirtualService cannot delegate again");
    if (!route.route.empty() || route.redirect || route.direct_response) {
      c.Error(path + ".delegate",
              "a route with delegate cannot also have route, redirect or directResponse");
    }
    if (route.delegate->name.empty()) {
      c.Error(path + ".delegate.name", "delegate name is required");
    } else if (!IsLowerDNSLabel(route.delegate->name) && !CheckFQDN(route.delegate->name).empty()) {
      c.Error(path + ".delegate.name", "invalid delegate name \"" + route.delegate->name + "\"");
    }
    if (!route.delegate->namespace_.empty() && !IsLowerDNSLabel(route.delegate->namespace_)) {
      c.Error(path + ".delegate.namespace",
              "invalid delegate namespace \"" + route.delegate->namespace_ + "\"");
    }
  } else {
    if (route.redirect) {
      if (!route.route.empty())
        c.Error(path + ".redirect", "a route cannot have both route and redirect");
      if (route.direct_response) {
        c.Error(path + ".redirect", "a route cannot have both redirect and directResponse");
      }
      if (route.fault) c.Error(path + ".redirect", "a route cannot have both fault and redirect");
      if (route.rewrite)
        c.Error(path + ".rewrite", "a route cannot have both rewrite and redirect");
    }
    if (route.direct_response) {
      if (!route.route.empty()) {
        c.Error(path + ".directResponse", "a route cannot have both route and directResponse");
      }
      if (route.fault)
        c.Error(path + ".directResponse", "a route cannot have both fault and directResponse");
      if (route.rewrite) {
        c.Error(path + ".rewrite", "a route cannot have both rewrite and directResponse");
      }
    }
    if (route.route.empty() && !route.redirect && !route.direct_response) {
      c.Error(path, "a route needs one of route, redirect, directResponse or delegate");
    }
  }

  CheckWeights(c, path + ".route", route.route);
  for (size_t i = 0; i < route.route.size(); ++i) {
    CheckHeaders(c, Index(path + ".route", i) + ".headers", route.route[i].headers);
  }
  CheckHeaders(c, path + ".headers", route.headers);

  if (route.redirect) {
    const auto& r = *route.redirect;
    const std::string p = path + ".redirect";
    if (r.uri.empty() && r.authority.empty() && !r.port &&
        r.derive_port == HTTPRedirect::DerivePort::kUnset && r.scheme.empty()) {
      c.Error(p, "redirect needs at least one of uri, authority, port, derivePort, scheme");
    }
    if (r.port) CheckPort(c, p + ".port", *r.port);
    if (r.redirect_code && (*r.redirect_code < 300 || *r.redirect_code > 399)) {
      c.Error(p + ".redirectCode", "redirect code " + std::to_string(*r.redirect_code) +
                                       " must be in the range 300..399");
    }
  }
  if (route.direct_response) {
    const auto& d = *route.direct_response;
    if (d.status < 200 || d.status > 599) {
      c.Error(path + ".directResponse.status", "directResponse status " + std::to_string(d.status) +
                                                   " must be in the range 200..599");
    }
  }
  if (route.rewrite) {
    const auto& r = *route.rewrite;
    const std::string p = path + ".rewrite";
    if (!r.uri.empty() && r.uri_regex_rewrite) {
      c.Error(p, "rewrite may have only one of uri and uriRegexRewrite");
    }
    if (r.uri.empty() && r.authority.empty() && !r.uri_regex_rewrite) {
      c.Error(p, "rewrite needs uri, uriRegexRewrite or authority");
    }
    if (r.uri_regex_rewrite) {
      if (r.uri_regex_rewrite->match.empty() || r.uri_regex_rewrite->rewrite.empty()) {
        c.Error(p + ".uriRegexRewrite", "uriRegexRewrite needs both match and rewrite");
      }
      if (!r.uri_regex_rewrite->match.empty()) {
        CheckRegex(c, p + ".uriRegexRewrite.match", r.uri_regex_rewrite->match);
      }
    }
  }
  CheckDuration(c, path + ".timeout", route.timeout);
  if (route.retries) CheckRetries(c, path + ".retries", *route.retries);
  if (route.fault) CheckFault(c, path + ".fault", *route.fault);
  if (route.mirror && !route.mirrors.empty()) {
    c.Error(path + ".mirrors", "a route cannot have both mirror and mirrors");
  }
  if (route.mirror) CheckDestination(c, path + ".mirror", *route.mirror);
  if (route.mirror_percentage) {
    CheckPercent(c, path + ".mirrorPercentage.value", route.mirror_percentage->value);
  }
  if (route.mirror_percent) CheckPercent(c, path + ".mirrorPercent", *route.mirror_percent);
  for (size_t i = 0; i < route.mirrors.size(); ++i) {
    const std::string p = Index(path + ".mirrors", i);
    CheckDestination(c, p + ".destination", route.mirrors[i].destination);
    if (route.mirrors[i].percentage) {
      CheckPercent(c, p + ".percentage.value", route.mirrors[i].percentage->value);
    }
  }
  if (route.cors_policy) CheckCors(c, path + ".corsPolicy", *route.cors_policy);
}

void CheckSubnets(Checker& c, const std::string& path, const std::vector<std::string>& subnets) {
  for (size_t i = 0; i < subnets.size(); ++i) {
    if (!IsCIDR(subnets[i])) {
      c.Error(Index(path, i), "\"" + subnets[i] + "\" is not a valid IP address or CIDR");
    }
  }
}

void CheckVirtualService(Checker& c, const VirtualService& vs) {
  const bool delegate = vs.hosts.empty();
  if (delegate && !vs.gateways.empty()) {
    c.Error("spec.hosts",
            "a VirtualService needs at least one host (only a delegate, which has no gateways, "
            "has none)");
  }
  const bool applies_to_mesh =
      vs.gateways.empty() ||
      std::find(vs.gateways.begin(), vs.gateways.end(), "mesh") != vs.gateways.end();
  std::set<std::string> hosts;
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    const std::string& host = vs.hosts[i];
    const std::string p = Index("spec.hosts", i);
    if (!hosts.insert(host).second) c.Error(p, "duplicate host \"" + host + "\"");
    const size_t slash = host.find('/');
    if (slash != std::string::npos) {
      c.Error(p, "host \"" + host + "\" must not contain a namespace");
    } else if (const std::string err = CheckWildcardDomain(host); !err.empty()) {
      if (!IsIP(host)) c.Error(p, err);
    } else if (applies_to_mesh && host == "*") {
      c.Error(p,
              "wildcard host \"*\" is not allowed for VirtualServices bound to the mesh gateway");
    }
  }
  CheckGatewayNames(c, "spec.gateways", vs.gateways);
  if (vs.http.empty() && vs.tcp.empty() && vs.tls.empty()) {
    c.Error("spec", "a VirtualService needs http, tcp or tls routes");
  }
  if (delegate && (!vs.tcp.empty() || !vs.tls.empty())) {
    c.Error("spec", "a delegate VirtualService may only have http routes");
  }
  for (size_t i = 0; i < vs.http.size(); ++i) {
    CheckHTTPRoute(c, Index("spec.http", i), vs.http[i], delegate);
  }
  for (size_t i = 0; i < vs.tls.size(); ++i) {
    const TLSRoute& route = vs.tls[i];
    const std::string p = Index("spec.tls", i);
    if (route.match.empty()) c.Error(p + ".match", "a TLS route needs at least one match");
    for (size_t j = 0; j < route.match.size(); ++j) {
      const auto& m = route.match[j];
      const std::string mp = Index(p + ".match", j);
      if (m.sni_hosts.empty()) c.Error(mp + ".sniHosts", "a TLS match needs at least one SNI host");
      for (size_t k = 0; k < m.sni_hosts.size(); ++k) {
        if (const std::string err = CheckWildcardDomain(m.sni_hosts[k]); !err.empty()) {
          c.Error(Index(mp + ".sniHosts", k), err);
        }
      }
      CheckSubnets(c, mp + ".destinationSubnets", m.destination_subnets);
      if (m.port) CheckPort(c, mp + ".port", *m.port);
      CheckLabels(c, mp + ".sourceLabels", m.source_labels);
      CheckGatewayNames(c, mp + ".gateways", m.gateways);
    }
    if (route.route.empty()) c.Error(p + ".route", "a TLS route needs at least one destination");
    CheckWeights(c, p + ".route", route.route);
  }
  for (size_t i = 0; i < vs.tcp.size(); ++i) {
    const TCPRoute& route = vs.tcp[i];
    const std::string p = Index("spec.tcp", i);
    for (size_t j = 0; j < route.match.size(); ++j) {
      const auto& m = route.match[j];
      const std::string mp = Index(p + ".match", j);
      CheckSubnets(c, mp + ".destinationSubnets", m.destination_subnets);
      if (!m.source_subnet.empty() && !IsCIDR(m.source_subnet)) {
        c.Error(mp + ".sourceSubnet",
                "\"" + m.source_subnet + "\" is not a valid IP address or CIDR");
      }
      if (m.port) CheckPort(c, mp + ".port", *m.port);
      CheckLabels(c, mp + ".sourceLabels", m.source_labels);
      CheckGatewayNames(c, mp + ".gateways", m.gateways);
    }
    if (route.route.empty()) c.Error(p + ".route", "a TCP route needs at least one destination");
    CheckWeights(c, p + ".route", route.route);
  }
  CheckExportTo(c, "spec.exportTo", vs.export_to);
}

// ---------------------------------------------------------------------------
// DestinationRule

void CheckLoadBalancer(Checker& c, const std::string& path, const LoadBalancerSettings& lb) {
  if (lb.simple && lb.consistent_hash) {
    c.Error(path, "only one of simple and consistentHash may be set");
  }
  if (lb.consistent_hash) {
    const auto& ch = *lb.consistent_hash;
    const std::string p = path + ".consistentHash";
    const int keys = !ch.http_header_name.empty() + ch.http_cookie.has_value() + ch.use_source_ip +
                     !ch.http_query_parameter_name.empty();
    if (keys != 1) {
      c.Error(p,
              "consistentHash needs exactly one of httpHeaderName, httpCookie, useSourceIp, "
              "httpQueryParameterName");
    }
    if (ch.http_cookie) {
      if (ch.http_cookie->name.empty()) c.Error(p + ".httpCookie.name", "cookie name is required");
      CheckDuration(c, p + ".httpCookie.ttl", ch.http_cookie->ttl);
    }
    if (ch.ring_hash && ch.maglev) c.Error(p, "only one of ringHash and maglev may be set");
    if (ch.minimum_ring_size && (ch.ring_hash || ch.maglev)) {
      c.Error(p + ".minimumRingSize", "minimumRingSize cannot be combined with ringHash or maglev");
    }
    if (ch.maglev) {
      const uint64_t n = ch.maglev->table_size;
      bool prime = n >= 2;
      for (uint64_t d = 2; prime && d * d <= n; ++d) prime = n % d != 0;
      if (n != 0 && !prime)
        c.Error(p + ".maglev.tableSize", "maglev table size must be a prime number");
    }
  }
  if (lb.locality_lb_setting) {
    const auto& l = *lb.locality_lb_setting;
    const std::string p = path + ".localityLbSetting";
    if (!l.distribute.empty() && !l.failover.empty()) {
      c.Error(p, "only one of distribute and failover may be set");
    }
    for (size_t i = 0; i < l.distribute.size(); ++i) {
      uint64_t total = 0;
      for (const auto& [to, weight] : l.distribute[i].to) total += weight;
      if (total != 100) {
        c.Error(Index(p + ".distribute", i) + ".to", "locality weights must add up to 100");
      }
    }
    for (size_t i = 0; i < l.failover.size(); ++i) {
      if (l.failover[i].from == l.failover[i].to) {
        c.Error(Index(p + ".failover", i), "failover from and to must be different regions");
      }
    }
  }
  CheckDuration(c, path + ".warmupDurationSecs", lb.warmup_duration_secs);
}

void CheckConnectionPool(Checker& c, const std::string& path, const ConnectionPoolSettings& pool) {
  if (!pool.tcp && !pool.http) c.Error(path, "connectionPool needs tcp or http settings");
  auto non_negative = [&](const std::string& p, const std::optional<int32_t>& v) {
    if (v && *v < 0) c.Error(p, "must not be negative, got " + std::to_string(*v));
  };
  if (pool.tcp) {
    const std::string p = path + ".tcp";
    non_negative(p + ".maxConnections", pool.tcp->max_connections);
    CheckDuration(c, p + ".connectTimeout", pool.tcp->connect_timeout);
    CheckDuration(c, p + ".maxConnectionDuration", pool.tcp->max_connection_duration);
    CheckDuration(c, p + ".idleTimeout", pool.tcp->idle_timeout);
    if (pool.tcp->tcp_keepalive) {
      CheckDuration(c, p + ".tcpKeepalive.time", pool.tcp->tcp_keepalive->time);
      CheckDuration(c, p + ".tcpKeepalive.interval", pool.tcp->tcp_keepalive->interval);
    }
  }
  if (pool.http) {
    const std::string p = path + ".http";
    non_negative(p + ".http1MaxPendingRequests", pool.http->http1_max_pending_requests);
    non_negative(p + ".http2MaxRequests", pool.http->http2_max_requests);
    non_negative(p + ".maxRequestsPerConnection", pool.http->max_requests_per_connection);
    non_negative(p + ".maxRetries", pool.http->max_retries);
    non_negative(p + ".maxConcurrentStreams", pool.http->max_concurrent_streams);
    CheckDuration(c, p + ".idleTimeout", pool.http->idle_timeout);
    if (pool.http->use_client_protocol &&
        pool.http->h2_upgrade_policy ==
            ConnectionPoolSettings::HTTPSettings::H2UpgradePolicy::kUpgrade) {
      c.Error(p + ".useClientProtocol",
              "useClientProtocol cannot be combined with h2UpgradePolicy UPGRADE");
    }
  }
}

void CheckOutlierDetection(Checker& c, const std::string& path, const OutlierDetection& od) {
  if (od.consecutive_errors && *od.consecutive_errors < 0) {
    c.Error(path + ".consecutiveErrors", "must not be negative");
  }
  CheckDuration(c, path + ".interval", od.interval);
  CheckDuration(c, path + ".baseEjectionTime", od.base_ejection_time);
  if (od.max_ejection_percent)
    CheckPercent(c, path + ".maxEjectionPercent", *od.max_ejection_percent);
  if (od.min_health_percent) CheckPercent(c, path + ".minHealthPercent", *od.min_health_percent);
}

void CheckClientTLS(Checker& c, const std::string& path, const ClientTLSSettings& tls) {
  using Mode = ClientTLSSettings::Mode;
  if (tls.mode == Mode::kIstioMutual) {
    if (!tls.client_certificate.empty() || !tls.private_key.empty() ||
        !tls.ca_certificates.empty() || !tls.credential_name.empty() || !tls.ca_crl.empty()) {
      c.Error(path,
              "ISTIO_MUTUAL uses the mesh's certificates; clientCertificate, privateKey, "
              "caCertificates, caCrl and credentialName must not be set");
    }
  }
  if ((tls.mode == Mode::kSimple || tls.mode == Mode::kMutual) && !tls.credential_name.empty()) {
    if (!tls.client_certificate.empty() || !tls.private_key.empty() ||
        !tls.ca_certificates.empty() || !tls.ca_crl.empty()) {
      c.Error(path, "credentialName cannot be combined with certificate files");
    }
    return;
  }
  if (tls.mode == Mode::kMutual) {
    if (tls.client_certificate.empty()) {
      c.Error(path + ".clientCertificate", "MUTUAL needs clientCertificate or credentialName");
    }
    if (tls.private_key.empty()) {
      c.Error(path + ".privateKey", "MUTUAL needs privateKey or credentialName");
    }
  }
}

bool IsEmptyPolicy(const TrafficPolicy& p) {
  return !p.load_balancer && !p.connection_pool && !p.outlier_detection && !p.tls &&
         p.port_level_settings.empty() && !p.tunnel && !p.proxy_protocol;
}

void CheckTrafficPolicy(Checker& c, const std::string& path, const TrafficPolicy& policy) {
  if (IsEmptyPolicy(policy)) c.Error(path, "trafficPolicy must have at least one field");
  if (policy.load_balancer) CheckLoadBalancer(c, path + ".loadBalancer", *policy.load_balancer);
  if (policy.connection_pool) {
    CheckConnectionPool(c, path + ".connectionPool", *policy.connection_pool);
  }
  if (policy.outlier_detection) {
    CheckOutlierDetection(c, path + ".outlierDetection", *policy.outlier_detection);
  }
  if (policy.tls) CheckClientTLS(c, path + ".tls", *policy.tls);
  std::set<uint32_t> ports;
  for (size_t i = 0; i < policy.port_level_settings.size(); ++i) {
    const auto& port = policy.port_level_settings[i];
    const std::string p = Index(path + ".portLevelSettings", i);
    if (!port.port) {
      c.Error(p + ".port", "portLevelSettings entry needs a port");
    } else {
      CheckPort(c, p + ".port.number", port.port->number);
      if (!ports.insert(port.port->number).second) {
        c.Error(p + ".port.number",
                "duplicate portLevelSettings for port " + std::to_string(port.port->number));
      }
    }
    if (!port.load_balancer && !port.connection_pool && !port.outlier_detection && !port.tls) {
      c.Error(p, "portLevelSettings entry must have at least one policy");
    }
    if (port.load_balancer) CheckLoadBalancer(c, p + ".loadBalancer", *port.load_balancer);
    if (port.connection_pool) CheckConnectionPool(c, p + ".connectionPool", *port.connection_pool);
    if (port.outlier_detection) {
      CheckOutlierDetection(c, p + ".outlierDetection", *port.outlier_detection);
    }
    if (port.tls) CheckClientTLS(c, p + ".tls", *port.tls);
  }
  if (policy.tunnel) {
    const auto& t = *policy.tunnel;
    const std::string p = path + ".tunnel";
    if (!t.protocol.empty() && t.protocol != "CONNECT" && t.protocol != "POST") {
      c.Error(p + ".protocol", "tunnel protocol must be CONNECT or POST");
    }
    if (t.target_host.empty()) c.Error(p + ".targetHost", "tunnel targetHost is required");
    CheckPort(c, p + ".targetPort", t.target_port);
  }
}

void CheckDestinationRule(Checker& c, const DestinationRule& dr) {
  if (dr.host.empty()) {
    c.Error("spec.host", "host is required");
  } else if (const std::string err = CheckWildcardDomain(dr.host); !err.empty() && !IsIP(dr.host)) {
    c.Error("spec.host", err);
  }
  if (dr.traffic_policy) CheckTrafficPolicy(c, "spec.trafficPolicy", *dr.traffic_policy);
  std::set<std::string> names;
  for (size_t i = 0; i < dr.subsets.size(); ++i) {
    const Subset& subset = dr.subsets[i];
    const std::string p = Index("spec.subsets", i);
    if (subset.name.empty()) {
      c.Error(p + ".name", "subset name is required");
    } else if (!IsLowerDNSLabel(subset.name)) {
      c.Error(p + ".name", "subset name \"" + subset.name + "\" is not a valid DNS-1123 label");
    } else if (!names.insert(subset.name).second) {
      c.Error(p + ".name", "duplicate subset name \"" + subset.name + "\"");
    }
    if (subset.labels.empty()) {
      c.Error(p + ".labels", "subset \"" + subset.name + "\" needs labels to select endpoints");
    }
    CheckLabels(c, p + ".labels", subset.labels);
    if (subset.traffic_policy) CheckTrafficPolicy(c, p + ".trafficPolicy", *subset.traffic_policy);
  }
  CheckExportTo(c, "spec.exportTo", dr.export_to);
  if (dr.workload_selector)
    CheckLabels(c, "spec.workloadSelector.matchLabels", dr.workload_selector->match_labels);
}

// ---------------------------------------------------------------------------
// PeerAuthentication

// Istio's ValidatePeerAuthentication: port-level modes need a selector (a
// port number means nothing across workloads), and ports are 1..65535.
void CheckPeerAuthentication(Checker& c, const PeerAuthentication& pa) {
  CheckLabels(c, "spec.selector.matchLabels", pa.selector.match_labels);
  if (!pa.port_level_mtls.empty() && pa.selector.match_labels.empty()) {
    c.Error("spec.portLevelMtls", "portLevelMtls requires a workload selector");
  }
  for (const auto& [port, mtls] : pa.port_level_mtls) {
    const std::string p = "spec.portLevelMtls[" + port + "]";
    uint32_t number = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (error != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
      c.Error(p, "port must be a number in 1..65535, got \"" + port + "\"");
    }
    if (mtls.mode == MtlsMode::kUnset) {
      c.Warning(p + ".mode",
                "UNSET at port level inherits the workload's mode; omit the port instead");
    }
  }
}

// ---------------------------------------------------------------------------
// Gateway and ServiceEntry

constexpr std::string_view kProtocols[] = {"HTTP",  "HTTPS", "GRPC",      "GRPC-WEB", "HTTP2",
                                           "MONGO", "MYSQL", "REDIS",     "TCP",      "TLS",
                                           "UDP",   "HBONE", "HTTP_PROXY"};

bool KnownProtocol(const std::string& protocol) {
  return std::find(std::begin(kProtocols), std::end(kProtocols), protocol) != std::end(kProtocols);
}

void CheckServicePort(Checker& c, const std::string& path, const Port& port) {
  CheckPort(c, path + ".number", port.number);
  if (port.protocol.empty()) {
    c.Error(path + ".protocol", "port protocol is required");
  } else if (!KnownProtocol(port.protocol)) {
    c.Error(path + ".protocol", "unknown protocol \"" + port.protocol + "\"");
  }
  if (port.name.empty()) c.Error(path + ".name", "port name is required");
  if (port.target_port) CheckPort(c, path + ".targetPort", *port.target_port);
}

void CheckServerTLS(Checker& c, const std::string& path, const ServerTLSSettings& tls) {
  using Mode = ServerTLSSettings::Mode;
  const bool has_credential = !tls.credential_name.empty() || !tls.credential_names.empty();
  if (tls.mode == Mode::kIstioMutual) {
    if (!tls.server_certificate.empty() || !tls.private_key.empty() ||
        !tls.ca_certificates.empty() || has_credential) {
      c.Error(path,
              "ISTIO_MUTUAL uses the mesh's certificates; serverCertificate, privateKey, "
              "caCertificates and credentialName must not be set");
    }
  }
  if ((tls.mode == Mode::kSimple || tls.mode == Mode::kMutual ||
       tls.mode == Mode::kOptionalMutual) &&
      !has_credential) {
    if (tls.server_certificate.empty()) {
      c.Error(path + ".serverCertificate", "TLS needs serverCertificate or credentialName");
    }
    if (tls.private_key.empty()) {
      c.Error(path + ".privateKey", "TLS needs privateKey or credentialName");
    }
    if (tls.mode != Mode::kSimple && tls.ca_certificates.empty()) {
      c.Error(path + ".caCertificates", "MUTUAL TLS needs caCertificates or credentialName");
    }
  }
  if (tls.max_protocol_version != ServerTLSSettings::ProtocolVersion::kAuto &&
      tls.min_protocol_version > tls.max_protocol_version) {
    c.Error(path + ".minProtocolVersion", "minProtocolVersion is above maxProtocolVersion");
  }
}

// "host", "ns/host", "*/host", "./host" (Gateway server hosts).
void CheckNamespacedHost(Checker& c, const std::string& path, const std::string& value) {
  std::string host = value;
  const size_t slash = value.find('/');
  if (slash != std::string::npos) {
    const std::string ns = value.substr(0, slash);
    host = value.substr(slash + 1);
    if (ns != "*" && ns != "." && ns != "~" && !IsLowerDNSLabel(ns)) {
      c.Error(path, "invalid namespace \"" + ns + "\" in host \"" + value + "\"");
      return;
    }
  }
  if (const std::string err = CheckWildcardDomain(host); !err.empty() && !IsIP(host)) {
    c.Error(path, err);
  }
}

void CheckGateway(Checker& c, const Gateway& gw) {
  if (gw.servers.empty()) c.Error("spec.servers", "a Gateway needs at least one server");
  std::set<std::string> port_names;
  std::set<std::string> server_names;
  for (size_t i = 0; i < gw.servers.size(); ++i) {
    const Server& server = gw.servers[i];
    const std::string p = Index("spec.servers", i);
    CheckServicePort(c, p + ".port", server.port);
    if (!server.port.name.empty() && !port_names.insert(server.port.name).second) {
      c.Error(p + ".port.name", "duplicate port name \"" + server.port.name + "\"");
    }
    if (!server.name.empty() && !server_names.insert(server.name).second) {
      c.Error(p + ".name", "duplicate server name \"" + server.name + "\"");
    }
    if (server.hosts.empty()) c.Error(p + ".hosts", "a server needs at least one host");
    for (size_t j = 0; j < server.hosts.size(); ++j) {
      CheckNamespacedHost(c, Index(p + ".hosts", j), server.hosts[j]);
    }
    const std::string& protocol = server.port.protocol;
    if (server.tls) {
      CheckServerTLS(c, p + ".tls", *server.tls);
      if (server.tls->https_redirect && protocol != "HTTP") {
        c.Error(p + ".tls.httpsRedirect", "httpsRedirect is only valid on HTTP servers");
      }
    } else if (protocol == "HTTPS" || protocol == "TLS") {
      c.Error(p + ".tls", "an " + protocol + " server needs tls settings");
    }
    if (!server.bind.empty() && !IsIP(server.bind) && server.bind.rfind("unix://", 0) != 0) {
      c.Error(p + ".bind", "bind must be an IP address or a unix:// path");
    }
  }
  CheckLabels(c, "spec.selector", gw.selector);
}

// ---------------------------------------------------------------------------
// Sidecar

// Istio's ValidateSidecar.
void CheckCaptureMode(Checker& c, const std::string& path, const std::string& mode) {
  if (!mode.empty() && mode != "DEFAULT" && mode != "IPTABLES" && mode != "NONE") {
    c.Error(path, "captureMode must be DEFAULT, IPTABLES or NONE, got \"" + mode + "\"");
  }
}

void CheckBind(Checker& c, const std::string& path, const std::string& bind) {
  if (!bind.empty() && !IsIP(bind) && bind.rfind("unix://", 0) != 0) {
    c.Error(path, "bind must be an IP address or a unix:// path");
  }
}

// "127.0.0.1:PORT", "0.0.0.0:PORT", "[::1]:PORT", "[::]:PORT" or "unix://PATH".
void CheckDefaultEndpoint(Checker& c, const std::string& path, const std::string& endpoint) {
  if (endpoint.empty()) return;
  if (endpoint.rfind("unix://", 0) == 0) {
    if (endpoint.size() == std::string_view("unix://").size()) {
      c.Error(path, "unix:// needs a socket path");
    }
    return;
  }
  const size_t colon = endpoint.rfind(':');
  const std::string host = colon == std::string::npos ? "" : endpoint.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
  uint32_t number = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  const bool port_ok = !port.empty() && error == std::errc() && end == port.data() + port.size() &&
                       number >= 1 && number <= 65535;
  if ((host != "127.0.0.1" && host != "0.0.0.0" && host != "[::1]" && host != "[::]") || !port_ok) {
    c.Error(path,
            "defaultEndpoint must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT "
            "or unix://PATH, got \"" +
                endpoint + "\"");
  }
}

// Egress hosts are always "namespace/host".
void CheckEgressHost(Checker& c, const std::string& path, const std::string& value) {
  if (value.find('/') == std::string::npos) {
    c.Error(path,
            "egress host \"" + value +
                "\" must be namespace/host (\"*/\", \"./\" or \"NAMESPACE/\" before the host)");
    return;
  }
  const std::string host = value.substr(value.find('/') + 1);
  if (host != "*") CheckNamespacedHost(c, path, value);
}

void CheckSidecar(Checker& c, const Sidecar& sidecar) {
  if (sidecar.ingress.empty() && sidecar.egress.empty() && !sidecar.outbound_traffic_policy) {
    c.Error("spec", "a Sidecar needs ingress, egress or outboundTrafficPolicy");
  }
  if (sidecar.workload_selector) {
    if (sidecar.workload_selector->match_labels.empty()) {
      c.Error("spec.workloadSelector.labels", "a workloadSelector needs at least one label");
    }
    CheckLabels(c, "spec.workloadSelector.labels", sidecar.workload_selector->match_labels);
  }
  std::set<std::string> ingress_binds;
  for (size_t i = 0; i < sidecar.ingress.size(); ++i) {
    const IstioIngressListener& in = sidecar.ingress[i];
    const std::string p = Index("spec.ingress", i);
    CheckServicePort(c, p + ".port", in.port);
    CheckBind(c, p + ".bind", in.bind);
    CheckCaptureMode(c, p + ".captureMode", in.capture_mode);
    CheckDefaultEndpoint(c, p + ".defaultEndpoint", in.default_endpoint);
    if (!ingress_binds.insert(in.bind + ":" + std::to_string(in.port.number)).second) {
      c.Error(p + ".port.number",
              "port " + std::to_string(in.port.number) + " is already an ingress listener");
    }
  }
  std::set<std::string> egress_binds;
  for (size_t i = 0; i < sidecar.egress.size(); ++i) {
    const IstioEgressListener& out = sidecar.egress[i];
    const std::string p = Index("spec.egress", i);
    if (out.port) {
      CheckServicePort(c, p + ".port", *out.port);
      if (!egress_binds.insert(out.bind + ":" + std::to_string(out.port->number)).second) {
        c.Error(p + ".port.number",
                "port " + std::to_string(out.port->number) + " is already an egress listener");
      }
    } else if (i + 1 != sidecar.egress.size()) {
      c.Error(p, "the egress listener without a port (the catch-all) must be the last one");
    }
    CheckBind(c, p + ".bind", out.bind);
    CheckCaptureMode(c, p + ".captureMode", out.capture_mode);
    if (out.hosts.empty()) c.Error(p + ".hosts", "an egress listener needs at least one host");
    for (size_t j = 0; j < out.hosts.size(); ++j) {
      CheckEgressHost(c, Index(p + ".hosts", j), out.hosts[j]);
    }
  }
}

void CheckServiceEntry(Checker& c, const ServiceEntry& se) {
  using Resolution = ServiceEntry::Resolution;
  const bool dns = se.resolution == Resolution::kDNS || se.resolution == Resolution::kDNSRoundRobin;
  if (se.workload_selector && !se.endpoints.empty()) {
    c.Error("spec.workloadSelector", "only one of workloadSelector and endpoints may be set");
  }
  if (se.hosts.empty()) c.Error("spec.hosts", "a ServiceEntry needs at least one host");
  for (size_t i = 0; i < se.hosts.size(); ++i) {
    const std::string& host = se.hosts[i];
    const std::string p = Index("spec.hosts", i);
    if (host == "*") {
      c.Error(p, "host \"*\" is not allowed");
    } else if (const std::string err = CheckWildcardDomain(host); !err.empty()) {
      c.Error(p, err);
    } else if (dns && host.find('*') != std::string::npos) {
      c.Error(p, "wildcard host \"" + host + "\" cannot use DNS resolution");
    } else if (dns && se.endpoints.empty() && !CheckFQDN(host).empty()) {
      c.Error(p, "hosts must be FQDNs when DNS resolution has no endpoints");
    }
  }
  for (size_t i = 0; i < se.addresses.size(); ++i) {
    if (!IsCIDR(se.addresses[i])) {
      c.Error(Index("spec.addresses", i),
              "\"" + se.addresses[i] + "\" is not a valid IP address or CIDR");
    }
  }
  std::set<uint32_t> numbers;
  std::set<std::string> names;
  for (size_t i = 0; i < se.ports.size(); ++i) {
    const Port& port = se.ports[i];
    const std::string p = Index("spec.ports", i);
    CheckServicePort(c, p, port);
    if (!numbers.insert(port.number).second) {
      c.Error(p + ".number", "duplicate port number " + std::to_string(port.number));
    }
    if (!port.name.empty() && !names.insert(port.name).second) {
      c.Error(p + ".name", "duplicate port name \"" + port.name + "\"");
    }
  }
  if (se.resolution == Resolution::kNone && !se.endpoints.empty()) {
    c.Error("spec.endpoints", "endpoints cannot be used with resolution NONE");
  }
  if (se.resolution == Resolution::kDNSRoundRobin && se.endpoints.size() > 1) {
    c.Error("spec.endpoints", "resolution DNS_ROUND_ROBIN allows at most one endpoint");
  }
  for (size_t i = 0; i < se.endpoints.size(); ++i) {
    const WorkloadEntry& e = se.endpoints[i];
    const std::string p = Index("spec.endpoints", i);
    const bool unix_socket = e.address.rfind("unix://", 0) == 0;
    if (e.address.empty()) {
      c.Error(p + ".address", "endpoint address is required");
    } else if (se.resolution == Resolution::kStatic && !IsIP(e.address) && !unix_socket) {
      c.Error(p + ".address", "\"" + e.address + "\" is not an IP address (resolution STATIC)");
    } else if (dns && !IsIP(e.address) && !CheckFQDN(e.address).empty()) {
      c.Error(p + ".address", "\"" + e.address + "\" is not an IP address or a DNS name");
    }
    for (const auto& [name, number] : e.ports) {
      const std::string pp = p + ".ports[" + name + "]";
      if (names.count(name) == 0) c.Error(pp, "port \"" + name + "\" is not defined in spec.ports");
      CheckPort(c, pp, number);
    }
    CheckLabels(c, p + ".labels", e.labels);
  }
  if (se.workload_selector)
    CheckLabels(c, "spec.workloadSelector.labels", se.workload_selector->match_labels);
  CheckExportTo(c, "spec.exportTo", se.export_to);
}

// ---------------------------------------------------------------------------
// Kubernetes kinds: what the control plane relies on.

void CheckService(Checker& c, const Service& service) {
  for (size_t i = 0; i < service.ports.size(); ++i) {
    const ServicePort& port = service.ports[i];
    const std::string p = Index("spec.ports", i);
    CheckPort(c, p + ".port", port.port);
    if (port.target_port_number) CheckPort(c, p + ".targetPort", *port.target_port_number);
  }
}

void CheckEndpointSlice(Checker& c, const EndpointSlice& slice) {
  if (slice.address_type != "IPv4" && slice.address_type != "IPv6" &&
      slice.address_type != "FQDN") {
    c.Error("addressType",
            "addressType must be IPv4, IPv6 or FQDN, got \"" + slice.address_type + "\"");
  }
  for (size_t i = 0; i < slice.ports.size(); ++i) {
    if (slice.ports[i].port) CheckPort(c, Index("ports", i) + ".port", *slice.ports[i].port);
  }
}

}  // namespace

Diagnostics Validate(const Resource& resource) {
  Checker c(resource);
  std::visit(
      [&](const auto& spec) {
        using T = std::decay_t<decltype(spec)>;
        if constexpr (std::is_same_v<T, VirtualService>) {
          CheckVirtualService(c, spec);
        } else if constexpr (std::is_same_v<T, DestinationRule>) {
          CheckDestinationRule(c, spec);
        } else if constexpr (std::is_same_v<T, Gateway>) {
          CheckGateway(c, spec);
        } else if constexpr (std::is_same_v<T, ServiceEntry>) {
          CheckServiceEntry(c, spec);
        } else if constexpr (std::is_same_v<T, Service>) {
          CheckService(c, spec);
        } else if constexpr (std::is_same_v<T, EndpointSlice>) {
          CheckEndpointSlice(c, spec);
        } else if constexpr (std::is_same_v<T, PeerAuthentication>) {
          CheckPeerAuthentication(c, spec);
        } else if constexpr (std::is_same_v<T, Sidecar>) {
          CheckSidecar(c, spec);
        }
      },
      resource.spec);
  return c.Take();
}

}  // namespace meshgate::api
