#include "logwire/record_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace logwire {
namespace {

constexpr std::uint16_t k_entry_type_record = 1;
constexpr std::uint16_t k_entry_type_padding = 2;

constexpr std::uint64_t align8(std::uint64_t n) noexcept {
  return (n + 7) & ~std::uint64_t{7};
}

// Evicted memory goes back in chunks of this size: one madvise call per chunk.
constexpr std::uint64_t k_release_chunk = 1ull << 20;
static_assert(k_release_chunk <= k_log_min_capacity);

}  // namespace

record_log::record_log(shm_segment segment, bool recovered)
    : segment_(std::move(segment)),
      header_(std::launder(reinterpret_cast<log_header*>(segment_.bytes().data()))),
      data_(segment_.bytes().data() + k_log_header_size),
      capacity_(header_->capacity),
      mask_(header_->capacity - 1),
      released_(header_->head.load(std::memory_order_relaxed) & ~(k_release_chunk - 1)),
      recovered_(recovered) {}

result<record_log> record_log::open(const std::string& segment_name, std::uint64_t capacity,
                                    std::int64_t now_ns) {
  capacity = std::bit_floor(std::clamp(capacity, k_log_min_capacity, k_log_max_capacity));
  const std::size_t size = k_log_header_size + static_cast<std::size_t>(capacity);

  auto existing = shm_segment::open(segment_name);
  if (existing) {
    const auto bytes = existing->bytes();
    const auto* header = std::launder(reinterpret_cast<const log_header*>(bytes.data()));
    if (bytes.size() == size && header->magic.load(std::memory_order_acquire) == k_log_magic &&
        header->version == k_log_version && header->header_size == k_log_header_size &&
        header->capacity == capacity) {
      record_log log(std::move(*existing), true);
      log.validate();
      return log;
    }
    // Another layout or size: its entries cannot be read as this version's, start afresh.
    shm_segment::remove(segment_name);
  } else if (existing.error().code != errc::not_found) {
    return existing.error();
  }

  auto created = shm_segment::create(segment_name, size);
  if (!created) return created.error();
  auto* header = new (created->bytes().data()) log_header{};
  header->version = k_log_version;
  header->header_size = static_cast<std::uint32_t>(k_log_header_size);
  header->capacity = capacity;
  header->created_ns = static_cast<std::uint64_t>(now_ns);
  header->head.store(0, std::memory_order_relaxed);
  header->tail.store(0, std::memory_order_relaxed);
  header->magic.store(k_log_magic, std::memory_order_release);
  return record_log(std::move(*created), false);
}

std::uint64_t record_log::used_bytes() const noexcept {
  return tail() - head();
}

log_entry record_log::at(std::uint64_t position) const noexcept {
  std::byte* frame = data_ + (position & mask_);
  auto* header = reinterpret_cast<log_entry_header*>(frame);
  const std::size_t service_bytes = align8(header->service_length);
  const std::size_t record_offset = sizeof(log_entry_header) + service_bytes;
  return log_entry{.position = position,
                   .header = header,
                   .service = {reinterpret_cast<const char*>(frame + sizeof(log_entry_header)),
                               header->service_length},
                   .record = {frame + record_offset, header->length - record_offset}};
}

std::uint64_t record_log::next_position(std::uint64_t position) const noexcept {
  const auto* header = reinterpret_cast<const log_entry_header*>(data_ + (position & mask_));
  return position + align8(header->length);
}

std::uint64_t record_log::frame_bytes(std::size_t service_length,
                                      std::size_t record_size) noexcept {
  service_length = std::min<std::size_t>(service_length, 0xffff);
  return align8(sizeof(log_entry_header) + align8(service_length) + record_size);
}

void record_log::release_evicted() noexcept {
  const std::uint64_t head = this->head();
  const std::uint64_t tail = this->tail();
  while (released_ + k_release_chunk <= head) {
    // A chunk the tail has already come round to again holds live entries: leave it.
    if (tail <= released_ + capacity_) {
      ::madvise(data_ + (released_ & mask_), k_release_chunk, MADV_REMOVE);
    }
    released_ += k_release_chunk;
  }
}

