// Log severity as the API and the agent see it, and its names on the wire and in JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace logwire {

// Ordered lowest first; the values are the wire values (schema/logwire.fbs Level).
enum class level : std::uint8_t { trace = 0, debug = 1, info = 2, warn = 3, error = 4, fatal = 5 };

inline constexpr level k_max_level = level::fatal;
inline constexpr std::size_t k_levels = static_cast<std::size_t>(k_max_level) + 1;

// "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL".
std::string_view level_name(level value) noexcept;

// Case-insensitive level name; also "warning" and "critical" (= FATAL), the spellings
// other logging libraries use. Empty when the text names no level.
std::optional<level> parse_level(std::string_view text) noexcept;

// A wire value from an untrusted peer: values past FATAL are read as INFO, per the
// schema's evolution rule.
level level_from_wire(std::uint8_t value) noexcept;

// What parse_level accepts, for error messages.
inline constexpr std::string_view k_level_names = "TRACE, DEBUG, INFO, WARN, ERROR, FATAL";

}  // namespace logwire
