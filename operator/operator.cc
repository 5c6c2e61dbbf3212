#include "operator/operator.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ca/authenticator.h"
#include "ca/ca_server.h"
#include "ca/ca_service.h"
#include "ca/certificate_authority.h"
#include "ca/storage.h"
#include "common/clock.h"
#include "common/text_escape.h"
#include "operator/admin_server.h"
#include "operator/file_source.h"
#include "operator/trust_roots.h"
#include "operator/xds_publisher.h"
#include "spdlog/spdlog.h"
#include "xds-server/ads_server.h"
#include "xds-server/metrics.h"
#include "xds-server/resource.h"
#include "xds-server/snapshot_cache.h"
#include "xds-server/status_tracker.h"

namespace meshgate::operator_ {
namespace {

constexpr api::Kind kAllKinds[] = {
    api::Kind::kVirtualService, api::Kind::kDestinationRule,
    api::Kind::kGateway,        api::Kind::kServiceEntry,
    api::Kind::kAPIProduct,     api::Kind::kService,
    api::Kind::kEndpointSlice,  api::Kind::kPod,
    api::Kind::kNamespace,      api::Kind::kSecret,
    api::Kind::kConfigMap,      api::Kind::kPeerAuthentication,
    api::Kind::kSidecar,
};

const std::set<std::string_view> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};

std::string Flag(absl::Duration d) { return absl::FormatDuration(d); }

// The CA's lifetimes must nest, and the backdating must leave a workload
// something to renew: it renews at half of notAfter - notBefore, which is
// already in the past when the backdate exceeds the requested lifetime.
absl::Status CheckCaLifetimes(const OperatorOptions& o) {
  if (o.ca_min_ttl > o.ca_default_ttl) {
    return absl::InvalidArgumentError("--ca-min-ttl " + Flag(o.ca_min_ttl) +
                                      " is longer than --ca-default-ttl " + Flag(o.ca_default_ttl));
  }
  if (o.ca_default_ttl > o.ca_max_ttl) {
    return absl::InvalidArgumentError("--ca-default-ttl " + Flag(o.ca_default_ttl) +
                                      " is longer than --ca-max-ttl " + Flag(o.ca_max_ttl));
  }
  if (o.ca_clock_skew * 2 > o.ca_min_ttl) {
    return absl::InvalidArgumentError(
        "--ca-clock-skew " + Flag(o.ca_clock_skew) + " is more than half of --ca-min-ttl " +
        Flag(o.ca_min_ttl) +
        ": certificates are backdated by the skew and workloads renew at half their lifetime, "
        "so they would renew at once; lower --ca-clock-skew too");
  }
  return absl::OkStatus();
}

bool IsIpAddress(const std::string& text) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

// The names proxies dial the CA by: loopback, the address it listens on
// unless that is a wildcard, and --ca-names (in a cluster, the Service's DNS
// names, which the chart passes).
struct CaServingNames {
  std::vector<std::string> dns{"localhost"};
  std::vector<std::string> ips{"127.0.0.1"};
};

CaServingNames ServingNamesFor(const OperatorOptions& o) {
  CaServingNames names;
  auto add = [&names](const std::string& name) {
    auto& list = IsIpAddress(name) ? names.ips : names.dns;
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  };
  if (o.listen_address != "0.0.0.0" && o.listen_address != "::") add(o.listen_address);
  for (const auto& name : o.ca_names) add(name);
  return names;
}

// The certificate the CA's gRPC endpoint presents: the names proxies dial it
// by, signed by the CA's current signer.
absl::StatusOr<ca::ServingCertificate> IssueCaServingCertificate(
    const ca::CertificateAuthority& authority, const CaServingNames& names) {
  return authority.IssueServingCertificate(names.dns, names.ips);
}

}  // namespace

