// libFuzzer target: arbitrary bytes as a ring segment, read the way the broker reads
// one. The reader must never crash, read outside the segment, or loop without end.
//
// Input layout: byte 0 picks what the input may overwrite; the next 24 bytes are head,
// tail and head_intent; the rest lands in the data area. With the low bit of byte 0
// set, the first 256 bytes of the rest also overwrite the header's first bytes (magic,
// version, sizes, identity), so attach_ring() is fuzzed too.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "logwire/ring.h"

namespace {

constexpr std::uint64_t k_capacity = logwire::k_ring_min_capacity;

std::uint64_t read_u64(const std::uint8_t* p) {
  std::uint64_t value = 0;
  std::memcpy(&value, p, sizeof value);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 25) return 0;
  static std::vector<std::byte> segment(logwire::ring_segment_size(k_capacity));
  std::memset(segment.data(), 0, segment.size());
  auto formatted = logwire::format_ring(segment, {.owner_pid = 1, .created_ns = 1});
  if (!formatted) return 0;
  logwire::ring_header& header = *formatted->header;

  const std::uint8_t mode = data[0];
  // Positions near each other and near the data, most of the time.
  const std::uint64_t base = read_u64(data + 1) & (mode & 2 ? ~0ull : 0xffffull);
  header.head.store(base);
  header.tail.store(base + (read_u64(data + 9) & (mode & 4 ? ~0ull : 0x1ffffull)));
  header.head_intent.store(base + (read_u64(data + 17) & 0x1ffffull));
  const std::uint8_t* rest = data + 25;
  std::size_t rest_size = size - 25;
  if ((mode & 1) != 0 && rest_size >= 256) {
    std::memcpy(segment.data(), rest, 256);
    rest += 256;
    rest_size -= 256;
  }
  std::memcpy(segment.data() + logwire::k_ring_header_size, rest,
              std::min<std::size_t>(rest_size, k_capacity));

  auto attached = logwire::attach_ring(segment);
  if (!attached) return 0;
  logwire::ring_reader reader(*attached);
  std::size_t seen = 0;
  for (int round = 0; round < 8; ++round) {
    reader.drain(
        [&seen](std::span<const std::byte> payload, std::uint64_t) {
          // Touch every byte, so a payload reaching past the segment is caught by ASan.
          for (std::byte b : payload) seen += static_cast<std::size_t>(b);
        },
        1024);
    reader.skip_abandoned();
    (void)reader.backlog();
  }
  return seen == ~std::size_t{0} ? 1 : 0;
}
