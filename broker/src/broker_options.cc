#include "broker_options.h"

#include <charconv>
#include <cmath>

namespace logwire {
namespace {

error bad_size(std::string_view text) {
  return error{errc::invalid_argument, "'" + std::string(text) +
                                           "' is not a size; use bytes or a number with KiB, MiB "
                                           "or GiB (e.g. 256MiB)"};
}

}  // namespace

result<std::uint64_t> parse_byte_size(std::string_view text) {
  double amount = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (ec != std::errc() || end == text.data() || !(amount >= 0)) return bad_size(text);
  std::string unit(end, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    scale = 1024.0;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    scale = 1024.0 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    scale = 1024.0 * 1024 * 1024;
  } else {
    return bad_size(text);
  }
  const double bytes = amount * scale;
  if (bytes >= 0x1p63) return bad_size(text);
  return static_cast<std::uint64_t>(bytes);
}

result<void> apply_rate_limits(const std::vector<std::string>& values, rate_limits& limits) {
  for (const std::string& value : values) {
    const auto equals = value.rfind('=');
    const std::string_view number = equals == std::string::npos
                                        ? std::string_view(value)
                                        : std::string_view(value).substr(equals + 1);
    double rate = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), rate);
    if (ec != std::errc() || end != number.data() + number.size() || !(rate >= 0) ||
        !std::isfinite(rate) || (equals != std::string::npos && equals == 0)) {
      return error{errc::invalid_argument,
                   "--rate-limit '" + value +
                       "': use N (records per second for every service) or SERVICE=N; 0 "
                       "means no limit"};
    }
    if (equals == std::string::npos) {
      limits.per_second = rate;
    } else {
      limits.per_service[value.substr(0, equals)] = rate;
    }
  }
  return {};
}

}  // namespace logwire