std::string OperatorUsage() {
  return "Usage: meshgate-operator --config-dir DIR [flags]\n"
         "\n"
         "The meshgate control plane. Reads VirtualService, DestinationRule and the other\n"
         "supported kinds from DIR (recursively, *.yaml/*.yml/*.json) and follows changes.\n"
         "\n"
         "Flags:\n"
         "  --config-dir DIR    directory of config files to load and watch (required)\n"
         "  --state-dir DIR     directory for the control plane's own state (CA keys)\n"
         "  --log-level LEVEL   trace, debug, info, warn, error or off (default info)\n"
         "  --strict            reject objects with unknown fields instead of warning\n"
         "  --listen-address IP address the xDS, CA and admin endpoints bind (default 127.0.0.1)\n"
         "  --xds-port PORT     ADS (state of the world and delta) gRPC port (default 15010; 0: "
         "off)\n"
         "  --admin-port PORT   admin HTTP: /debug/syncz, /debug/config_dump, /metrics\n"
         "                      (default 15014; 0: off)\n"
         "  --ca-port PORT      certificate service, TLS (default 15012; 0: off)\n"
         "  --ca-tokens FILE    bootstrap tokens for the CA: lines of `TOKEN SPIFFE_ID`\n"
         "  --ca-names N[,N]    DNS names or IPs proxies dial the CA by (its serving certificate\n"
         "                      has them, with localhost, 127.0.0.1 and --listen-address)\n"
         "  --trust-domain TD   SPIFFE trust domain (default cluster.local)\n"
         "  --cluster-domain D  Kubernetes cluster domain (default cluster.local)\n"
         "  --debounce DUR      quiet period before a push, e.g. 100ms (default 100ms)\n"
         "  --debounce-max DUR  longest a push waits under constant change (default 10s)\n"
         "  --ca-min-ttl DUR    shortest workload certificate the CA issues (default 10m);\n"
         "                      lower it only for tests and demos of certificate renewal\n"
         "  --ca-default-ttl DUR  lifetime when a CSR asks for none (default 24h)\n"
         "  --ca-max-ttl DUR    longest lifetime granted; also how long a root stays trusted\n"
         "                      after a rotation (default 2160h, 90 days)\n"
         "  --ca-clock-skew DUR clock skew tolerated: leaves are backdated by it and retired\n"
         "                      roots kept this much longer (default 5m; at most half of\n"
         "                      --ca-min-ttl, since workloads renew at half the lifetime)\n"
         "  -h, --help          print this help and exit\n";
}

absl::StatusOr<OperatorFlags> ParseOperatorFlags(const std::vector<std::string>& args) {
  OperatorFlags flags;
  std::set<std::string> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      return flags;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError("unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "strict") {
      if (value.has_value()) return absl::InvalidArgumentError("--strict takes no value");
      flags.options.strict = true;
      continue;
    }
    static const std::set<std::string> kValueFlags = {
        "config-dir",    "state-dir",      "log-level",    "admin-port",     "xds-port",
        "ca-port",       "ca-tokens",      "trust-domain", "cluster-domain", "debounce",
        "debounce-max",  "listen-address", "ca-min-ttl",   "ca-default-ttl", "ca-max-ttl",
        "ca-clock-skew", "ca-names"};
    if (!kValueFlags.contains(name)) {
      return absl::InvalidArgumentError("unknown flag '--" + name + "'");
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError("--" + name + " given twice");
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--" + name + " needs a value");
      value = args[++i];
    }
    if (value->empty()) return absl::InvalidArgumentError("--" + name + " needs a value");
    if (name == "config-dir") {
      flags.options.config_dir = *value;
    } else if (name == "state-dir") {
      flags.options.state_dir = *value;
    } else if (name == "log-level") {
      if (!kLogLevels.contains(*value)) {
        return absl::InvalidArgumentError(
            "--log-level must be one of trace, debug, info, warn, "
            "error, off; got '" +
            *value + "'");
      }
      flags.options.log_level = *value;
    } else if (name == "admin-port" || name == "xds-port" || name == "ca-port") {
      int port = -1;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), port);
      if (ec != std::errc() || end != value->data() + value->size() || port < 0 || port > 65535) {
        return absl::InvalidArgumentError("--" + name + " must be a port number 0-65535; got '" +
                                          *value + "'");
      }
      (name == "admin-port" ? flags.options.admin_port
       : name == "xds-port" ? flags.options.xds_port
                            : flags.options.ca_port) = port;
    } else if (name == "debounce" || name == "debounce-max") {
      absl::Duration d;
      if (!absl::ParseDuration(*value, &d) || d < absl::ZeroDuration()) {
        return absl::InvalidArgumentError("--" + name + " must be a duration like 100ms; got '" +
                                          *value + "'");
      }
      (name == "debounce" ? flags.options.debounce : flags.options.debounce_max) = d;
    } else if (name == "ca-min-ttl" || name == "ca-default-ttl" || name == "ca-max-ttl" ||
               name == "ca-clock-skew") {
      absl::Duration d;
      bool zero_allowed = name == "ca-clock-skew";
      if (!absl::ParseDuration(*value, &d) || d < absl::ZeroDuration() ||
          (d == absl::ZeroDuration() && !zero_allowed) || d == absl::InfiniteDuration()) {
        return absl::InvalidArgumentError("--" + name + " must be a " +
                                          (zero_allowed ? "" : "positive ") +
                                          "duration like 10m or 30s; got '" + *value + "'");
      }
      (name == "ca-min-ttl"       ? flags.options.ca_min_ttl
       : name == "ca-default-ttl" ? flags.options.ca_default_ttl
       : name == "ca-max-ttl"     ? flags.options.ca_max_ttl
                                  : flags.options.ca_clock_skew) = d;
    } else if (name == "ca-tokens") {
      flags.options.ca_tokens = *value;
    } else if (name == "ca-names") {
      for (absl::string_view item : absl::StrSplit(*value, ',', absl::SkipWhitespace())) {
        std::string ca_name(absl::StripAsciiWhitespace(item));
        if (!IsIpAddress(ca_name) &&
            (ca_name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") !=
                 std::string::npos ||
             ca_name.front() == '.' || ca_name.front() == '-')) {
          return absl::InvalidArgumentError("--ca-names: '" + ca_name +
                                            "' is neither an IP address nor a lower-case DNS name");
        }
        flags.options.ca_names.push_back(std::move(ca_name));
      }
    } else if (name == "trust-domain") {
      flags.options.trust_domain = *value;
    } else if (name == "cluster-domain") {
      flags.options.cluster_domain = *value;
    } else {
      flags.options.listen_address = *value;
    }
  }
  if (flags.options.config_dir.empty()) {
    return absl::InvalidArgumentError("--config-dir is required");
  }
  if (absl::Status s = CheckCaLifetimes(flags.options); !s.ok()) return s;
  return flags;
}

