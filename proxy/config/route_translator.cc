#include "proxy/config/route_translator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proxy/config/proto_checks.h"
#include "proxy/config/status_macros.h"
#include "proxy/router/text.h"

// Control planes still send deprecated xDS fields (HeaderMatcher.exact_match,
// HeaderValueOption.append, RegexMatcher.google_re2, ...); honouring them is
// the point, so their deprecation warnings are silenced in this file only.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace meshgate::proxy::config {
namespace {

namespace route = envoy::config::route::v3;
namespace core = envoy::config::core::v3;
namespace matcher = envoy::type::matcher::v3;

constexpr std::string_view kPreviousHostsPredicate = "envoy.retry_host_predicates.previous_hosts";
constexpr std::string_view kPreviousHostsType =
    "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";

absl::StatusOr<std::shared_ptr<const re2::RE2>> TranslateRegex(const matcher::RegexMatcher& regex,
                                                               std::string_view path,
                                                               bool case_sensitive = true) {
  const uint32_t max_program_size =
      regex.has_google_re2() && regex.google_re2().has_max_program_size()
          ? regex.google_re2().max_program_size().value()
          : 0;
  auto compiled = CompileRegex(regex.regex(), case_sensitive, max_program_size);
  if (!compiled.ok()) return FieldError(Path(path, "regex"), compiled.status().message());
  return compiled;
}

absl::StatusOr<StringMatcher> TranslateStringMatcher(const matcher::StringMatcher& m,
                                                     std::string_view path) {
  using Kind = StringMatcher::Kind;
  switch (m.match_pattern_case()) {
    case matcher::StringMatcher::kExact:
      return StringMatcher::Create(Kind::kExact, m.exact(), m.ignore_case());
    case matcher::StringMatcher::kPrefix:
      return StringMatcher::Create(Kind::kPrefix, m.prefix(), m.ignore_case());
    case matcher::StringMatcher::kSuffix:
      return StringMatcher::Create(Kind::kSuffix, m.suffix(), m.ignore_case());
    case matcher::StringMatcher::kContains:
      return StringMatcher::Create(Kind::kContains, m.contains(), m.ignore_case());
    case matcher::StringMatcher::kSafeRegex: {
      const uint32_t max_program_size =
          m.safe_regex().has_google_re2() && m.safe_regex().google_re2().has_max_program_size()
              ? m.safe_regex().google_re2().max_program_size().value()
              : 0;
      auto result = StringMatcher::Create(Kind::kRegex, m.safe_regex().regex(), m.ignore_case(),
                                          max_program_size);
      if (!result.ok())
        return FieldError(Path(path, "safe_regex.regex"), result.status().message());
      return result;
    }
    case matcher::StringMatcher::kCustom:
      return FieldError(Path(path, "custom"), "custom string matchers are not supported");
    default:
      return FieldError(path, "no match pattern set");
  }
}

absl::StatusOr<HeaderMatcher> TranslateHeaderMatcher(const route::HeaderMatcher& m,
                                                     std::string_view path) {
  HeaderMatcher out;
  if (m.name().empty()) return FieldError(Path(path, "name"), "header name is empty");
  out.name = AsciiLowered(m.name());
  out.invert = m.invert_match();
  out.treat_missing_as_empty = m.treat_missing_header_as_empty();
  using Kind = StringMatcher::Kind;
  auto string_kind = [&](Kind kind, const std::string& pattern) -> absl::Status {
    MG_ASSIGN_OR_RETURN(StringMatcher sm, StringMatcher::Create(kind, pattern));
    out.kind = HeaderMatcher::Kind::kString;
    out.string = std::move(sm);
    return absl::OkStatus();
  };
  switch (m.header_match_specifier_case()) {
    case route::HeaderMatcher::kExactMatch:
      MG_RETURN_IF_ERROR(string_kind(Kind::kExact, m.exact_match()));
      break;
    case route::HeaderMatcher::kPrefixMatch:
      MG_RETURN_IF_ERROR(string_kind(Kind::kPrefix, m.prefix_match()));
      break;
    case route::HeaderMatcher::kSuffixMatch:
      MG_RETURN_IF_ERROR(string_kind(Kind::kSuffix, m.suffix_match()));
      break;
    case route::HeaderMatcher::kContainsMatch:
      MG_RETURN_IF_ERROR(string_kind(Kind::kContains, m.contains_match()));
      break;
    case route::HeaderMatcher::kSafeRegexMatch: {
      auto sm = StringMatcher::Create(Kind::kRegex, m.safe_regex_match().regex());
      if (!sm.ok()) return FieldError(Path(path, "safe_regex_match.regex"), sm.status().message());
      out.kind = HeaderMatcher::Kind::kString;
      out.string = *std::move(sm);
      break;
    }
    case route::HeaderMatcher::kStringMatch: {
      MG_ASSIGN_OR_RETURN(StringMatcher sm,
                          TranslateStringMatcher(m.string_match(), Path(path, "string_match")));
      out.kind = HeaderMatcher::Kind::kString;
      out.string = std::move(sm);
      break;
    }
    case route::HeaderMatcher::kRangeMatch:
      if (m.range_match().start() >= m.range_match().end()) {
        return FieldError(Path(path, "range_match"), "start must be less than end");
      }
      out.kind = HeaderMatcher::Kind::kRange;
      out.range_start = m.range_match().start();
      out.range_end = m.range_match().end();
      break;
    case route::HeaderMatcher::kPresentMatch:
      out.kind = HeaderMatcher::Kind::kPresent;
      out.present = m.present_match();
      break;
    default:
      // No specifier: Envoy checks presence only.
      out.kind = HeaderMatcher::Kind::kPresent;
      out.present = true;
      break;
  }
  return out;
}

absl::StatusOr<QueryParameterMatcher> TranslateQueryMatcher(const route::QueryParameterMatcher& m,
                                                            std::string_view path) {
  QueryParameterMatcher out;
  out.name = m.name();
  if (m.has_string_match()) {
    MG_ASSIGN_OR_RETURN(out.value,
                        TranslateStringMatcher(m.string_match(), Path(path, "string_match")));
  } else if (m.query_parameter_match_specifier_case() ==
                 route::QueryParameterMatcher::kPresentMatch &&
             !m.present_match()) {
    return FieldError(Path(path, "present_match"), "present_match: false is not supported");
  }
  return out;
}

// Header values may use Envoy's %COMMAND% substitutions, which the proxy does
// not implement; only the "%%" escape is accepted.
absl::StatusOr<std::string> LiteralHeaderValue(const std::string& value, std::string_view path) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out.push_back(value[i]);
    } else if (i + 1 < value.size() && value[i + 1] == '%') {
      out.push_back('%');
      ++i;
    } else {
      return FieldError(path, absl::StrCat("header value '", value,
                                           "' uses a %COMMAND% substitution, which is not "
                                           "supported (write %% for a literal %)"));
    }
  }
  return out;
}

