// meshgate-echo: a tiny HTTP backend for the demo and the tests. It answers
// every request with a JSON document naming its version, the request line,
// the headers it received and the peer identity the sidecar vouched for
// (x-forwarded-client-cert), so routing, rewrites and mTLS are visible
// with nothing but curl.
//
// Usage: meshgate-echo --port N --version NAME [--address 127.0.0.1]
//                      [--fail-every N]   (answer 503 to every Nth request,
//                                          to show retries)
//                      [--delay-ms N]     (answer after N ms, to show timeouts)
#include <cpprest/http_listener.h>
#include <cpprest/json.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

std::atomic<bool> g_stop{false};

void HandleSignal(int) { g_stop = true; }

struct Flags {
  std::string address = "127.0.0.1";
  int port = 0;
  std::string version = "v1";
  long fail_every = 0;
  long delay_ms = 0;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--port" && (v = value())) {
      flags->port = std::atoi(v);
    } else if (arg == "--version" && (v = value())) {
      flags->version = v;
    } else if (arg == "--address" && (v = value())) {
      flags->address = v;
    } else if (arg == "--fail-every" && (v = value())) {
      flags->fail_every = std::atol(v);
    } else if (arg == "--delay-ms" && (v = value())) {
      flags->delay_ms = std::atol(v);
    } else {
      std::fprintf(stderr, "meshgate-echo: unknown or incomplete flag %s\n", arg.c_str());
      return false;
    }
  }
  if (flags->port <= 0 || flags->port > 65535) {
    std::fprintf(stderr, "usage: meshgate-echo --port N --version NAME [--fail-every N]\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;

  using web::http::experimental::listener::http_listener;
  std::string url = "http://" + flags.address + ":" + std::to_string(flags.port);
  http_listener listener(url);
  std::atomic<long> counter{0};

  listener.support([&](web::http::http_request request) {
    long n = ++counter;
    // A slow backend on purpose: the handler runs on cpprestsdk's pool.
    if (flags.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(flags.delay_ms));
    web::json::value body;
    body["version"] = web::json::value::string(flags.version);
    body["method"] = web::json::value::string(request.method());
    body["path"] = web::json::value::string(request.relative_uri().to_string());
    web::json::value headers = web::json::value::object();
    std::string peer;
    for (const auto& [name, value] : request.headers()) {
      headers[name] = web::json::value::string(value);
      if (strcasecmp(name.c_str(), "x-forwarded-client-cert") == 0) peer = value;
    }
    body["headers"] = headers;
    body["peer_identity"] = web::json::value::string(peer);
    auto status = web::http::status_codes::OK;
    if (flags.fail_every > 0 && n % flags.fail_every == 0) {
      status = web::http::status_codes::ServiceUnavailable;
      body["failed_on_purpose"] = web::json::value::boolean(true);
    }
    web::http::http_response response(status);
    response.headers().add("x-echo-version", flags.version);
    response.set_body(body);
    request.reply(response).wait();
  });

  try {
    listener.open().wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meshgate-echo: cannot listen on %s: %s\n", url.c_str(), e.what());
    return 1;
  }
  std::signal(SIGINT, HandleSignal);
  std::signal(SIGTERM, HandleSignal);
  std::printf("meshgate-echo %s listening on %s\n", flags.version.c_str(), url.c_str());
  std::fflush(stdout);
  while (!g_stop) pause();
  listener.close().wait();
  return 0;
}
