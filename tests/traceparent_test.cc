#include "logwire/traceparent.h"

#include <gtest/gtest.h>

namespace logwire {
namespace {

constexpr const char* k_valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(traceparent, parses_a_version_00_header) {
  const auto parsed = parse_traceparent(k_valid);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parsed->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(parsed->flags, "01");
}

TEST(traceparent, version_00_must_be_exactly_55_characters) {
  EXPECT_FALSE(parse_traceparent(std::string(k_valid) + "-extra"));
  EXPECT_FALSE(parse_traceparent(std::string(k_valid).substr(0, 54)));
}

TEST(traceparent, a_later_version_may_carry_more_after_a_dash) {
  std::string future = k_valid;
  future[1] = '1';
  EXPECT_TRUE(parse_traceparent(future));
  EXPECT_TRUE(parse_traceparent(future + "-more"));
  EXPECT_FALSE(parse_traceparent(future + "more"));
}

TEST(traceparent, rejects_version_ff_uppercase_and_all_zero_ids) {
  std::string header = k_valid;
  header.replace(0, 2, "ff");
  EXPECT_FALSE(parse_traceparent(header));
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(traceparent, rejects_wrong_separators_and_non_hex) {
  EXPECT_FALSE(parse_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"));
  EXPECT_FALSE(parse_traceparent(""));
}

}  // namespace
}  // namespace logwire
