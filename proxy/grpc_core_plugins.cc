// The gRPC core plugins meshgate-proxy registers, for its statically linked
// binary only (cmake/StaticProxy.cmake adds this file there).
//
// gRPC builds its core configuration once, from grpc_core::BuildCoreConfiguration,
// which libgrpc defines in a translation unit of its own so that a static
// build may provide its own. Its default registers every plugin: the xDS
// resolver and client, the xDS, RLS, grpclb, ring-hash, priority,
// weighted-target and outlier-detection LB policies, fault injection, RBAC,
// Google default credentials. The proxy's two gRPC clients (ADS and the CA's
// CSR call) use none of them: they dial one HOST:PORT with DNS or an IP
// literal, pick_first, plaintext or TLS. Registering only what they use lets
// the linker drop the rest, and the binary no longer faults in their
// registration code at start (about a third of libgrpc's code).
//
// The list keeps libgrpc 1.51's order (handshaker order matters: TCP connect
// is registered last among handshakers so that it runs first) and leaves out
// only whole plugins. The declarations below mirror gRPC's internal headers,
// which Debian does not install; CoreConfiguration::Builder is only ever
// passed through by pointer here.
//
// Thread-safety: called by gRPC once, under its own initialization lock.

namespace grpc_core {

class CoreConfiguration {
 public:
  class Builder;
};

void RegisterHttpConnectHandshaker(CoreConfiguration::Builder* builder);
void RegisterTCPConnectHandshaker(CoreConfiguration::Builder* builder);
void RegisterPickFirstLbPolicy(CoreConfiguration::Builder* builder);
void RegisterRoundRobinLbPolicy(CoreConfiguration::Builder* builder);
void BuildClientChannelConfiguration(CoreConfiguration::Builder* builder);
void SecurityRegisterHandshakerFactories(CoreConfiguration::Builder* builder);
void RegisterClientAuthorityFilter(CoreConfiguration::Builder* builder);
void RegisterChannelIdleFilters(CoreConfiguration::Builder* builder);
void RegisterHttpFilters(CoreConfiguration::Builder* builder);
void RegisterDeadlineFilter(CoreConfiguration::Builder* builder);
void RegisterMessageSizeFilter(CoreConfiguration::Builder* builder);
void RegisterServiceConfigChannelArgFilter(CoreConfiguration::Builder* builder);
void RegisterResourceQuota(CoreConfiguration::Builder* builder);
void RegisterAresDnsResolver(CoreConfiguration::Builder* builder);
void RegisterNativeDnsResolver(CoreConfiguration::Builder* builder);
void RegisterSockaddrResolver(CoreConfiguration::Builder* builder);
void RegisterHttpProxyMapper(CoreConfiguration::Builder* builder);
void RegisterSecurityFilters(CoreConfiguration::Builder* builder);
void RegisterBuiltins(CoreConfiguration::Builder* builder);

void BuildCoreConfiguration(CoreConfiguration::Builder* builder);

}  // namespace grpc_core

namespace grpc_event_engine::experimental {
void RegisterEventEngineChannelArgPreconditioning(grpc_core::CoreConfiguration::Builder* builder);
}  // namespace grpc_event_engine::experimental

void grpc_core::BuildCoreConfiguration(CoreConfiguration::Builder* builder) {
  grpc_event_engine::experimental::RegisterEventEngineChannelArgPreconditioning(builder);
  RegisterHttpConnectHandshaker(builder);  // HTTP CONNECT proxies (grpc_proxy / https_proxy)
  RegisterTCPConnectHandshaker(builder);
  RegisterPickFirstLbPolicy(builder);
  RegisterRoundRobinLbPolicy(builder);
  BuildClientChannelConfiguration(builder);
  SecurityRegisterHandshakerFactories(builder);
  RegisterClientAuthorityFilter(builder);
  RegisterChannelIdleFilters(builder);
  RegisterHttpFilters(builder);
  RegisterDeadlineFilter(builder);
  RegisterMessageSizeFilter(builder);
  RegisterServiceConfigChannelArgFilter(builder);
  RegisterResourceQuota(builder);
  RegisterAresDnsResolver(builder);
  RegisterNativeDnsResolver(builder);
  RegisterSockaddrResolver(builder);
  RegisterHttpProxyMapper(builder);
  RegisterSecurityFilters(builder);
  RegisterBuiltins(builder);
}
