#include "xds-server/ads_server.h"

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"
#include "xds-server/debouncer.h"

namespace meshgate::xds {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

// "type.googleapis.com/envoy.config.cluster.v3.Cluster" -> "Cluster".
std::string ShortType(std::string_view type_url) {
  size_t dot = type_url.rfind('.');
  size_t slash = type_url.rfind('/');
  size_t cut = dot == std::string_view::npos ? slash : dot;
  return std::string(cut == std::string_view::npos ? type_url : type_url.substr(cut + 1));
}

// Only listeners and clusters (and types we do not know) treat a first request
// without names as "everything"; routes, endpoints and secrets are always named.
bool LegacyWildcardAllowed(std::string_view type_url) {
  return type_url != kRouteType && type_url != kEndpointType && type_url != kSecretType;
}

using NamedResources = std::map<std::string, ResourcePtr, std::less<>>;

// Content version of one proxy's view of a type.
std::string ContentVersion(std::string_view type_url, const NamedResources& resources) {
  uint64_t h = StableHash64(type_url);
  for (const auto& [name, r] : resources) {
    h = StableHash64(name, h);
    h = StableHash64(r->version, h);
  }
  return HashToVersion(h);
}

}  // namespace

struct AdsServer::Impl
    : envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
  Impl(SnapshotCache& c, StatusTracker& t, MetricsRegistry& m, const Clock& clk, AdsServerOptions o)
      : cache(c),
        tracker(t),
        metrics(m),
        clock(clk),
        options(o),
        new_streams(clk, o.max_new_streams_per_second, o.new_stream_burst),
        connected(m.GetGauge("meshgate_xds_connected_proxies", "Proxies with an open ADS stream.")),
        rejected(m.GetCounter("meshgate_xds_streams_rejected_total",
                              "ADS streams refused by the new-stream rate limit.")),
        push_latency(m.GetHistogram(
            "meshgate_xds_push_latency_seconds",
            "From a change being seen to a response carrying it written to the stream.",
            LatencyBuckets())),
        convergence(m.GetHistogram(
            "meshgate_xds_convergence_seconds",
            "From a change being seen to the proxy having ACKed everything it was sent for it.",
            LatencyBuckets())) {}

  grpc::ServerBidiReactor<DiscoveryRequest, DiscoveryResponse>* StreamAggregatedResources(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<DeltaDiscoveryRequest, DeltaDiscoveryResponse>* DeltaAggregatedResources(
      grpc::CallbackServerContext* context) override;

  Counter* Pushes(const std::string& type_url) {
    return metrics.GetCounter("meshgate_xds_pushes_total", "Responses sent, by type.",
                              {{"type", ShortType(type_url)}});
  }
  Counter* PushBytes(const std::string& type_url, const char* protocol) {
    return metrics.GetCounter("meshgate_xds_push_bytes_total",
                              "Serialized bytes of responses sent, by type and protocol.",
                              {{"type", ShortType(type_url)}, {"protocol", protocol}});
  }
  Counter* Nacks(const std::string& type_url) {
    return metrics.GetCounter("meshgate_xds_nacks_total", "NACKs received, by type.",
                              {{"type", ShortType(type_url)}});
  }

  SnapshotCache& cache;
  StatusTracker& tracker;
  MetricsRegistry& metrics;
  const Clock& clock;
  const AdsServerOptions options;
  TokenBucket new_streams;
  Gauge* connected;
  Counter* rejected;
  Histogram* push_latency;
  Histogram* convergence;
  std::atomic<uint64_t> next_stream_id{1};
  std::atomic<size_t> open_streams{0};
};

