#include "logwire/ring.h"

#include <algorithm>
#include <bit>
#include <new>

namespace logwire {
namespace {

void zero_range(const ring_view& ring, std::uint64_t from, std::uint64_t to) noexcept {
  const std::uint64_t mask = ring.capacity - 1;
  while (from != to) {
    const std::uint64_t index = from & mask;
    const std::uint64_t chunk = std::min(to - from, ring.capacity - index);
    std::memset(ring.data + index, 0, static_cast<std::size_t>(chunk));
    from += chunk;
  }
}

}  // namespace

std::uint64_t ring_capacity_for(std::uint64_t bytes) noexcept {
  const std::uint64_t clamped = std::clamp(bytes, k_ring_min_capacity, k_ring_max_capacity);
  return std::bit_floor(clamped);
}

result<ring_view> format_ring(std::span<std::byte> segment, const ring_identity& identity) {
  if (segment.size() < ring_segment_size(k_ring_min_capacity)) {
    return error{errc::invalid_argument, "ring segment too small"};
  }
  const std::uint64_t capacity = segment.size() - k_ring_header_size;
  if (!std::has_single_bit(capacity) || capacity > k_ring_max_capacity) {
    return error{errc::invalid_argument, "ring capacity must be a power of two up to 1 GiB"};
  }
  if (identity.producer_identity.size() > k_ring_identity_capacity) {
    return error{errc::invalid_argument, "producer identity does not fit the ring header"};
  }
  std::memset(segment.data(), 0, k_ring_header_size);
  auto* header = new (segment.data()) ring_header{};
  header->version = k_ring_version;
  header->header_size = static_cast<std::uint32_t>(k_ring_header_size);
  header->capacity = capacity;
  header->owner_pid = identity.owner_pid;
  header->owner_start = identity.owner_start;
  header->identity_size = static_cast<std::uint32_t>(identity.producer_identity.size());
  header->created_ns = identity.created_ns;
  if (!identity.producer_identity.empty()) {
    std::memcpy(header->identity, identity.producer_identity.data(),
                identity.producer_identity.size());
  }
  header->heartbeat_ns.store(identity.created_ns, std::memory_order_relaxed);
  header->state.store(k_ring_open, std::memory_order_relaxed);
  header->magic.store(k_ring_magic, std::memory_order_release);
  return ring_view{header, segment.data() + k_ring_header_size, capacity};
}

result<ring_view> attach_ring(std::span<std::byte> segment) {
  if (segment.size() < k_ring_header_size) {
    return error{errc::incompatible, "segment smaller than a ring header"};
  }
  auto* header = std::launder(reinterpret_cast<ring_header*>(segment.data()));
  if (header->magic.load(std::memory_order_acquire) != k_ring_magic) {
    return error{errc::incompatible, "not a logwire ring (bad magic)"};
  }
  if (header->version != k_ring_version) {
    return error{errc::incompatible, "ring version " + std::to_string(header->version) +
                                         ", this broker reads version " +
                                         std::to_string(k_ring_version)};
  }
  const std::uint64_t capacity = header->capacity;
  if (header->header_size != k_ring_header_size || !std::has_single_bit(capacity) ||
      capacity < k_ring_min_capacity || capacity > k_ring_max_capacity ||
      ring_segment_size(capacity) > segment.size()) {
    return error{errc::incompatible, "ring header sizes do not match the segment"};
  }
  if (header->identity_size > k_ring_identity_capacity) {
    return error{errc::incompatible, "ring identity size out of range"};
  }
  const std::uint64_t head = header->head.load(std::memory_order_acquire);
  const std::uint64_t tail = header->tail.load(std::memory_order_acquire);
  if (tail - head > capacity || head % k_frame_alignment != 0 || tail % k_frame_alignment != 0) {
    return error{errc::incompatible, "ring positions are inconsistent"};
  }
  return ring_view{header, segment.data() + k_ring_header_size, capacity};
}

ring_reader::ring_reader(ring_view ring) noexcept
    : ring_(ring),
      mask_(ring.capacity - 1),
      head_(ring.header->head.load(std::memory_order_acquire)) {
  const std::uint64_t tail = ring_.header->tail.load(std::memory_order_acquire);
  const std::uint64_t intent = ring_.header->head_intent.load(std::memory_order_relaxed);
  const std::uint64_t intended = intent - head_;
  if (intended != 0 && intended <= tail - head_ && tail - head_ <= ring_.capacity &&
      intended % k_frame_alignment == 0) {
    release(head_, intent);
  }
}

bool ring_reader::skip_abandoned() noexcept {
  const std::uint64_t head = head_;
  const std::uint64_t written = written_since(head);
  if (written == 0) return false;
  const std::uint64_t index = head & mask_;
  const std::int32_t length =
      std::atomic_ref<std::int32_t>(*reinterpret_cast<std::int32_t*>(ring_.data + index))
          .load(std::memory_order_acquire);
  if (length > 0) return false;  // committed: drain() takes it
  std::uint64_t skip = written;
  if (length < 0) {
    const std::uint64_t size =
        (static_cast<std::uint64_t>(-static_cast<std::int64_t>(length)) + k_frame_alignment - 1) &
        ~(k_frame_alignment - 1);
    if (size >= k_frame_header_size && size <= ring_.capacity - index && size <= written) {
      skip = size;
    }
  } else {
    skip = k_frame_alignment;
    while (skip < written) {
      std::uint64_t word = 0;
      std::memcpy(&word, ring_.data + ((head + skip) & mask_), sizeof word);
      if (word != 0) break;
      skip += k_frame_alignment;
    }
  }
  release(head, head + skip);
  return true;
}

void ring_reader::release(std::uint64_t from, std::uint64_t to) noexcept {
  ring_header& h = *ring_.header;
  // The intent must be in memory before any byte is zeroed: a reader killed half-way is
  // then completed by the next one. The fence keeps the plain stores of the zeroing
  // after the intent, for the compiler and for the processor.
#if defined(__SANITIZE_THREAD__)
  h.head_intent.store(to, std::memory_order_seq_cst);  // ThreadSanitizer does not take fences
#else
  h.head_intent.store(to, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  zero_range(ring_, from, to);
  h.head.store(to, std::memory_order_release);
  head_ = to;
}

}  // namespace logwire
