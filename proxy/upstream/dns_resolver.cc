#include "proxy/upstream/dns_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/status/status.h"

namespace meshgate::proxy::upstream {
namespace {

bool IsIpLiteral(const std::string& address) {
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, address.c_str(), &v4) == 1 ||
         inet_pton(AF_INET6, address.c_str(), &v6) == 1;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveHostname(const std::string& hostname,
                                                         config::DnsLookupFamily family) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = family == config::DnsLookupFamily::kV4Only   ? AF_INET
                    : family == config::DnsLookupFamily::kV6Only ? AF_INET6
                                                                 : AF_UNSPEC;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(hostname.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    return absl::UnavailableError("resolving '" + hostname + "': " + gai_strerror(rc));
  }
  std::vector<std::string> addresses;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text,
                sizeof(text));
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text,
                sizeof(text));
    } else {
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
      addresses.emplace_back(text);
    }
  }
  freeaddrinfo(list);
  if (addresses.empty()) return absl::UnavailableError("resolving '" + hostname + "': no address");
  return addresses;
}

std::vector<std::string> HostnamesOf(const config::EndpointSet& endpoints) {
  std::vector<std::string> names;
  for (const Endpoint& e : endpoints.endpoints) {
    if (!IsIpLiteral(e.address)) names.push_back(e.address);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::shared_ptr<const config::EndpointSet> ResolvedEndpointSet(
    const config::EndpointSet& configured, const DnsResults& results, bool first_address_only) {
  auto out = std::make_shared<config::EndpointSet>();
  out->cluster_name = configured.cluster_name;
  for (const Endpoint& e : configured.endpoints) {
    if (IsIpLiteral(e.address)) {
      out->endpoints.push_back(e);
      continue;
    }
    auto it = results.find(e.address);
    if (it == results.end()) continue;
    for (const std::string& address : it->second) {
      Endpoint resolved = e;
      resolved.address = address;
      out->endpoints.push_back(std::move(resolved));
      if (first_address_only) break;
    }
  }
  out->hosts = HostSet::FromEndpoints(out->endpoints);
  return out;
}

DnsResolver::DnsResolver() : thread_([this] { Run(); }) {}

DnsResolver::~DnsResolver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

void DnsResolver::Resolve(std::vector<std::string> hostnames, config::DnsLookupFamily family,
                          Callback done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(Batch{std::move(hostnames), family, std::move(done)});
  }
  cv_.notify_one();
}

void DnsResolver::Run() {
  while (true) {
    Batch batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    DnsResults results;
    absl::Status failure;
    for (const std::string& name : batch.hostnames) {
      auto addresses = ResolveHostname(name, batch.family);
      if (!addresses.ok()) {
        failure = addresses.status();
        break;
      }
      results[name] = *std::move(addresses);
    }
    if (failure.ok()) {
      batch.done(std::move(results));
    } else {
      batch.done(failure);
    }
  }
}

}  // namespace meshgate::proxy::upstream
