// meshgate-proxy: the data plane. Programmed only through xDS (ADS) by
// meshgate-operator; runs as a sidecar next to a workload or as the gateway
// at the edge.
//
//   meshgate-proxy --xds-address HOST:PORT --node-id ID --role sidecar|gateway
//                  [--namespace NS] [--service-account SA] [--labels k=v,k=v]
//                  [--admin-port 15000] [--admin-address 127.0.0.1]
//                  [--workers N] [--access-log PATH|-|off] [--log-level info]
//                  [--drain-timeout-ms 5000] [--bootstrap FILE] [--xds-delta[=true|false]]
//                  [--ca-address HOST:PORT --token-file F --ca-root-file F]
//                  [--trust-domain cluster.local] [--cert-ttl-seconds N]
//                  [--interception-mode REDIRECT|NONE] [--instance-ip IP[,IP]]
//
// --interception-mode NONE is Istio's capture-less sidecar: no iptables, so
// the inbound listeners bind --instance-ip (the pod's own address) on each
// workload port and forward to the app on 127.0.0.1. Both travel to the
// control plane as Istio's node metadata INTERCEPTION_MODE and INSTANCE_IPS.
// A dual-stack pod passes both its addresses (IPv4,IPv6): its capture
// listeners then also bind [::] (with `meshgate-proxy iptables --ipv6`).
//
// With --ca-address the proxy holds its own workload identity, as Istio's
// agent does: it generates the key, asks the CA for a certificate for
// spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT (authenticated by the
// bootstrap token in --token-file, then by the certificate itself), serves it
// as the SDS secret `default`, and renews it at half its lifetime from the
// main thread. --ca-root-file holds the roots that sign the CA's own serving
// certificate. Each new certificate applies to new handshakes; established
// connections keep theirs.
//
// --xds-delta (bootstrap `xds-delta: true`) speaks incremental xDS
// (DeltaAggregatedResources) instead of state of the world.
//
//   meshgate-proxy iptables [...]   installs the sidecar's traffic capture
//                                    (proxy/capture/iptables.h)
//
// A bootstrap file holds the same settings as `name: value` lines (flat
// YAML); flags given on the command line win. Gateways find the Gateway
// objects meant for them by --labels, matched against Gateway.spec.selector
// as Istio matches the gateway pod's labels; they travel to the control plane
// in the node metadata LABELS.
#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "ca/openssl_util.h"
#include "ca/rotator.h"
#include "ca/spiffe.h"
#include "common/clock.h"
#include "common/logging.h"
#include "proxy/accesslog/access_log.h"
#include "proxy/capture/iptables.h"
#include "proxy/config/config_snapshot.h"
#include "proxy/server/admin_server.h"
#include "proxy/server/worker.h"
#include "proxy/server/xds_config_handler.h"
#include "proxy/stats/stats.h"
#include "proxy/xds/ads_client.h"
#include "spdlog/spdlog.h"

namespace meshgate::proxy {
namespace {

constexpr char kUsage[] =
    "usage: meshgate-proxy --xds-address HOST:PORT --node-id ID --role sidecar|gateway\n"
    "         [--namespace NS] [--service-account SA] [--labels k=v,k=v]\n"
    "         [--admin-port 15000] [--admin-address 127.0.0.1] [--workers N]\n"
    "         [--access-log PATH|-|off] [--log-level info] [--drain-timeout-ms 5000]\n"
    "         [--bootstrap FILE] [--xds-delta[=true|false]]\n"
    "         [--ca-address HOST:PORT --token-file F --ca-root-file F]\n"
    "         [--trust-domain cluster.local] [--cert-ttl-seconds N]\n"
    "         [--interception-mode REDIRECT|NONE] [--instance-ip IP[,IP]]\n"

