// Sidecar inbound listeners by interception mode: REDIRECT (iptables
// capture, one virtualInbound on 15006) and NONE (no capture: one listener
// bound to the instance IP per workload port, with the very same chains).
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "unit/compiler/test_util.h"

namespace meshgate::compiler {
namespace {

using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;
using namespace testing;  // NOLINT
using Mode = ProxyTarget::InterceptionMode;

struct Case {
  std::string name;
  Mode mode;
  std::string instance_ip;
  std::optional<api::MtlsMode> namespace_mtls;  // PeerAuthentication in "default"
  // Expected inbound listeners ("" port-less name means virtualInbound).
  std::vector<std::string> inbound_listeners;
  bool virtual_outbound;
  // Per workload port: the chains' transport_protocol, in order.
  std::vector<std::string> transports;
  // Listener filters of each inbound listener, in order.
  std::vector<std::string> listener_filters;
};

// Test names, not bytes, in gtest's and ctest's output.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const char kOriginalDst[] = "envoy.filters.listener.original_dst";
const char kTlsInspector[] = "envoy.filters.listener.tls_inspector";

std::vector<Case> Cases() {
  return {
      {"RedirectIsTheCaptureListener",
       Mode::kRedirect,
       "",
       std::nullopt,
       {"virtualInbound"},
       true,
       {"tls", "raw_buffer"},
       {kOriginalDst, kTlsInspector}},
      {"RedirectIgnoresTheInstanceIp",
       Mode::kRedirect,
       "10.1.2.3",
       std::nullopt,
       {"virtualInbound"},
       true,
       {"tls", "raw_buffer"},
       {kOriginalDst, kTlsInspector}},
      {"NoneWithoutAnInstanceIpKeepsTheCaptureListener",
       Mode::kNone,
       "",
       std::nullopt,
       {"virtualInbound"},
       true,
       {"tls", "raw_buffer"},
       {kOriginalDst, kTlsInspector}},
      {"NonePermissiveBindsEachPort",
       Mode::kNone,
       "10.1.2.3",
       std::nullopt,
       {"10.1.2.3_9081", "10.1.2.3_9443"},
       false,
       {"tls", "raw_buffer"},
       {kTlsInspector}},
      {"NoneStrictHasOnlyTheMtlsChain",
       Mode::kNone,
       "10.1.2.3",
       api::MtlsMode::kStrict,
       {"10.1.2.3_9081", "10.1.2.3_9443"},
       false,
       {"tls"},
       {kTlsInspector}},
      {"NoneDisableHasOnlyPlaintextAndNoInspector",
       Mode::kNone,
       "10.1.2.3",
       api::MtlsMode::kDisable,
       {"10.1.2.3_9081", "10.1.2.3_9443"},
       false,
       {""},
       {}},
      {"NoneOnIpv6",
       Mode::kNone,
       "fd00::7",
       api::MtlsMode::kStrict,
       {"fd00::7_9081", "fd00::7_9443"},
       false,
       {"tls"},
       {kTlsInspector}},
  };
}

CompiledResources CompileCase(const Case& c, Mode mode, const std::string& instance_ip) {
  MeshBuilder mesh;
  mesh.AddService("default", "productpage", {HttpPort(9080, 9081), HttpPort(443, 9443, "tcp")});
  mesh.AddService("default", "reviews", {HttpPort(9080, 9080)});
  if (c.namespace_mtls) {
    api::PeerAuthentication pa;
    pa.mtls = api::MutualTls{*c.namespace_mtls};
    mesh.Add(api::Kind::kPeerAuthentication, "default", "default", pa);
  }
  ProxyTarget target = Sidecar("default", {{"app", "productpage"}});
  target.interception_mode = mode;
  target.instance_ip = instance_ip;
  return Compile(mesh.Build(), target);
}

std::vector<std::string> InboundNames(const CompiledResources& out) {
  std::vector<std::string> names;
  for (const auto& [name, l] : out.listeners) {
    if (l.resource->traffic_direction() == envoy::config::core::v3::INBOUND) names.push_back(name);
  }
  return names;
}

// The chains of `port` on a listener, in listener order.
std::vector<const envoy::config::listener::v3::FilterChain*> ChainsOfPort(
    const envoy::config::listener::v3::Listener& l, uint32_t port) {
  std::vector<const envoy::config::listener::v3::FilterChain*> chains;
  for (const auto& chain : l.filter_chains()) {
    if (chain.filter_chain_match().destination_port().value() == port) chains.push_back(&chain);
  }
  return chains;
}

class InterceptionTest : public ::testing::TestWithParam<Case> {};

TEST_P(InterceptionTest, InboundListeners) {
  const Case& c = GetParam();
  CompiledResources out = CompileCase(c, c.mode, c.instance_ip);
  for (const auto& d : out.diagnostics) ADD_FAILURE() << d.ToString();

  EXPECT_THAT(InboundNames(out), UnorderedElementsAreArray(c.inbound_listeners));
  EXPECT_EQ(out.listeners.count("virtualOutbound") > 0, c.virtual_outbound);

  // Whatever the mode, the chains are those of the capture listener: the
  // REDIRECT compilation of the same mesh is the reference.
  CompiledResources reference = CompileCase(c, Mode::kRedirect, "");
  const auto& captured = *reference.listeners.at("virtualInbound").resource;
  for (const std::string& name : c.inbound_listeners) {
    SCOPED_TRACE(name);
    const auto& l = *out.listeners.at(name).resource;
    std::vector<std::string> filters;
    for (const auto& f : l.listener_filters()) filters.push_back(f.name());
    EXPECT_THAT(filters, ElementsAreArray(c.listener_filters));

    std::vector<uint32_t> ports = {9081, 9443};
    if (name != "virtualInbound") {
      // A bound listener: INSTANCEIP:PORT, holding that port's chains only.
      const uint32_t port = l.address().socket_address().port_value();
      EXPECT_EQ(name, absl::StrCat(c.instance_ip, "_", port));
      EXPECT_EQ(l.address().socket_address().address(), c.instance_ip);
      EXPECT_FALSE(l.has_bind_to_port() && !l.bind_to_port().value());
      EXPECT_EQ(static_cast<size_t>(l.filter_chains_size()), c.transports.size());
      ports = {port};
    }
    for (uint32_t port : ports) {
      auto chains = ChainsOfPort(l, port);
      auto expected = ChainsOfPort(captured, port);
      ASSERT_EQ(chains.size(), c.transports.size()) << "port " << port;
      ASSERT_EQ(expected.size(), c.transports.size()) << "port " << port;
      for (size_t i = 0; i < chains.size(); ++i) {
        EXPECT_EQ(chains[i]->filter_chain_match().transport_protocol(), c.transports[i]);
        EXPECT_EQ(chains[i]->has_transport_socket(), c.transports[i] == "tls");
        EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*chains[i], *expected[i]))
            << chains[i]->DebugString() << "\nvs\n"
            << expected[i]->DebugString();
      }
      // The chains forward to the app on loopback through inbound|PORT||.
      const auto& cluster = *out.clusters.at(absl::StrCat("inbound|", port, "||")).resource;
      const auto& address =
          cluster.load_assignment().endpoints(0).lb_endpoints(0).endpoint().address();
      EXPECT_EQ(address.socket_address().address(), "127.0.0.1");
      EXPECT_EQ(address.socket_address().port_value(), port);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, InterceptionTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// A gRPC application speaks HTTP/2 only: its inbound cluster must too, on
// the bound listener as on the capture listener.
TEST(InterceptionNone, GrpcPortsReachTheAppOverHttp2) {
  MeshBuilder mesh;
  mesh.AddService("default", "greeter", {HttpPort(9103, 9103, "grpc"), HttpPort(80, 9080)});
  for (Mode mode : {Mode::kRedirect, Mode::kNone}) {
    ProxyTarget target = Sidecar("default", {{"app", "greeter"}});
    target.interception_mode = mode;
    target.instance_ip = "127.0.0.13";
    CompiledResources out = Compile(mesh.Build(), target);
    EXPECT_EQ(out.listeners.count("127.0.0.13_9103"), mode == Mode::kNone ? 1u : 0u);
    auto http2 = [&](uint32_t port) {
      const auto& c = *out.clusters.at(absl::StrCat("inbound|", port, "||")).resource;
      auto it = c.typed_extension_protocol_options().find(
          "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
      if (it == c.typed_extension_protocol_options().end()) return false;
      envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
      return it->second.UnpackTo(&options) &&
             options.explicit_http_config().has_http2_protocol_options();
    };
    EXPECT_TRUE(http2(9103));
    EXPECT_FALSE(http2(9080));
  }
}

// A dual-stack pod (an IPv6 address among INSTANCE_IPS): the capture
// listeners and the per-port listeners they hand to also take [::], as
// Istio's dual-stack listeners; a single-stack pod's have no extra address.
TEST(InterceptionRedirect, DualStackListenersAlsoBindIpv6) {
  MeshBuilder mesh;
  mesh.AddService("default", "productpage", {HttpPort(9080, 9081)});
  mesh.AddService("default", "reviews", {HttpPort(9080, 9080)});
  for (bool dual_stack : {false, true}) {
    ProxyTarget target = Sidecar("default", {{"app", "productpage"}});
    target.dual_stack = dual_stack;
    CompiledResources out = Compile(mesh.Build(), target);
    for (const char* name : {"virtualOutbound", "virtualInbound", "0.0.0.0_9080"}) {
      ASSERT_EQ(out.listeners.count(name), 1u) << name;
      const auto& l = *out.listeners.at(name).resource;
      EXPECT_EQ(l.address().socket_address().address(), "0.0.0.0") << name;
      if (!dual_stack) {
        EXPECT_EQ(l.additional_addresses_size(), 0) << name;
        continue;
      }
      ASSERT_EQ(l.additional_addresses_size(), 1) << name;
      const auto& extra = l.additional_addresses(0).address().socket_address();
      EXPECT_EQ(extra.address(), "::") << name;
      EXPECT_EQ(extra.port_value(), l.address().socket_address().port_value()) << name;
    }
  }
}

}  // namespace
}  // namespace meshgate::compiler