absl::Status TranslateHeaderMutations(
    const google::protobuf::RepeatedPtrField<core::HeaderValueOption>& add,
    const google::protobuf::RepeatedPtrField<std::string>& remove, std::string_view add_field,
    std::string_view remove_field, std::string_view path, HeaderMutations& out) {
  for (int i = 0; i < add.size(); ++i) {
    const core::HeaderValueOption& option = add[i];
    const std::string field = Path(path, add_field, i);
    HeaderToAdd header;
    header.name = AsciiLowered(option.header().key());
    if (header.name.empty()) return FieldError(Path(field, "header.key"), "empty header name");
    if (header.name.front() == ':') {
      return FieldError(Path(field, "header.key"),
                        absl::StrCat("pseudo-header '", header.name, "' cannot be modified"));
    }
    const std::string& raw =
        option.header().value().empty() ? option.header().raw_value() : option.header().value();
    MG_ASSIGN_OR_RETURN(header.value, LiteralHeaderValue(raw, Path(field, "header.value")));
    if (option.has_append()) {
      header.action = option.append().value() ? HeaderAppendAction::kAppendIfExistsOrAdd
                                              : HeaderAppendAction::kOverwriteIfExistsOrAdd;
    } else {
      switch (option.append_action()) {
        case core::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD:
          header.action = HeaderAppendAction::kAppendIfExistsOrAdd;
          break;
        case core::HeaderValueOption::ADD_IF_ABSENT:
          header.action = HeaderAppendAction::kAddIfAbsent;
          break;
        case core::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD:
          header.action = HeaderAppendAction::kOverwriteIfExistsOrAdd;
          break;
        case core::HeaderValueOption::OVERWRITE_IF_EXISTS:
          header.action = HeaderAppendAction::kOverwriteIfExists;
          break;
        default:
          return FieldError(Path(field, "append_action"), "unknown append action");
      }
    }
    header.keep_empty_value = option.keep_empty_value();
    out.add.push_back(std::move(header));
  }
  for (int i = 0; i < remove.size(); ++i) {
    std::string name = AsciiLowered(remove[i]);
    if (name.empty() || name.front() == ':' || name == "host") {
      return FieldError(Path(path, remove_field, i),
                        absl::StrCat("header '", name, "' cannot be removed"));
    }
    out.remove.push_back(std::move(name));
  }
  return absl::OkStatus();
}

template <typename Proto>
absl::Status TranslateRequestResponseHeaders(const Proto& proto, std::string_view path,
                                             HeaderMutations& request, HeaderMutations& response) {
  MG_RETURN_IF_ERROR(TranslateHeaderMutations(
      proto.request_headers_to_add(), proto.request_headers_to_remove(), "request_headers_to_add",
      "request_headers_to_remove", path, request));
  return TranslateHeaderMutations(proto.response_headers_to_add(),
                                  proto.response_headers_to_remove(), "response_headers_to_add",
                                  "response_headers_to_remove", path, response);
}

PartsPerMillion RuntimeFraction(const core::RuntimeFractionalPercent& fraction) {
  return ToPartsPerMillion(fraction.default_value());
}

absl::StatusOr<CorsPolicy> TranslateCorsCommon(
    const google::protobuf::RepeatedPtrField<matcher::StringMatcher>& origins,
    std::string_view origins_field, const std::string& methods, const std::string& headers,
    const std::string& expose, const std::string& max_age, bool credentials,
    const core::RuntimeFractionalPercent* enabled, std::string_view path) {
  CorsPolicy out;
  for (int i = 0; i < origins.size(); ++i) {
    MG_ASSIGN_OR_RETURN(StringMatcher sm,
                        TranslateStringMatcher(origins[i], Path(path, origins_field, i)));
    out.allow_origins.push_back(std::move(sm));
  }
  out.allow_methods = methods;
  out.allow_headers = headers;
  out.expose_headers = expose;
  out.max_age = max_age;
  out.allow_credentials = credentials;
  if (enabled != nullptr) out.enabled_fraction = RuntimeFraction(*enabled);
  return out;
}

