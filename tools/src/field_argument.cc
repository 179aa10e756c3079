#include "field_argument.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace logwire {

field field_argument::as_field() const {
  return std::visit([this](const auto& v) { return field(key, v); }, value);
}

result<field_argument> parse_field_argument(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return error{
        errc::invalid_argument,
        "--field takes key=value (e.g. --field userId=987), got '" + std::string(text) + "'"};
  }
  field_argument out{std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
  const std::string_view value = text.substr(equals + 1);
  if (value.empty()) return out;

  std::int64_t integer = 0;
  const auto [int_end, int_error] =
      std::from_chars(value.data(), value.data() + value.size(), integer);
  if (int_error == std::errc() && int_end == value.data() + value.size()) {
    out.value = integer;
    return out;
  }
  double number = 0;
  const auto [float_end, float_error] =
      std::from_chars(value.data(), value.data() + value.size(), number);
  if (float_error == std::errc() && float_end == value.data() + value.size() &&
      std::isfinite(number)) {
    out.value = number;
    return out;
  }
  if (value == "true" || value == "false") out.value = value == "true";
  return out;
}

}  // namespace logwire
