// DnsResolver: hostname resolution for STRICT_DNS / LOGICAL_DNS clusters,
// with getaddrinfo on a thread of its own so no worker ever blocks on DNS.
//
// Resolve() queues a batch of hostnames; the resolver thread resolves them
// one batch at a time and calls the batch's callback on that thread with the
// addresses of each name (IP literals, in the resolver's order, duplicates
// removed) or the error of the first name that failed. Callers hand the
// result to their own thread (a worker posts it to its Dispatcher).
//
// ResolvedEndpointSet() is the pure half: a DNS cluster's configured
// endpoints with each hostname replaced by its addresses.
//
// Thread-safety: Resolve() may be called from any thread. The destructor
// stops the thread after the batch in progress; queued batches are dropped
// and their callbacks never run.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/cluster_translator.h"

namespace meshgate::proxy::upstream {

// Addresses by hostname.
using DnsResults = std::map<std::string, std::vector<std::string>>;

class DnsResolver {
 public:
  using Callback = std::function<void(absl::StatusOr<DnsResults>)>;

  DnsResolver();
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  void Resolve(std::vector<std::string> hostnames, config::DnsLookupFamily family, Callback done);

 private:
  struct Batch {
    std::vector<std::string> hostnames;
    config::DnsLookupFamily family;
    Callback done;
  };
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// Resolves one hostname now (blocking). Exposed for tests and the resolver.
absl::StatusOr<std::vector<std::string>> ResolveHostname(const std::string& hostname,
                                                         config::DnsLookupFamily family);

// The hostnames among `endpoints` (entries that are not IP literals), sorted
// and unique.
std::vector<std::string> HostnamesOf(const config::EndpointSet& endpoints);

// `configured` with every hostname endpoint replaced by one endpoint per
// resolved address (STRICT_DNS) or by the first address only (LOGICAL_DNS,
// `first_address_only`). Endpoints whose name has no result are dropped.
std::shared_ptr<const config::EndpointSet> ResolvedEndpointSet(
    const config::EndpointSet& configured, const DnsResults& results, bool first_address_only);

}  // namespace meshgate::proxy::upstream
