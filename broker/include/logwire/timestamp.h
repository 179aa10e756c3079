// Time as the agent reads and writes it: RFC 3339 in UTC with milliseconds out, and
// RFC 3339 or a relative duration ("5m") in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "logwire/error.h"

namespace logwire {

// "2026-01-31T10:15:23.456Z" for nanoseconds since the Unix epoch (truncated to ms).
std::string format_rfc3339_ms(std::int64_t unix_ns);

// An RFC 3339 date-time ("2026-01-31T10:15:23Z", "2026-01-31T11:15:23.5+01:00"; 't',
// 'z' and a space for 'T' also accepted) or a duration before `now_ns` ("30s", "5m",
// "2h", "1d", "250ms"). Returns nanoseconds since the Unix epoch.
result<std::int64_t> parse_time(std::string_view text, std::int64_t now_ns);

// A duration ("250ms", "30s", "5m", "2h", "1d"), in nanoseconds.
result<std::int64_t> parse_duration_ns(std::string_view text);

// Nanoseconds since the Unix epoch, now.
std::int64_t unix_now_ns() noexcept;

}  // namespace logwire
