#include "proxy/router/retry_state.h"

#include <algorithm>

namespace meshgate::proxy {

RetryState::RetryState(RetryPolicy policy, Random& random)
    : policy_(std::move(policy)), random_(random) {}

bool RetryState::IsRetriable(const AttemptOutcome& outcome) const {
  const uint32_t on = policy_.retry_on;
  if (outcome.reset != UpstreamReset::kNone) {
    if (outcome.reset == UpstreamReset::kOverflow) return false;
    if (on & (kRetryOn5xx | kRetryOnGatewayError)) return true;
    switch (outcome.reset) {
      case UpstreamReset::kConnectFailure:
        return (on & (kRetryOnConnectFailure | kRetryOnReset)) != 0;
      case UpstreamReset::kRefusedStream:
        return (on & (kRetryOnRefusedStream | kRetryOnReset)) != 0;
      case UpstreamReset::kRemoteReset:
      case UpstreamReset::kPerTryTimeout:
        return (on & kRetryOnReset) != 0;
      default:
        return false;
    }
  }
  if (outcome.http_status.has_value()) {
    const uint32_t status = *outcome.http_status;
    if ((on & kRetryOn5xx) && status >= 500 && status <= 599) return true;
    if ((on & kRetryOnGatewayError) && status >= 502 && status <= 504) return true;
    if ((on & kRetryOnRetriable4xx) && status == 409) return true;
    if ((on & kRetryOnRetriableStatusCodes) &&
        std::find(policy_.retriable_status_codes.begin(), policy_.retriable_status_codes.end(),
                  status) != policy_.retriable_status_codes.end()) {
      return true;
    }
  }
  if (outcome.grpc_status.has_value()) {
    switch (*outcome.grpc_status) {
      case 1:
        return (on & kRetryOnGrpcCancelled) != 0;
      case 4:
        return (on & kRetryOnGrpcDeadlineExceeded) != 0;
      case 8:
        return (on & kRetryOnGrpcResourceExhausted) != 0;
      case 13:
        return (on & kRetryOnGrpcInternal) != 0;
      case 14:
        return (on & kRetryOnGrpcUnavailable) != 0;
      default:
        break;
    }
  }
  return false;
}

bool RetryState::RetriesOnGrpcStatus() const {
  constexpr uint32_t kGrpcConditions = kRetryOnGrpcCancelled | kRetryOnGrpcDeadlineExceeded |
                                       kRetryOnGrpcInternal | kRetryOnGrpcResourceExhausted |
                                       kRetryOnGrpcUnavailable;
  return (policy_.retry_on & kGrpcConditions) != 0;
}

RetryState::Decision RetryState::OnAttemptComplete(const AttemptOutcome& outcome,
                                                   const Host* host) {
  ++attempts_;
  if (host != nullptr) tried_hosts_.push_back(host->key);
  if (!IsRetriable(outcome) || retries_used_ >= policy_.num_retries) return Decision{};
  ++retries_used_;
  return Decision{true, NextBackoff()};
}

absl::Duration RetryState::NextBackoff() {
  const absl::Duration max = std::max(policy_.backoff_max, policy_.backoff_base);
  absl::Duration ceiling = policy_.backoff_base;
  for (uint32_t i = 1; i < retries_used_ && ceiling < max; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max);
  const int64_t ceiling_ns = absl::ToInt64Nanoseconds(ceiling);
  if (ceiling_ns <= 0) return absl::ZeroDuration();
  return absl::Nanoseconds(
      static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(ceiling_ns))));
}

std::function<bool(const Host&)> RetryState::ExcludePredicate() const {
  if (!policy_.retry_other_host || tried_hosts_.empty()) return {};
  return [tried = tried_hosts_](const Host& host) {
    return std::find(tried.begin(), tried.end(), host.key) != tried.end();
  };
}

}  // namespace meshgate::proxy
