// What the store reads out of a record to index and compare it: its correlation IDs and
// a hash of its content. Reads a verified logwire.wire.Record in place.
//
// IDs come from the record's own fields, else from fields with the usual names (DESIGN.md
// "Records"); a traceparent is used only when it is valid by the W3C rules, and gives
// the trace ID and the parent span ID.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace logwire {

namespace wire {
struct Record;
}

enum class key_kind : std::uint8_t {
  request = 0,      // X-Request-ID
  trace = 1,        // W3C trace ID, 32 lowercase hex digits
  parent_span = 2,  // the parent ID of the record's traceparent
  span = 3,         // the record's own span ID
  session = 4,
  user = 5,
};
inline constexpr std::size_t k_key_kinds = 6;

// A 64-bit hash of bytes, seeded; fast on short texts.
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept;

class record_keys {
 public:
  record_keys() = default;
  explicit record_keys(const wire::Record& record) noexcept;
  // Not copyable: the IDs may point into this object's own digits.
  record_keys(const record_keys&) = delete;
  record_keys& operator=(const record_keys&) = delete;

  // Empty when the record has no such ID. Valid while the record and this object are.
  std::string_view id(key_kind kind) const noexcept { return ids_[static_cast<std::size_t>(kind)]; }

 private:
  std::array<std::string_view, k_key_kinds> ids_{};
  std::array<std::array<char, 24>, k_key_kinds> digits_{};  // an ID given as a number
};

// The hash an index keeps for an ID of `kind`.
std::uint64_t key_hash(key_kind kind, std::string_view id) noexcept;

// For the burst dedup: a hash of level, message, request ID, fields (keys, kinds, values,
// in order) and stack trace; same_content compares all of that and the traceparent and
// span ID too — everything but the timestamp.
std::uint64_t content_hash(const wire::Record& record) noexcept;
bool same_content(const wire::Record& a, const wire::Record& b) noexcept;

}  // namespace logwire