std::string FormatStoreSummary(const api::ConfigSnapshot& snapshot) {
  std::string out = "store version=" + std::to_string(snapshot.resource_version) +
                    " objects=" + std::to_string(snapshot.objects.size());
  for (api::Kind kind : kAllKinds) {
    out += " ";
    out += api::KindName(kind);
    out += "=" + std::to_string(snapshot.OfKind(kind).size());
  }
  return out;
}

// Everything that serves: destroyed in reverse order of construction.
struct Operator::ControlPlane {
  xds::MetricsRegistry metrics;
  xds::StatusTracker tracker;
  std::unique_ptr<XdsPublisher> publisher;
  std::unique_ptr<xds::SnapshotCache> cache;
  std::unique_ptr<xds::AdsServer> ads;
  std::unique_ptr<grpc::Server> xds_server;
  std::unique_ptr<ca::FileCaStorage> ca_storage;
  std::unique_ptr<ca::CertificateAuthority> authority;
  std::unique_ptr<ca::BootstrapTokenAuthenticator> tokens;
  std::unique_ptr<ca::PeerCertificateAuthenticator> peers;
  std::unique_ptr<ca::CaService> ca_service;
  std::unique_ptr<ca::CaServer> ca_server;
  std::unique_ptr<ca::ServingCertificateKeeper> ca_serving;
  std::unique_ptr<TrustRootManager> roots;
  AdminServer admin;
};

Operator::Operator(OperatorOptions options, std::ostream& out)
    : options_(std::move(options)), out_(out) {}

Operator::~Operator() { Stop(); }

