// The broker's command-line values for the store, checked: sizes ("256MiB"), durations
// ("1h") and rate limits ("10000", "api-server=50000"). Each error says what is accepted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/error.h"
#include "logwire/store.h"

namespace logwire {

// Bytes, with an optional unit: B, KiB, MiB, GiB (also K, M, G, KB, MB, GB as powers of
// 1024).
result<std::uint64_t> parse_byte_size(std::string_view text);

// Applies each --rate-limit value: "N" sets every service's limit, "SERVICE=N" one
// service's; N is records per second, 0 for none.
result<void> apply_rate_limits(const std::vector<std::string>& values, rate_limits& limits);

}  // namespace logwire
