#include "ctl/json_util.h"

#include <cctype>

namespace meshgate::ctl {

std::optional<nlohmann::json> ParseJson(std::string_view text) {
  nlohmann::json parsed =
      nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

const nlohmann::json* Field(const nlohmann::json& object, std::string_view camel,
                            std::string_view snake) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(camel);
  if (it != object.end()) return &*it;
  if (snake.empty()) return nullptr;
  it = object.find(snake);
  return it != object.end() ? &*it : nullptr;
}

const nlohmann::json* Path(const nlohmann::json& root,
                           std::initializer_list<std::string_view> camel_names) {
  const nlohmann::json* at = &root;
  for (std::string_view name : camel_names) {
    at = Field(*at, name, SnakeCase(name));
    if (at == nullptr) return nullptr;
  }
  return at;
}

std::string Text(const nlohmann::json* value, std::string_view fallback) {
  if (value == nullptr) return std::string(fallback);
  if (value->is_string()) return value->get_ref<const std::string&>();
  if (value->is_number() || value->is_boolean()) return value->dump();
  return std::string(fallback);
}

const nlohmann::json& ArrayOrEmpty(const nlohmann::json* value) {
  static const nlohmann::json* const kEmpty = new nlohmann::json(nlohmann::json::array());
  return value != nullptr && value->is_array() ? *value : *kEmpty;
}

std::string SnakeCase(std::string_view camel) {
  std::string out;
  out.reserve(camel.size() + 4);
  for (char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace meshgate::ctl