absl::Status Operator::Start() {
  subscription_ = store_.Subscribe([this](const StoreChange& change) { Report(change); });
  FileSourceOptions file_options;
  file_options.root = options_.config_dir;
  file_options.strict = options_.strict;
  sources_.push_back(std::make_unique<FileSource>(store_, std::move(file_options)));
  for (auto& source : sources_) {
    if (absl::Status status = source->Start(); !status.ok()) {
      Stop();
      return status;
    }
    spdlog::info("config source {} started", source->Name());
  }
  cp_ = std::make_unique<ControlPlane>();
  for (auto start : {&Operator::StartCa, &Operator::StartXds, &Operator::StartTrustRoots,
                     &Operator::StartAdmin}) {
    if (absl::Status status = (this->*start)(); !status.ok()) {
      Stop();
      return status;
    }
  }
  started_ = true;
  // An empty config produces no change; report the state once anyway so a
  // reader knows the initial load is done.
  if (store_.Version() == 0) {
    std::lock_guard lock(out_mu_);
    out_ << FormatStoreSummary(*store_.Snapshot()) << std::endl;
  }
  return absl::OkStatus();
}

absl::Status Operator::StartXds() {
  if (options_.xds_port == 0) return absl::OkStatus();
  XdsPublisherOptions po;
  po.compile.cluster_domain = options_.cluster_domain;
  po.compile.trust_domain = options_.trust_domain;
  po.debounce.quiet = options_.debounce;
  po.debounce.max_delay = options_.debounce_max;
  if (cp_->authority) {
    ca::CertificateAuthority* authority = cp_->authority.get();
    po.trust_bundle_pem = [authority] { return authority->TrustBundlePem(); };
  }
  const Clock& clock = SystemClock::Get();
  cp_->publisher = std::make_unique<XdsPublisher>(store_, clock, cp_->metrics, po);
  cp_->cache = std::make_unique<xds::SnapshotCache>(cp_->publisher->GroupHasher(), clock);
  cp_->publisher->AttachCache(cp_->cache.get());
  cp_->ads = std::make_unique<xds::AdsServer>(*cp_->cache, cp_->tracker, cp_->metrics, clock);
  grpc::ServerBuilder builder;
  std::string address = options_.listen_address + ":" + std::to_string(options_.xds_port);
  int bound = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(cp_->ads->service());
  for (grpc::Service* service : cp_->ads->per_type_services()) builder.RegisterService(service);
  // Streams live for hours: keep dead peers from holding them.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  cp_->xds_server = builder.BuildAndStart();
  if (!cp_->xds_server || bound == 0) {
    return absl::UnavailableError("xDS server cannot listen on " + address);
  }
  cp_->publisher->Start();
  spdlog::info("xDS (ADS) serving on {}", address);
  return absl::OkStatus();
}

absl::Status Operator::StartCa() {
  if (options_.ca_port == 0) return absl::OkStatus();
  if (options_.state_dir.empty()) {
    return absl::InvalidArgumentError("the CA needs --state-dir (or --ca-port 0 to turn it off)");
  }
  const Clock& clock = SystemClock::Get();
  auto storage = ca::FileCaStorage::Open(std::filesystem::path(options_.state_dir) / "ca");
  if (!storage.ok()) return storage.status();
  cp_->ca_storage = std::move(*storage);
  ca::CaOptions ca_options;
  ca_options.trust_domain = options_.trust_domain;
  ca_options.min_ttl = options_.ca_min_ttl;
  ca_options.default_ttl = options_.ca_default_ttl;
  ca_options.max_ttl = options_.ca_max_ttl;
  ca_options.backdate = options_.ca_clock_skew;
  auto authority = ca::CertificateAuthority::LoadOrCreate(*cp_->ca_storage, clock, ca_options);
  if (!authority.ok()) return authority.status();
  cp_->authority = std::move(*authority);
  const CaServingNames serving_names = ServingNamesFor(options_);
  auto serving = IssueCaServingCertificate(*cp_->authority, serving_names);
  if (!serving.ok()) return serving.status();
  std::vector<const ca::Authenticator*> authenticators;
  cp_->peers = std::make_unique<ca::PeerCertificateAuthenticator>(*cp_->authority);
  authenticators.push_back(cp_->peers.get());
  if (!options_.ca_tokens.empty()) {
    auto tokens = ca::BootstrapTokenAuthenticator::LoadFile(options_.ca_tokens);
    if (!tokens.ok()) return tokens.status();
    cp_->tokens = std::move(*tokens);
    authenticators.push_back(cp_->tokens.get());
  }
  cp_->ca_service = std::make_unique<ca::CaService>(*cp_->authority, authenticators, clock);
  ca::CaServer::Options server_options;
  server_options.address = options_.listen_address + ":" + std::to_string(options_.ca_port);
  auto server = ca::CaServer::Start(server_options, *cp_->ca_service, *serving);
  if (!server.ok()) return server.status();
  cp_->ca_server = std::move(*server);
  cp_->ca_serving = std::make_unique<ca::ServingCertificateKeeper>(
      *cp_->ca_server,
      [authority = cp_->authority.get(), serving_names] {
        return IssueCaServingCertificate(*authority, serving_names);
      },
      clock, *serving);
  spdlog::info("CA serving on {} as {} (trust bundle in {}/ca/root-cert.pem)",
               server_options.address,
               absl::StrJoin(serving_names.dns, ",") + "," + absl::StrJoin(serving_names.ips, ","),
               options_.state_dir);
  return absl::OkStatus();
}

