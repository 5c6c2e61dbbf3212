// Fuzz target for the ClientHello inspector: arbitrary first bytes of a
// connection must never crash it, and whatever it reports stays within the
// input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/network/tls_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto info = meshgate::proxy::network::InspectClientHello(bytes);
  size_t reported = info.server_name.size();
  for (const auto& p : info.alpn) reported += p.size();
  if (reported > size) std::abort();
  // Every prefix is a legal "not yet" state of the same connection.
  for (size_t cut = 0; cut < size && cut < 64; ++cut) {
    meshgate::proxy::network::InspectClientHello(bytes.substr(0, cut));
  }
  return 0;
}