// One entry of a typed_per_filter_config map.
absl::Status TranslatePerFilterConfig(const std::string& filter_name,
                                      const google::protobuf::Any& any, std::string_view path,
                                      PerFilterConfigs& out) {
  const std::string field = absl::StrCat(Av(path), ".typed_per_filter_config['", filter_name, "']");
  const google::protobuf::Any* config = &any;
  bool optional = false;
  route::FilterConfig wrapper;
  if (AnyTypeName(any) == kFilterConfigWrapperType) {
    MG_RETURN_IF_ERROR(UnpackAny(any, wrapper, field));
    if (wrapper.disabled()) {
      return FieldError(Path(field, "disabled"), "disabling a filter per route is not supported");
    }
    config = &wrapper.config();
    optional = wrapper.is_optional();
  }
  const std::string_view type = AnyTypeName(*config);
  if (type == kFaultFilterType) {
    envoy::extensions::filters::http::fault::v3::HTTPFault fault;
    MG_RETURN_IF_ERROR(UnpackAny(*config, fault, field));
    MG_ASSIGN_OR_RETURN(out.fault, TranslateFault(fault, field));
  } else if (type == kCorsPolicyType) {
    envoy::extensions::filters::http::cors::v3::CorsPolicy cors;
    MG_RETURN_IF_ERROR(UnpackAny(*config, cors, field));
    MG_ASSIGN_OR_RETURN(out.cors, TranslateCorsPolicy(cors, field));
  } else if (type == kLocalRateLimitType) {
    envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit limit;
    MG_RETURN_IF_ERROR(UnpackAny(*config, limit, field));
    MG_ASSIGN_OR_RETURN(out.local_rate_limit, TranslateLocalRateLimit(limit, field));
  } else if (!optional) {
    return FieldError(field, absl::StrCat("unsupported per-filter config type '", Av(type),
                                          "' (supported: fault, cors, local_ratelimit)"));
  }
  return absl::OkStatus();
}

absl::Status TranslatePerFilterConfigs(
    const google::protobuf::Map<std::string, google::protobuf::Any>& map, std::string_view path,
    PerFilterConfigs& out) {
  // Sorted by name so a NACK message does not depend on map iteration order.
  std::vector<const std::string*> names;
  for (const auto& [name, any] : map) names.push_back(&name);
  std::sort(names.begin(), names.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const std::string* name : names) {
    MG_RETURN_IF_ERROR(TranslatePerFilterConfig(*name, map.at(*name), path, out));
  }
  return absl::OkStatus();
}

// Fills the unset fields of `specific` from `general`.
void InheritFilterConfigs(PerFilterConfigs& specific, const PerFilterConfigs& general) {
  if (!specific.fault.has_value()) specific.fault = general.fault;
  if (!specific.cors.has_value()) specific.cors = general.cors;
  if (!specific.local_rate_limit.has_value()) specific.local_rate_limit = general.local_rate_limit;
}

absl::StatusOr<RetryPolicy> TranslateRetryPolicy(const route::RetryPolicy& p,
                                                 std::string_view path) {
  RetryPolicy out;
  auto retry_on = ParseRetryOn(p.retry_on());
  if (!retry_on.ok()) return FieldError(Path(path, "retry_on"), retry_on.status().message());
  out.retry_on = *retry_on;
  if (p.has_num_retries()) out.num_retries = p.num_retries().value();
  if (p.has_per_try_timeout()) out.per_try_timeout = ToDuration(p.per_try_timeout());
  if (p.has_per_try_idle_timeout()) {
    return FieldError(Path(path, "per_try_idle_timeout"), "not supported");
  }
  if (p.has_retry_priority()) return FieldError(Path(path, "retry_priority"), "not supported");
  for (int i = 0; i < p.retry_host_predicate_size(); ++i) {
    const auto& predicate = p.retry_host_predicate(i);
    const bool previous_hosts = predicate.has_typed_config()
                                    ? AnyTypeName(predicate.typed_config()) == kPreviousHostsType
                                    : predicate.name() == kPreviousHostsPredicate;
    if (!previous_hosts) {
      return FieldError(Path(path, "retry_host_predicate", i),
                        absl::StrCat("unsupported retry host predicate '", predicate.name(),
                                     "' (only previous_hosts)"));
    }
    out.retry_other_host = true;
  }
  if (p.retry_options_predicates_size() > 0) {
    return FieldError(Path(path, "retry_options_predicates"), "not supported");
  }
  if (p.host_selection_retry_max_attempts() > 0) {
    out.host_selection_attempts =
        static_cast<uint32_t>(std::min<int64_t>(p.host_selection_retry_max_attempts(), 100));
  }
  out.retriable_status_codes.assign(p.retriable_status_codes().begin(),
                                    p.retriable_status_codes().end());
  if (p.has_retry_back_off()) {
    const auto& backoff = p.retry_back_off();
    out.backoff_base = ToDuration(backoff.base_interval());
    if (out.backoff_base <= absl::ZeroDuration()) {
      return FieldError(Path(path, "retry_back_off.base_interval"), "must be > 0");
    }
    out.backoff_max =
        backoff.has_max_interval() ? ToDuration(backoff.max_interval()) : out.backoff_base * 10;
    if (out.backoff_max < out.backoff_base) {
      return FieldError(Path(path, "retry_back_off.max_interval"), "must be >= base_interval");
    }
  }
  if (p.has_rate_limited_retry_back_off()) {
    return FieldError(Path(path, "rate_limited_retry_back_off"), "not supported");
  }
  if (p.retriable_headers_size() > 0) {
    return FieldError(Path(path, "retriable_headers"), "not supported");
  }
  if (p.retriable_request_headers_size() > 0) {
    return FieldError(Path(path, "retriable_request_headers"), "not supported");
  }
  return out;
}

