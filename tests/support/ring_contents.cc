#include "support/ring_contents.h"

#include <gtest/gtest.h>

#include <cstring>

#include "logwire/ring.h"
#include "logwire/shm_segment.h"

namespace logwire::testing {
namespace {

// Every committed record of a ring segment's bytes (consumed from those bytes).
std::vector<ring_record> read_records(std::span<std::byte> bytes) {
  std::vector<ring_record> records;
  auto view = attach_ring(bytes);
  EXPECT_TRUE(view);
  if (!view) return records;
  ring_reader reader(*view);
  reader.drain(
      [&](std::span<const std::byte> p, std::uint64_t) {
        records.push_back({std::vector<std::byte>(p.begin(), p.end())});
      },
      100'000'000);
  return records;
}

}  // namespace

std::vector<ring_record> drain_ring(const std::string& segment_name) {
  auto segment = shm_segment::open(segment_name);
  EXPECT_TRUE(segment) << segment_name;
  return segment ? read_records(segment->bytes()) : std::vector<ring_record>{};
}

std::vector<ring_record> snapshot_ring(const std::string& segment_name) {
  auto segment = shm_segment::open(segment_name);
  if (!segment) return {};
  std::vector<std::uint64_t> copy(segment->bytes().size() / sizeof(std::uint64_t) + 1);
  auto* bytes = reinterpret_cast<std::byte*>(copy.data());
  std::memcpy(bytes, segment->bytes().data(), segment->bytes().size());
  return read_records({bytes, segment->bytes().size()});
}

}  // namespace logwire::testing
