// HTTP/1.1 parse throughput: a typical ~500-byte browser request and a ~1 KB
// response, parsed by meshgate's codec and by http_parser (the peer, measured
// in the same run). Prints requests/s and bytes/s per benchmark, then the
// ratio meshgate / peer.
//
// What is measured, so the comparison is fair:
//  - meshgate: Dispatch() of one whole message, producing a HeaderMap with
//    lowercase names and pseudo-headers, smuggling checks and all. A client
//    codec only parses a response to a request it sent, so the response
//    benchmarks also encode a minimal GET per message; a server codec pauses
//    after each request, so the keep-alive request benchmark encodes a
//    minimal 204 to move on. The plain variants build a fresh codec per
//    message (a new connection), the KeepAlive variants reuse one.
//  - http_parser: http_parser_execute() of the same bytes, copying every
//    header name and value into a vector of strings (what a proxy must do
//    with them), and a bare variant whose callbacks do nothing.
//
// Run: build/bin/http1_parse_bench [--benchmark_min_time=1]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http/http1_codec.h"

#ifdef MESHGATE_HAVE_HTTP_PARSER
#include <http_parser.h>
#endif

namespace meshgate::proxy::http {
namespace {

std::string MakeRequest() {
  std::string r =
      "GET /api/v1/catalog/products/12345?include=reviews&currency=EUR HTTP/1.1\r\n"
      "Host: shop.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
      "Accept: application/json, text/plain, */*\r\n"
      "Accept-Language: en-US,en;q=0.5\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Referer: https://shop.example.com/catalog\r\n"
      "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n"
      "X-Request-Id: 3b241101-e2bb-4255-8caf-4136c566a962\r\n"
      "Connection: keep-alive\r\n";
  std::string padding = "X-Padding: ";
  while (r.size() + padding.size() + 4 < 500) padding.push_back('p');
  return r + padding + "\r\n\r\n";
}

std::string MakeResponse() {
  const std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Date: Sun, 22 Nov 2026 02:00:00 GMT\r\n"
      "Content-Type: application/json; charset=utf-8\r\n"
      "Cache-Control: private, max-age=0\r\n"
      "ETag: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"\r\n"
      "Vary: Accept-Encoding\r\n"
      "Server: backend/2.3\r\n";
  std::string body = "{\"id\":12345,\"name\":\"Widget\",\"reviews\":[";
  const size_t head_size = head.size() + std::string("Content-Length: 000\r\n\r\n").size();
  while (head_size + body.size() + 2 < 1024) body.append("0,");
  body.append("]}");
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kRequest = MakeRequest();
const std::string kResponse = MakeResponse();

class CountingServer : public ServerCallbacks {
 public:
  void OnHeaders(StreamId stream, RequestHeaders headers, bool end_stream) override {
    fields += headers.size();
    if (end_stream && codec != nullptr) {
      (void)codec->EncodeHeaders(stream, no_content, true);
      codec->DrainOutput(codec->PendingOutput().size());
    }
  }
  void OnData(StreamId, std::string_view, bool) override {}
  void OnTrailers(StreamId, TrailerMap) override {}
  void OnStreamReset(StreamId, StreamResetReason) override {}
  void OnProtocolError(const ProtocolError&) override { errors++; }
  ServerConnection* codec = nullptr;
  ResponseHeaders no_content{{":status", "204"}};
  size_t fields = 0;
  size_t errors = 0;
};

class CountingClient : public ClientCallbacks {
 public:
  void OnHeaders(StreamId, ResponseHeaders headers, bool) override { fields += headers.size(); }
  void OnData(StreamId, std::string_view data, bool) override { body += data.size(); }
  void OnTrailers(StreamId, TrailerMap) override {}
  void OnStreamReset(StreamId, StreamResetReason) override {}
  void OnProtocolError(const ProtocolError&) override { errors++; }
  size_t fields = 0;
  size_t body = 0;
  size_t errors = 0;
};

void Finish(benchmark::State& state, size_t bytes, size_t errors) {
  if (errors != 0) state.SkipWithError("parse error");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_Meshgate_Request(benchmark::State& state) {
  CountingServer callbacks;
  for (auto _ : state) {
    std::unique_ptr<ServerConnection> codec = NewHttp1ServerConnection(callbacks);
    benchmark::DoNotOptimize(codec->Dispatch(kRequest));
  }
  Finish(state, kRequest.size(), callbacks.errors);
}
BENCHMARK(BM_Meshgate_Request);

void BM_Meshgate_Request_KeepAlive(benchmark::State& state) {
  CountingServer callbacks;
  std::unique_ptr<ServerConnection> codec = NewHttp1ServerConnection(callbacks);
  callbacks.codec = codec.get();
  for (auto _ : state) benchmark::DoNotOptimize(codec->Dispatch(kRequest));
  Finish(state, kRequest.size(), callbacks.errors);
}
BENCHMARK(BM_Meshgate_Request_KeepAlive);

void BM_Meshgate_Response(benchmark::State& state) {
  CountingClient callbacks;
  const RequestHeaders get{{":method", "GET"}, {":path", "/"}, {":authority", "a"}};
  for (auto _ : state) {
    std::unique_ptr<ClientConnection> codec = NewHttp1ClientConnection(callbacks);
    (void)codec->EncodeHeaders(codec->NewStream(), get, true);
    benchmark::DoNotOptimize(codec->Dispatch(kResponse));
  }
  Finish(state, kResponse.size(), callbacks.errors);
}
BENCHMARK(BM_Meshgate_Response);

void BM_Meshgate_Response_KeepAlive(benchmark::State& state) {
  CountingClient callbacks;
  const RequestHeaders get{{":method", "GET"}, {":path", "/"}, {":authority", "a"}};
  std::unique_ptr<ClientConnection> codec = NewHttp1ClientConnection(callbacks);
  for (auto _ : state) {
    (void)codec->EncodeHeaders(codec->NewStream(), get, true);
    codec->DrainOutput(codec->PendingOutput().size());
    benchmark::DoNotOptimize(codec->Dispatch(kResponse));
  }
  Finish(state, kResponse.size(), callbacks.errors);
}
BENCHMARK(BM_Meshgate_Response_KeepAlive);

#ifdef MESHGATE_HAVE_HTTP_PARSER
// Collects what a proxy needs from http_parser's callbacks: URL, header
// names and values as owned strings, body bytes.
struct Collected {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t body = 0;
  bool in_value = false;
};

int OnUrl(http_parser* p, const char* at, size_t n) {
  static_cast<Collected*>(p->data)->url.append(at, n);
  return 0;
}
int OnField(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Collected*>(p->data);
  if (c->headers.empty() || c->in_value) c->headers.emplace_back();
  c->in_value = false;
  c->headers.back().first.append(at, n);
  return 0;
}
int OnValue(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<Collected*>(p->data);
  c->in_value = true;
  c->headers.back().second.append(at, n);
  return 0;
}
int OnBody(http_parser* p, const char*, size_t n) {
  static_cast<Collected*>(p->data)->body += n;
  return 0;
}

void RunPeer(benchmark::State& state, const std::string& message, http_parser_type type,
             bool collect) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  if (collect) {
    settings.on_url = OnUrl;
    settings.on_header_field = OnField;
    settings.on_header_value = OnValue;
    settings.on_body = OnBody;
  }
  size_t errors = 0;
  for (auto _ : state) {
    Collected collected;
    http_parser parser;
    http_parser_init(&parser, type);
    parser.data = &collected;
    const size_t parsed = http_parser_execute(&parser, &settings, message.data(), message.size());
    if (parsed != message.size() || HTTP_PARSER_ERRNO(&parser) != HPE_OK) ++errors;
    benchmark::DoNotOptimize(collected);
  }
  Finish(state, message.size(), errors);
}

void BM_HttpParser_Request(benchmark::State& state) {
  RunPeer(state, kRequest, HTTP_REQUEST, true);
}
BENCHMARK(BM_HttpParser_Request);
void BM_HttpParser_Request_Bare(benchmark::State& state) {
  RunPeer(state, kRequest, HTTP_REQUEST, false);
}
BENCHMARK(BM_HttpParser_Request_Bare);
void BM_HttpParser_Response(benchmark::State& state) {
  RunPeer(state, kResponse, HTTP_RESPONSE, true);
}
BENCHMARK(BM_HttpParser_Response);
void BM_HttpParser_Response_Bare(benchmark::State& state) {
  RunPeer(state, kResponse, HTTP_RESPONSE, false);
}
BENCHMARK(BM_HttpParser_Response_Bare);
#endif

// Console output as usual, plus the items/s of every benchmark for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      // CPU time: on a shared machine wall time mostly measures the neighbours.
      const double seconds = run.GetAdjustedCPUTime() * 1e-9;  // per iteration, ns
      if (seconds > 0) rates_[run.benchmark_name()] = 1.0 / seconds;
    }
  }
  void PrintRatios() const {
    std::printf("\nmessage size: request %zu bytes, response %zu bytes\n", kRequest.size(),
                kResponse.size());
    for (const auto& [name, rate] : rates_) {
      const double bytes =
          name.find("Request") != std::string::npos ? kRequest.size() : kResponse.size();
      std::printf("%-36s %12.0f msg/s %8.3f GB/s\n", name.c_str(), rate, rate * bytes / 1e9);
    }
    auto ratio = [&](const char* ours, const char* peer) {
      const auto a = rates_.find(ours);
      const auto b = rates_.find(peer);
      if (a == rates_.end() || b == rates_.end()) return;
      std::printf("ratio %s / %s = %.2f\n", ours, peer, a->second / b->second);
    };
    ratio("BM_Meshgate_Request", "BM_HttpParser_Request");
    ratio("BM_Meshgate_Request_KeepAlive", "BM_HttpParser_Request");
    ratio("BM_Meshgate_Request", "BM_HttpParser_Request_Bare");
    ratio("BM_Meshgate_Response", "BM_HttpParser_Response");
    ratio("BM_Meshgate_Response_KeepAlive", "BM_HttpParser_Response");
    ratio("BM_Meshgate_Response", "BM_HttpParser_Response_Bare");
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace
}  // namespace meshgate::proxy::http

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  meshgate::proxy::http::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
