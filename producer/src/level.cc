#include "logwire/level.h"

#include <array>
#include <cctype>

#include "logwire/logwire_generated.h"

namespace logwire {
namespace {

static_assert(static_cast<int>(level::trace) == static_cast<int>(wire::Level::Trace));
static_assert(static_cast<int>(level::debug) == static_cast<int>(wire::Level::Debug));
static_assert(static_cast<int>(level::info) == static_cast<int>(wire::Level::Info));
static_assert(static_cast<int>(level::warn) == static_cast<int>(wire::Level::Warn));
static_assert(static_cast<int>(level::error) == static_cast<int>(wire::Level::Error));
static_assert(static_cast<int>(level::fatal) == static_cast<int>(wire::Level::Fatal));

constexpr std::array<std::string_view, 6> k_names = {"TRACE", "DEBUG", "INFO",
                                                     "WARN",  "ERROR", "FATAL"};

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view level_name(level value) noexcept {
  const auto index = static_cast<std::size_t>(value);
  return index < k_names.size() ? k_names[index] : "INFO";
}

std::optional<level> parse_level(std::string_view text) noexcept {
  for (std::size_t i = 0; i < k_names.size(); ++i) {
    if (equals_ignoring_case(text, k_names[i])) return static_cast<level>(i);
  }
  if (equals_ignoring_case(text, "warning")) return level::warn;
  if (equals_ignoring_case(text, "critical")) return level::fatal;
  return std::nullopt;
}

level level_from_wire(std::uint8_t value) noexcept {
  return value <= static_cast<std::uint8_t>(k_max_level) ? static_cast<level>(value) : level::info;
}

}  // namespace logwire