std::optional<std::uint64_t> record_log::append(
    const entry_meta& meta, std::span<const std::byte> record,
    const std::function<void(const log_entry&)>& on_evict) {
  const std::size_t service_length = std::min<std::size_t>(meta.service.size(), 0xffff);
  const std::uint64_t length = sizeof(log_entry_header) + align8(service_length) + record.size();
  const std::uint64_t frame = align8(length);
  if (frame > capacity_ / 4) return std::nullopt;

  std::uint64_t tail = header_->tail.load(std::memory_order_relaxed);
  std::uint64_t padding = 0;
  for (;;) {
    const std::uint64_t index = tail & mask_;
    const std::uint64_t to_end = capacity_ - index;
    padding = frame > to_end ? to_end : 0;
    if (capacity_ - (tail - header_->head.load(std::memory_order_relaxed)) >= padding + frame)
      break;
    evict_oldest(on_evict);
  }
  if (padding != 0) {
    // As little as 8 bytes may be left before the end: a padding frame is its length and
    // type only, never a whole entry header.
    auto* pad = reinterpret_cast<log_entry_header*>(data_ + (tail & mask_));
    pad->length = static_cast<std::uint32_t>(padding);
    pad->type = k_entry_type_padding;
    tail += padding;
  }
  std::byte* out = data_ + (tail & mask_);
  *reinterpret_cast<log_entry_header*>(out) =
      log_entry_header{.length = static_cast<std::uint32_t>(length),
                       .type = k_entry_type_record,
                       .service_length = static_cast<std::uint16_t>(service_length),
                       .receive_ns = meta.receive_ns,
                       .instance_hi = meta.instance.hi,
                       .instance_lo = meta.instance.lo,
                       .sequence = meta.sequence,
                       .kind = static_cast<std::uint32_t>(meta.kind),
                       .repeat_count = 1,
                       .last_timestamp_ns = 0};
  if (service_length != 0) {
    std::memcpy(out + sizeof(log_entry_header), meta.service.data(), service_length);
  }
  if (!record.empty()) {
    std::memcpy(out + sizeof(log_entry_header) + align8(service_length), record.data(),
                record.size());
  }
  // The entry exists for a later reader (even after a crash) only once the tail says so.
  header_->tail.store(tail + frame, std::memory_order_release);
  return tail;
}

bool record_log::evict_oldest(const std::function<void(const log_entry&)>& on_evict) {
  std::uint64_t head = header_->head.load(std::memory_order_relaxed);
  const std::uint64_t tail = header_->tail.load(std::memory_order_relaxed);
  if (head == tail) return false;
  const auto* frame = reinterpret_cast<const log_entry_header*>(data_ + (head & mask_));
  if (frame->type != k_entry_type_padding && on_evict) on_evict(at(head));
  head += align8(frame->length);
  // Stored before the freed space is written again (and kept before those writes).
  header_->head.store(head, std::memory_order_release);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return true;
}

void record_log::for_each(const std::function<void(const log_entry&)>& visit) const {
  const std::uint64_t tail = this->tail();
  for (std::uint64_t position = head(); position != tail; position = next_position(position)) {
    const auto* frame = reinterpret_cast<const log_entry_header*>(data_ + (position & mask_));
    if (frame->type == k_entry_type_record) visit(at(position));
  }
}

std::uint64_t record_log::validate() noexcept {
  const std::uint64_t head = header_->head.load(std::memory_order_acquire);
  const std::uint64_t tail = header_->tail.load(std::memory_order_acquire);
  if (tail < head || tail - head > capacity_ || head % 8 != 0 || tail % 8 != 0) {
    header_->head.store(tail, std::memory_order_release);
    return 0;
  }
  std::uint64_t position = head;
  while (position != tail) {
    const std::uint64_t index = position & mask_;
    const auto* frame = reinterpret_cast<const log_entry_header*>(data_ + index);
    const std::uint64_t size = align8(frame->length);
    const bool padding_ok = frame->type == k_entry_type_padding && size == capacity_ - index;
    const bool record_ok =
        frame->type == k_entry_type_record &&
        frame->length >= sizeof(log_entry_header) + align8(frame->service_length) &&
        size <= capacity_ - index;
    if ((!padding_ok && !record_ok) || size == 0 || size > tail - position) break;
    position += size;
  }
  // Whatever follows a frame that cannot be is cut off rather than misread.
  header_->tail.store(position, std::memory_order_release);
  return tail - position;
}

}  // namespace logwire