absl::Status Operator::StartTrustRoots() {
  if (!cp_->authority) return absl::OkStatus();
  std::function<void()> republish;
  std::function<bool(const std::string&)> trusted_everywhere;
  if (cp_->publisher) {
    republish = [publisher = cp_->publisher.get()] { publisher->Republish(); };
    trusted_everywhere = [tracker = &cp_->tracker](const std::string& root_pem) {
      return EveryProxyTrusts(*tracker, root_pem);
    };
  }
  // The CA's own serving certificate follows the signer, so that proxies
  // holding only the new root (after the old one is pruned) can still renew;
  // between rotations it is renewed at half its lifetime.
  auto refresh_serving = [keeper = cp_->ca_serving.get()](bool force) {
    if (keeper == nullptr) return;
    absl::StatusOr<bool> renewed = keeper->Refresh(force);
    if (!renewed.ok()) {
      spdlog::error("CA: new serving certificate not in use: {}", renewed.status().ToString());
    } else if (*renewed) {
      spdlog::info("CA: serving certificate re-issued, next at {}",
                   absl::FormatTime(keeper->renew_at()));
    }
  };
  cp_->roots = std::make_unique<TrustRootManager>(
      *cp_->authority, std::move(republish), std::move(trusted_everywhere), absl::Seconds(10),
      [refresh_serving] { refresh_serving(/*force=*/true); });
  // Roots retired before a restart may be due already.
  if (auto pruned = cp_->roots->PruneDue(); !pruned.ok()) return pruned.status();
  cp_->roots->StartPruning(options_.ca_prune_interval,
                           [refresh_serving] { refresh_serving(/*force=*/false); });
  return absl::OkStatus();
}

// Whether every connected proxy that takes secrets has ACKed the Secrets it
// was last sent and they carry `root_pem` (in ROOTCA; the PEM is stored
// verbatim in the serialized Secret).
bool EveryProxyTrusts(const xds::StatusTracker& tracker, const std::string& root_pem) {
  for (const xds::ProxyStatus& proxy : tracker.Proxies()) {
    auto it = proxy.types.find(std::string(xds::kSecretType));
    if (it == proxy.types.end()) continue;
    const xds::TypeStatus& secrets = it->second;
    if (secrets.last_acked_version != secrets.last_version_sent) return false;
    bool carries = false;
    for (const xds::ResourcePtr& resource : secrets.resources) {
      if (resource && resource->name == "ROOTCA" && resource->body &&
          resource->body->value().find(root_pem) != std::string::npos) {
        carries = true;
      }
    }
    if (!carries) return false;
  }
  return true;
}

