#include "logwire/level.h"

#include <gtest/gtest.h>

namespace logwire {
namespace {

TEST(level, names_round_trip_through_parse) {
  for (int i = 0; i <= static_cast<int>(k_max_level); ++i) {
    const auto value = static_cast<level>(i);
    EXPECT_EQ(parse_level(level_name(value)), value);
  }
}

TEST(level, parse_ignores_case_and_accepts_common_aliases) {
  EXPECT_EQ(parse_level("error"), level::error);
  EXPECT_EQ(parse_level("Warn"), level::warn);
  EXPECT_EQ(parse_level("WARNING"), level::warn);
  EXPECT_EQ(parse_level("critical"), level::fatal);
}

TEST(level, parse_rejects_unknown_names) {
  EXPECT_FALSE(parse_level(""));
  EXPECT_FALSE(parse_level("ERR"));
  EXPECT_FALSE(parse_level("errors"));
}

TEST(level, unknown_wire_values_read_as_info) {
  EXPECT_EQ(level_from_wire(4), level::error);
  EXPECT_EQ(level_from_wire(6), level::info);
  EXPECT_EQ(level_from_wire(255), level::info);
}

}  // namespace
}  // namespace logwire
