// store::records_without_ids(): the timeline's candidates for an inferred join, read in
// place under the store's lock. Most records carry a request ID: index() marks each entry
// that has one and each block that holds a record without, so a window of tens of
// thousands of records costs a look at its blocks and at the entries of the few without.
#include "logwire/logwire_generated.h"
#include "logwire/store.h"

namespace logwire {

std::vector<log_record> store::records_without_ids(
    std::int64_t since_ns, std::int64_t until_ns, std::size_t limit,
    const std::function<bool(const wire::Record&, std::string_view service)>& keep) const {
  std::vector<log_record> out;
  if (limit == 0 || since_ns >= until_ns) return out;
  const std::lock_guard lock(mutex_);
  std::vector<std::pair<std::int64_t, std::uint64_t>> found;  // timestamp, ordinal
  const std::uint64_t first_block = first_ordinal_ / k_block_entries;
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    const block_summary& block = blocks_[b];
    if (!block.any_without_ids || block.max_timestamp_ns < since_ns ||
        block.min_timestamp_ns >= until_ns) {
      continue;
    }
    const std::uint64_t begin = std::max(first_ordinal_, (first_block + b) * k_block_entries);
    const std::uint64_t end = std::min(end_ordinal(), (first_block + b + 1) * k_block_entries);
    for (std::uint64_t ordinal = begin; ordinal < end; ++ordinal) {
      const entry& e = at_ordinal(ordinal);
      if (e.has_ids || e.kind != static_cast<std::uint8_t>(entry_kind::record) ||
          e.timestamp_ns < since_ns || e.timestamp_ns >= until_ns) {
        continue;
      }
      const log_entry stored = log_.at(e.position);
      const auto& record = *flatbuffers::GetRoot<wire::Record>(stored.record.data());
      if (!keep(record, services_[e.service].name)) continue;
      found.emplace_back(e.timestamp_ns, ordinal);
    }
  }
  std::sort(found.begin(), found.end());
  if (found.size() > limit) found.resize(limit);
  out.reserve(found.size());
  for (const auto& [stamp, ordinal] : found) out.push_back(decode(ordinal));
  return out;
}

}  // namespace logwire
