// AdminClient: blocking HTTP requests to the control plane's admin endpoint
// (meshgate-operator --admin-port, default 15014), for proxy-status,
// proxy-config and ca.
//
// Each Get opens its own connection, so an AdminClient may be used from any
// thread; it owns nothing but its address.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace meshgate::ctl {

inline constexpr char kDefaultAdminAddress[] = "127.0.0.1:15014";

struct AdminResponse {
  int status = 0;
  std::string body;
};

class AdminClient {
 public:
  // `address` is HOST:PORT, [V6ADDR]:PORT, or either with an "http://" prefix.
  // InvalidArgument when it is none of these.
  static absl::StatusOr<AdminClient> Create(absl::string_view address,
                                            absl::Duration timeout = absl::Seconds(10));

  // GET `path` with `query` (percent-encoded here). Any HTTP status is a
  // response; Unavailable when nothing answers or the answer is not HTTP.
  absl::StatusOr<AdminResponse> Get(absl::string_view path,
                                    const std::map<std::string, std::string>& query = {}) const;

  // POST `path` with an empty body (endpoints that act, such as a root
  // rotation). Errors as Get.
  absl::StatusOr<AdminResponse> Post(absl::string_view path) const;

  // "http://HOST:PORT", for messages.
  const std::string& base_url() const { return base_url_; }

 private:
  absl::StatusOr<AdminResponse> Request(absl::string_view method, absl::string_view path,
                                        const std::map<std::string, std::string>& query) const;
  AdminClient(std::string base_url, absl::Duration timeout)
      : base_url_(std::move(base_url)), timeout_(timeout) {}

  std::string base_url_;
  absl::Duration timeout_;
};

}  // namespace meshgate::ctl