namespace {

template <bool kDelta>
struct Messages;
template <>
struct Messages<false> {
  using Request = DiscoveryRequest;
  using Response = DiscoveryResponse;
  static constexpr const char* kName = "sotw";
};
template <>
struct Messages<true> {
  using Request = DeltaDiscoveryRequest;
  using Response = DeltaDiscoveryResponse;
  static constexpr const char* kName = "delta";
};

// Per stream, per type URL.
struct TypeState {
  bool subscribed = false;
  bool wildcard = false;
  bool legacy_wildcard = false;
  std::set<std::string, std::less<>> names;  // explicit subscriptions
  bool dirty = false;
  bool change_dirty = false;                       // dirty because a new snapshot was adopted
  bool force = false;                              // SotW: answer even if the content is unchanged
  std::set<std::string, std::less<>> force_names;  // delta: resend these even if unchanged
  std::string last_nonce;
  // SotW: what the last response held and its content version.
  NamedResources sent;
  NamedResources acked;  // what the last ACKed response held
  std::string last_sent_version;
  std::string nacked_version;
  // Delta: what the proxy holds, name -> version ("" = told it does not exist),
  // and the resource objects we sent (for config dumps).
  std::map<std::string, std::string, std::less<>> known;
};

template <bool kDelta>
class AdsStream : public grpc::ServerBidiReactor<typename Messages<kDelta>::Request,
                                                 typename Messages<kDelta>::Response>,
                  public std::enable_shared_from_this<AdsStream<kDelta>> {
 public:
  using Request = typename Messages<kDelta>::Request;
  using Response = typename Messages<kDelta>::Response;

  // `only_type`: empty for ADS; otherwise the one type a per-type service serves.
  explicit AdsStream(AdsServer::Impl& server, std::string only_type = "")
      : server_(server), id_(server.next_stream_id++), only_type_(std::move(only_type)) {}

  // Starts the stream; called once, right after construction.
  void Start() {
    self_ = this->shared_from_this();
    server_.open_streams++;
    if (!server_.new_streams.TryTake()) {
      server_.rejected->Inc();
      finished_ = true;
      this->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "too many new xDS streams per second; retry with backoff"));
      return;
    }
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::unique_lock lock(mu_);
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (!connected_) {
      grpc::Status s = Connect();
      if (!s.ok()) {
        std::unique_lock lock(mu_);
        FinishLocked(s);
        return;
      }
    }
    std::unique_lock lock(mu_);
    grpc::Status s = HandleRequest();
    if (!s.ok()) {
      FinishLocked(s);
      return;
    }
    PumpAndUnlock(lock);
    this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    write_in_flight_ = false;
    if (ok && writing_change_seen_) {
      server_.push_latency->Observe(
          std::chrono::duration<double>(server_.clock.Monotonic() - *writing_change_seen_).count());
    }
    writing_.reset();
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (finish_pending_) {
      FinishLocked(*finish_pending_);
      return;
    }
    PumpAndUnlock(lock);
  }

  void OnDone() override {
    if (watch_) server_.cache.CancelWatch(*watch_);
    if (connected_) {
      server_.tracker.Disconnect(id_);
      server_.connected->Add(-1);
    }
    server_.open_streams--;
    self_.reset();  // may destroy this
  }

 private:
  // First request: find the node's group, register with the tracker and cache.
  grpc::Status Connect() {
    if (!request_.has_node() || request_.node().id().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the first request of an ADS stream must carry node.id");
    }
    node_id_ = request_.node().id();
    group_ = server_.cache.GroupOf(request_.node());
    std::string metadata_json;
    if (!google::protobuf::util::MessageToJsonString(request_.node().metadata(), &metadata_json)
             .ok()) {
      metadata_json = "{}";
    }
    server_.tracker.Connect(id_, node_id_, group_, std::move(metadata_json),
                            Messages<kDelta>::kName, server_.clock.Now());
    server_.connected->Add(1);
    connected_ = true;
    std::weak_ptr<AdsStream> weak = this->shared_from_this();
    VersionedSnapshot current;
    watch_ = server_.cache.Watch(
        group_,
        [weak](const VersionedSnapshot& vs) {
          if (auto self = weak.lock()) self->OnSnapshot(vs);
        },
        &current);
    std::unique_lock lock(mu_);
    if (current.snapshot && current.generation > LatestGenerationLocked()) {
      current_ = std::move(current);  // what was there before we came: not a change to measure
    }
    return grpc::Status::OK;
  }

  uint64_t LatestGenerationLocked() const {
    return pending_ ? pending_->generation : current_.generation;
  }

  void OnSnapshot(const VersionedSnapshot& vs) {
    std::unique_lock lock(mu_);
    if (finished_ || vs.generation <= LatestGenerationLocked()) return;
    pending_ = vs;
    PumpAndUnlock(lock);
  }

  grpc::Status HandleRequest() {
    if (!only_type_.empty()) {
      if (request_.type_url().empty()) request_.set_type_url(only_type_);
      if (request_.type_url() != only_type_) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("this service serves ", only_type_, ", not ",
                                         request_.type_url(), "; use ADS for several types"));
      }
    }
    const std::string& type_url = request_.type_url();
    if (type_url.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ADS requests must carry type_url");
    }
    TypeState& t = types_[type_url];
    const std::string& nonce = request_.response_nonce();
    const bool first = !t.subscribed;
    bool stale = !nonce.empty() && nonce != t.last_nonce;
    if (stale) {
      if constexpr (!kDelta) return grpc::Status::OK;  // superseded by a newer response
    } else if (!nonce.empty()) {
      HandleAckOrNack(type_url, t);
    }
    t.subscribed = true;
    if constexpr (kDelta) {
      return HandleDeltaSubscription(type_url, t, first);
    } else {
      return HandleSotwSubscription(type_url, t, first);
    }
  }

  void HandleAckOrNack(const std::string& type_url, TypeState& t) {
    std::string sent_version;
    if constexpr (kDelta) {
      sent_version = nonce_versions_[type_url];
    } else {
      sent_version = t.last_sent_version;
    }
    if (request_.has_error_detail()) {
      const std::string& message = request_.error_detail().message();
      if constexpr (!kDelta) {
        // The proxy keeps what it had: diff against that from now on.
        t.nacked_version = sent_version;
        t.last_sent_version = request_.version_info();
        t.sent = t.acked;
      }
      server_.tracker.RecordNack(id_, type_url, sent_version, message, server_.clock.Now());
      server_.Nacks(type_url)->Inc();
      spdlog::warn("xds: proxy {} (group {}) NACKed {} version {}: {}", node_id_, group_,
                   ShortType(type_url), sent_version, message);
      return;
    }
    std::string acked;
    if constexpr (kDelta) {
      acked = sent_version;
    } else {
      acked = request_.version_info();
      t.acked = t.sent;
    }
    server_.tracker.RecordAck(id_, type_url, acked, server_.clock.Now());
    change_unacked_.erase(type_url);
  }

  grpc::Status HandleSotwSubscription(const std::string& type_url, TypeState& t, bool first) {
    const auto& names = request_.resource_names();
    bool wildcard = false;
    std::set<std::string, std::less<>> explicit_names;
    for (const std::string& n : names) {
      if (n == "*") {
        wildcard = true;
      } else {
        explicit_names.insert(n);
      }
    }
    if (first) {
      t.legacy_wildcard = names.empty() && LegacyWildcardAllowed(type_url);
      // A reconnecting proxy says what it has: do not send the same content again.
      if constexpr (!kDelta) t.last_sent_version = request_.version_info();
    }
    if (t.legacy_wildcard && names.empty()) wildcard = true;
    if (!names.empty()) t.legacy_wildcard = false;
    if (first || wildcard != t.wildcard || explicit_names != t.names) {
      t.wildcard = wildcard;
      t.names = std::move(explicit_names);
      t.dirty = true;
    }
    return grpc::Status::OK;
  }

  grpc::Status HandleDeltaSubscription(const std::string& type_url, TypeState& t, bool first) {
    if constexpr (kDelta) {
      if (first) {
        t.legacy_wildcard =
            request_.resource_names_subscribe().empty() && LegacyWildcardAllowed(type_url);
        t.wildcard = t.legacy_wildcard;
        for (const auto& [name, version] : request_.initial_resource_versions()) {
          t.known[name] = version;
        }
        t.dirty = true;
      }
      for (const std::string& n : request_.resource_names_subscribe()) {
        if (n == "*") {
          t.wildcard = true;
        } else {
          t.names.insert(n);
          // A re-subscription asks for the resource again even if it had it.
          t.known.erase(n);
        }
        t.dirty = true;
      }
      for (const std::string& n : request_.resource_names_unsubscribe()) {
        if (n == "*") {
          t.wildcard = false;
          t.legacy_wildcard = false;
        } else {
          t.names.erase(n);
          if (!t.wildcard) t.known.erase(n);
        }
        t.dirty = true;
      }
    }
    return grpc::Status::OK;
  }

  // Finish now, or after the write in flight completes.
  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    if (write_in_flight_) {
      if (!finish_pending_) finish_pending_ = status;
      return;
    }
    finished_ = true;
    this->Finish(status);
  }

  // Picks the next response to send, if any and if no write is in flight, and
  // starts writing it after releasing the lock.
  void PumpAndUnlock(std::unique_lock<std::mutex>& lock) {
    if (finished_ || write_in_flight_ || finish_pending_) {
      CheckConvergedLocked();
      return;
    }
    bool change_driven = false;
    std::unique_ptr<Response> next = NextResponseLocked(change_driven);
    CheckConvergedLocked();
    if (!next) return;
    write_in_flight_ = true;
    writing_ = std::move(next);
    // Push latency covers responses carrying a change, not subscription updates.
    writing_change_seen_ =
        change_driven ? std::optional<SteadyTime>(current_.change_seen) : std::nullopt;
    Response* to_write = writing_.get();
    lock.unlock();
    this->StartWrite(to_write);
  }

  // `change_driven` tells whether the response carries a newly adopted snapshot
  // (as opposed to answering a subscription change).
  std::unique_ptr<Response> NextResponseLocked(bool& change_driven) {
    while (true) {
      if (!current_.snapshot && pending_) AdoptPendingLocked();
      TypeState* best = nullptr;
      const std::string* best_url = nullptr;
      for (auto& [url, t] : types_) {
        if (!t.dirty) continue;
        if (best == nullptr || PushRank(url) < PushRank(*best_url)) {
          best = &t;
          best_url = &url;
        }
      }
      if (best != nullptr) {
        best->dirty = false;
        change_driven = best->change_dirty && measure_;
        best->change_dirty = false;
        if (!current_.snapshot) continue;
        if (auto r = Build(*best_url, *best, /*prune=*/false)) {
          if (change_driven) change_unacked_.insert(*best_url);
          return r;
        }
        continue;
      }
      if (cds_prune_pending_) {
        cds_prune_pending_ = false;
        auto it = types_.find(kClusterType);
        if (it != types_.end() && current_.snapshot) {
          if (auto r = Build(it->first, it->second, /*prune=*/true)) {
            change_driven = measure_;
            if (change_driven) change_unacked_.insert(it->first);
            return r;
          }
        }
        continue;
      }
      if (pending_) {
        AdoptPendingLocked();
        continue;
      }
      return nullptr;
    }
  }

  void AdoptPendingLocked() {
    current_ = std::move(*pending_);
    pending_.reset();
    measure_ = true;
    for (auto& [url, t] : types_) {
      t.dirty = t.dirty || t.subscribed;
      t.change_dirty = t.subscribed;
    }
  }

  // Records convergence once every response carrying the current change has
  // been written and ACKed.
  void CheckConvergedLocked() {
    if (!measure_ || converged_generation_ >= current_.generation) return;
    if (cds_prune_pending_ || !change_unacked_.empty()) return;
    for (const auto& [url, t] : types_) {
      if (t.change_dirty) return;
    }
    converged_generation_ = current_.generation;
    server_.convergence->Observe(
        std::chrono::duration<double>(server_.clock.Monotonic() - current_.change_seen).count());
  }

  std::string NextNonce() { return absl::StrCat(++nonce_counter_); }

  // Marks the dependents (EDS of clusters, RDS of listeners) of newly sent or
  // changed resources to be pushed again, so a warming cluster or listener is
  // never left waiting for data the server considers already delivered.
  void ForceDependentsLocked(const std::vector<ResourcePtr>& changed) {
    for (const ResourcePtr& r : changed) {
      if (r->dependencies.empty()) continue;
      auto it = types_.find(r->dependency_type);
      if (it == types_.end() || !it->second.subscribed) continue;
      it->second.dirty = true;
      it->second.force = true;
      for (const std::string& d : r->dependencies) it->second.force_names.insert(d);
    }
  }

  std::unique_ptr<Response> Build(const std::string& type_url, TypeState& t, bool prune) {
    if constexpr (kDelta) {
      return BuildDelta(type_url, t, prune);
    } else {
      return BuildSotw(type_url, t, prune);
    }
  }

  std::unique_ptr<Response> BuildSotw(const std::string& type_url, TypeState& t, bool prune) {
    const Snapshot& snap = *current_.snapshot;
    // A type the snapshot does not have at all: nothing to say yet.
    if (snap.Version(type_url).empty()) return nullptr;
    NamedResources view;
    if (t.wildcard)
      view = NamedResources(snap.Resources(type_url).begin(), snap.Resources(type_url).end());
    for (const std::string& n : t.names) {
      if (ResourcePtr r = snap.Find(type_url, n)) view.emplace(n, std::move(r));
    }
    if (type_url == kClusterType && !prune) {
      // Keep clusters that went away until everything that may use them moved on.
      bool stale = false;
      for (const auto& [name, r] : t.sent) {
        if (!view.contains(name)) {
          view.emplace(name, r);
          stale = true;
        }
      }
      if (stale) cds_prune_pending_ = true;
    }
    std::string version = ContentVersion(type_url, view);
    const bool force = t.force;
    t.force = false;
    t.force_names.clear();
    if (version == t.nacked_version) return nullptr;
    if (version == t.last_sent_version && !force) return nullptr;

    auto resp = std::make_unique<DiscoveryResponse>();
    resp->set_version_info(version);
    resp->set_type_url(type_url);
    resp->set_nonce(NextNonce());
    std::vector<ResourcePtr> changed;
    std::vector<ResourcePtr> all;
    all.reserve(view.size());
    for (const auto& [name, r] : view) {
      *resp->add_resources() = *r->body;
      auto prev = t.sent.find(name);
      if (prev == t.sent.end() || prev->second->hash != r->hash) changed.push_back(r);
      all.push_back(r);
    }
    t.sent = std::move(view);
    t.last_sent_version = version;
    t.last_nonce = resp->nonce();
    RecordSentLocked(type_url, version, resp->nonce(), std::move(all), resp->ByteSizeLong());
    ForceDependentsLocked(changed);
    return resp;
  }

  std::unique_ptr<Response> BuildDelta(const std::string& type_url, TypeState& t, bool prune) {
    const Snapshot& snap = *current_.snapshot;
    const Snapshot::ResourceMap& all = snap.Resources(type_url);
    auto resp = std::make_unique<DeltaDiscoveryResponse>();
    std::vector<ResourcePtr> changed;
    auto consider = [&](const std::string& name, const ResourcePtr& r) {
      auto k = t.known.find(name);
      bool forced = t.force_names.contains(name);
      if (k != t.known.end() && k->second == r->version && !forced) return;
      auto* out = resp->add_resources();
      out->set_name(name);
      out->set_version(r->version);
      *out->mutable_resource() = *r->body;
      t.known[name] = r->version;
      changed.push_back(r);
    };
    if (t.wildcard) {
      for (const auto& [name, r] : all) consider(name, r);
    }
    for (const std::string& n : t.names) {
      auto it = all.find(n);
      if (it != all.end()) {
        if (!t.wildcard) consider(n, it->second);
        continue;
      }
      // Subscribed but does not exist: say so once.
      auto k = t.known.find(n);
      if (k == t.known.end() || !k->second.empty()) {
        resp->add_removed_resources(n);
        t.known[n] = "";
      }
    }
    // What the proxy holds that is gone (or, for wildcard, never existed).
    for (auto it = t.known.begin(); it != t.known.end();) {
      const std::string& name = it->first;
      bool in_scope = t.wildcard || t.names.contains(name);
      if (!in_scope) {
        it = t.known.erase(it);
        continue;
      }
      if (all.contains(name) || it->second.empty()) {
        ++it;
        continue;
      }
      if (type_url == kClusterType && !prune) {
        cds_prune_pending_ = true;  // removed in the last step of this push
        ++it;
        continue;
      }
      resp->add_removed_resources(name);
      if (t.names.contains(name)) {
        it->second = "";
        ++it;
      } else {
        it = t.known.erase(it);
      }
    }
    t.force = false;
    t.force_names.clear();
    if (resp->resources_size() == 0 && resp->removed_resources_size() == 0) return nullptr;
    resp->set_type_url(type_url);
    resp->set_system_version_info(std::string(snap.Version(type_url)));
    resp->set_nonce(NextNonce());
    t.last_nonce = resp->nonce();
    std::string version = std::string(snap.Version(type_url));
    nonce_versions_[type_url] = version;
    std::vector<ResourcePtr> held;
    for (const auto& [name, v] : t.known) {
      if (v.empty()) continue;
      if (ResourcePtr r = snap.Find(type_url, name); r && r->version == v) held.push_back(r);
    }
    RecordSentLocked(type_url, version, resp->nonce(), std::move(held), resp->ByteSizeLong());
    ForceDependentsLocked(changed);
    return resp;
  }

  void RecordSentLocked(const std::string& type_url, const std::string& version,
                        const std::string& nonce, std::vector<ResourcePtr> resources,
                        size_t bytes) {
    server_.tracker.RecordSent(id_, type_url, version, nonce, server_.clock.Now(),
                               std::move(resources));
    server_.Pushes(type_url)->Inc();
    server_.PushBytes(type_url, Messages<kDelta>::kName)->Inc(static_cast<double>(bytes));
  }

  AdsServer::Impl& server_;
  const uint64_t id_;
  const std::string only_type_;
  std::shared_ptr<AdsStream> self_;  // keeps the reactor alive until OnDone
  Request request_;                  // only touched by the read path
  bool connected_ = false;           // read path only (and OnDone, after all reads)
  std::optional<SnapshotCache::WatchId> watch_;
  std::string node_id_;
  std::string group_;

  std::mutex mu_;  // guards everything below
  bool finished_ = false;
  bool write_in_flight_ = false;
  std::optional<grpc::Status> finish_pending_;
  std::unique_ptr<Response> writing_;
  std::optional<SteadyTime> writing_change_seen_;
  VersionedSnapshot current_;                 // the snapshot the current push round serves
  std::optional<VersionedSnapshot> pending_;  // newer, adopted when the round is done
  bool measure_ = false;                      // current_ arrived while connected
  uint64_t converged_generation_ = 0;
  std::set<std::string, std::less<>> change_unacked_;  // types whose change is not ACKed
  bool cds_prune_pending_ = false;
  std::map<std::string, TypeState, std::less<>> types_;
  std::map<std::string, std::string> nonce_versions_;  // delta: type -> version of last response
  uint64_t nonce_counter_ = 0;
};

}  // namespace

