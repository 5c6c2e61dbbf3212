#include "proxy/config/proto_checks.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/unknown_field_set.h"
#include "proxy/router/text.h"

namespace meshgate::proxy::config {

absl::Status FieldError(std::string_view path, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(Av(path), ": ", reason));
}

absl::Status ForResource(absl::Status status, std::string_view kind, std::string_view name) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(Av(kind), " '", Av(name), "': ", status.message()));
}

absl::Status CheckNoUnknownFields(const google::protobuf::Message& message, std::string_view path) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = reflection->GetUnknownFields(message);
  if (!unknown.empty()) {
    return FieldError(
        path.empty() ? std::string_view("<root>") : path,
        absl::StrCat("unknown field number ", unknown.field(0).number(), " in ",
                     message.GetDescriptor()->full_name(), " (sent by a newer control plane?)"));
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_map()) continue;  // map entries carry no unknown behaviour of their own
    if (field->is_repeated()) {
      const int count = reflection->FieldSize(message, field);
      for (int i = 0; i < count; ++i) {
        absl::Status status =
            CheckNoUnknownFields(reflection->GetRepeatedMessage(message, field, i),
                                 Path(path, field->name(), static_cast<size_t>(i)));
        if (!status.ok()) return status;
      }
    } else {
      absl::Status status =
          CheckNoUnknownFields(reflection->GetMessage(message, field), Path(path, field->name()));
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

std::string_view AnyTypeName(const google::protobuf::Any& any) {
  std::string_view url = any.type_url();
  const size_t slash = url.rfind('/');
  return slash == std::string_view::npos ? url : url.substr(slash + 1);
}

absl::Status UnpackAny(const google::protobuf::Any& any, google::protobuf::Message& out,
                       std::string_view path) {
  if (AnyTypeName(any) != out.GetDescriptor()->full_name()) {
    return FieldError(path, absl::StrCat("expected ", out.GetDescriptor()->full_name(), ", got ",
                                         Av(AnyTypeName(any))));
  }
  if (!any.UnpackTo(&out)) {
    return FieldError(path, absl::StrCat("cannot decode ", out.GetDescriptor()->full_name()));
  }
  return CheckNoUnknownFields(out, path);
}

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

PartsPerMillion ToPartsPerMillion(const envoy::type::v3::FractionalPercent& percent) {
  uint64_t scale = 1;
  switch (percent.denominator()) {
    case envoy::type::v3::FractionalPercent::HUNDRED:
      scale = 10'000;
      break;
    case envoy::type::v3::FractionalPercent::TEN_THOUSAND:
      scale = 100;
      break;
    default:
      scale = 1;
      break;
  }
  return static_cast<PartsPerMillion>(
      std::min<uint64_t>(uint64_t{percent.numerator()} * scale, kAlways));
}

std::string Path(std::string_view base, std::string_view field) {
  if (base.empty()) return std::string(field);
  return absl::StrCat(Av(base), ".", Av(field));
}

std::string Path(std::string_view base, std::string_view field, size_t index) {
  return absl::StrCat(Path(base, field), "[", index, "]");
}

}  // namespace meshgate::proxy::config
