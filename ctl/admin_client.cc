#include "ctl/admin_client.h"

// cpprestsdk defines a macro U() that breaks fmt (spdlog) unless told not to.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <cpprest/uri_builder.h>

#include <chrono>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace meshgate::ctl {
namespace {

// Splits HOST:PORT (HOST may be a bracketed IPv6 address) and checks both.
absl::Status CheckHostPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin address \"", address, "\" has no port (want HOST:PORT)"));
  }
  absl::string_view host = address.substr(0, colon);
  absl::string_view port_text = address.substr(colon + 1);
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin address \"", address, "\" has no host (want HOST:PORT)"));
  }
  if (host.front() == '[' ? host.back() != ']' || host.size() < 3
                          : host.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "admin address \"", address, "\": write an IPv6 host in brackets, [ADDR]:PORT"));
  }
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '/' || c == '?' || c == '#' ||
        c == '@') {
      return absl::InvalidArgumentError(
          absl::StrCat("admin address \"", address, "\": bad character in host"));
    }
  }
  int port = 0;
  bool digits_only = !port_text.empty() && port_text.size() <= 5 &&
                     port_text.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits_only || !absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("admin address \"", address, "\": port \"",
                                                   port_text, "\" is not in 1..65535"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AdminClient> AdminClient::Create(absl::string_view address, absl::Duration timeout) {
  absl::string_view host_port = address;
  if (absl::StartsWith(host_port, "http://")) host_port.remove_prefix(sizeof("http://") - 1);
  while (!host_port.empty() && host_port.back() == '/') host_port.remove_suffix(1);
  if (absl::Status status = CheckHostPort(host_port); !status.ok()) return status;
  return AdminClient(absl::StrCat("http://", host_port), timeout);
}

absl::StatusOr<AdminResponse> AdminClient::Get(
    absl::string_view path, const std::map<std::string, std::string>& query) const {
  return Request("GET", path, query);
}

absl::StatusOr<AdminResponse> AdminClient::Post(absl::string_view path) const {
  return Request("POST", path, {});
}

absl::StatusOr<AdminResponse> AdminClient::Request(
    absl::string_view method, absl::string_view path,
    const std::map<std::string, std::string>& query) const {
  const std::string target_for_messages = absl::StrCat(base_url_, path);
  // cpprestsdk reports every failure (refused, reset, timeout, not HTTP) by
  // throwing; none of that may escape.
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_)));
    // The admin endpoint is local to the cluster or a port-forward; an
    // http_proxy from the environment must not intercept it.
    config.set_proxy(web::web_proxy(web::web_proxy::disabled));
    web::http::client::http_client client(base_url_, config);
    web::uri_builder target{std::string(path)};
    for (const auto& [key, value] : query) target.append_query(key, value, /*do_encoding=*/true);
    web::http::http_response response =
        client.request(std::string(method), target.to_string()).get();
    AdminResponse out;
    out.status = response.status_code();
    out.body = response.extract_utf8string(/*ignore_content_type=*/true).get();
    return out;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot reach the control plane admin endpoint at ",
                                               target_for_messages, ": ", e.what()));
  }
}

}  // namespace meshgate::ctl
