// Exception-free reading of untrusted JSON with nlohmann::json, for the
// documents meshgatectl fetches from admin endpoints: parse without throwing,
// and look fields up by their protobuf JSON name (lowerCamelCase) or their
// original proto name (snake_case), since both mappings are legal.
//
// Pure functions; safe from any thread.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace meshgate::ctl {

// The parsed document, or nullopt when `text` is not JSON.
std::optional<nlohmann::json> ParseJson(std::string_view text);

// `object[camel]`, else `object[snake]`; nullptr when `object` is not an
// object or has neither field.
const nlohmann::json* Field(const nlohmann::json& object, std::string_view camel,
                            std::string_view snake = {});

// Follows a chain of camelCase field names; nullptr when any link is missing.
// Each link also matches its snake_case spelling.
const nlohmann::json* Path(const nlohmann::json& root,
                           std::initializer_list<std::string_view> camel_names);

// A scalar as text: strings as they are, numbers and booleans printed;
// `fallback` for null, absent, arrays and objects.
std::string Text(const nlohmann::json* value, std::string_view fallback = "");

// `value` as an array to iterate: the array itself, or an empty one.
const nlohmann::json& ArrayOrEmpty(const nlohmann::json* value);

// lowerCamelCase -> snake_case ("portValue" -> "port_value").
std::string SnakeCase(std::string_view camel);

}  // namespace meshgate::ctl
