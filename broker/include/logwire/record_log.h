// The store's records, kept in a shared-memory segment of the runtime directory so that
// they outlive the broker process: a broker killed at any instant restarts with every
// record it had taken, and the ring positions it had taken them from. Entries are
// appended at the tail by one writer and evicted from the head, oldest first.
//
// Segment layout (host byte order; the segment never leaves its host):
//
//   0                       4096                                 4096 + capacity
//   +-----------------------+---------------------------------------+
//   | log_header            | data: `capacity` bytes, a power of two |
//   +-----------------------+---------------------------------------+
//
// log_header:
//      0  magic        u64   k_log_magic, stored last when the log is formatted
//      8  version      u32   k_log_version
//     12  header_size  u32   k_log_header_size
//     16  capacity     u64
//     24  created_ns   u64
//     64  head         u64   position of the oldest retained entry
//     72  tail         u64   position after the newest committed entry
//
// Entry frame, 8-byte aligned, never crossing the end of `data` (a padding frame fills
// the rest of the data area instead):
//
//    0          4      6        8              16             24             32
//   +----------+------+--------+--------------+--------------+--------------+
//   | length   | type | svclen | receive_ns   | instance_hi  | instance_lo  |
//   +----------+------+--------+--------------+--------------+--------------+
//   32              40      44             48                  56
//   +---------------+-------+--------------+-------------------+
//   | sequence      | kind  | repeat_count | last_timestamp_ns |
//   +---------------+-------+--------------+-------------------+
//   56: service name (svclen bytes), padded to 8; then the FlatBuffers Record,
//       padded to 8. `length` counts the frame up to the end of the Record.
//
// Crash safety: an entry is committed by the release store of `tail` after it is fully
// written, so a writer killed mid-entry leaves nothing half-visible; `head` is advanced
// before the space it frees is overwritten.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "logwire/error.h"
#include "logwire/shm_segment.h"

namespace logwire {

inline constexpr std::uint64_t k_log_magic = 0x3147'4f4c'5749'4c00ull;  // "\0LWLOG1"
inline constexpr std::uint32_t k_log_version = 1;
inline constexpr std::size_t k_log_header_size = 4096;
inline constexpr std::uint64_t k_log_min_capacity = 1ull << 20;
inline constexpr std::uint64_t k_log_max_capacity = 1ull << 33;  // frame lengths are u32

// A producer instance: 128 random bits drawn when it started.
struct instance_id {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  friend bool operator==(const instance_id&, const instance_id&) = default;
};

struct instance_id_hash {
  std::size_t operator()(const instance_id& id) const noexcept {
    return static_cast<std::size_t>(id.hi ^ (id.lo * 0x9e3779b97f4a7c15ull));
  }
};

// What an entry holds: a backend's record, or a note the broker wrote about a producer.
enum class entry_kind : std::uint32_t {
  record = 0,
  connected = 1,     // a producer appeared
  disconnected = 2,  // it closed cleanly
  crashed = 3,       // its process ended without closing
  dropped = 4,       // records it could not deliver; `sequence` is its drop count so far
  rejected = 5,      // malformed records from it; `sequence` is the count so far
  lost = 6,          // a gap in a remote producer's sequences, up to just below `sequence`
  rate_limited = 7,  // the store's marker: records of a service dropped by the rate limit
};

struct log_header {
  std::atomic<std::uint64_t> magic;
  std::uint32_t version;
  std::uint32_t header_size;
  std::uint64_t capacity;
  std::uint64_t created_ns;
  std::byte reserved[32];
  std::atomic<std::uint64_t> head;
  std::atomic<std::uint64_t> tail;
};

struct log_entry_header {
  std::uint32_t length;
  std::uint16_t type;
  std::uint16_t service_length;
  std::int64_t receive_ns;
  std::uint64_t instance_hi;
  std::uint64_t instance_lo;
  std::uint64_t sequence;
  std::uint32_t kind;
  std::uint32_t repeat_count;
  std::int64_t last_timestamp_ns;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(offsetof(log_header, capacity) == 16);
static_assert(offsetof(log_header, head) == 64);
static_assert(offsetof(log_header, tail) == 72);
static_assert(sizeof(log_header) <= k_log_header_size);
static_assert(sizeof(log_entry_header) == 56);
static_assert(offsetof(log_entry_header, sequence) == 32);
static_assert(offsetof(log_entry_header, last_timestamp_ns) == 48);
// A padding frame may be 8 bytes: all that is read or written of one is length and type.
static_assert(offsetof(log_entry_header, type) + sizeof(std::uint16_t) <= 8);

// One retained entry, valid until the log evicts it.
struct log_entry {
  std::uint64_t position = 0;
  log_entry_header* header = nullptr;
  std::string_view service;
  std::span<const std::byte> record;

