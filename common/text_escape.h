// Escaping for the two text formats meshgate writes by hand: JSON string
// literals (access log, /debug/syncz, admin errors) and Prometheus label
// values (/stats/prometheus, /metrics).
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace meshgate {

// Appends `s` as a JSON string literal, quotes included (RFC 8259: quote,
// backslash and control characters escaped; DEL too, so logs stay printable).
void AppendJsonString(std::string& out, std::string_view s);
// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);
// A Prometheus label value: backslash, double quote and newline escaped.
std::string PrometheusLabelValue(std::string_view s);

}  // namespace meshgate
