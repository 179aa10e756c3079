#include "record_writer.h"

#include <cstring>

namespace logwire {
namespace {

// Vtable slot of each Record field, in schema order (field id i is at 4 + 2 * i).
constexpr std::uint16_t k_record_fields = 9;
constexpr std::uint16_t k_record_vtable_size = 4 + 2 * k_record_fields;  // 22
constexpr std::uint16_t k_record_table_size = 41;
enum record_slot : std::uint16_t {
  slot_message = 4,
  slot_timestamp = 8,
  slot_request_id = 16,
  slot_traceparent = 20,
  slot_span_id = 24,
  slot_fields = 28,
  slot_stack_trace = 32,
  slot_service = 36,
  slot_level = 40,
};
// Schema field ids: timestamp_ns 0, level 1, service 2, message 3, request_id 4,
// traceparent 5, span_id 6, fields 7, stack_trace 8.

constexpr std::uint16_t k_field_fields = 6;
constexpr std::uint16_t k_field_vtable_size = 4 + 2 * k_field_fields;  // 16
constexpr std::uint16_t k_field_table_size = 17;
// Field ids: key 0, kind 1, string_value 2, int_value 3, double_value 4, bool_value 5.

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) & ~(a - 1);
}

// Writes little-endian scalars (the only byte order logwire runs on, as FlatBuffers').
template <bool Write>
struct cursor {
  std::byte* out;
  std::size_t at = 0;

  template <class T>
  void put(std::size_t position, T value) const noexcept {
    if constexpr (Write) std::memcpy(out + position, &value, sizeof value);
  }
  void zero(std::size_t from, std::size_t to) const noexcept {
    if constexpr (Write) std::memset(out + from, 0, to - from);
  }
  // Reserves `size` bytes aligned to `alignment`, zeroing the padding; returns the start.
  std::size_t reserve(std::size_t size, std::size_t alignment) noexcept {
    const std::size_t start = align_up(at, alignment);
    zero(at, start);
    at = start + size;
    return start;
  }
  // A string at the next 4-aligned position: length, bytes, NUL, padding.
  std::size_t string(std::string_view text) noexcept {
    const std::size_t start = reserve(4 + text.size() + 1, 4);
    put(start, static_cast<std::uint32_t>(text.size()));
    if constexpr (Write) {
      std::memcpy(out + start + 4, text.data(), text.size());
      out[start + 4 + text.size()] = std::byte{0};
    }
    return start;
  }
  // An offset at `from` pointing forward to `to`.
  void link(std::size_t from, std::size_t to) const noexcept {
    put(from, static_cast<std::uint32_t>(to - from));
  }
};

}  // namespace

template <bool Write>
std::size_t record_writer::emit(std::byte* out) const noexcept {
  cursor<Write> c{out};
  const record_view& r = record_;
  const log_context& ids = r.context;

  const std::size_t root = c.reserve(4, 4);
  const std::size_t vtable = c.reserve(k_record_vtable_size, 2);
  const std::size_t table = c.reserve(k_record_table_size, 8);
  c.zero(table, table + k_record_table_size);
  c.put(root, static_cast<std::uint32_t>(table - root));
  c.put(table, static_cast<std::int32_t>(table - vtable));
  c.put(vtable, k_record_vtable_size);
  c.put(vtable + 2, k_record_table_size);

  const auto slot = [&](std::uint16_t field_id, std::uint16_t offset) {
    c.put(vtable + 4 + 2 * field_id, offset);
  };
  c.put(table + slot_timestamp, timestamp_ns_);
  slot(0, slot_timestamp);
  c.put(table + slot_level, static_cast<std::uint8_t>(r.severity));
  slot(1, slot_level);

  const auto text = [&](std::uint16_t field_id, std::uint16_t offset, std::string_view value) {
    if (value.empty()) {
      slot(field_id, 0);
      return;
    }
    c.link(table + offset, c.string(value));
    slot(field_id, offset);
  };
  text(2, slot_service, r.service);
  text(3, slot_message, r.message);
  text(4, slot_request_id, ids.request_id);
  text(5, slot_traceparent, ids.traceparent);
  text(6, slot_span_id, ids.span_id);
  text(8, slot_stack_trace, ids.stack_trace);

  if (r.fields.empty()) {
    slot(7, 0);
    return c.at;
  }
  const std::size_t vector = c.reserve(4 + 4 * r.fields.size(), 4);
  c.put(vector, static_cast<std::uint32_t>(r.fields.size()));
  c.link(table + slot_fields, vector);
  slot(7, slot_fields);
  for (std::size_t i = 0; i < r.fields.size(); ++i) {
    const field& f = r.fields[i];
    const std::size_t field_vtable = c.reserve(k_field_vtable_size, 2);
    const std::size_t field_table = c.reserve(k_field_table_size, 8);
    c.zero(field_table, field_table + k_field_table_size);
    c.link(vector + 4 + 4 * i, field_table);
    c.put(field_table, static_cast<std::int32_t>(field_table - field_vtable));
    c.put(field_vtable, k_field_vtable_size);
    c.put(field_vtable + 2, k_field_table_size);
    std::uint16_t offsets[k_field_fields] = {4, 16, 0, 0, 0, 0};
    std::uint8_t kind = 0;
    switch (f.type()) {
      case field::kind::string:
        kind = 0;
        offsets[2] = 8;
        break;
      case field::kind::int64:
        kind = 1;
        offsets[3] = 8;
        c.put(field_table + 8, f.int_value());
        break;
      case field::kind::float64:
        kind = 2;
        offsets[4] = 8;
        c.put(field_table + 8, f.double_value());
        break;
      case field::kind::boolean:
        kind = 3;
        offsets[5] = 8;
        c.put(field_table + 8, static_cast<std::uint8_t>(f.bool_value() ? 1 : 0));
        break;
    }
    c.put(field_table + 16, kind);
    for (std::uint16_t id = 0; id < k_field_fields; ++id)
      c.put(field_vtable + 4 + 2 * id, offsets[id]);
    c.link(field_table + 4, c.string(f.key()));
    if (f.type() == field::kind::string) c.link(field_table + 8, c.string(f.string_value()));
  }
  return c.at;
}

std::size_t record_writer::size() const noexcept {
  return emit<false>(nullptr);
}

void record_writer::write(std::byte* out) const noexcept {
  emit<true>(out);
}

}  // namespace logwire
