// The per-request computations a matched route asks for: weighted cluster
// choice, path rewrites, redirect URL composition, the request hash for
// consistent load balancing and the mirror decision.
//
// Pure functions of the route, the request and (where a choice is random) a
// caller-supplied draw, so tests can pin every outcome.
//
// Thread-safety: pure; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "proxy/router/request_view.h"
#include "proxy/router/route_table.h"

namespace meshgate::proxy {

struct ClusterChoice {
  const std::string* cluster = nullptr;
  // The chosen entry when the route uses weighted clusters, else nullptr.
  const WeightedClusterEntry* weighted = nullptr;
};

// Picks the upstream cluster. `random_draw` is any uniformly random 64-bit
// value; it is only used for weighted clusters.
ClusterChoice SelectCluster(const ForwardAction& action, uint64_t random_draw);

// The :path to send upstream after prefix_rewrite / regex_rewrite, query
// string preserved. nullopt when the route rewrites nothing.
std::optional<std::string> RewritePath(const Route& route, const ForwardAction& action,
                                       std::string_view request_path);

// The Host to send upstream (host_rewrite_literal of the weighted cluster,
// else of the route). nullopt when unchanged.
std::optional<std::string> RewriteHost(const ForwardAction& action,
                                       const WeightedClusterEntry* weighted);

// The Location of a redirect route: scheme, host, port and path are each the
// redirect's override if set, else the request's. A port that is the default
// of the resulting scheme is omitted; when only the scheme changes, a default
// port of the old scheme is dropped.
std::string ComposeRedirectLocation(const Route& route, const RedirectAction& redirect,
                                    const RequestView& request);

// Hash for ring hash / maglev from the route's hash policies, combined in
// order; a terminal policy that produced a value ends the walk. nullopt when
// no policy produced a value (the balancer then picks at random).
std::optional<uint64_t> ComputeRequestHash(const std::vector<HashPolicy>& policies,
                                           const RequestView& request);

// Whether to mirror to `policy.cluster`, given a uniform random draw.
bool ShouldMirror(const MirrorPolicy& policy, uint64_t random_draw);

}  // namespace meshgate::proxy
