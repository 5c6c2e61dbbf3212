// Per-route configuration of the HTTP filters meshgate-proxy implements
// (fault injection, CORS, local rate limit), in runtime form.
//
// Values are translated from the filters' protos (HCM http_filters and the
// routes' typed_per_filter_config) and then immutable.
//
// Thread-safety: plain immutable values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proxy/router/string_matcher.h"

namespace meshgate::proxy {

// A probability as parts per million (Envoy's FractionalPercent normalised).
using PartsPerMillion = uint32_t;
inline constexpr PartsPerMillion kAlways = 1'000'000;

struct FaultConfig {
  std::optional<absl::Duration> delay;
  PartsPerMillion delay_fraction = 0;
  std::optional<uint32_t> abort_http_status;
  std::optional<uint32_t> abort_grpc_status;
  PartsPerMillion abort_fraction = 0;
  // Limit on concurrently active faults; nullopt = unlimited.
  std::optional<uint32_t> max_active_faults;
};

struct CorsPolicy {
  std::vector<StringMatcher> allow_origins;
  std::string allow_methods;
  std::string allow_headers;
  std::string expose_headers;
  std::string max_age;
  bool allow_credentials = false;
  // filter_enabled default_value; 0 disables the policy.
  PartsPerMillion enabled_fraction = kAlways;
};

struct LocalRateLimitConfig {
  std::string stat_prefix;
  uint32_t max_tokens = 0;
  uint32_t tokens_per_fill = 1;
  absl::Duration fill_interval = absl::Seconds(1);
  uint32_t status_code = 429;
  PartsPerMillion enabled_fraction = 0;   // filter_enabled
  PartsPerMillion enforced_fraction = 0;  // filter_enforced
  // False when the message carried no token bucket (filter only declared).
  bool has_token_bucket = false;
  // enable_x_ratelimit_headers: DRAFT_VERSION_03 — x-ratelimit-limit,
  // -remaining and -reset on every response of the route.
  bool x_ratelimit_headers = false;
};

// The effective per-route configuration of every supported filter; the most
// specific level (route > virtual host > route configuration) wins.
struct PerFilterConfigs {
  std::optional<FaultConfig> fault;
  std::optional<CorsPolicy> cors;
  std::optional<LocalRateLimitConfig> local_rate_limit;
};

}  // namespace meshgate::proxy
