#include "send_queue.h"

#include <algorithm>
#include <cstring>

namespace logwire {
namespace {

constexpr std::size_t k_chunk_bytes = 1024 * 1024;
constexpr std::size_t k_alignment = 8;  // records stay 8-byte aligned, as FlatBuffers wants

std::size_t aligned(std::size_t size) {
  return (size + k_alignment - 1) & ~(k_alignment - 1);
}

}  // namespace

send_queue::send_queue(std::size_t max_bytes, std::uint64_t first_sequence)
    : max_bytes_(max_bytes), next_sequence_(first_sequence) {}

std::uint64_t send_queue::front_sequence() const noexcept {
  return entries_.empty() ? next_sequence_ : entries_.front().sequence;
}

std::uint64_t send_queue::push(std::span<const std::byte> bytes, std::int64_t now_ns) {
  const std::uint64_t sequence = next_sequence_;
  push(sequence, bytes, now_ns);
  return sequence;
}

void send_queue::push(std::uint64_t sequence, std::span<const std::byte> bytes,
                      std::int64_t now_ns) {
  while (!entries_.empty() && bytes_ + bytes.size() > max_bytes_) {
    pop_front();
    ++dropped_;
    last_drop_ns_ = now_ns;
  }
  append(sequence, bytes);
  next_sequence_ = sequence + 1;
}

void send_queue::append(std::uint64_t sequence, std::span<const std::byte> bytes) {
  const std::size_t need = aligned(bytes.size());
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().used < need) {
    chunk fresh;
    fresh.capacity = std::max(k_chunk_bytes, need);
    // operator new[] for std::byte is aligned for any scalar, so offsets that are
    // multiples of 8 stay 8-aligned.
    fresh.bytes = std::make_unique_for_overwrite<std::byte[]>(fresh.capacity);
    chunks_.push_back(std::move(fresh));
  }
  chunk& tail = chunks_.back();
  std::memcpy(tail.bytes.get() + tail.used, bytes.data(), bytes.size());
  const std::uint64_t through =
      (entries_.empty() ? bytes_popped_ : entries_.back().bytes_through) + bytes.size();
  entries_.push_back(entry{.sequence = sequence,
                           .chunk_id = first_chunk_id_ + chunks_.size() - 1,
                           .offset = static_cast<std::uint32_t>(tail.used),
                           .size = static_cast<std::uint32_t>(bytes.size()),
                           .bytes_through = through});
  tail.used += need;
  ++tail.live;
  bytes_ += bytes.size();
}

void send_queue::pop_front() {
  const entry& oldest = entries_.front();
  chunk& home = chunks_[oldest.chunk_id - first_chunk_id_];
  --home.live;
  bytes_ -= oldest.size;
  bytes_popped_ = oldest.bytes_through;
  entries_.pop_front();
  // Free drained chunks from the front; the tail chunk is kept for reuse when empty.
  while (chunks_.size() > 1 && chunks_.front().live == 0) {
    chunks_.pop_front();
    ++first_chunk_id_;
  }
  if (chunks_.size() == 1 && chunks_.front().live == 0) chunks_.front().used = 0;
}

std::size_t send_queue::acknowledge(std::uint64_t next_sequence) {
  std::size_t removed = 0;
  while (!entries_.empty() && entries_.front().sequence < next_sequence) {
    pop_front();
    ++removed;
  }
  return removed;
}

std::size_t send_queue::find(std::uint64_t sequence) const noexcept {
  const auto found =
      std::lower_bound(entries_.begin(), entries_.end(), sequence,
                       [](const entry& e, std::uint64_t wanted) { return e.sequence < wanted; });
  return static_cast<std::size_t>(found - entries_.begin());
}

send_queue::record send_queue::at(std::size_t index) const noexcept {
  const entry& e = entries_[index];
  const chunk& home = chunks_[e.chunk_id - first_chunk_id_];
  return {e.sequence, {home.bytes.get() + e.offset, e.size}};
}

std::size_t send_queue::bytes_before(std::size_t end) const noexcept {
  if (end == 0) return 0;
  return static_cast<std::size_t>(entries_[end - 1].bytes_through - bytes_popped_);
}

}  // namespace logwire
