// UTF-8 checking and repair (logwire/utf8.h) and the record sanitizer built on it
// (logwire/record_sanitizer.h): what the broker does to text from an untrusted producer.
#include "logwire/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/record_encoder.h"
#include "logwire/record_sanitizer.h"

namespace logwire {
namespace {

using namespace std::string_literals;

constexpr std::string_view k_fffd = "\xEF\xBF\xBD";

// valid_utf8

TEST(valid_utf8, accepts_empty_and_ascii) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii text, longer than one eight-byte word"));
  EXPECT_TRUE(valid_utf8("\x7F"s));
  EXPECT_TRUE(valid_utf8("\0\0\0"s));
}

TEST(valid_utf8, accepts_two_three_and_four_byte_characters) {
  EXPECT_TRUE(valid_utf8("caf\xC3\xA9"));             // é
  EXPECT_TRUE(valid_utf8("\xE2\x82\xAC 5"));          // €
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80 smile"));  // U+1F600
  EXPECT_TRUE(
      valid_utf8("12345678\xC3\xA9"
                 "12345678"));  // after an ASCII word
}

TEST(valid_utf8, accepts_the_boundary_code_points) {
  EXPECT_TRUE(valid_utf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(valid_utf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(valid_utf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(valid_utf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid_utf8("\xEE\x80\x80"));      // U+E000, just above them
  EXPECT_TRUE(valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(valid_utf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(valid_utf8, rejects_overlong_forms) {
  EXPECT_FALSE(valid_utf8("\xC0\x80"));
  EXPECT_FALSE(valid_utf8("\xC1\xBF"));
  EXPECT_FALSE(valid_utf8("\xE0\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xE0\x9F\xBF"));  // U+07FF in three bytes
  EXPECT_FALSE(valid_utf8("\xF0\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in four bytes
}

TEST(valid_utf8, rejects_surrogates) {
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));  // U+D800
  EXPECT_FALSE(valid_utf8("\xED\xBF\xBF"));  // U+DFFF
}

TEST(valid_utf8, rejects_code_points_above_10ffff) {
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xFF"));
}

TEST(valid_utf8, rejects_truncated_sequences) {
  EXPECT_FALSE(valid_utf8("\xC3"));
  EXPECT_FALSE(valid_utf8("\xE2\x82"));
  EXPECT_FALSE(valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(valid_utf8("\xE2\x82 x"));  // cut short in the middle of the text
}

TEST(valid_utf8, rejects_lone_continuation_bytes) {
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(
      valid_utf8("a\xBF"
                 "b"));
  EXPECT_FALSE(valid_utf8("12345678\x80"));  // right after an ASCII word
  EXPECT_FALSE(valid_utf8("\xC3\xA9\xA9"));  // one continuation too many
}

// repair_utf8

TEST(repair_utf8, leaves_valid_text_alone) {
  const std::string text = "caf\xC3\xA9 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";
  EXPECT_EQ(repair_utf8(text), text);
}

TEST(repair_utf8, replaces_a_lone_continuation_byte_between_characters) {
  EXPECT_EQ(repair_utf8("a\x80"
                        "b"),
            "a"s + std::string(k_fffd) + "b");
}

TEST(repair_utf8, replaces_a_truncated_sequence_at_the_end_with_one_replacement) {
  EXPECT_EQ(repair_utf8("x\xF0\x9F\x98"), "x"s + std::string(k_fffd));
}

TEST(repair_utf8, replaces_a_truncated_sequence_followed_by_ascii_with_one_replacement) {
  EXPECT_EQ(repair_utf8("\xE2\x82"
                        "A"),
            std::string(k_fffd) + "A");
}

TEST(repair_utf8, replaces_each_byte_of_an_overlong_form) {
  // C0 can never begin a sequence, so each byte is its own maximal subpart.
  EXPECT_EQ(repair_utf8("\xC0\xAF"), std::string(k_fffd) + std::string(k_fffd));
  EXPECT_EQ(repair_utf8("\xE0\x80\x80"),
            std::string(k_fffd) + std::string(k_fffd) + std::string(k_fffd));
}

TEST(repair_utf8, replaces_each_byte_of_a_surrogate) {
  std::string three;
  for (int i = 0; i < 3; ++i) three += k_fffd;
  EXPECT_EQ(repair_utf8("\xED\xA0\x80"), three);
}

TEST(repair_utf8, replaces_each_byte_of_a_code_point_above_10ffff) {
  std::string four;
  for (int i = 0; i < 4; ++i) four += k_fffd;
  EXPECT_EQ(repair_utf8("\xF4\x90\x80\x80"), four);
}

TEST(repair_utf8, follows_the_unicode_example_of_maximal_subparts) {
  // Unicode 15, table 3-11: "61 F1 80 80 E1 80 C2 62 80 63 80 BF 64" is
  // a FFFD FFFD FFFD b FFFD c FFFD FFFD d.
  const std::string f(k_fffd);
  EXPECT_EQ(repair_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + f + f + f + "b" + f + "c" + f + f + "d");
}

TEST(repair_utf8, always_produces_valid_text) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  EXPECT_TRUE(valid_utf8(repair_utf8(every_byte)));
}

// utf8_prefix

TEST(utf8_prefix, returns_short_text_whole) {
  EXPECT_EQ(utf8_prefix("caf\xC3\xA9", 5), "caf\xC3\xA9");
  EXPECT_EQ(utf8_prefix("caf\xC3\xA9", 100), "caf\xC3\xA9");
}

TEST(utf8_prefix, backs_off_to_the_start_of_a_cut_character) {
  EXPECT_EQ(utf8_prefix("caf\xC3\xA9", 4), "caf");
  EXPECT_EQ(utf8_prefix("\xF0\x9F\x98\x80", 3), "");
}

TEST(utf8_prefix, never_cuts_a_character_at_any_length) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z\xF4\x8F\xBF\xBF";
  ASSERT_TRUE(valid_utf8(text));
  for (std::size_t max = 0; max <= text.size() + 1; ++max) {
    const std::string_view prefix = utf8_prefix(text, max);
    EXPECT_LE(prefix.size(), max);
    EXPECT_TRUE(valid_utf8(prefix)) << "max " << max;
    EXPECT_EQ(text.substr(0, prefix.size()), prefix);
    EXPECT_GT(prefix.size() + 4, std::min(max, text.size())) << "gave up more than a character";
  }
}

// record_sanitizer

struct test_record {
  std::string service = "api-server";
  std::string message = "Payment gateway timeout";
  std::string field_key = "gateway";
  std::string field_value = "stripe";
};

class sanitizer_fixture : public ::testing::Test {
 protected:
  // Every part of a record filled in, so that a test can see what repair left alone.
  std::vector<std::byte> encode(const test_record& r) {
    const field fields[] = {{r.field_key, std::string_view(r.field_value)},
                            {"timeout_ms", 5000},
                            {"ratio", 0.25},
                            {"retryable", true}};
    const auto bytes = encoder_.encode(
        {.severity = level::warn,
         .message = r.message,
         .context = {.request_id = "req-1",
                     .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                     .span_id = "span-7",
                     .stack_trace = "at charge()"},
         .fields = fields,
         .service = r.service},
        1'769'854'523'000'000'000);
    EXPECT_TRUE(verify_record(bytes));
    return {bytes.begin(), bytes.end()};
  }

  log_record sanitized(const test_record& r) {
    const auto input = encode(r);
    const auto output = sanitizer_.sanitize(input);
    EXPECT_TRUE(verify_record(output));
    return decode_record(output, "default");
  }

  // What a record decodes to when `r` had been valid from the start.
  log_record expected(const test_record& r) { return decode_record(encode(r), "default"); }

  static void expect_same(const log_record& got, const log_record& want) {
    EXPECT_EQ(got.timestamp_ns, want.timestamp_ns);
    EXPECT_EQ(got.severity, want.severity);
    EXPECT_EQ(got.service, want.service);
    EXPECT_EQ(got.message, want.message);
    EXPECT_EQ(got.request_id, want.request_id);
    EXPECT_EQ(got.traceparent, want.traceparent);
    EXPECT_EQ(got.span_id, want.span_id);
    EXPECT_EQ(got.stack_trace, want.stack_trace);
    EXPECT_EQ(got.fields, want.fields);
  }

  record_encoder encoder_;
  record_sanitizer sanitizer_;
};

TEST_F(sanitizer_fixture, returns_a_fit_record_as_the_same_bytes) {
  const auto input = encode({});
  const auto output = sanitizer_.sanitize(input);
  EXPECT_EQ(output.data(), input.data());
  EXPECT_EQ(output.size(), input.size());
  EXPECT_EQ(sanitizer_.repaired(), 0u);
}

TEST_F(sanitizer_fixture, replaces_invalid_utf8_in_the_message_and_keeps_the_rest) {
  expect_same(sanitized({.message = "bad \xFF here"}),
              expected({.message = "bad " + std::string(k_fffd) + " here"}));
}

TEST_F(sanitizer_fixture, replaces_invalid_utf8_in_a_field_key_and_keeps_the_rest) {
  expect_same(sanitized({.field_key = "gate\xC0way"}),
              expected({.field_key = "gate" + std::string(k_fffd) + "way"}));
}

TEST_F(sanitizer_fixture, replaces_invalid_utf8_in_a_field_value_and_keeps_the_rest) {
  expect_same(sanitized({.field_value = "str\xED\xA0\x80ipe"}),
              expected({.field_value = "str" + std::string(k_fffd) + std::string(k_fffd) +
                                       std::string(k_fffd) + "ipe"}));
}

TEST_F(sanitizer_fixture, replaces_invalid_utf8_in_the_service_and_keeps_the_rest) {
  expect_same(sanitized({.service = "api\x80"}),
              expected({.service = "api" + std::string(k_fffd)}));
}

TEST_F(sanitizer_fixture, keeps_a_message_of_exactly_the_text_limit_whole) {
  const auto input = encode({.message = std::string(k_max_text_bytes, 'm')});
  const auto output = sanitizer_.sanitize(input);
  EXPECT_EQ(output.data(), input.data()) << "fit: not copied";
  EXPECT_EQ(decode_record(output, "").message.size(), k_max_text_bytes);
}

TEST_F(sanitizer_fixture, cuts_a_message_over_the_limit_and_says_how_much_is_missing) {
  const std::string long_message(k_max_text_bytes + 10, 'm');
  const log_record got = sanitized({.message = long_message});
  const std::string marker = cut_marker(10);
  EXPECT_NE(marker.find("[cut: 10 bytes more]"), std::string::npos) << marker;
  ASSERT_EQ(got.message.size(), k_max_text_bytes + marker.size());
  EXPECT_EQ(got.message.substr(0, k_max_text_bytes), long_message.substr(0, k_max_text_bytes));
  EXPECT_EQ(got.message.substr(k_max_text_bytes), marker);
  expect_same(got, expected({.message = got.message}));
}

TEST_F(sanitizer_fixture, cuts_a_long_message_between_characters_and_counts_the_cut_bytes) {
  // "é" is two bytes; the one starting at k_max_text_bytes - 1 would be cut in half, so
  // it goes too: 10 bytes cut, not 9.
  std::string long_message(k_max_text_bytes - 1, 'm');
  for (int i = 0; i < 5; ++i) long_message += "\xC3\xA9";
  const log_record got = sanitized({.message = long_message});
  const std::string marker = cut_marker(10);
  ASSERT_GE(got.message.size(), marker.size());
  EXPECT_EQ(got.message.substr(0, k_max_text_bytes - 1),
            long_message.substr(0, k_max_text_bytes - 1));
  EXPECT_EQ(got.message.substr(k_max_text_bytes - 1), marker);
  EXPECT_TRUE(valid_utf8(got.message));
}

TEST_F(sanitizer_fixture, counts_the_records_it_repaired) {
  EXPECT_EQ(sanitizer_.repaired(), 0u);
  (void)sanitized({.message = "\xFF"});
  EXPECT_EQ(sanitizer_.repaired(), 1u);
  (void)sanitized({});
  EXPECT_EQ(sanitizer_.repaired(), 1u) << "a fit record is not a repair";
  (void)sanitized({.field_key = "\xFE"});
  EXPECT_EQ(sanitizer_.repaired(), 2u);
}

TEST_F(sanitizer_fixture, keeps_a_repaired_record_within_the_record_size_limit) {
  // A hostile record within k_max_record_bytes whose texts are all bytes that each become
  // a three-byte U+FFFD, each text short enough not to be cut: repair triples it.
  const std::string bad(340 * 1024, '\xFF');
  std::vector<field> fields;
  for (int i = 0; i < 48; ++i) fields.emplace_back("k", std::string_view(bad));
  const auto input = encoder_.encode({.message = "m", .fields = fields}, 1);
  ASSERT_LE(input.size(), k_max_record_bytes);
  ASSERT_TRUE(verify_record(input));
  const std::vector<std::byte> copy(input.begin(), input.end());
  const auto output = sanitizer_.sanitize(copy);
  EXPECT_LE(output.size(), k_max_record_bytes)
      << "the store drops a record over k_max_record_bytes when it recovers (verify_record)";
  EXPECT_TRUE(verify_record(output));
}

}  // namespace
}  // namespace logwire