absl::StatusOr<std::vector<MirrorPolicy>> TranslateMirrors(
    const google::protobuf::RepeatedPtrField<route::RouteAction::RequestMirrorPolicy>& mirrors,
    std::string_view path) {
  std::vector<MirrorPolicy> out;
  for (int i = 0; i < mirrors.size(); ++i) {
    const auto& m = mirrors[i];
    const std::string field = Path(path, "request_mirror_policies", i);
    if (!m.cluster_header().empty()) {
      return FieldError(Path(field, "cluster_header"), "not supported");
    }
    if (m.cluster().empty()) return FieldError(Path(field, "cluster"), "cluster is required");
    MirrorPolicy policy;
    policy.cluster = m.cluster();
    if (m.has_runtime_fraction()) policy.fraction = RuntimeFraction(m.runtime_fraction());
    out.push_back(std::move(policy));
  }
  return out;
}

absl::StatusOr<std::vector<HashPolicy>> TranslateHashPolicies(
    const google::protobuf::RepeatedPtrField<route::RouteAction::HashPolicy>& policies,
    std::string_view path) {
  std::vector<HashPolicy> out;
  for (int i = 0; i < policies.size(); ++i) {
    const auto& p = policies[i];
    const std::string field = Path(path, "hash_policy", i);
    HashPolicy policy;
    policy.terminal = p.terminal();
    switch (p.policy_specifier_case()) {
      case route::RouteAction::HashPolicy::kHeader:
        if (p.header().has_regex_rewrite()) {
          return FieldError(Path(field, "header.regex_rewrite"), "not supported");
        }
        policy.kind = HashPolicy::Kind::kHeader;
        policy.name = AsciiLowered(p.header().header_name());
        break;
      case route::RouteAction::HashPolicy::kCookie:
        policy.kind = HashPolicy::Kind::kCookie;
        policy.name = p.cookie().name();
        break;
      case route::RouteAction::HashPolicy::kConnectionProperties:
        if (!p.connection_properties().source_ip()) continue;  // hashes nothing
        policy.kind = HashPolicy::Kind::kSourceIp;
        break;
      case route::RouteAction::HashPolicy::kQueryParameter:
        policy.kind = HashPolicy::Kind::kQueryParameter;
        policy.name = p.query_parameter().name();
        break;
      case route::RouteAction::HashPolicy::kFilterState:
        return FieldError(Path(field, "filter_state"), "not supported");
      default:
        return FieldError(field, "no hash policy specifier set");
    }
    out.push_back(std::move(policy));
  }
  return out;
}

absl::Status TranslateRewrite(const matcher::RegexMatchAndSubstitute& rewrite,
                              std::string_view path, std::shared_ptr<const re2::RE2>& regex,
                              std::string& substitution) {
  MG_ASSIGN_OR_RETURN(regex, TranslateRegex(rewrite.pattern(), Path(path, "pattern")));
  substitution = rewrite.substitution();
  std::string error;
  if (!regex->CheckRewriteString(substitution, &error)) {
    return FieldError(Path(path, "substitution"), error);
  }
  return absl::OkStatus();
}

struct Defaults {
  const route::RetryPolicy* retry_policy = nullptr;
  std::string retry_policy_path;
  const google::protobuf::RepeatedPtrField<route::RouteAction::RequestMirrorPolicy>* mirrors =
      nullptr;
  std::string mirrors_path;
};

