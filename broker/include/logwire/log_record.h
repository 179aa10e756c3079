// A log record as the broker hands it out: decoded from its FlatBuffers bytes into owned
// values. The store keeps the bytes; this form exists only for answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "logwire/level.h"
#include "logwire/producer.h"

namespace logwire {

using field_value = std::variant<std::string, std::int64_t, double, bool>;

struct log_record {
  std::int64_t timestamp_ns = 0;
  level severity = level::info;
  std::string service;
  std::string message;
  std::string request_id;
  std::string traceparent;
  std::string span_id;
  std::vector<std::pair<std::string, field_value>> fields;
  std::string stack_trace;
  std::int64_t receive_ns = 0;
  // Burst dedup: how many identical records this one stands for, and the last one's time.
  std::uint32_t repeat_count = 1;
  std::int64_t last_timestamp_ns = 0;
  std::uint64_t position = 0;  // in the store's record log: the record's id
};

// Bounds on what one record from an untrusted producer may contain (the sizes are the
// producer's own, so nothing a producer accepts is refused here).
inline constexpr unsigned k_max_record_depth = 8;
inline constexpr unsigned k_max_record_tables = k_max_record_fields + 16;

// True when `bytes` is a well-formed FlatBuffers logwire.wire.Record within the bounds
// above; nothing else may be decoded.
bool verify_record(std::span<const std::byte> bytes) noexcept;

// Decodes a verified record. An empty service in the record means `default_service`.
log_record decode_record(std::span<const std::byte> bytes, std::string_view default_service);

}  // namespace logwire
