// A many-to-one ring of variable-length records in shared memory: every thread of one
// backend process writes, the broker alone reads. Lock-free on the data path: a writer
// claims space with a compare-and-swap on `tail` and publishes its record with a release
// store of the frame length; the reader consumes frames in order and hands their space
// back by zeroing it and then advancing `head`.
//
// Why one ring per process and not one per thread: the broker discovers and drains one
// segment per backend instead of one per thread (threads come and go; pools grow), the
// memory bound is per process as configured, and records of one process stay in one
// order. The price is one contended compare-and-swap per record, a few tens of
// nanoseconds when several threads log at once.
//
// Segment layout (host byte order; a segment never leaves its host):
//
//   0                         4096                                4096 + capacity
//   +-------------------------+------------------------------------------+
//   | ring_header             | data: `capacity` bytes, a power of two   |
//   +-------------------------+------------------------------------------+
//
// ring_header, one cache line per writer of its fields:
//
//      0  magic           u64   k_ring_magic, stored last when the ring is formatted
//      8  version         u32   k_ring_version
//     12  header_size     u32   k_ring_header_size
//     16  capacity        u64
//     24  owner_pid       i32   the backend process that writes this ring
//     28  identity_size   u32   bytes of `identity`
//     32  created_ns      u64
//     40  owner_start     u64   the owner's start time (clock ticks after boot), to tell
//                               it from a later process that reuses its pid
//     64  identity        960 bytes: FlatBuffers logwire.wire.ProducerIdentity
//   1024  tail            u64   writers: position after the last claimed byte
//   1032  head_cache      u64   writers: a recent value of `head`
//   1088  dropped         u64   writers: records refused (ring full, record too large)
//   1096  drop_first_ns   u64   writers: time of the first refused record, 0 if none
//   1104  drop_last_ns    u64   writers: time of the latest refused record
//   1152  head            u64   reader: position of the first byte not yet consumed
//   1160  head_intent     u64   reader: the head it is about to store (crash recovery)
//   1168  drops_reported  u64   reader: part of `dropped` already reported to the agent
//   1216  heartbeat_ns    u64   owner: refreshed while the process lives
//   1224  state           u32   owner: k_ring_open, or k_ring_closed after a clean close
//
// Positions are monotonic byte counts; a position's index in `data` is
// position & (capacity - 1). Every frame starts 8-byte aligned:
//
//    0                 4                 8
//   +-----------------+-----------------+------------------------------+-----------+
//   | length (i32)    | type (u32)      | payload (length - 8 bytes)   | pad to 8  |
//   +-----------------+-----------------+------------------------------+-----------+
//
//   length == 0  nothing written here yet (the reader keeps free space zeroed)
//   length  < 0  claimed, being written: -length bytes
//   length  > 0  committed: visible to the reader, payload complete
//
// A frame never wraps: a writer whose frame would cross the end of `data` first claims
// the rest of it as a padding frame (type k_frame_padding), which the reader skips.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "logwire/error.h"

namespace logwire {

inline constexpr std::uint64_t k_ring_magic = 0x3152'4957'474f'4c00ull;  // "\0LOGWIR1"
inline constexpr std::uint32_t k_ring_version = 1;
inline constexpr std::size_t k_ring_header_size = 4096;
inline constexpr std::size_t k_ring_identity_capacity = 960;
inline constexpr std::uint64_t k_ring_min_capacity = 64 * 1024;
inline constexpr std::uint64_t k_ring_max_capacity = 1ull << 30;  // frame lengths are i32
inline constexpr std::uint32_t k_ring_open = 1;
// The owner refreshes heartbeat_ns this often; a ring whose heartbeat is older than
// k_heartbeat_timeout and whose owner pid is not running has lost its writer.
inline constexpr std::chrono::milliseconds k_heartbeat_interval{1000};
inline constexpr std::chrono::milliseconds k_heartbeat_timeout{3000};
inline constexpr std::uint32_t k_ring_closed = 2;

inline constexpr std::uint32_t k_frame_record = 1;
inline constexpr std::uint32_t k_frame_padding = 2;
inline constexpr std::size_t k_frame_header_size = 8;
inline constexpr std::size_t k_frame_alignment = 8;

struct ring_header {
  std::atomic<std::uint64_t> magic;
  std::uint32_t version;
  std::uint32_t header_size;
  std::uint64_t capacity;
  std::int32_t owner_pid;
  std::uint32_t identity_size;
  std::uint64_t created_ns;
  std::uint64_t owner_start;
  std::byte reserved0[16];
  std::byte identity[k_ring_identity_capacity];