absl::StatusOr<ForwardAction> TranslateForward(const route::RouteAction& a, std::string_view path,
                                               const Defaults& defaults,
                                               const PerFilterConfigs& route_filters) {
  ForwardAction out;
  switch (a.cluster_specifier_case()) {
    case route::RouteAction::kCluster:
      out.cluster = a.cluster();
      break;
    case route::RouteAction::kWeightedClusters: {
      const auto& wc = a.weighted_clusters();
      const std::string wc_path = Path(path, "weighted_clusters");
      if (!wc.header_name().empty()) {
        return FieldError(Path(wc_path, "header_name"), "not supported");
      }
      for (int i = 0; i < wc.clusters_size(); ++i) {
        const auto& c = wc.clusters(i);
        const std::string c_path = Path(wc_path, "clusters", i);
        if (!c.cluster_header().empty()) {
          return FieldError(Path(c_path, "cluster_header"), "not supported");
        }
        if (c.name().empty()) return FieldError(Path(c_path, "name"), "cluster name is required");
        if (c.has_metadata_match()) {
          return FieldError(Path(c_path, "metadata_match"),
                            "subset load balancing is not supported");
        }
        WeightedClusterEntry entry;
        entry.name = c.name();
        entry.weight = c.has_weight() ? c.weight().value() : 0;
        MG_RETURN_IF_ERROR(TranslateRequestResponseHeaders(c, c_path, entry.request_headers,
                                                           entry.response_headers));
        MG_RETURN_IF_ERROR(
            TranslatePerFilterConfigs(c.typed_per_filter_config(), c_path, entry.filters));
        InheritFilterConfigs(entry.filters, route_filters);
        if (!c.host_rewrite_literal().empty()) entry.host_rewrite = c.host_rewrite_literal();
        out.total_weight += entry.weight;
        out.weighted_clusters.push_back(std::move(entry));
      }
      if (out.weighted_clusters.empty()) {
        return FieldError(Path(wc_path, "clusters"), "at least one cluster is required");
      }
      if (out.total_weight == 0) {
        return FieldError(Path(wc_path, "clusters"), "the sum of the weights must be > 0");
      }
      if (wc.has_total_weight() && wc.total_weight().value() != out.total_weight) {
        return FieldError(Path(wc_path, "total_weight"),
                          absl::StrCat("is ", wc.total_weight().value(),
                                       " but the cluster weights sum to ", out.total_weight));
      }
      break;
    }
    case route::RouteAction::kClusterHeader:
      return FieldError(Path(path, "cluster_header"), "cluster_header routing is not supported");
    case route::RouteAction::kClusterSpecifierPlugin:
      return FieldError(Path(path, "cluster_specifier_plugin"),
                        "cluster specifier plugins are not supported");
    case route::RouteAction::kInlineClusterSpecifierPlugin:
      return FieldError(Path(path, "inline_cluster_specifier_plugin"),
                        "cluster specifier plugins are not supported");
    default:
      return FieldError(path, "no cluster specifier set");
  }
  switch (a.cluster_not_found_response_code()) {
    case route::RouteAction::NOT_FOUND:
      out.cluster_not_found_status = 404;
      break;
    case route::RouteAction::INTERNAL_SERVER_ERROR:
      out.cluster_not_found_status = 500;
      break;
    default:
      out.cluster_not_found_status = 503;
      break;
  }
  if (a.has_metadata_match()) {
    return FieldError(Path(path, "metadata_match"), "subset load balancing is not supported");
  }
  if (!a.prefix_rewrite().empty() && a.has_regex_rewrite()) {
    return FieldError(Path(path, "regex_rewrite"), "cannot be combined with prefix_rewrite");
  }
  if (!a.prefix_rewrite().empty()) out.prefix_rewrite = a.prefix_rewrite();
  if (a.has_regex_rewrite()) {
    MG_RETURN_IF_ERROR(TranslateRewrite(a.regex_rewrite(), Path(path, "regex_rewrite"),
                                        out.regex_rewrite, out.regex_substitution));
  }
  if (a.has_path_rewrite_policy()) {
    return FieldError(Path(path, "path_rewrite_policy"), "not supported");
  }
  switch (a.host_rewrite_specifier_case()) {
    case route::RouteAction::kHostRewriteLiteral:
      out.host_rewrite = a.host_rewrite_literal();
      break;
    case route::RouteAction::kAutoHostRewrite:
      if (a.auto_host_rewrite().value()) {
        return FieldError(Path(path, "auto_host_rewrite"), "not supported");
      }
      break;
    case route::RouteAction::kHostRewriteHeader:
      return FieldError(Path(path, "host_rewrite_header"), "not supported");
    case route::RouteAction::kHostRewritePathRegex:
      return FieldError(Path(path, "host_rewrite_path_regex"), "not supported");
    default:
      break;
  }
  if (a.append_x_forwarded_host()) {
    return FieldError(Path(path, "append_x_forwarded_host"), "not supported");
  }
  if (a.has_timeout()) out.timeout = ToDuration(a.timeout());
  if (a.has_idle_timeout()) out.idle_timeout = ToDuration(a.idle_timeout());
  if (a.has_early_data_policy())
    return FieldError(Path(path, "early_data_policy"), "not supported");
  if (a.has_retry_policy_typed_config()) {
    return FieldError(Path(path, "retry_policy_typed_config"), "not supported");
  }
  if (a.has_retry_policy()) {
    MG_ASSIGN_OR_RETURN(out.retry,
                        TranslateRetryPolicy(a.retry_policy(), Path(path, "retry_policy")));
  } else if (defaults.retry_policy != nullptr) {
    MG_ASSIGN_OR_RETURN(out.retry,
                        TranslateRetryPolicy(*defaults.retry_policy, defaults.retry_policy_path));
  }
  if (a.request_mirror_policies_size() > 0) {
    MG_ASSIGN_OR_RETURN(out.mirrors, TranslateMirrors(a.request_mirror_policies(), path));
  } else if (defaults.mirrors != nullptr) {
    MG_ASSIGN_OR_RETURN(out.mirrors, TranslateMirrors(*defaults.mirrors, defaults.mirrors_path));
  }
  if (a.rate_limits_size() > 0) {
    return FieldError(Path(path, "rate_limits"), "global rate limiting is not supported");
  }
  MG_ASSIGN_OR_RETURN(out.hash_policies, TranslateHashPolicies(a.hash_policy(), path));
  if (a.has_internal_redirect_policy()) {
    return FieldError(Path(path, "internal_redirect_policy"),
                      "internal redirects are not supported");
  }
  if (a.internal_redirect_action() == route::RouteAction::HANDLE_INTERNAL_REDIRECT) {
    return FieldError(Path(path, "internal_redirect_action"),
                      "internal redirects are not supported");
  }
  if (a.has_hedge_policy()) return FieldError(Path(path, "hedge_policy"), "not supported");
  return out;
}