    "       meshgate-proxy iptables --help   (sidecar traffic capture)\n";

const std::vector<std::string> kKnownSettings = {
    "xds-address",     "node-id",          "role",       "namespace",
    "service-account", "labels",           "admin-port", "admin-address",
    "workers",         "access-log",       "log-level",  "drain-timeout-ms",
    "bootstrap",       "ca-address",       "token-file", "ca-root-file",
    "trust-domain",    "cert-ttl-seconds", "xds-delta",  "interception-mode",
    "instance-ip"};

using Settings = std::map<std::string, std::string>;

bool Known(const std::string& key) {
  for (const auto& k : kKnownSettings) {
    if (k == key) return true;
  }
  return false;
}

bool ParseBootstrap(const std::string& path, Settings& out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "meshgate-proxy: cannot read bootstrap %s\n", path.c_str());
    return false;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    size_t begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "%s:%d: expected `name: value`\n", path.c_str(), lineno);
      return false;
    }
    std::string key = line.substr(begin, colon - begin);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() &&
           (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) {
      value.pop_back();
    }
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::replace(key.begin(), key.end(), '_', '-');
    if (!Known(key)) {
      std::fprintf(stderr, "%s:%d: unknown setting '%s'\n", path.c_str(), lineno, key.c_str());
      return false;
    }
    out.emplace(key, value);  // flags already present win
  }
  return true;
}

bool ParseFlags(int argc, char** argv, Settings& out) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      std::fprintf(stderr, "meshgate-proxy: unexpected argument '%s'\n%s", arg.c_str(), kUsage);
      return false;
    }
    std::string key = arg.substr(2);
    std::string value;
    size_t eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (key == "xds-delta" &&
               (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)) {
      value = "true";  // a switch: the value is optional
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "meshgate-proxy: --%s needs a value\n", key.c_str());
      return false;
    }
    if (!Known(key)) {
      std::fprintf(stderr, "meshgate-proxy: unknown flag --%s\n%s", key.c_str(), kUsage);
      return false;
    }
    out[key] = value;
  }
  if (auto it = out.find("bootstrap"); it != out.end()) {
    if (!ParseBootstrap(it->second, out)) return false;
  }
  for (const char* required : {"xds-address", "node-id", "role"}) {
    if (!out.count(required)) {
      std::fprintf(stderr, "meshgate-proxy: --%s is required\n%s", required, kUsage);
      return false;
    }
  }
  const std::string& role = out["role"];
  if (role != "sidecar" && role != "gateway") {
    std::fprintf(stderr, "meshgate-proxy: --role must be sidecar or gateway, not '%s'\n",
                 role.c_str());
    return false;
  }
  if (auto it = out.find("interception-mode");
      it != out.end() && it->second != "REDIRECT" && it->second != "NONE") {
    std::fprintf(stderr, "meshgate-proxy: --interception-mode must be REDIRECT or NONE, not '%s'\n",
                 it->second.c_str());
    return false;
  }
  if (out.count("interception-mode") && out["interception-mode"] == "NONE" &&
      !out.count("instance-ip")) {
    // Without capture the inbound listeners bind the instance IP; with none
    // known the sidecar could not receive anything.
    std::fprintf(stderr, "meshgate-proxy: --interception-mode NONE needs --instance-ip\n");
    return false;
  }
  if (auto it = out.find("instance-ip"); it != out.end()) {
    // IP[,IP]: a dual-stack pod's addresses, the first its primary one.
    for (absl::string_view ip : absl::StrSplit(it->second, ',')) {
      const std::string text(ip);
      in_addr v4{};
      in6_addr v6{};
      if (inet_pton(AF_INET, text.c_str(), &v4) != 1 &&
          inet_pton(AF_INET6, text.c_str(), &v6) != 1) {
        std::fprintf(stderr, "meshgate-proxy: --instance-ip '%s' is not an IP address\n",
                     text.c_str());
        return false;
      }
    }
  }
  return true;
}

bool ParseUint(const std::string& text, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v > max) return false;
  *out = v;
  return true;
}

