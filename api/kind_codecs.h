// Internal to the api module: the codec of each kind's `spec` (and of the
// Kubernetes kinds' top-level bodies), built once on first use and shared.
//
// Thread-safety: the returned codecs are immutable; use them from any thread.
#pragma once

#include <string>

#include "api/codec.h"
#include "api/kube.h"
#include "api/meta.h"
#include "api/networking.h"
#include "api/security.h"

namespace meshgate::api::codec {

const Codec<VirtualService>& VirtualServiceSpec();
const Codec<DestinationRule>& DestinationRuleSpec();
const Codec<Gateway>& GatewaySpec();
const Codec<PeerAuthentication>& PeerAuthenticationSpec();
const Codec<Sidecar>& SidecarSpec();
const Codec<ServiceEntry>& ServiceEntrySpec();

const Codec<ObjectMeta>& Metadata();

// Kubernetes kinds are decoded from the whole object (their fields live in
// spec, status, data, ... depending on the kind); unknown fields are ignored.
void DecodeService(DecodeContext& ctx, const YAML::Node& object, Service& out);
void DecodeEndpointSlice(DecodeContext& ctx, const YAML::Node& object, EndpointSlice& out);
void DecodePod(DecodeContext& ctx, const YAML::Node& object, Pod& out);
void DecodeSecret(DecodeContext& ctx, const YAML::Node& object, Secret& out);
void DecodeConfigMap(DecodeContext& ctx, const YAML::Node& object, ConfigMap& out);

}  // namespace meshgate::api::codec