grpc::ServerBidiReactor<DiscoveryRequest, DiscoveryResponse>*
AdsServer::Impl::StreamAggregatedResources(grpc::CallbackServerContext* /*context*/) {
  auto stream = std::make_shared<AdsStream<false>>(*this);
  stream->Start();
  return stream.get();
}

grpc::ServerBidiReactor<DeltaDiscoveryRequest, DeltaDiscoveryResponse>*
AdsServer::Impl::DeltaAggregatedResources(grpc::CallbackServerContext* /*context*/) {
  auto stream = std::make_shared<AdsStream<true>>(*this);
  stream->Start();
  return stream.get();
}

// One per-type xDS service, written by hand (as protoc's callback services
// are) because only the aggregated service is generated: its two methods are
// bidi streams of the same messages as ADS, served by AdsStream.
class AdsServer::SingleTypeService : public grpc::Service {
 public:
  SingleTypeService(AdsServer::Impl& server, std::string service, std::string noun,
                    std::string_view type_url)
      : server_(server),
        type_url_(type_url),
        sotw_path_(absl::StrCat("/", service, "/Stream", noun)),
        delta_path_(absl::StrCat("/", service, "/Delta", noun)) {
    AddMethod(new grpc::internal::RpcServiceMethod(
        sotw_path_.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING, nullptr));
    MarkMethodCallback(0,
                       new grpc::internal::CallbackBidiHandler<DiscoveryRequest, DiscoveryResponse>(
                           [this](grpc::CallbackServerContext*) {
                             auto stream = std::make_shared<AdsStream<false>>(server_, type_url_);
                             stream->Start();
                             return stream.get();
                           }));
    AddMethod(new grpc::internal::RpcServiceMethod(
        delta_path_.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING, nullptr));
    MarkMethodCallback(
        1, new grpc::internal::CallbackBidiHandler<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
               [this](grpc::CallbackServerContext*) {
                 auto stream = std::make_shared<AdsStream<true>>(server_, type_url_);
                 stream->Start();
                 return stream.get();
               }));
  }

 private:
  AdsServer::Impl& server_;
  const std::string type_url_;
  const std::string sotw_path_;  // outlive the methods, which keep the pointers
  const std::string delta_path_;
};

