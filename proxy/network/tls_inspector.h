// InspectClientHello: what Envoy's tls_inspector listener filter learns from
// the first bytes of a connection — whether it is TLS, and the ClientHello's
// server name (SNI) and ALPN list — so a listener can pick the filter chain
// (and so the certificate) before the handshake starts.
//
// The bytes are untrusted: every length is checked against what is there;
// malformed input yields kNotTls, never a crash (fuzzed by
// unit/proxy-tls/client_hello_fuzz.cc). Only a ClientHello inside the first
// TLS record is read (as every mainstream client sends it).
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace meshgate::proxy::network {

// Enough for a full TLS record: inspection never needs more.
inline constexpr size_t kMaxClientHelloPeek = 5 + 16 * 1024;

struct ClientHelloInfo {
  enum class Result { kNeedMoreData, kTls, kNotTls };
  Result result = Result::kNeedMoreData;
  std::string server_name;  // lower-cased; empty when absent
  std::vector<std::string> alpn;
};

ClientHelloInfo InspectClientHello(std::string_view data);

}  // namespace meshgate::proxy::network