  alignas(64) std::atomic<std::uint64_t> tail;
  std::atomic<std::uint64_t> head_cache;

  alignas(64) std::atomic<std::uint64_t> dropped;
  std::atomic<std::uint64_t> drop_first_ns;
  std::atomic<std::uint64_t> drop_last_ns;

  alignas(64) std::atomic<std::uint64_t> head;
  std::atomic<std::uint64_t> head_intent;
  std::atomic<std::uint64_t> drops_reported;

  alignas(64) std::atomic<std::uint64_t> heartbeat_ns;
  std::atomic<std::uint32_t> state;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::int32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && alignof(std::atomic<std::uint64_t>) == 8);
static_assert(offsetof(ring_header, version) == 8);
static_assert(offsetof(ring_header, capacity) == 16);
static_assert(offsetof(ring_header, owner_pid) == 24);
static_assert(offsetof(ring_header, identity_size) == 28);
static_assert(offsetof(ring_header, created_ns) == 32);
static_assert(offsetof(ring_header, owner_start) == 40);
static_assert(offsetof(ring_header, identity) == 64);
static_assert(offsetof(ring_header, tail) == 1024);
static_assert(offsetof(ring_header, head_cache) == 1032);
static_assert(offsetof(ring_header, dropped) == 1088);
static_assert(offsetof(ring_header, drop_first_ns) == 1096);
static_assert(offsetof(ring_header, drop_last_ns) == 1104);
static_assert(offsetof(ring_header, head) == 1152);
static_assert(offsetof(ring_header, head_intent) == 1160);
static_assert(offsetof(ring_header, drops_reported) == 1168);
static_assert(offsetof(ring_header, heartbeat_ns) == 1216);
static_assert(offsetof(ring_header, state) == 1224);
static_assert(sizeof(ring_header) <= k_ring_header_size);

// The segment bytes a ring of `capacity` data bytes needs.
constexpr std::size_t ring_segment_size(std::uint64_t capacity) {
  return k_ring_header_size + static_cast<std::size_t>(capacity);
}

// The largest power of two not above `bytes`, clamped to the supported capacities.
std::uint64_t ring_capacity_for(std::uint64_t bytes) noexcept;

// A ring laid over a mapped segment. Does not own the memory.
struct ring_view {
  ring_header* header = nullptr;
  std::byte* data = nullptr;
  std::uint64_t capacity = 0;
};

struct ring_identity {
  std::span<const std::byte> producer_identity;  // FlatBuffers ProducerIdentity
  std::int32_t owner_pid = 0;
  std::uint64_t owner_start = 0;
  std::uint64_t created_ns = 0;
};

// Formats a fresh ring over `segment` (k_ring_header_size + a power-of-two capacity),
// whose data area must be all zero, as a newly created shared-memory segment is.
// The magic is stored last, so a reader never attaches a half-formatted ring.
result<ring_view> format_ring(std::span<std::byte> segment, const ring_identity& identity);

// Attaches to a ring some other process formatted; checks everything the reader relies
// on (magic, version, sizes, positions) because the segment is not trusted.
result<ring_view> attach_ring(std::span<std::byte> segment);

enum class write_status : std::uint8_t { written, full, too_large };

// Writes records. Thread-safety: any number of threads, in any number of processes
// sharing the segment, may call write() at once.
class ring_writer {
 public:
  explicit ring_writer(ring_view ring) noexcept : ring_(ring), mask_(ring.capacity - 1) {}