envoy::config::core::v3::Node MakeNode(Settings& s) {
  envoy::config::core::v3::Node node;
  node.set_id(s["node-id"]);
  node.set_user_agent_name("meshgate-proxy");
  auto& fields = *node.mutable_metadata()->mutable_fields();
  fields["MESHGATE_ROLE"].set_string_value(s["role"]);
  if (s.count("namespace")) fields["NAMESPACE"].set_string_value(s["namespace"]);
  if (s.count("service-account")) fields["SERVICE_ACCOUNT"].set_string_value(s["service-account"]);
  fields["INTERCEPTION_MODE"].set_string_value(s.count("interception-mode") ? s["interception-mode"]
                                                                            : "REDIRECT");
  if (s.count("instance-ip")) fields["INSTANCE_IPS"].set_string_value(s["instance-ip"]);
  if (s.count("labels")) {
    auto& labels = *fields["LABELS"].mutable_struct_value()->mutable_fields();
    std::string list = s["labels"];
    size_t pos = 0;
    while (pos < list.size()) {
      size_t comma = list.find(',', pos);
      std::string kv =
          list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      size_t eq = kv.find('=');
      if (eq != std::string::npos) labels[kv.substr(0, eq)].set_string_value(kv.substr(eq + 1));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return node;
}

bool ReadWholeFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// The sidecar's own identity: a CertificateRotator fed by the CA, ticked
// from the main loop; each new certificate becomes the local secret
// `default`.
struct WorkloadIdentity {
  std::unique_ptr<meshgate::ca::GrpcCsrClient> client;
  std::string file_root_pem;  // --ca-root-file
  std::unique_ptr<meshgate::ca::CertificateRotator> rotator;
  std::shared_ptr<const meshgate::ca::WorkloadCertificate> installed;
  absl::Time next_tick = absl::InfinitePast();
};

// Returns an error message, empty on success.
std::string SetUpIdentity(Settings& s, uint64_t seed, WorkloadIdentity& out) {
  for (const char* required : {"token-file", "ca-root-file", "namespace"}) {
    if (!s.count(required)) return std::string("--ca-address needs --") + required;
  }
  meshgate::ca::GrpcCsrClient::Options client;
  client.target = s["ca-address"];
  if (!ReadWholeFile(s["ca-root-file"], client.root_pem)) {
    return "cannot read --ca-root-file " + s["ca-root-file"];
  }
  out.file_root_pem = client.root_pem;
  std::string token;
  if (!ReadWholeFile(s["token-file"], token)) return "cannot read --token-file " + s["token-file"];
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  client.bearer_token = token;
  std::string trust_domain = s.count("trust-domain") ? s["trust-domain"] : "cluster.local";
  std::string service_account = s.count("service-account") ? s["service-account"] : "default";
  auto id = meshgate::ca::SpiffeId::ForWorkload(trust_domain, s["namespace"], service_account);
  if (!id.ok()) return std::string(id.status().message());
  meshgate::ca::CertificateRotator::Options options;
  options.spiffe_id = id->uri();
  if (s.count("cert-ttl-seconds")) {
    uint64_t seconds = 0;
    if (!ParseUint(s["cert-ttl-seconds"], 365ull * 24 * 3600, &seconds) || seconds == 0) {
      return "--cert-ttl-seconds must be a positive number";
    }
    options.requested_ttl = absl::Seconds(static_cast<int64_t>(seconds));
  }
  out.client = std::make_unique<meshgate::ca::GrpcCsrClient>(std::move(client));
  out.rotator = std::make_unique<meshgate::ca::CertificateRotator>(
      options, *out.client, meshgate::SystemClock::Get(), seed);
  spdlog::info("workload identity {} from CA {}", options.spiffe_id, s["ca-address"]);
  return {};
}

// "serial HEX, root sha256 AB:CD:..." for the log, so an operator can follow
// renewals and see which root (before or after a rotation) signed the leaf.
std::string DescribeCertificate(const meshgate::ca::WorkloadCertificate& cert) {
  auto leaf = meshgate::ca::CertificateFromPem(cert.chain_pem.front());
  std::string serial = leaf.ok() ? meshgate::ca::SerialHex(leaf->get()) : "";
  auto root = meshgate::ca::Sha256Fingerprint(cert.chain_pem.back());
  return "serial " + (serial.empty() ? "?" : serial) + ", root sha256 " + (root.ok() ? *root : "?");
}

// Ticks the rotator when due; installs a new certificate as secret `default`.
void TickIdentity(WorkloadIdentity& identity, config::ConfigStore& store) {
  absl::Time now = meshgate::SystemClock::Get().Now();
  if (now < identity.next_tick) return;
  // After a root rotation the CA serves a certificate of the new root, which
  // the mesh's trust bundle (ROOTCA over SDS) carried before it signed
  // anything: trust that bundle too, besides the roots the proxy started with.
  std::string roots = identity.file_root_pem;
  if (auto bundle = store.Current()->FindSecret("ROOTCA"); bundle && bundle->validation) {
    roots += "\n" + bundle->validation->trusted_ca_pem;
  }
  if (roots != identity.client->root_pem()) identity.client->SetRootPem(std::move(roots));
  identity.next_tick = identity.rotator->Tick();
  auto current = identity.rotator->Current();
  if (current == nullptr) {
    spdlog::warn("workload certificate: {}", identity.rotator->last_error().ToString());
    return;
  }
  if (current == identity.installed) return;
  auto secret = std::make_shared<config::SecretConfig>();
  secret->name = "default";
  secret->certificate =
      network::TlsCertificateSpec{current->ChainPem(), current->private_key_pem, {}};
  if (absl::Status s = store.SetLocalSecret(std::move(secret)); !s.ok()) {
    spdlog::error("workload certificate refused: {}", s.ToString());
    return;
  }
  identity.installed = current;
  spdlog::info("workload certificate installed ({}), valid until {}, next renewal {}",
               DescribeCertificate(*current), absl::FormatTime(current->not_after),
               absl::FormatTime(identity.next_tick));
}

std::atomic<int> g_signal{0};
std::mutex g_mu;
std::condition_variable g_cv;

void OnSignal(int sig) { g_signal = sig; }

}  // namespace
}  // namespace meshgate::proxy