absl::StatusOr<RedirectAction> TranslateRedirect(const route::RedirectAction& r,
                                                 std::string_view path) {
  RedirectAction out;
  if (r.scheme_rewrite_specifier_case() == route::RedirectAction::kHttpsRedirect) {
    if (r.https_redirect()) out.scheme = "https";
  } else if (!r.scheme_redirect().empty()) {
    out.scheme = AsciiLowered(r.scheme_redirect());
  }
  if (!r.host_redirect().empty()) out.host = r.host_redirect();
  if (r.port_redirect() > 65535) {
    return FieldError(Path(path, "port_redirect"), "must be <= 65535");
  }
  out.port = r.port_redirect();
  switch (r.path_rewrite_specifier_case()) {
    case route::RedirectAction::kPathRedirect:
      out.path = r.path_redirect();
      break;
    case route::RedirectAction::kPrefixRewrite:
      out.prefix_rewrite = r.prefix_rewrite();
      break;
    case route::RedirectAction::kRegexRewrite:
      MG_RETURN_IF_ERROR(TranslateRewrite(r.regex_rewrite(), Path(path, "regex_rewrite"),
                                          out.regex_rewrite, out.regex_substitution));
      break;
    default:
      break;
  }
  switch (r.response_code()) {
    case route::RedirectAction::MOVED_PERMANENTLY:
      out.response_code = 301;
      break;
    case route::RedirectAction::FOUND:
      out.response_code = 302;
      break;
    case route::RedirectAction::SEE_OTHER:
      out.response_code = 303;
      break;
    case route::RedirectAction::TEMPORARY_REDIRECT:
      out.response_code = 307;
      break;
    case route::RedirectAction::PERMANENT_REDIRECT:
      out.response_code = 308;
      break;
    default:
      return FieldError(Path(path, "response_code"), "unknown redirect response code");
  }
  out.strip_query = r.strip_query();
  return out;
}

absl::StatusOr<DirectResponseAction> TranslateDirectResponse(const route::DirectResponseAction& d,
                                                             std::string_view path,
                                                             uint32_t max_body_size) {
  DirectResponseAction out;
  if (d.status() < 200 || d.status() >= 600) {
    return FieldError(Path(path, "status"),
                      absl::StrCat("status ", d.status(), " not in [200, 600)"));
  }
  out.status = d.status();
  if (d.has_body()) {
    switch (d.body().specifier_case()) {
      case core::DataSource::kInlineString:
        out.body = d.body().inline_string();
        break;
      case core::DataSource::kInlineBytes:
        out.body = d.body().inline_bytes();
        break;
      case core::DataSource::kFilename:
        return FieldError(Path(path, "body.filename"), "only inline bodies are supported");
      case core::DataSource::kEnvironmentVariable:
        return FieldError(Path(path, "body.environment_variable"),
                          "only inline bodies are supported");
      default:
        break;
    }
  }
  if (out.body.size() > max_body_size) {
    return FieldError(
        Path(path, "body"),
        absl::StrCat("body of ", out.body.size(), " bytes exceeds the limit of ", max_body_size));
  }
  return out;
}

absl::StatusOr<Route> TranslateRoute(const route::Route& r, std::string_view path,
                                     const Defaults& defaults,
                                     const PerFilterConfigs& vhost_filters,
                                     uint32_t max_body_size) {
  Route out;
  out.name = r.name();
  const route::RouteMatch& m = r.match();
  const std::string match_path = Path(path, "match");
  const bool case_sensitive = !m.has_case_sensitive() || m.case_sensitive().value();
  out.path.case_sensitive = case_sensitive;
  switch (m.path_specifier_case()) {
    case route::RouteMatch::kPrefix:
      out.path.kind = PathMatcher::Kind::kPrefix;
      out.path.value = m.prefix();
      break;
    case route::RouteMatch::kPath:
      out.path.kind = PathMatcher::Kind::kExact;
      out.path.value = m.path();
      break;
    case route::RouteMatch::kSafeRegex: {
      out.path.kind = PathMatcher::Kind::kRegex;
      MG_ASSIGN_OR_RETURN(
          out.path.regex,
          TranslateRegex(m.safe_regex(), Path(match_path, "safe_regex"), case_sensitive));
      out.path.value = m.safe_regex().regex();
      break;
    }
    case route::RouteMatch::kPathSeparatedPrefix: {
      const std::string& prefix = m.path_separated_prefix();
      if (prefix.empty() || prefix.back() == '/' ||
          prefix.find_first_of("?#") != std::string::npos) {
        return FieldError(Path(match_path, "path_separated_prefix"),
                          "must be non-empty and contain no '?', '#' or trailing '/'");
      }
      out.path.kind = PathMatcher::Kind::kSeparatedPrefix;
      out.path.value = prefix;
      break;
    }
    case route::RouteMatch::kConnectMatcher:
      return FieldError(Path(match_path, "connect_matcher"), "CONNECT routing is not supported");
    case route::RouteMatch::kPathMatchPolicy:
      return FieldError(Path(match_path, "path_match_policy"), "not supported");
    default:
      return FieldError(match_path, "no path specifier set");
  }
  for (int i = 0; i < m.headers_size(); ++i) {
    MG_ASSIGN_OR_RETURN(HeaderMatcher hm,
                        TranslateHeaderMatcher(m.headers(i), Path(match_path, "headers", i)));
    out.headers.push_back(std::move(hm));
  }
  if (m.has_grpc()) {
    // Only gRPC requests: content-type starts with application/grpc.
    HeaderMatcher grpc;
    grpc.name = "content-type";
    grpc.kind = HeaderMatcher::Kind::kString;
    MG_ASSIGN_OR_RETURN(grpc.string,
                        StringMatcher::Create(StringMatcher::Kind::kPrefix, "application/grpc"));
    out.headers.push_back(std::move(grpc));
  }
  for (int i = 0; i < m.query_parameters_size(); ++i) {
    MG_ASSIGN_OR_RETURN(
        QueryParameterMatcher qm,
        TranslateQueryMatcher(m.query_parameters(i), Path(match_path, "query_parameters", i)));
    out.query_parameters.push_back(std::move(qm));
  }
  if (m.has_tls_context()) return FieldError(Path(match_path, "tls_context"), "not supported");
  if (m.dynamic_metadata_size() > 0) {
    return FieldError(Path(match_path, "dynamic_metadata"), "not supported");
  }

  MG_RETURN_IF_ERROR(TranslatePerFilterConfigs(r.typed_per_filter_config(), path, out.filters));
  InheritFilterConfigs(out.filters, vhost_filters);
  MG_RETURN_IF_ERROR(
      TranslateRequestResponseHeaders(r, path, out.request_headers, out.response_headers));

  switch (r.action_case()) {
    case route::Route::kRoute: {
      const route::RouteAction& a = r.route();
      MG_ASSIGN_OR_RETURN(ForwardAction forward,
                          TranslateForward(a, Path(path, "route"), defaults, out.filters));
      if (a.has_cors()) {
        const auto& c = a.cors();
        MG_ASSIGN_OR_RETURN(
            out.filters.cors,
            TranslateCorsCommon(
                c.allow_origin_string_match(), "allow_origin_string_match", c.allow_methods(),
                c.allow_headers(), c.expose_headers(), c.max_age(), c.allow_credentials().value(),
                c.has_filter_enabled() ? &c.filter_enabled() : nullptr, Path(path, "route.cors")));
      }
      out.action = std::move(forward);
      break;
    }
    case route::Route::kRedirect: {
      MG_ASSIGN_OR_RETURN(RedirectAction redirect,
                          TranslateRedirect(r.redirect(), Path(path, "redirect")));
      out.action = std::move(redirect);
      break;
    }
    case route::Route::kDirectResponse: {
      MG_ASSIGN_OR_RETURN(DirectResponseAction direct,
                          TranslateDirectResponse(r.direct_response(),
                                                  Path(path, "direct_response"), max_body_size));
      out.action = std::move(direct);
      break;
    }
    case route::Route::kFilterAction:
      return FieldError(Path(path, "filter_action"), "filter actions are not supported");
    case route::Route::kNonForwardingAction:
      return FieldError(Path(path, "non_forwarding_action"), "not supported");
    default:
      return FieldError(path, "no action set");
  }
  return out;
}