  instance_id instance() const noexcept { return {header->instance_hi, header->instance_lo}; }
  entry_kind kind() const noexcept { return static_cast<entry_kind>(header->kind); }
};

struct entry_meta {
  std::string_view service;
  std::int64_t receive_ns = 0;
  instance_id instance;
  std::uint64_t sequence = 0;
  entry_kind kind = entry_kind::record;
};

// Thread-safety: one thread appends and evicts; reading an entry concurrently with an
// eviction that removes it is the caller's to prevent (the store's lock does).
class record_log {
 public:
  // Attaches the log of `segment_name` if it exists with this layout and capacity, so
  // its entries are recovered; otherwise creates a fresh one (0600). `recovered` tells
  // which happened.
  static result<record_log> open(const std::string& segment_name, std::uint64_t capacity,
                                 std::int64_t now_ns);

  record_log(record_log&&) noexcept = default;
  record_log& operator=(record_log&&) noexcept = default;

  bool recovered() const noexcept { return recovered_; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  // When the log was formatted: a log made afresh has another.
  std::uint64_t created_ns() const noexcept { return header_->created_ns; }
  std::uint64_t used_bytes() const noexcept;
  // The largest Record (with its service name) an entry can hold.
  std::size_t max_record_size() const noexcept {
    return capacity_ / 4 - sizeof(log_entry_header) - 256;
  }

  // Appends an entry, evicting the oldest first while there is no room; on_evict sees
  // each evicted entry before its space is reused. Empty if the record can never fit.
  std::optional<std::uint64_t> append(const entry_meta& meta, std::span<const std::byte> record,
                                      const std::function<void(const log_entry&)>& on_evict);

  // Evicts the oldest entry. False if the log is empty.
  bool evict_oldest(const std::function<void(const log_entry&)>& on_evict);

  // The entry at `position`, which must be retained.
  log_entry at(std::uint64_t position) const noexcept;

  // Gives the memory of evicted entries back to the system, a chunk at a time, so that
  // the segment's resident size follows what the log holds rather than what it ever
  // wrote. Their bytes read as zeros afterwards; nothing reads them.
  void release_evicted() noexcept;

  // The bytes an entry takes in the log.
  static std::uint64_t frame_bytes(std::size_t service_length, std::size_t record_size) noexcept;

  // Visits every retained entry, oldest first. Used to rebuild indexes after a restart.
  void for_each(const std::function<void(const log_entry&)>& visit) const;

  std::uint64_t head() const noexcept { return header_->head.load(std::memory_order_relaxed); }
  std::uint64_t tail() const noexcept { return header_->tail.load(std::memory_order_relaxed); }

 private:
  record_log(shm_segment segment, bool recovered);
  // Checks a recovered log frame by frame and cuts it at the first frame that cannot be.
  std::uint64_t validate() noexcept;
  std::uint64_t next_position(std::uint64_t position) const noexcept;

  shm_segment segment_;
  log_header* header_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t released_;  // evicted positions below this were given back
  bool recovered_;
};

}  // namespace logwire