bool IsLoopbackAddress(const std::string& address) {
  std::string ip = address;
  if (ip.rfind("::ffff:", 0) == 0) ip = ip.substr(7);  // IPv4-mapped
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, ip.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::Status Operator::StartAdmin() {
  if (options_.admin_port == 0) return absl::OkStatus();
  ControlPlane* cp = cp_.get();
  cp->admin.Handle("/ready", [cp](const auto&) {
    AdminReply r;
    r.content_type = "text/plain";
    bool ready = cp->publisher == nullptr || cp->publisher->PublishedVersion() >= 0;
    r.status = ready ? 200 : 503;
    r.body = ready ? "ready\n" : "compiling\n";
    return r;
  });
  cp->admin.Handle("/metrics", [cp](const auto&) {
    AdminReply r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = cp->metrics.TextExposition();
    return r;
  });
  cp->admin.Handle("/debug/syncz", [cp](const auto&) {
    AdminReply r;
    r.body = cp->tracker.ToJson();
    return r;
  });
  cp->admin.Handle("/debug/config_dump", [cp](const std::map<std::string, std::string>& q) {
    AdminReply r;
    auto it = q.find("proxy");
    if (it == q.end()) {
      r.status = 400;
      r.body = "{\"error\": " + JsonQuote("missing ?proxy=NODE_ID") + "}";
      return r;
    }
    auto dump = cp->tracker.ConfigDumpJson(it->second);
    if (!dump.ok()) {
      r.status = 404;
      r.body = "{\"error\": " + JsonQuote(std::string(dump.status().message())) + "}";
      return r;
    }
    r.body = *dump;
    return r;
  });
  ConfigStore* store = &store_;
  cp->admin.Handle("/debug/diagnostics", [cp, store](const auto&) {
    std::string body = "{\"config\": [";
    bool first = true;
    for (const auto& [origin, diags] : store->Diagnostics()) {
      for (const auto& d : diags) {
        if (!first) body += ",";
        first = false;
        body += JsonQuote(d.ToString());
      }
    }
    body += "], \"compile\": [";
    first = true;
    if (cp->publisher) {
      for (const auto& d : cp->publisher->LastDiagnostics()) {
        if (!first) body += ",";
        first = false;
        body += JsonQuote(d.ToString());
      }
    }
    body += "]}";
    AdminReply r;
    r.body = body;
    return r;
  });
  cp->admin.Handle("/debug/ca/roots", [cp](const auto&) {
    AdminReply r;
    if (!cp->roots) {
      r.status = 404;
      r.body = "{\"error\": " + JsonQuote("the CA is off (--ca-port 0)") + "}";
      return r;
    }
    r.body = cp->roots->Describe();
    return r;
  });
  cp->admin.HandleRequest("/debug/ca/rotate-root", [cp](const AdminRequest& request) {
    AdminReply r;
    auto fail = [&r](int status, const std::string& message) {
      r.status = status;
      r.body = "{\"error\": " + JsonQuote(message) + "}";
      return r;
    };
    // The admin port may listen beyond loopback (--listen-address); changing
    // the mesh's trust is for someone on the operator's host.
    if (!IsLoopbackAddress(request.remote_address)) {
      return fail(403,
                  "rotate-root is accepted from loopback only, not from " + request.remote_address);
    }
    if (request.method != "POST") return fail(405, "rotate-root needs POST");
    if (!cp->roots) return fail(404, "the CA is off (--ca-port 0)");
    absl::StatusOr<std::string> fingerprint = cp->roots->Rotate();
    if (!fingerprint.ok()) {
      return fail(fingerprint.status().code() == absl::StatusCode::kFailedPrecondition ? 409 : 500,
                  "rotate-root: " + std::string(fingerprint.status().message()));
    }
    r.body = "{\"active_root_sha256\": " + JsonQuote(*fingerprint) +
             ", \"bundle\": " + cp->roots->Describe() + "}";
    return r;
  });
  return cp->admin.Start(options_.listen_address, options_.admin_port);
}

void Operator::Stop() {
  if (cp_) {
    cp_->admin.Stop();
    if (cp_->roots) cp_->roots->Stop();
    if (cp_->ca_server) cp_->ca_server->Shutdown();
    if (cp_->publisher) cp_->publisher->Stop();
    if (cp_->xds_server)
      cp_->xds_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    cp_.reset();
  }
  for (auto& source : sources_) source->Stop();
  sources_.clear();
  if (subscription_ != 0) store_.Unsubscribe(subscription_);
  subscription_ = 0;
  if (started_) spdlog::info("stopped");
  started_ = false;
}

void Operator::Report(const StoreChange& change) {
  // Apply() is serialised and Snapshot() shows exactly the notified version.
  api::ConfigSnapshotPtr snapshot = store_.Snapshot();
  std::string block;
  for (const api::ObjectKey& key : change.upserted) block += "upsert " + key.ToString() + "\n";
  for (const api::ObjectKey& key : change.deleted) block += "delete " + key.ToString() + "\n";
  block += FormatStoreSummary(*snapshot);
  std::lock_guard lock(out_mu_);
  out_ << block << std::endl;
}

}  // namespace meshgate::operator_
