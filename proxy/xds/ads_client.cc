#include "proxy/xds/ads_client.h"

#include <algorithm>

#include "spdlog/spdlog.h"

namespace meshgate::proxy::xds {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

AdsClient::AdsClient(AdsClientOptions options, ResourceHandler* handler)
    : options_(std::move(options)), handler_(handler), rng_(options_.seed) {
  types_[kClusterType].wildcard = true;
  types_[kListenerType].wildcard = true;
  auto creds = options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  // The stream is long-lived; keepalives notice a dead control plane.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  channel_ = grpc::CreateCustomChannel(options_.target, creds, args);
}

AdsClient::~AdsClient() { Stop(); }

void AdsClient::Start() {
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AdsClient::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    if (active_context_ != nullptr) active_context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool AdsClient::connected() const {
  {
    std::lock_guard lock(mu_);
    if (active_stream_ == nullptr && active_delta_stream_ == nullptr) return false;
  }
  return channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

void AdsClient::SetSubscription(const std::string& type_url, std::set<std::string> names) {
  std::unique_lock lock(mu_);
  TypeState& state = types_[type_url];
  if (!state.wildcard && state.names == names && !state.last_nonce.empty()) return;
  if (state.names == names && !state.dirty) return;
  state.names = std::move(names);
  state.dirty = true;
  if (options_.delta) {
    // Resources no longer wanted are forgotten, so the handler's next view
    // of this type no longer holds them.
    if (!state.wildcard) {
      std::erase_if(state.delta_resources,
                    [&state](const auto& entry) { return !state.names.contains(entry.first); });
    }
    if (!in_handler_ && active_delta_stream_ != nullptr) {
      state.dirty = false;
      // A named type's first names start its subscription on this stream.
      if (state.wildcard || !state.names.empty() || state.delta_started) {
        DeltaDiscoveryRequest request;
        if (MakeDeltaSubscription(type_url, state, false, request)) {
          active_delta_stream_->Write(request);
        }
      }
    }
    return;
  }
  // From the handler, the stream thread sends it after the ACK; otherwise
  // send now so a subscription change is not stuck behind a blocking Read.
  if (!in_handler_ && active_stream_ != nullptr) {
    DiscoveryRequest request = MakeRequest(type_url, state, false);
    state.dirty = false;
    active_stream_->Write(request);
  }
}

DiscoveryRequest AdsClient::MakeRequest(const std::string& type_url, const TypeState& state,
                                        bool with_node) const {
  DiscoveryRequest request;
  if (with_node) *request.mutable_node() = options_.node;
  request.set_type_url(type_url);
  request.set_version_info(state.accepted_version);
  request.set_response_nonce(state.last_nonce);
  if (!state.wildcard) {
    for (const auto& name : state.names) request.add_resource_names(name);
  }
  return request;
}

bool AdsClient::SendDirtyRequests(Stream& stream, bool first) {
  // REQUIRES: mu_ held by the caller.
  bool node_sent = !first;
  for (auto& [type_url, state] : types_) {
    if (!first && !state.dirty) continue;
    // A named subscription with no names yet has nothing to ask for.
    if (!state.wildcard && state.names.empty() && state.last_nonce.empty()) {
      state.dirty = false;
      continue;
    }
    DiscoveryRequest request = MakeRequest(type_url, state, !node_sent);
    node_sent = true;
    state.dirty = false;
    if (!stream.Write(request)) return false;
  }
  return true;
}

bool AdsClient::MakeDeltaSubscription(const std::string& type_url, TypeState& state, bool with_node,
                                      DeltaDiscoveryRequest& request) const {
  request.set_type_url(type_url);
  if (with_node) *request.mutable_node() = options_.node;
  if (!state.delta_started) {
    // The first request of a stream: what we want, and what we already have.
    for (const auto& [name, kept] : state.delta_resources) {
      (*request.mutable_initial_resource_versions())[name] = kept.version;
    }
    if (!state.wildcard) {
      for (const auto& name : state.names) request.add_resource_names_subscribe(name);
    }
    state.delta_subscribed = state.wildcard ? std::set<std::string>() : state.names;
    state.delta_started = true;
    return true;
  }
  if (state.wildcard) return false;
  bool changed = false;
  for (const auto& name : state.names) {
    if (!state.delta_subscribed.contains(name)) {
      request.add_resource_names_subscribe(name);
      changed = true;
    }
  }
  for (const auto& name : state.delta_subscribed) {
    if (!state.names.contains(name)) {
      request.add_resource_names_unsubscribe(name);
      changed = true;
    }
  }
  state.delta_subscribed = state.names;
  return changed;
}

bool AdsClient::SendDirtyDeltaRequests(DeltaStream& stream, bool first) {
  bool node_sent = !first;
  for (auto& [type_url, state] : types_) {
    if (!first && !state.dirty) continue;
    state.dirty = false;
    // A named subscription with no names yet has nothing to ask for.
    if (!state.wildcard && state.names.empty() && !state.delta_started) continue;
    DeltaDiscoveryRequest request;
    if (!MakeDeltaSubscription(type_url, state, !node_sent, request)) continue;
    node_sent = true;
    if (!stream.Write(request)) return false;
  }
  return true;
}

bool AdsClient::RunOneDeltaStream() {
  auto stub = AggregatedDiscoveryService::NewStub(channel_);
  grpc::ClientContext context;
  std::unique_ptr<DeltaStream> stream;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    stream = stub->DeltaAggregatedResources(&context);
    active_context_ = &context;
    active_delta_stream_ = stream.get();
    for (auto& [type_url, state] : types_) {
      state.delta_started = false;
      state.delta_subscribed.clear();
    }
    if (!SendDirtyDeltaRequests(*stream, /*first=*/true)) {
      active_context_ = nullptr;
      active_delta_stream_ = nullptr;
      stream->WritesDone();
      stream->Finish();
      return false;
    }
  }

  bool received_any = false;
  DeltaDiscoveryResponse response;
  while (stream->Read(&response)) {
    if (!received_any) handler_->OnStreamState(true);
    received_any = true;
    const std::string& type_url = response.type_url();
    // Apply the change to a copy: the kept set moves only if the handler
    // accepts the result.
    std::map<std::string, DeltaResource> next;
    {
      std::lock_guard lock(mu_);
      next = types_[type_url].delta_resources;
    }
    for (const auto& resource : response.resources()) {
      next[resource.name()] = DeltaResource{resource.version(), resource.resource()};
    }
    for (const auto& name : response.removed_resources()) next.erase(name);
    std::vector<google::protobuf::Any> resources;
    resources.reserve(next.size());
    for (const auto& [name, kept] : next) resources.push_back(kept.resource);
    {
      std::lock_guard lock(mu_);
      in_handler_ = true;
    }
    absl::Status status =
        handler_->OnResources(type_url, resources, response.system_version_info());
    std::lock_guard lock(mu_);
    in_handler_ = false;
    TypeState& state = types_[type_url];
    DeltaDiscoveryRequest reply;
    reply.set_type_url(type_url);
    reply.set_response_nonce(response.nonce());
    if (status.ok()) {
      if (!state.wildcard) {
        // A response may race an unsubscribe: keep only what is still wanted.
        std::erase_if(next, [&state](const auto& e) { return !state.names.contains(e.first); });
      }
      state.delta_resources = std::move(next);
      state.accepted_version = response.system_version_info();
      ++acks_;
    } else {
      reply.mutable_error_detail()->set_code(static_cast<int>(status.code()));
      reply.mutable_error_detail()->set_message(std::string(status.message()));
      ++nacks_;
      spdlog::warn("xds: rejected delta {} (nonce {}): {}", type_url, response.nonce(),
                   std::string(status.message()));
    }
    if (!stream->Write(reply)) break;
    if (!SendDirtyDeltaRequests(*stream, /*first=*/false)) break;
  }
  {
    std::lock_guard lock(mu_);
    active_context_ = nullptr;
    active_delta_stream_ = nullptr;
  }
  grpc::Status status = stream->Finish();
  if (!stopping_) {
    spdlog::warn("xds: delta stream closed: {} {}", static_cast<int>(status.error_code()),
                 status.error_message());
  }
  return received_any;
}

void AdsClient::Run() {
  auto backoff = options_.initial_backoff;
  while (!stopping_) {
    bool received_any = options_.delta ? RunOneDeltaStream() : RunOneStream();
    handler_->OnStreamState(false);
    if (stopping_) break;
    ++reconnects_;
    if (received_any) backoff = options_.initial_backoff;
    // Full jitter keeps a fleet of proxies from reconnecting in lockstep.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    auto wait = std::chrono::milliseconds(jitter(rng_));
    spdlog::warn("xds: stream to {} ended; reconnecting in {} ms", options_.target, wait.count());
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stopping_.load(); });
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool AdsClient::RunOneStream() {
  auto stub = AggregatedDiscoveryService::NewStub(channel_);
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    stream = stub->StreamAggregatedResources(&context);
    active_context_ = &context;
    active_stream_ = stream.get();
    // A new stream starts from scratch: nonces belong to the old one, but the
    // accepted versions tell the server what we already have.
    for (auto& [type_url, state] : types_) state.last_nonce.clear();
    if (!SendDirtyRequests(*stream, /*first=*/true)) {
      active_context_ = nullptr;
      active_stream_ = nullptr;
      stream->WritesDone();
      stream->Finish();
      return false;
    }
  }

  bool received_any = false;
  DiscoveryResponse response;
  while (stream->Read(&response)) {
    if (!received_any) handler_->OnStreamState(true);
    received_any = true;
    const std::string& type_url = response.type_url();
    std::vector<google::protobuf::Any> resources(response.resources().begin(),
                                                 response.resources().end());
    {
      std::lock_guard lock(mu_);
      in_handler_ = true;
    }
    absl::Status status = handler_->OnResources(type_url, resources, response.version_info());
    std::lock_guard lock(mu_);
    in_handler_ = false;
    TypeState& state = types_[type_url];
    state.last_nonce = response.nonce();
    DiscoveryRequest reply = MakeRequest(type_url, state, false);
    if (status.ok()) {
      state.accepted_version = response.version_info();
      reply.set_version_info(state.accepted_version);
      ++acks_;
    } else {
      reply.mutable_error_detail()->set_code(static_cast<int>(status.code()));
      reply.mutable_error_detail()->set_message(std::string(status.message()));
      ++nacks_;
      spdlog::warn("xds: rejected {} version {}: {}", type_url, response.version_info(),
                   std::string(status.message()));
    }
    state.dirty = false;
    if (!stream->Write(reply)) break;
    if (!SendDirtyRequests(*stream, /*first=*/false)) break;
  }
  {
    std::lock_guard lock(mu_);
    active_context_ = nullptr;
    active_stream_ = nullptr;
  }
  grpc::Status status = stream->Finish();
  if (!stopping_) {
    spdlog::warn("xds: stream closed: {} {}", static_cast<int>(status.error_code()),
                 status.error_message());
  }
  return received_any;
}

}  // namespace meshgate::proxy::xds
