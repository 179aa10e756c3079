#include "logwire/dedup_window.h"

#include <algorithm>

namespace logwire {

std::optional<std::uint64_t> dedup_window::find(std::uint64_t hash) const {
  const auto found = latest_.find(hash);
  if (found == latest_.end()) return std::nullopt;
  return found->second;
}

void dedup_window::remember(std::uint64_t hash, std::uint64_t ordinal, std::int64_t timestamp_ns,
                            std::int64_t receive_ns) {
  latest_.insert_or_assign(hash, ordinal);
  order_.push_back(candidate{hash, ordinal, std::min(timestamp_ns, receive_ns), receive_ns});
}

void dedup_window::saw(std::int64_t timestamp_ns, std::int64_t receive_ns) noexcept {
  frontier_ns_ = std::max(frontier_ns_, std::min(timestamp_ns, receive_ns));
}

void dedup_window::age(std::int64_t now_ns) {
  const std::int64_t received_before = now_ns - 2 * window_ns_;
  const std::int64_t logged_before = frontier_ns_ == std::numeric_limits<std::int64_t>::min()
                                         ? frontier_ns_
                                         : frontier_ns_ - 2 * window_ns_;
  const std::int64_t kept_at_most_since = received_before - k_lag_allowance_ns;
  // Receive order: a candidate the frontier still holds holds those behind it until it
  // goes, k_lag_allowance_ns at most.
  while (!order_.empty()) {
    const candidate& oldest = order_.front();
    const bool gone =
        (oldest.receive_ns < received_before && oldest.timestamp_ns < logged_before) ||
        oldest.receive_ns < kept_at_most_since;
    if (!gone) break;
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
