// The W3C Trace Context `traceparent` header, parsed by the specification's rules, so the
// store can index a record by the trace it belongs to.
#pragma once

#include <optional>
#include <string_view>

namespace logwire {

struct traceparent {
  std::string_view trace_id;   // 32 lowercase hex digits, not all zero
  std::string_view parent_id;  // 16 lowercase hex digits, not all zero
  std::string_view flags;      // 2 lowercase hex digits
};

// Empty when `header` is not a valid traceparent: version 00 must be exactly 55
// characters "00-<32 hex>-<16 hex>-<2 hex>"; a later version must start with that shape
// and, if longer, continue with '-'; version ff, upper-case hex and all-zero IDs are
// invalid. The views point into `header`.
std::optional<traceparent> parse_traceparent(std::string_view header) noexcept;

}  // namespace logwire