  // Copies `payload` into the ring as one record. Never blocks: on a full ring the record
  // is refused, counted in the header and write_status::full returned.
  write_status write(std::span<const std::byte> payload, std::uint64_t now_ns) noexcept {
    if (payload.size() > max_payload()) {
      count_drop(now_ns);
      return write_status::too_large;
    }
    const auto length = static_cast<std::uint32_t>(k_frame_header_size + payload.size());
    const std::uint64_t position = claim(align(length));
    if (position == k_no_space) {
      count_drop(now_ns);
      return write_status::full;
    }
    std::byte* frame = ring_.data + (position & mask_);
    std::atomic_ref<std::int32_t> frame_length(*reinterpret_cast<std::int32_t*>(frame));
    frame_length.store(-static_cast<std::int32_t>(length), std::memory_order_relaxed);
    // The claim mark goes to memory before any payload byte: if this process dies here,
    // the reader finds either a marked frame or an all-zero one, never stray payload.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    store_type(frame, k_frame_record);
    std::memcpy(frame + k_frame_header_size, payload.data(), payload.size());
    frame_length.store(static_cast<std::int32_t>(length), std::memory_order_release);
    return write_status::written;
  }

  // A record needs at most a quarter of the ring, so that one record can always follow
  // the padding at the end of the data area once the reader has caught up.
  std::size_t max_payload() const noexcept { return ring_.capacity / 4 - k_frame_header_size; }

