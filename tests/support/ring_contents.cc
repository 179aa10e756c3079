#include "support/ring_contents.h"

#include <gtest/gtest.h>

#include <cstring>

#include "logwire/ring.h"
#include "logwire/shm_segment.h"

namespace logwire::testing {

std::vector<ring_record> drain_ring(const std::string& segment_name) {
  std::vector<ring_record> records;
  auto segment = shm_segment::open(segment_name);
  EXPECT_TRUE(segment) << segment_name;
  if (!segment) return records;
  auto view = attach_ring(segment->bytes());
  EXPECT_TRUE(view);
  if (!view) return records;
  ring_reader reader(*view);
  reader.drain(
      [&](std::span<const std::byte> p, std::uint64_t) {
        records.push_back({std::vector<std::byte>(p.begin(), p.end())});
      },
      1'000'000);
  return records;
}

std::vector<ring_record> snapshot_ring(const std::string& segment_name) {
  std::vector<ring_record> records;
  auto segment = shm_segment::open(segment_name);
  if (!segment) return records;
  std::vector<std::uint64_t> copy(segment->bytes().size() / sizeof(std::uint64_t) + 1);
  auto* bytes = reinterpret_cast<std::byte*>(copy.data());
  std::memcpy(bytes, segment->bytes().data(), segment->bytes().size());
  auto view = attach_ring({bytes, segment->bytes().size()});
  if (!view) return records;
  ring_reader reader(*view);
  reader.drain(
      [&](std::span<const std::byte> p, std::uint64_t) {
        records.push_back({std::vector<std::byte>(p.begin(), p.end())});
      },
      100'000'000);
  return records;
}

}  // namespace logwire::testing
