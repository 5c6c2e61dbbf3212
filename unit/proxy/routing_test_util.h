// Helpers for the routing tests: build runtime structures from Envoy protos
// written as text, the way a control plane would send them.
#pragma once

#include <string>
#include <string_view>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace meshgate::proxy::testing {

template <typename Proto>
Proto ParseProto(std::string_view text) {
  Proto proto;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(std::string(text), &proto))
      << "bad text proto:\n"
      << text;
  return proto;
}

}  // namespace meshgate::proxy::testing