absl::StatusOr<VirtualHost> TranslateVirtualHost(const route::VirtualHost& v, std::string_view path,
                                                 const Defaults& config_defaults,
                                                 const PerFilterConfigs& config_filters,
                                                 uint32_t max_body_size) {
  VirtualHost out;
  out.name = v.name();
  if (v.domains_size() == 0)
    return FieldError(Path(path, "domains"), "at least one domain is required");
  out.domains.assign(v.domains().begin(), v.domains().end());
  if (v.has_matcher()) return FieldError(Path(path, "matcher"), "not supported");
  if (v.require_tls() != route::VirtualHost::NONE) {
    return FieldError(Path(path, "require_tls"), "not supported");
  }
  if (v.rate_limits_size() > 0) {
    return FieldError(Path(path, "rate_limits"), "global rate limiting is not supported");
  }
  if (v.has_retry_policy_typed_config()) {
    return FieldError(Path(path, "retry_policy_typed_config"), "not supported");
  }
  if (v.has_hedge_policy()) return FieldError(Path(path, "hedge_policy"), "not supported");
  MG_RETURN_IF_ERROR(
      TranslateRequestResponseHeaders(v, path, out.request_headers, out.response_headers));
  PerFilterConfigs filters;
  MG_RETURN_IF_ERROR(TranslatePerFilterConfigs(v.typed_per_filter_config(), path, filters));
  if (v.has_cors() && !filters.cors.has_value()) {
    const auto& c = v.cors();
    MG_ASSIGN_OR_RETURN(
        filters.cors,
        TranslateCorsCommon(
            c.allow_origin_string_match(), "allow_origin_string_match", c.allow_methods(),
            c.allow_headers(), c.expose_headers(), c.max_age(), c.allow_credentials().value(),
            c.has_filter_enabled() ? &c.filter_enabled() : nullptr, Path(path, "cors")));
  }
  InheritFilterConfigs(filters, config_filters);
  Defaults defaults = config_defaults;
  if (v.has_retry_policy()) {
    defaults.retry_policy = &v.retry_policy();
    defaults.retry_policy_path = Path(path, "retry_policy");
  }
  if (v.request_mirror_policies_size() > 0) {
    defaults.mirrors = &v.request_mirror_policies();
    defaults.mirrors_path = std::string(path);
  }
  for (int i = 0; i < v.routes_size(); ++i) {
    MG_ASSIGN_OR_RETURN(Route r, TranslateRoute(v.routes(i), Path(path, "routes", i), defaults,
                                                filters, max_body_size));
    out.routes.push_back(std::move(r));
  }
  return out;
}

}  // namespace

absl::StatusOr<FaultConfig> TranslateFault(
    const envoy::extensions::filters::http::fault::v3::HTTPFault& fault, std::string_view path) {
  FaultConfig out;
  if (fault.has_delay()) {
    const auto& delay = fault.delay();
    if (delay.has_header_delay()) {
      return FieldError(Path(path, "delay.header_delay"),
                        "header-controlled faults are not supported");
    }
    if (!delay.has_fixed_delay()) return FieldError(Path(path, "delay"), "fixed_delay is required");
    out.delay = ToDuration(delay.fixed_delay());
    out.delay_fraction = ToPartsPerMillion(delay.percentage());
  }
  if (fault.has_abort()) {
    const auto& abort = fault.abort();
    switch (abort.error_type_case()) {
      case envoy::extensions::filters::http::fault::v3::FaultAbort::kHttpStatus:
        if (abort.http_status() < 200 || abort.http_status() >= 600) {
          return FieldError(Path(path, "abort.http_status"), "must be in [200, 600)");
        }
        out.abort_http_status = abort.http_status();
        break;
      case envoy::extensions::filters::http::fault::v3::FaultAbort::kGrpcStatus:
        out.abort_grpc_status = abort.grpc_status();
        break;
      case envoy::extensions::filters::http::fault::v3::FaultAbort::kHeaderAbort:
        return FieldError(Path(path, "abort.header_abort"),
                          "header-controlled faults are not supported");
      default:
        return FieldError(Path(path, "abort"), "no error type set");
    }
    out.abort_fraction = ToPartsPerMillion(abort.percentage());
  }
  if (!fault.upstream_cluster().empty()) {
    return FieldError(Path(path, "upstream_cluster"), "not supported");
  }
  if (fault.headers_size() > 0) return FieldError(Path(path, "headers"), "not supported");
  if (fault.downstream_nodes_size() > 0) {
    return FieldError(Path(path, "downstream_nodes"), "not supported");
  }
  if (fault.has_response_rate_limit()) {
    return FieldError(Path(path, "response_rate_limit"), "not supported");
  }
  if (fault.has_max_active_faults()) out.max_active_faults = fault.max_active_faults().value();
  return out;
}

