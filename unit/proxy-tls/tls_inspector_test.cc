// InspectClientHello over ClientHellos produced by a real OpenSSL client
// (through a memory BIO), plaintext, partial and corrupted input.
#include "proxy/network/tls_inspector.h"

#include <openssl/ssl.h>

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace meshgate::proxy::network {
namespace {

// The first flight of an OpenSSL client with these settings.
std::string ClientHelloBytes(const std::string& sni, const std::string& alpn_wire,
                             int max_version = TLS1_3_VERSION) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (!alpn_wire.empty()) {
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn_wire.data()),
                        static_cast<unsigned int>(alpn_wire.size()));
  }
  SSL_connect(ssl);  // wants to read the server's answer; the hello is written
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  std::string bytes(data, static_cast<size_t>(len));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return bytes;
}

TEST(TlsInspectorTest, ReadsSniAndAlpnFromARealClientHello) {
  std::string hello = ClientHelloBytes("API.Example.com", std::string("\x02h2\x08http/1.1", 12));
  ClientHelloInfo info = InspectClientHello(hello);
  EXPECT_EQ(info.result, ClientHelloInfo::Result::kTls);
  EXPECT_EQ(info.server_name, "api.example.com");
  EXPECT_EQ(info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));

  ClientHelloInfo bare = InspectClientHello(ClientHelloBytes("", "", TLS1_2_VERSION));
  EXPECT_EQ(bare.result, ClientHelloInfo::Result::kTls);
  EXPECT_EQ(bare.server_name, "");
  EXPECT_TRUE(bare.alpn.empty());
}

TEST(TlsInspectorTest, WaitsForTheWholeRecordAndRecognisesPlaintext) {
  std::string hello = ClientHelloBytes("a.example.com", "");
  for (size_t cut : {size_t{1}, size_t{4}, size_t{5}, hello.size() - 1}) {
    EXPECT_EQ(InspectClientHello(hello.substr(0, cut)).result,
              ClientHelloInfo::Result::kNeedMoreData)
        << cut;
  }
  EXPECT_EQ(InspectClientHello("GET / HTTP/1.1\r\n").result, ClientHelloInfo::Result::kNotTls);
  EXPECT_EQ(InspectClientHello(std::string("\x16\x01", 2)).result,
            ClientHelloInfo::Result::kNotTls);
}

TEST(TlsInspectorTest, CorruptedHellosNeverReadOutOfBounds) {
  std::string hello = ClientHelloBytes("corrupt.example.com", std::string("\x02h2", 3));
  std::mt19937 rng(5);
  for (int i = 0; i < 5000; ++i) {
    std::string copy = hello;
    for (int flips = 0; flips < 3; ++flips) {
      copy[rng() % copy.size()] = static_cast<char>(rng());
    }
    ClientHelloInfo info = InspectClientHello(copy);
    EXPECT_LE(info.server_name.size(), copy.size());
  }
}

}  // namespace
}  // namespace meshgate::proxy::network
