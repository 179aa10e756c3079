#include "logwire/timestamp.h"

#include <gtest/gtest.h>

namespace logwire {
namespace {

constexpr std::int64_t k_ms = 1'000'000;
constexpr std::int64_t k_s = 1'000'000'000;
// 2026-01-31T10:15:23.456Z
constexpr std::int64_t k_example = 1769854523LL * k_s + 456 * k_ms;

TEST(timestamp, formats_utc_with_milliseconds) {
  EXPECT_EQ(format_rfc3339_ms(k_example), "2026-01-31T10:15:23.456Z");
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(k_example + 999'999), "2026-01-31T10:15:23.456Z") << "truncates";
}

TEST(timestamp, formats_times_before_the_epoch) {
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
}

TEST(timestamp, parses_what_it_formats) {
  EXPECT_EQ(parse_time("2026-01-31T10:15:23.456Z", 0).value(), k_example);
}

TEST(timestamp, parses_offsets_fractions_and_lowercase) {
  EXPECT_EQ(parse_time("2026-01-31T11:15:23.456+01:00", 0).value(), k_example);
  EXPECT_EQ(parse_time("2026-01-31T05:15:23.456-05:00", 0).value(), k_example);
  EXPECT_EQ(parse_time("2026-01-31t10:15:23.456z", 0).value(), k_example);
  EXPECT_EQ(parse_time("2026-01-31 10:15:23.456Z", 0).value(), k_example);
  EXPECT_EQ(parse_time("2026-01-31T10:15:23Z", 0).value(), k_example - 456 * k_ms);
  EXPECT_EQ(parse_time("2026-01-31T10:15:23.456789123Z", 0).value(), k_example + 789'123);
}

TEST(timestamp, parses_durations_back_from_now) {
  const std::int64_t now = k_example;
  EXPECT_EQ(parse_time("250ms", now).value(), now - 250 * k_ms);
  EXPECT_EQ(parse_time("30s", now).value(), now - 30 * k_s);
  EXPECT_EQ(parse_time("5m", now).value(), now - 300 * k_s);
  EXPECT_EQ(parse_time("2h", now).value(), now - 7200 * k_s);
  EXPECT_EQ(parse_time("1d", now).value(), now - 86400 * k_s);
}

TEST(timestamp, rejects_malformed_times_with_a_message_that_shows_the_forms) {
  for (const char* bad :
       {"", "yesterday", "5", "5 m", "-5m", "5y", "2026-01-31", "2026-01-31T10:15:23",
        "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-31T24:00:00Z",
        "2026-01-31T10:15:23.Z", "2026-01-31T10:15:23+0100", "2026-01-31T10:15:23Zjunk",
        "99999999999999999999s"}) {
    const auto parsed = parse_time(bad, k_example);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("RFC 3339"), std::string::npos);
  }
}

}  // namespace
}  // namespace logwire
