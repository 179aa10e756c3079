#include "field_argument.h"

#include <gtest/gtest.h>

namespace logwire {
namespace {

field_argument parsed(std::string_view text) {
  auto argument = parse_field_argument(text);
  EXPECT_TRUE(argument) << text;
  return argument ? *argument : field_argument{};
}

TEST(field_argument, integers_floats_and_booleans_keep_their_type) {
  EXPECT_EQ(std::get<std::int64_t>(parsed("userId=987").value), 987);
  EXPECT_EQ(std::get<std::int64_t>(parsed("delta=-5").value), -5);
  EXPECT_EQ(std::get<double>(parsed("amount=49.99").value), 49.99);
  EXPECT_EQ(std::get<double>(parsed("tiny=1e-3").value), 1e-3);
  EXPECT_EQ(std::get<double>(parsed("big=99999999999999999999").value), 1e20) << "past int64";
  EXPECT_EQ(std::get<bool>(parsed("retry=true").value), true);
  EXPECT_EQ(std::get<bool>(parsed("retry=false").value), false);
}

TEST(field_argument, anything_else_is_a_string) {
  EXPECT_EQ(std::get<std::string>(parsed("id=pay-99").value), "pay-99");
  EXPECT_EQ(std::get<std::string>(parsed("v=12abc").value), "12abc");
  EXPECT_EQ(std::get<std::string>(parsed("v=True").value), "True");
  EXPECT_EQ(std::get<std::string>(parsed("v=inf").value), "inf") << "not a finite number";
  EXPECT_EQ(std::get<std::string>(parsed("empty=").value), "");
  EXPECT_EQ(std::get<std::string>(parsed("url=a=b").value), "a=b") << "splits at the first '='";
}

TEST(field_argument, a_missing_key_or_equals_sign_is_an_error) {
  EXPECT_FALSE(parse_field_argument("no-equals"));
  EXPECT_FALSE(parse_field_argument("=value"));
}

TEST(field_argument, as_field_hands_the_producer_the_same_type) {
  const auto argument = parsed("userId=987");
  EXPECT_EQ(argument.as_field().type(), field::kind::int64);
  EXPECT_EQ(argument.as_field().key(), "userId");
}

}  // namespace
}  // namespace logwire
