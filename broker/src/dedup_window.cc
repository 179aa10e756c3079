#include "logwire/dedup_window.h"

namespace logwire {

std::optional<std::uint64_t> dedup_window::find(std::uint64_t hash) const {
  const auto found = latest_.find(hash);
  if (found == latest_.end()) return std::nullopt;
  return found->second;
}

void dedup_window::remember(std::uint64_t hash, std::uint64_t ordinal, std::int64_t receive_ns) {
  latest_.insert_or_assign(hash, ordinal);
  order_.push_back(candidate{hash, ordinal, receive_ns});
}

void dedup_window::age(std::int64_t now_ns) {
  const std::int64_t horizon = now_ns - 2 * window_ns_;
  while (!order_.empty() && order_.front().receive_ns < horizon) {
    const candidate& oldest = order_.front();
    // A later record with the same content took its place: leave that one.
    if (const auto found = latest_.find(oldest.hash);
        found != latest_.end() && found->second == oldest.ordinal) {
      latest_.erase(found);
    }
    order_.pop_front();
  }
}

std::uint64_t dedup_window::memory_bytes() const noexcept {
  return latest_.bucket_count() * (sizeof(std::pair<std::uint64_t, std::uint64_t>) + 1) +
         order_.size() * sizeof(candidate);
}

}  // namespace logwire
