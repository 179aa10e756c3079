// Encodes a record_view as a FlatBuffers logwire.wire.Record. One encoder per thread: it
// reuses its buffer, so encoding allocates only when a record outgrows every earlier one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "logwire/producer.h"

namespace logwire {

class record_encoder {
 public:
  record_encoder();
  ~record_encoder();
  record_encoder(const record_encoder&) = delete;
  record_encoder& operator=(const record_encoder&) = delete;

  // The encoded bytes stay valid until the next call. Throws std::bad_alloc only.
  std::span<const std::byte> encode(const record_view& record, std::int64_t timestamp_ns);

 private:
  struct builder;
  std::unique_ptr<builder> builder_;
};

}  // namespace logwire