int main(int argc, char** argv) {
  using namespace meshgate::proxy;
  if (argc > 1 && std::string(argv[1]) == "iptables") {
    return capture::RunIptablesCommand(std::vector<std::string>(argv + 2, argv + argc));
  }
  Settings settings;
  if (!ParseFlags(argc, argv, settings)) return 2;
  meshgate::InitLogging("meshgate-proxy",
                        settings.count("log-level") ? settings["log-level"] : "info");

  uint64_t workers_n = std::max<unsigned>(1, std::thread::hardware_concurrency());
  uint64_t admin_port = 15000;
  uint64_t drain_ms = 5000;
  if (settings.count("workers") &&
      (!ParseUint(settings["workers"], 256, &workers_n) || workers_n == 0)) {
    std::fprintf(stderr, "meshgate-proxy: --workers must be 1..256\n");
    return 2;
  }
  if (settings.count("admin-port") && !ParseUint(settings["admin-port"], 65535, &admin_port)) {
    std::fprintf(stderr, "meshgate-proxy: --admin-port must be 0..65535\n");
    return 2;
  }
  if (settings.count("drain-timeout-ms") &&
      !ParseUint(settings["drain-timeout-ms"], 3'600'000, &drain_ms)) {
    std::fprintf(stderr, "meshgate-proxy: --drain-timeout-ms must be 0..3600000\n");
    return 2;
  }

  std::shared_ptr<accesslog::AccessLogFile> access_log;
  std::string access_log_path = settings.count("access-log") ? settings["access-log"] : "-";
  if (access_log_path != "off") {
    auto file = accesslog::AccessLogFile::Open(access_log_path);
    if (!file.ok()) {
      std::fprintf(stderr, "meshgate-proxy: %s\n", std::string(file.status().message()).c_str());
      return 2;
    }
    access_log = *file;
  }

  // glibc gives each thread that allocates an arena of its own (64 MB
  // reserved, its pages resident once touched). Workers allocate on the
  // request path and keep theirs; the main, admin, ADS and gRPC helper
  // threads, mostly idle, share the rest (workers start first, so they
  // normally get fresh arenas; a shared one costs only lock contention).
  mallopt(M_ARENA_MAX, static_cast<int>(workers_n + 2));

  stats::StatsStore stats(workers_n);
  config::ConfigStore store;
  std::random_device entropy;
  std::vector<std::unique_ptr<server::Worker>> workers;
  for (size_t i = 0; i < workers_n; ++i) {
    workers.push_back(std::make_unique<server::Worker>(i, stats.Worker(i), access_log,
                                                       (uint64_t{entropy()} << 32) | entropy()));
    workers.back()->SetListenerDrainTimeout(std::chrono::milliseconds(drain_ms));
    workers.back()->Start();
  }

  // Publishing: the ADS thread marks the config changed; this thread hands
  // complete snapshots to the workers (Envoy's warming: a listener is served
  // once its routes and its clusters' endpoints are there, or after a
  // deadline, so a control plane that never sends them cannot stall us).
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  bool changed = false;
  server::XdsConfigHandler handler(store, [&] {
    std::lock_guard lock(g_mu);
    changed = true;
    g_cv.notify_all();
  });

  meshgate::proxy::xds::AdsClientOptions ads_options;
  ads_options.target = settings["xds-address"];
  ads_options.node = MakeNode(settings);
  if (const std::string& delta = settings["xds-delta"]; !delta.empty()) {
    if (delta != "true" && delta != "false") {
      std::fprintf(stderr, "meshgate-proxy: xds-delta: expected true or false, got '%s'\n",
                   delta.c_str());
      return 2;
    }
    ads_options.delta = delta == "true";
  }
  WorkloadIdentity identity;
  if (settings.count("ca-address")) {
    std::string error = SetUpIdentity(settings, (uint64_t{entropy()} << 32) | entropy(), identity);
    if (!error.empty()) {
      std::fprintf(stderr, "meshgate-proxy: %s\n", error.c_str());
      return 2;
    }
  } else {
    // Without a CA there is no workload certificate: inbound mTLS chains and
    // ISTIO_MUTUAL clusters are left out, plaintext keeps working.
    store.SetUnavailableSecrets(
        {{"default", "this proxy has no workload identity (start it with --ca-address)"}});
  }
  // The workload certificate is the proxy's own, never the control plane's.
  handler.set_local_secret_names({"default"});
  meshgate::proxy::xds::AdsClient ads(ads_options, &handler);
  handler.set_client(&ads);

  server::AdminServer admin;
  admin.AddHandler("/ready", [&](const server::AdminRequest&) {
    server::AdminResponse r;
    if (draining) {
      r.status = 503;
      r.body = "DRAINING\n";
    } else if (!ready) {
      r.status = 503;
      r.body = "PRE_INITIALIZING\n";
    } else {
      r.body = "LIVE\n";
    }
    return r;
  });
  admin.AddHandler("/stats/prometheus", [&](const server::AdminRequest&) {
    server::AdminResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = stats.RenderPrometheus();
    r.body += "# TYPE envoy_control_plane_connected_state gauge\n";
    r.body +=
        "envoy_control_plane_connected_state " + std::to_string(ads.connected() ? 1 : 0) + "\n";
    r.body += "# TYPE envoy_control_plane_rejected_total counter\n";
    r.body += "envoy_control_plane_rejected_total " + std::to_string(ads.nacks()) + "\n";
    return r;
  });
  admin.AddHandler("/config_dump", [&](const server::AdminRequest&) {
    server::AdminResponse r;
    r.content_type = "application/json";
    r.body = handler.ConfigDumpJson();
    return r;
  });
  admin.AddHandler("/clusters", [&](const server::AdminRequest&) {
    server::AdminResponse r;
    auto snapshot = store.Current();
    std::map<std::string, std::string> lines;  // sorted output
    for (const auto& [name, cluster] : snapshot->clusters) {
      std::string text;
      auto endpoints = snapshot->EndpointsFor(*cluster);
      if (endpoints) {
        for (const auto& e : endpoints->endpoints) {
          std::string host = name + "::" + e.address + ":" + std::to_string(e.port);
          text += host + "::health_flags::" +
                  (meshgate::proxy::IsRoutable(e.health) ? "healthy" : "/failed_eds_health") + "\n";
          text += host + "::weight::" + std::to_string(e.weight) + "\n";
          text += host + "::priority::" + std::to_string(e.priority) + "\n";
        }
      }
      lines[name] = text;
    }
    for (const auto& [name, text] : lines) r.body += text;
    return r;
  });
  admin.AddHandler("/listeners", [&](const server::AdminRequest&) {
    server::AdminResponse r;
    for (const auto& [name, port] : workers[0]->ListeningPorts()) {
      r.body += name + "::0.0.0.0:" + std::to_string(port) + "\n";
    }
    return r;
  });
  admin.AddHandler("/drain", [&](const server::AdminRequest& req) {
    server::AdminResponse r;
    if (req.method != "POST") {
      r.status = 405;
      r.body = "POST /drain\n";
      return r;
    }
    draining = true;
    for (auto& w : workers) w->Drain(std::chrono::milliseconds(drain_ms));
    r.body = "draining\n";
    return r;
  });
  std::string admin_address =
      settings.count("admin-address") ? settings["admin-address"] : "127.0.0.1";
  auto admin_addr =
      meshgate::proxy::network::Address::Parse(admin_address, static_cast<uint16_t>(admin_port));
  if (!admin_addr.ok()) {
    std::fprintf(stderr, "meshgate-proxy: --admin-address: %s\n",
                 std::string(admin_addr.status().message()).c_str());
    return 2;
  }
  auto bound = admin.Start(*admin_addr);
  if (!bound.ok()) {
    std::fprintf(stderr, "meshgate-proxy: admin: %s\n",
                 std::string(bound.status().message()).c_str());
    return 1;
  }
  spdlog::info("admin listening on {}", bound->ToString());
  std::printf("meshgate-proxy admin=%s workers=%zu role=%s node=%s\n", bound->ToString().c_str(),
              static_cast<size_t>(workers_n), settings["role"].c_str(),
              settings["node-id"].c_str());
  std::fflush(stdout);

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  ads.Start();

  constexpr auto kWarmingDeadline = std::chrono::seconds(5);
  bool incomplete = false;
  std::chrono::steady_clock::time_point incomplete_since{};
  uint64_t published_generation = 0;
  while (g_signal == 0) {
    {
      std::unique_lock lock(g_mu);
      g_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return changed; });
      changed = false;
    }
    // The identity timer: due ticks run here, on the main thread (a CSR
    // round trip is bounded by the client's deadline).
    if (identity.rotator) TickIdentity(identity, store);
    auto snapshot = store.Current();
    if (snapshot->generation == published_generation) continue;
    std::string missing;
    bool complete = server::XdsConfigHandler::IsComplete(*snapshot, &missing);
    auto now = std::chrono::steady_clock::now();
    if (!complete) {
      if (!incomplete) {
        incomplete = true;
        incomplete_since = now;
      }
      if (now - incomplete_since < kWarmingDeadline) continue;
      spdlog::warn("publishing config without {} (still missing after {}s)", missing,
                   kWarmingDeadline.count());
    }
    incomplete = false;
    if (snapshot->listeners.empty() && !ready) continue;  // nothing to serve yet
    published_generation = snapshot->generation;
    for (auto& w : workers) w->SetSnapshot(snapshot);
    if (!ready) spdlog::info("first complete config applied: ready");
    ready = true;
  }

  spdlog::info("signal {}: draining for up to {} ms", g_signal.load(), drain_ms);
  draining = true;
  for (auto& w : workers) w->Drain(std::chrono::milliseconds(drain_ms));
  ads.Stop();
  // Give in-flight requests the drain window, then stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint64_t>(drain_ms, 1000)));
  for (auto& w : workers) w->Stop();
  admin.Stop();
  return 0;
}
