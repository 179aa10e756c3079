// The store's correlation indexes: for each kind of ID (key_kind), the records that carry
// a given value, newest first, in a few bytes per record.
//
// A hash table maps (kind, hash of the value) to the newest record's ordinal; each record
// keeps, per kind, the distance back to the previous record with the same hash. A walk
// follows those links and stops at the first ordinal that is no longer retained, so an
// evicted record is never returned. Two values may share a hash: the caller compares
// the value of each record it is given.
//
// Ordinals are dense: the store numbers its entries as it appends them.
#pragma once

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>

#include "logwire/record_keys.h"

namespace logwire {

// Thread-safety: none; the store's lock guards it.
class correlation_index {
 public:
  // Indexes the entry `ordinal`, one past the last added (or the first, when empty).
  void add(std::uint64_t ordinal, const record_keys& keys);
  // Forgets the oldest entry.
  void evict_front();
  std::uint64_t first_ordinal() const noexcept { return first_ordinal_; }

  // Calls visit(ordinal) for each retained entry whose `kind` ID hashes like `id`,
  // newest first, until visit returns false.
  template <class Visit>
  void walk(key_kind kind, std::string_view id, Visit&& visit) const {
    const auto found = newest_.find(key_hash(kind, id));
    if (found == newest_.end()) return;
    std::uint64_t ordinal = found->second;
    const auto k = static_cast<std::size_t>(kind);
    while (ordinal >= first_ordinal_) {
      if (!visit(ordinal)) return;
      const std::uint32_t back = links_[ordinal - first_ordinal_][k];
      if (back == 0) return;
      ordinal -= back;
    }
  }

  std::uint64_t memory_bytes() const noexcept;

 private:
  using links = std::array<std::uint32_t, k_key_kinds>;  // 0: no earlier entry
  void sweep();

  boost::unordered_flat_map<std::uint64_t, std::uint64_t> newest_;
  std::deque<links> links_;
  std::uint64_t first_ordinal_ = 0;
  std::uint64_t evicted_since_sweep_ = 0;
};

}  // namespace logwire
