// Helpers shared by the xDS -> runtime config translators: field-path errors,
// the unknown-field check, and conversions of common Envoy proto types.
//
// Every translation error is an InvalidArgument status whose message starts
// with the field path inside the resource ("virtual_hosts[0].routes[2].match.
// safe_regex.regex: invalid RE2 ..."); the translator's entry point prefixes
// the resource kind and name, so the xDS client can NACK with a message that
// says exactly what was refused and where.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/type/v3/percent.pb.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "proxy/router/filter_configs.h"

namespace meshgate::proxy::config {

// InvalidArgument "<path>: <reason>".
absl::Status FieldError(std::string_view path, absl::string_view reason);

// Prefixes `status`'s message with "<kind> '<name>': "; OK stays OK.
absl::Status ForResource(absl::Status status, std::string_view kind, std::string_view name);

// Fails with the path of the first (sub)message carrying fields this build's
// protos do not know: a newer control plane may be asking for behaviour we
// would silently ignore.
absl::Status CheckNoUnknownFields(const google::protobuf::Message& message, std::string_view path);

// The Any's message type name (type URL after the last '/').
std::string_view AnyTypeName(const google::protobuf::Any& any);

// Unpacks `any` into `out`, checking the type and unknown fields.
absl::Status UnpackAny(const google::protobuf::Any& any, google::protobuf::Message& out,
                       std::string_view path);

absl::Duration ToDuration(const google::protobuf::Duration& duration);

// FractionalPercent as parts per million, capped at 100%.
PartsPerMillion ToPartsPerMillion(const envoy::type::v3::FractionalPercent& percent);

std::string Path(std::string_view base, std::string_view field);
std::string Path(std::string_view base, std::string_view field, size_t index);

}  // namespace meshgate::proxy::config