absl::StatusOr<CorsPolicy> TranslateCorsPolicy(
    const envoy::extensions::filters::http::cors::v3::CorsPolicy& c, std::string_view path) {
  return TranslateCorsCommon(c.allow_origin_string_match(), "allow_origin_string_match",
                             c.allow_methods(), c.allow_headers(), c.expose_headers(), c.max_age(),
                             c.allow_credentials().value(),
                             c.has_filter_enabled() ? &c.filter_enabled() : nullptr, path);
}

absl::StatusOr<LocalRateLimitConfig> TranslateLocalRateLimit(
    const envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit& l,
    std::string_view path) {
  LocalRateLimitConfig out;
  out.stat_prefix = l.stat_prefix();
  if (l.has_token_bucket()) {
    const auto& bucket = l.token_bucket();
    if (bucket.max_tokens() == 0) {
      return FieldError(Path(path, "token_bucket.max_tokens"), "must be > 0");
    }
    out.max_tokens = bucket.max_tokens();
    out.tokens_per_fill = bucket.has_tokens_per_fill() ? bucket.tokens_per_fill().value() : 1;
    if (out.tokens_per_fill == 0) {
      return FieldError(Path(path, "token_bucket.tokens_per_fill"), "must be > 0");
    }
    out.fill_interval = ToDuration(bucket.fill_interval());
    if (out.fill_interval < absl::Milliseconds(50)) {
      return FieldError(Path(path, "token_bucket.fill_interval"), "must be >= 50ms");
    }
    out.has_token_bucket = true;
  }
  if (l.has_status() && l.status().code() != 0) out.status_code = l.status().code();
  if (l.has_filter_enabled()) out.enabled_fraction = RuntimeFraction(l.filter_enabled());
  if (l.has_filter_enforced()) out.enforced_fraction = RuntimeFraction(l.filter_enforced());
  out.x_ratelimit_headers = l.enable_x_ratelimit_headers() != 0;
  if (l.descriptors_size() > 0) return FieldError(Path(path, "descriptors"), "not supported");
  if (l.has_local_cluster_rate_limit()) {
    return FieldError(Path(path, "local_cluster_rate_limit"), "not supported");
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const RouteTable>> TranslateRouteConfiguration(
    const route::RouteConfiguration& config) {
  auto translate = [&]() -> absl::StatusOr<std::shared_ptr<const RouteTable>> {
    MG_RETURN_IF_ERROR(CheckNoUnknownFields(config, ""));
    if (config.has_vhds()) return FieldError("vhds", "VHDS is not supported");
    for (int i = 0; i < config.cluster_specifier_plugins_size(); ++i) {
      if (!config.cluster_specifier_plugins(i).is_optional()) {
        return FieldError(Path("", "cluster_specifier_plugins", i),
                          "cluster specifier plugins are not supported");
      }
    }
    if (config.internal_only_headers_size() > 0) {
      return FieldError("internal_only_headers", "not supported");
    }
    if (config.ignore_path_parameters_in_path_matching()) {
      return FieldError("ignore_path_parameters_in_path_matching", "not supported");
    }
    const uint32_t max_body_size = config.has_max_direct_response_body_size_bytes()
                                       ? config.max_direct_response_body_size_bytes().value()
                                       : 4096;
    RouteTable::Options options;
    options.name = config.name();
    options.most_specific_header_mutations_wins = config.most_specific_header_mutations_wins();
    options.ignore_port_in_host_matching = config.ignore_port_in_host_matching();
    MG_RETURN_IF_ERROR(TranslateRequestResponseHeaders(config, "", options.request_headers,
                                                       options.response_headers));
    PerFilterConfigs filters;
    MG_RETURN_IF_ERROR(TranslatePerFilterConfigs(config.typed_per_filter_config(), "", filters));
    Defaults defaults;
    if (config.request_mirror_policies_size() > 0)
      defaults.mirrors = &config.request_mirror_policies();
    std::vector<VirtualHost> vhosts;
    for (int i = 0; i < config.virtual_hosts_size(); ++i) {
      MG_ASSIGN_OR_RETURN(
          VirtualHost vhost,
          TranslateVirtualHost(config.virtual_hosts(i), Path("", "virtual_hosts", i), defaults,
                               filters, max_body_size));
      vhosts.push_back(std::move(vhost));
    }
    return RouteTable::Create(std::move(options), std::move(vhosts));
  };
  auto result = translate();
  if (!result.ok()) return ForResource(result.status(), "RouteConfiguration", config.name());
  return result;
}

}  // namespace meshgate::proxy::config
