#include "logwire/timestamp.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace logwire {
namespace {

constexpr std::int64_t k_ns_per_ms = 1'000'000;
constexpr std::int64_t k_ns_per_s = 1'000'000'000;

error bad_time(std::string_view text) {
  return error{errc::invalid_argument,
               "'" + std::string(text) +
                   "' is not a time: expected RFC 3339 (2026-01-31T10:15:23Z, "
                   "2026-01-31T10:15:23.456+01:00) or a duration ago (30s, 5m, 2h, 1d)"};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at `pos`.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  out = value;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, std::string_view choices) {
  if (pos >= text.size() || choices.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

result<std::int64_t> parse_duration(std::string_view text, std::int64_t now_ns) {
  std::size_t digits = 0;
  std::int64_t amount = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    if (amount > 1'000'000'000) return bad_time(text);
    amount = amount * 10 + (text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return bad_time(text);
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms")
    scale = k_ns_per_ms;
  else if (unit == "s")
    scale = k_ns_per_s;
  else if (unit == "m")
    scale = 60 * k_ns_per_s;
  else if (unit == "h")
    scale = 3600 * k_ns_per_s;
  else if (unit == "d")
    scale = 86400 * k_ns_per_s;
  else
    return bad_time(text);
  std::int64_t back = 0;
  std::int64_t at = 0;
  if (__builtin_mul_overflow(amount, scale, &back) || __builtin_sub_overflow(now_ns, back, &at)) {
    return bad_time(text);
  }
  return at;
}

}  // namespace

result<std::int64_t> parse_duration_ns(std::string_view text) {
  const auto before = parse_duration(text, 0);
  if (!before) return before.error();
  return -*before;
}

std::int64_t unix_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339_ms(std::int64_t unix_ns) {
  std::int64_t seconds = unix_ns / k_ns_per_s;
  std::int64_t ns = unix_ns % k_ns_per_s;
  if (ns < 0) {
    ns += k_ns_per_s;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char out[80];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ns / k_ns_per_ms));
  return out;
}

result<std::int64_t> parse_time(std::string_view text, std::int64_t now_ns) {
  if (text.empty()) return bad_time(text);
  if (text.size() < 11 || text[4] != '-') return parse_duration(text, now_ns);

  std::size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, "-") ||
      !read_digits(text, pos, 2, month) || !expect(text, pos, "-") ||
      !read_digits(text, pos, 2, day) || !expect(text, pos, "Tt ") ||
      !read_digits(text, pos, 2, hour) || !expect(text, pos, ":") ||
      !read_digits(text, pos, 2, minute) || !expect(text, pos, ":") ||
      !read_digits(text, pos, 2, second)) {
    return bad_time(text);
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad_time(text);
  }
  std::int64_t fraction_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t scale = k_ns_per_s / 10;
    const std::size_t start = pos;
    while (pos < text.size() && is_digit(text[pos])) {
      fraction_ns += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad_time(text);
  }
  std::int64_t offset_s = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int offset_hours, offset_minutes;
    if (!read_digits(text, pos, 2, offset_hours) || !expect(text, pos, ":") ||
        !read_digits(text, pos, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return bad_time(text);
    }
    offset_s = sign * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return bad_time(text);  // RFC 3339 requires a zone
  }
  if (pos != text.size()) return bad_time(text);

  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second == 60 ? 59 : second;  // a leap second reads as the second before it
  const std::time_t seconds = ::timegm(&utc);
  if (utc.tm_mday != day) return bad_time(text);  // timegm normalised e.g. Feb 30
  const std::int64_t unix_s = static_cast<std::int64_t>(seconds) - offset_s;
  // Nanoseconds since the epoch in an int64 reach from 1677 to 2262.
  std::int64_t unix_ns = 0;
  if (__builtin_mul_overflow(unix_s, k_ns_per_s, &unix_ns) ||
      __builtin_add_overflow(unix_ns, fraction_ns, &unix_ns)) {
    return bad_time(text);
  }
  return unix_ns;
}

}  // namespace logwire
