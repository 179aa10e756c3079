// `--field key=value` on the command line: the value keeps the type it reads as, so
// `--field userId=987` is stored as an integer and filters and sorts as one.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "logwire/error.h"
#include "logwire/producer.h"

namespace logwire {

struct field_argument {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;

  // A view for the producer; valid while this argument lives.
  field as_field() const;
};

// "key=value": an integer, a finite float, true or false keep that type; anything else
// is a string. The key must be non-empty.
result<field_argument> parse_field_argument(std::string_view text);

}  // namespace logwire