  // Counts a record refused before it reached the ring (it could not be encoded).
  void count_drop(std::uint64_t now_ns) noexcept {
    ring_header& h = *ring_.header;
    h.dropped.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t none = 0;
    h.drop_first_ns.compare_exchange_strong(none, now_ns, std::memory_order_relaxed);
    h.drop_last_ns.store(now_ns, std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint64_t k_no_space = ~0ull;

  static constexpr std::uint64_t align(std::uint64_t n) noexcept {
    return (n + k_frame_alignment - 1) & ~(k_frame_alignment - 1);
  }

  static void store_type(std::byte* frame, std::uint32_t type) noexcept {
    std::memcpy(frame + 4, &type, sizeof type);
  }

  // Claims `frame_size` bytes (aligned), with padding first if they would cross the end.
  // Returns the position of the claimed frame, or k_no_space.
  std::uint64_t claim(std::uint64_t frame_size) noexcept {
    ring_header& h = *ring_.header;
    // head_cache is published with release after an acquire of head, so a writer that
    // trusts it also sees the reader's last reads and zeroing of the space it claims.
    // `head` is always loaded before `tail`, so head <= tail and tail - head is the
    // space in use; a stale (smaller) head only understates the free space.
    std::uint64_t head = h.head_cache.load(std::memory_order_acquire);
    std::uint64_t tail = h.tail.load(std::memory_order_acquire);
    std::uint64_t padding = 0;
    bool head_fresh = false;
    for (;;) {
      const std::uint64_t index = tail & mask_;
      const std::uint64_t to_end = ring_.capacity - index;
      padding = frame_size > to_end ? to_end : 0;
      const std::uint64_t needed = padding + frame_size;  // < capacity / 2
      if (tail - head > ring_.capacity - needed) {
        if (head_fresh) return k_no_space;
        head = h.head.load(std::memory_order_acquire);
        tail = h.tail.load(std::memory_order_acquire);
        h.head_cache.store(head, std::memory_order_release);
        head_fresh = true;
        continue;
      }
      if (h.tail.compare_exchange_weak(tail, tail + needed, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        break;
      }
      head_fresh = false;  // others moved on; the reader may have too
    }
    if (padding != 0) {
      std::byte* pad = ring_.data + (tail & mask_);
      store_type(pad, k_frame_padding);
      std::atomic_ref<std::int32_t>(*reinterpret_cast<std::int32_t*>(pad))
          .store(static_cast<std::int32_t>(padding), std::memory_order_release);
    }
    return tail + padding;
  }

  ring_view ring_;
  std::uint64_t mask_;
};

// Consumes records. Thread-safety: one reader per ring at a time, in one thread (the
// broker's instance lock makes sure of that across processes).
class ring_reader {
 public:
  // Completes a hand-back that a previous reader started but did not finish (it was
  // killed between zeroing consumed space and advancing `head`).
  explicit ring_reader(ring_view ring) noexcept;

  // Calls on_record(payload, position) for each committed record in order, at most
  // `max_records` of them, then hands their space back to the writers. The payload is
  // valid only during the call. Returns the number of records delivered.
  template <class OnRecord>
  std::size_t drain(OnRecord&& on_record, std::size_t max_records) {
    const std::uint64_t head = head_;
    std::uint64_t position = head;
    std::size_t delivered = 0;
    // Frames are zeroed only after the loop, so a full ring must not be read past one lap.
    while (delivered < max_records && position - head < ring_.capacity) {
      const std::uint64_t index = position & mask_;
      std::byte* frame = ring_.data + index;
      const std::int32_t length =
          std::atomic_ref<std::int32_t>(*reinterpret_cast<std::int32_t*>(frame))
              .load(std::memory_order_acquire);
      if (length <= 0) break;
      const std::uint64_t frame_size =
          (static_cast<std::uint64_t>(length) + k_frame_alignment - 1) & ~(k_frame_alignment - 1);
      if (static_cast<std::uint64_t>(length) < k_frame_header_size ||
          frame_size > ring_.capacity - index) {
        // A frame no writer can have written: where the next one starts is unknowable,
        // so everything written so far is skipped and counted, and reading goes on.
        ++corrupt_frames_;
        const std::uint64_t written = written_since(head);
        if (written > position - head) position = head + written;
        break;
      }
      std::uint32_t type = 0;
      std::memcpy(&type, frame + 4, sizeof type);
      if (type == k_frame_record) {
        on_record(
            std::span<const std::byte>(frame + k_frame_header_size,
                                       static_cast<std::size_t>(length) - k_frame_header_size),
            position);
        ++delivered;
      }
      position += frame_size;
    }
    if (position != head) release(head, position);
    return delivered;
  }

  // The position up to which every frame has been consumed and handed back.
  std::uint64_t head() const noexcept { return head_; }

  // Bytes written or being written that the reader has not consumed.
  std::uint64_t backlog() const noexcept {
    return ring_.header->tail.load(std::memory_order_acquire) - head_;
  }

  // Frame headers met that no writer can have written (each skipped with what followed).
  std::uint64_t corrupt_frames() const noexcept { return corrupt_frames_; }

  // Skips the frame at the head that a writer claimed but will never commit because its
  // process is gone (the caller has made sure of that: a live writer may just be slow).
  // A claimed frame with its mark is skipped by its length; an all-zero one (the writer
  // died between claim and mark) up to the next frame header. Returns true if a frame
  // was skipped.
  bool skip_abandoned() noexcept;

 private:
  // Zeroes [from, to) and then advances head, recording the intent first so that a
  // reader killed half-way is completed by the next one.
  void release(std::uint64_t from, std::uint64_t to) noexcept;

  // Bytes claimed past `head`, as far as the (untrusted) shared tail says: at most one
  // lap, whole frames only. Differences, not sums, so no position can wrap around.
  std::uint64_t written_since(std::uint64_t head) const noexcept {
    const std::uint64_t tail = ring_.header->tail.load(std::memory_order_acquire);
    return std::min(tail - head, ring_.capacity) & ~(k_frame_alignment - 1);
  }

  ring_view ring_;
  std::uint64_t mask_;
  // The reader's own copy of `head`: the shared one is only written, never trusted back,
  // since the producer process could scribble on it.
  std::uint64_t head_;
  std::uint64_t corrupt_frames_ = 0;
};

}  // namespace logwire
