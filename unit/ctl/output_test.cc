#include "ctl/output.h"

#include "gtest/gtest.h"

namespace meshgate::ctl {
namespace {

TEST(RenderTableTest, AlignsColumnsAndTrimsTrailingBlanks) {
  EXPECT_EQ(RenderTable({"NAME", "TYPE", "X"}, {{"a-long-name", "EDS", ""}, {"b", "STATIC"}}),
            "NAME          TYPE     X\n"
            "a-long-name   EDS\n"
            "b             STATIC\n");
}

TEST(RenderTableTest, HeaderOnly) { EXPECT_EQ(RenderTable({"A", "B"}, {}), "A   B\n"); }

TEST(OutputFormatTest, Names) {
  EXPECT_EQ(ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("yaml"), std::nullopt);
  EXPECT_EQ(ParseOutputFormat("JSON"), std::nullopt);
}

}  // namespace
}  // namespace meshgate::ctl
