#include "logwire/traceparent.h"

#include <array>

namespace logwire {
namespace {

constexpr std::size_t k_version00_length = 55;

// Lower-case hex digits, by table: the store checks every record's traceparent.
constexpr auto k_lower_hex = [] {
  std::array<bool, 256> table{};
  for (char c = '0'; c <= '9'; ++c) table[static_cast<unsigned char>(c)] = true;
  for (char c = 'a'; c <= 'f'; ++c) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool is_lower_hex(std::string_view text) noexcept {
  bool all = true;
  for (const char c : text) all &= k_lower_hex[static_cast<unsigned char>(c)];
  return all;
}

bool all_zero(std::string_view text) noexcept {
  return text.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

std::optional<traceparent> parse_traceparent(std::string_view header) noexcept {
  if (header.size() < k_version00_length) return std::nullopt;
  const std::string_view version = header.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" && header.size() != k_version00_length) return std::nullopt;
  if (header.size() > k_version00_length && header[k_version00_length] != '-') return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  const traceparent parsed{header.substr(3, 32), header.substr(36, 16), header.substr(53, 2)};
  if (!is_lower_hex(parsed.trace_id) || !is_lower_hex(parsed.parent_id) ||
      !is_lower_hex(parsed.flags)) {
    return std::nullopt;
  }
  if (all_zero(parsed.trace_id) || all_zero(parsed.parent_id)) return std::nullopt;
  return parsed;
}

}  // namespace logwire