AdsServer::AdsServer(SnapshotCache& cache, StatusTracker& tracker, MetricsRegistry& metrics,
                     const Clock& clock, AdsServerOptions options)
    : impl_(std::make_unique<Impl>(cache, tracker, metrics, clock, options)) {
  struct PerType {
    const char* service;
    const char* noun;
    std::string_view type_url;
  };
  for (const PerType& t : {
           PerType{"envoy.service.cluster.v3.ClusterDiscoveryService", "Clusters", kClusterType},
           PerType{"envoy.service.endpoint.v3.EndpointDiscoveryService", "Endpoints",
                   kEndpointType},
           PerType{"envoy.service.listener.v3.ListenerDiscoveryService", "Listeners",
                   kListenerType},
           PerType{"envoy.service.route.v3.RouteDiscoveryService", "Routes", kRouteType},
           PerType{"envoy.service.secret.v3.SecretDiscoveryService", "Secrets", kSecretType},
       }) {
    per_type_.push_back(std::make_unique<SingleTypeService>(*impl_, t.service, t.noun, t.type_url));
  }
}

std::vector<grpc::Service*> AdsServer::per_type_services() {
  std::vector<grpc::Service*> out;
  for (const auto& s : per_type_) out.push_back(s.get());
  return out;
}

AdsServer::~AdsServer() = default;

grpc::Service* AdsServer::service() { return impl_.get(); }

size_t AdsServer::OpenStreams() const { return impl_->open_streams.load(); }

}  // namespace meshgate::xds
