// H2TestServer: a small HTTP/2 (h2c, prior knowledge) origin on loopback for
// the upstream pool's tests, written directly on nghttp2's server session so
// it shares no code with the proxy's own codec.
//
// It answers every request with 200, `x-path: <:path>` and the body "ok"
// (or "ok:<request body>" when there was one), optionally followed by
// trailers; it can hold responses until released (to observe concurrency),
// advertise a SETTINGS_MAX_CONCURRENT_STREAMS, and send GOAWAY after a number
// of requests. Everything it saw is recorded for assertions.
//
// Thread-safety: runs on the test's Dispatcher thread only.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/event/dispatcher.h"
#include "proxy/network/connection.h"
#include "proxy/network/listener.h"

namespace meshgate::proxy::testing {

class H2TestServer {
 public:
  struct Options {
    std::optional<uint32_t> max_concurrent_streams;  // advertised in SETTINGS
    bool hold_responses = false;                     // answer only on Release()
    uint32_t goaway_after_requests = 0;              // 0: never
    bool send_trailers = false;                      // grpc-status: 0 as trailers
    bool send_settings = true;                       // false: a peer that never sends its SETTINGS
  };

  H2TestServer(event::Dispatcher& dispatcher, Options options);
  ~H2TestServer();

  const network::Address& address() const { return listener_->address(); }
  // Answers every held request.
  void Release();

  // What happened so far.
  uint32_t connections_accepted() const { return connections_accepted_; }
  uint32_t requests_completed() const { return requests_; }
  // Streams open at once on one connection, at most.
  uint32_t max_concurrent_seen() const { return max_concurrent_seen_; }
  uint32_t held() const;
  uint32_t resets_received() const { return resets_received_; }
  uint32_t open_connections() const;
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  class Session;
  friend class Session;

  event::Dispatcher& dispatcher_;
  Options options_;
  std::unique_ptr<network::TcpListener> listener_;
  std::vector<std::unique_ptr<Session>> sessions_;
  uint32_t connections_accepted_ = 0;
  uint32_t requests_ = 0;
  uint32_t max_concurrent_seen_ = 0;
  uint32_t resets_received_ = 0;
  std::vector<std::string> paths_;
};

}  // namespace meshgate::proxy::testing
