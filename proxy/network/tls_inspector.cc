#include "proxy/network/tls_inspector.h"

#include <cstdint>

namespace meshgate::proxy::network {
namespace {

// A bounds-checked reader over untrusted bytes; any overrun sets `failed`.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool failed() const { return failed_; }
  size_t remaining() const { return data_.size(); }
  uint32_t Read(size_t n) {
    if (failed_ || n > data_.size()) {
      failed_ = true;
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(data_[i]);
    data_.remove_prefix(n);
    return v;
  }
  std::string_view Take(size_t n) {
    if (failed_ || n > data_.size()) {
      failed_ = true;
      return {};
    }
    std::string_view out = data_.substr(0, n);
    data_.remove_prefix(n);
    return out;
  }

 private:
  std::string_view data_;
  bool failed_ = false;
};

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr uint16_t kServerNameExtension = 0;
constexpr uint16_t kAlpnExtension = 16;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

void ParseServerName(std::string_view ext, ClientHelloInfo& out) {
  Reader r(ext);
  Reader list(r.Take(r.Read(2)));
  while (!list.failed() && list.remaining() > 0) {
    uint32_t type = list.Read(1);
    std::string_view name = list.Take(list.Read(2));
    if (list.failed()) return;
    if (type == 0 && name.find('\0') == std::string_view::npos) {
      out.server_name = Lower(name);
      return;
    }
  }
}

void ParseAlpn(std::string_view ext, ClientHelloInfo& out) {
  Reader r(ext);
  Reader list(r.Take(r.Read(2)));
  while (!list.failed() && list.remaining() > 0) {
    std::string_view protocol = list.Take(list.Read(1));
    if (list.failed()) return;
    if (!protocol.empty()) out.alpn.emplace_back(protocol);
  }
}

}  // namespace

ClientHelloInfo InspectClientHello(std::string_view data) {
  ClientHelloInfo out;
  using Result = ClientHelloInfo::Result;
  if (data.empty()) return out;
  if (static_cast<uint8_t>(data[0]) != kHandshakeRecord) {
    out.result = Result::kNotTls;
    return out;
  }
  if (data.size() >= 2 && static_cast<uint8_t>(data[1]) != 3) {
    out.result = Result::kNotTls;
    return out;
  }
  if (data.size() < 5) return out;
  Reader header(data.substr(0, 5));
  header.Read(3);
  uint32_t record_length = header.Read(2);
  if (record_length == 0 || record_length > 16 * 1024) {
    out.result = Result::kNotTls;
    return out;
  }
  if (data.size() < 5 + record_length) return out;
  Reader record(data.substr(5, record_length));
  if (record.Read(1) != kClientHello) {
    out.result = Result::kNotTls;
    return out;
  }
  uint32_t hello_length = record.Read(3);
  if (record.failed()) {
    out.result = Result::kNotTls;
    return out;
  }
  // A ClientHello continued in a later record: TLS, without what it says.
  out.result = Result::kTls;
  if (hello_length > record.remaining()) return out;
  Reader hello(record.Take(hello_length));
  hello.Read(2);              // legacy_version
  hello.Take(32);             // random
  hello.Take(hello.Read(1));  // legacy_session_id
  hello.Take(hello.Read(2));  // cipher_suites
  hello.Take(hello.Read(1));  // legacy_compression_methods
  if (hello.failed()) {
    out.result = Result::kNotTls;
    return out;
  }
  if (hello.remaining() == 0) return out;  // no extensions at all
  Reader extensions(hello.Take(hello.Read(2)));
  while (!extensions.failed() && extensions.remaining() > 0) {
    uint32_t type = extensions.Read(2);
    std::string_view body = extensions.Take(extensions.Read(2));
    if (extensions.failed()) break;
    if (type == kServerNameExtension) ParseServerName(body, out);
    if (type == kAlpnExtension) ParseAlpn(body, out);
  }
  if (hello.failed() || extensions.failed()) {
    out = ClientHelloInfo{};
    out.result = Result::kNotTls;
  }
  return out;
}

}  // namespace meshgate::proxy::network
