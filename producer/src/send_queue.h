// The records a remote producer has logged and the broker has not acknowledged, oldest
// first, within a byte bound: what a reconnect replays. When a new record does not fit,
// the oldest are dropped and counted (they are what the broker is least likely to still
// want, and the newest say most about what is happening now).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>

namespace logwire {

// Thread-safety: one thread (the producer's sender) calls everything.
class send_queue {
 public:
  struct record {
    std::uint64_t sequence;
    std::span<const std::byte> bytes;  // valid until the record leaves the queue
  };

  // `max_bytes` bounds the records' bytes; at least one record is always kept.
  explicit send_queue(std::size_t max_bytes, std::uint64_t first_sequence = 0);

  // Appends a record under the next sequence, dropping the oldest while over the bound.
  // Returns its sequence.
  std::uint64_t push(std::span<const std::byte> bytes, std::int64_t now_ns);
  // Appends a record under a sequence of its own (a spool being replayed); sequences must
  // grow.
  void push(std::uint64_t sequence, std::span<const std::byte> bytes, std::int64_t now_ns);

  // Removes every record below `next_sequence`. Returns how many.
  std::size_t acknowledge(std::uint64_t next_sequence);

  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }
  // The sequence the next push() gets.
  std::uint64_t next_sequence() const noexcept { return next_sequence_; }
  // The oldest record's sequence (next_sequence() when empty).
  std::uint64_t front_sequence() const noexcept;

  // The index of the first record at or above `sequence` (size() if none).
  std::size_t find(std::uint64_t sequence) const noexcept;
  record at(std::size_t index) const noexcept;
  // Bytes of the records below index `end`.
  std::size_t bytes_before(std::size_t end) const noexcept;

  std::uint64_t dropped() const noexcept { return dropped_; }
  std::int64_t last_drop_ns() const noexcept { return last_drop_ns_; }

 private:
  // Records are packed into chunks so that a record costs no allocation of its own; a
  // chunk is freed once its last record left.
  struct chunk {
    std::unique_ptr<std::byte[]> bytes;
    std::size_t capacity = 0;
    std::size_t used = 0;
    std::size_t live = 0;
  };
  struct entry {
    std::uint64_t sequence;
    std::uint64_t chunk_id;
    std::uint32_t offset;
    std::uint32_t size;
    std::uint64_t bytes_through;  // bytes pushed so far, this record included
  };

  void append(std::uint64_t sequence, std::span<const std::byte> bytes);
  void pop_front();

  std::size_t max_bytes_;
  std::deque<chunk> chunks_;
  std::uint64_t first_chunk_id_ = 0;
  std::deque<entry> entries_;
  std::size_t bytes_ = 0;
  std::uint64_t bytes_popped_ = 0;  // bytes_through of the last record that left
  std::uint64_t next_sequence_;
  std::uint64_t dropped_ = 0;
  std::int64_t last_drop_ns_ = 0;
};

}  // namespace logwire
