// Writes a record_view straight into caller memory as a FlatBuffers logwire.wire.Record,
// in one forward pass and with no allocation: the log call's fast path, which measures
// the record (size()) and then lays it out (write()), several times faster than
// FlatBufferBuilder, which builds back to front and deduplicates vtables.
// record_encoder (FlatBufferBuilder) produces an equivalent buffer; the tests hold the
// two to the same decoded result and to the FlatBuffers Verifier.
//
// Layout, every offset pointing forward as FlatBuffers requires:
//
//   root uoffset | Record vtable | Record table | strings | fields vector |
//   per field: vtable, table, key string, string value
//
// Record table (8-aligned):       Field table (8-aligned):
//    0 soffset to vtable              0 soffset to vtable
//    4 message          uoffset       4 key               uoffset
//    8 timestamp_ns     int64         8 value: int64 | double | string uoffset | bool
//   16 request_id       uoffset      16 kind              uint8
//   20 traceparent      uoffset
//   24 span_id          uoffset
//   28 fields           uoffset
//   32 stack_trace      uoffset
//   36 service          uoffset
//   40 level            uint8
// A field that is absent has a 0 in the vtable; its slot stays unused.
#pragma once

#include <cstddef>
#include <cstdint>

#include "logwire/producer.h"

namespace logwire {

class record_writer {
 public:
  record_writer(const record_view& record, std::int64_t timestamp_ns) noexcept
      : record_(record), timestamp_ns_(timestamp_ns) {}

  // Bytes write() will produce.
  std::size_t size() const noexcept;

  // Writes exactly size() bytes at `out`, which must be 8-byte aligned.
  void write(std::byte* out) const noexcept;

 private:
  template <bool Write>
  std::size_t emit(std::byte* out) const noexcept;

  record_view record_;  // a copy: it holds only views, and the writer may outlive a temporary
  std::int64_t timestamp_ns_;
};

}  // namespace logwire
