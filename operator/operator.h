// Operator: the control-plane process's wiring. Owns the config store and the
// config sources that feed it, and reports every store change on an output
// stream; runs the xDS server (XdsPublisher), the CA with its root
// maintenance (TrustRootManager: rotation on POST /debug/ca/rotate-root,
// pruning of retired roots every second) and the admin endpoint.
//
// Lifecycle: construct, Start() once, Stop() once (also run by the
// destructor). Thread-safety: Start() and Stop() from one thread; store() may
// be used from any thread between them.
#pragma once

#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/snapshot.h"
#include "operator/config_source.h"
#include "operator/config_store.h"
#include "xds-server/status_tracker.h"

namespace meshgate::operator_ {

struct OperatorOptions {
  std::string config_dir;
  std::string state_dir;
  std::string log_level = "info";
  bool strict = false;
  // Ports; 0 turns the endpoint off.
  std::string listen_address = "127.0.0.1";  // loopback in file mode
  int xds_port = 15010;
  int admin_port = 15014;
  int ca_port = 15012;
  std::string ca_tokens;  // file of "TOKEN SPIFFE_ID" lines
  // Names (DNS or IP) proxies dial the CA by, besides localhost, 127.0.0.1
  // and a specific --listen-address: its serving certificate carries them.
  std::vector<std::string> ca_names;
  std::string trust_domain = "cluster.local";
  std::string cluster_domain = "cluster.local";
  absl::Duration debounce = absl::Milliseconds(100);
  absl::Duration debounce_max = absl::Seconds(10);
  // Workload certificate lifetimes the CA grants (see ca::CaOptions). The
  // defaults suit production; a short minimum is for tests and demos.
  absl::Duration ca_min_ttl = absl::Minutes(10);
  absl::Duration ca_default_ttl = absl::Hours(24);
  absl::Duration ca_max_ttl = absl::Hours(24 * 90);
  // Clock skew the CA tolerates: leaves are backdated by it and a retired root
  // stays trusted this much longer than the longest leaf it could have signed.
  absl::Duration ca_clock_skew = absl::Minutes(5);
  // How often retired roots past their drop time are looked for.
  absl::Duration ca_prune_interval = absl::Seconds(1);
};

struct OperatorFlags {
  OperatorOptions options;
  bool help = false;  // --help was given; nothing else was checked
};

// Parses the command line (without argv[0]). Strict: unknown flags, stray
// arguments, missing values, malformed numbers and inconsistent CA lifetimes
// (min <= default <= max) are errors whose message is meant for the user.
absl::StatusOr<OperatorFlags> ParseOperatorFlags(const std::vector<std::string>& args);
std::string OperatorUsage();

// "store version=N objects=M VirtualService=a DestinationRule=b ..." with
// every kind, in Kind order.
std::string FormatStoreSummary(const api::ConfigSnapshot& snapshot);

// Whether every connected proxy that takes secrets has ACKed the Secrets it
// was last sent and their ROOTCA carries `root_pem`; proxies without
// secrets (proxyless gRPC) do not count.
bool EveryProxyTrusts(const xds::StatusTracker& tracker, const std::string& root_pem);

// 127.0.0.0/8, ::1 or an IPv4-mapped loopback address.
bool IsLoopbackAddress(const std::string& address);

class Operator {
 public:
  // `out` receives the change reports; REQUIRES: it outlives the operator.
  Operator(OperatorOptions options, std::ostream& out);
  ~Operator();
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  // Loads the config and starts following it. On error nothing keeps running.
  absl::Status Start();
  void Stop();

  ConfigStore& store() { return store_; }

 private:
  void Report(const StoreChange& change);
  absl::Status StartXds();
  absl::Status StartCa();
  absl::Status StartTrustRoots();
  absl::Status StartAdmin();

  const OperatorOptions options_;
  std::ostream& out_;
  std::mutex out_mu_;
  ConfigStore store_;
  std::vector<std::unique_ptr<ConfigSource>> sources_;
  ConfigStore::SubscriptionId subscription_ = 0;
  bool started_ = false;
  struct ControlPlane;  // xDS, CA and admin: built in Start()
  std::unique_ptr<ControlPlane> cp_;
};

}  // namespace meshgate::operator_
