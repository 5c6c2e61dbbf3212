// RetryState: the retry decisions for one downstream request under a route's
// RetryPolicy.
//
// The router creates one RetryState per request, reports every upstream
// attempt's outcome to OnAttemptComplete(), and obeys the decision: give up,
// or retry after `backoff`. Backoff is "full jitter" exponential: the n-th
// retry waits a uniform random time in [0, min(base * 2^(n-1), max)), drawn
// from the injected Random, so tests pin it with a seed and nothing sleeps
// here (the caller arms a timer). With the previous_hosts predicate the state
// remembers the hosts tried and ExcludePredicate() keeps the load balancer
// away from them.
//
// Classification follows Envoy: "5xx" and "gateway-error" also retry upstream
// resets, connect failures and per-try timeouts (but not local overflow);
// "retriable-4xx" is 409; gRPC names match the grpc-status of the response.
//
// Thread-safety: per request, used on its worker thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proxy/router/route_table.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/random.h"

namespace meshgate::proxy {

enum class UpstreamReset {
  kNone,
  kConnectFailure,  // the connection could not be established
  kRemoteReset,     // the upstream reset or closed the stream / connection
  kRefusedStream,   // HTTP/2 REFUSED_STREAM
  kPerTryTimeout,   // the attempt exceeded per_try_timeout
  kOverflow,        // local: circuit breaker / pool overflow; never retried
};

struct AttemptOutcome {
  std::optional<uint32_t> http_status;  // response :status, if any arrived
  std::optional<uint32_t> grpc_status;  // grpc-status from headers or trailers
  UpstreamReset reset = UpstreamReset::kNone;
};

class RetryState {
 public:
  struct Decision {
    bool retry = false;
    absl::Duration backoff = absl::ZeroDuration();
  };

  // `random` must outlive the state.
  RetryState(RetryPolicy policy, Random& random);

  // Whether the policy's retry_on conditions cover `outcome` (ignores the
  // retry budget).
  bool IsRetriable(const AttemptOutcome& outcome) const;

  // Whether a gRPC status can make an attempt retriable: the router then
  // holds a gRPC response's headers until it knows the status, which may
  // come in the trailers.
  bool RetriesOnGrpcStatus() const;

  // Records one finished attempt (on `host`, if one was chosen) and decides.
  Decision OnAttemptComplete(const AttemptOutcome& outcome, const Host* host = nullptr);

  // For LbContext::exclude: true for hosts already tried when the policy
  // says "retry to another host"; empty function otherwise.
  std::function<bool(const Host&)> ExcludePredicate() const;

  uint32_t attempts() const { return attempts_; }
  uint32_t retries_remaining() const { return policy_.num_retries - retries_used_; }
  const RetryPolicy& policy() const { return policy_; }

 private:
  absl::Duration NextBackoff();

  RetryPolicy policy_;
  Random& random_;
  uint32_t attempts_ = 0;
  uint32_t retries_used_ = 0;
  std::vector<std::string> tried_hosts_;
};

}  // namespace meshgate::proxy
