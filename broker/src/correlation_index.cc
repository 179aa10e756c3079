#include "logwire/correlation_index.h"

#include <limits>

namespace logwire {

void correlation_index::add(std::uint64_t ordinal, const record_keys& keys) {
  if (links_.empty()) first_ordinal_ = ordinal;
  links entry{};
  for (std::size_t k = 0; k < k_key_kinds; ++k) {
    const std::string_view id = keys.id(static_cast<key_kind>(k));
    if (id.empty()) continue;
    const auto [slot, added] = newest_.try_emplace(key_hash(static_cast<key_kind>(k), id), ordinal);
    if (!added) {
      const std::uint64_t previous = slot->second;
      const std::uint64_t back = ordinal - previous;
      // A previous entry already evicted, or too far back to link, ends the chain.
      if (previous >= first_ordinal_ && back <= std::numeric_limits<std::uint32_t>::max()) {
        entry[k] = static_cast<std::uint32_t>(back);
      }
      slot->second = ordinal;
    }
  }
  links_.push_back(entry);
}

void correlation_index::evict_front() {
  if (links_.empty()) return;
  links_.pop_front();
  ++first_ordinal_;
  // Keys whose newest entry is gone are dropped in sweeps, each sweep paid for by the
  // evictions since the last one. Stale keys count against the store's memory cap, so a
  // sweep is due once half as many entries as are kept have gone; a floor far above a small
  // store's size would let stale keys fill the cap and push every record out.
  if (++evicted_since_sweep_ >= std::max<std::uint64_t>(links_.size() / 2, 1024)) sweep();
}

void correlation_index::sweep() {
  evicted_since_sweep_ = 0;
  const std::uint64_t first = first_ordinal_;
  boost::unordered::erase_if(newest_, [first](const auto& slot) { return slot.second < first; });
  // Give back what a burst of distinct keys grew the table to.
  if (newest_.size() < newest_.bucket_count() / 8) newest_.rehash(0);
}

std::uint64_t correlation_index::memory_bytes() const noexcept {
  // A flat map slot is the pair plus a byte of metadata; a deque keeps its blocks full.
  return newest_.bucket_count() * (sizeof(std::pair<std::uint64_t, std::uint64_t>) + 1) +
         links_.size() * sizeof(links);
}

}  // namespace logwire
