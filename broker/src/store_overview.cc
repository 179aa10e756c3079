// store::services(), store::summary() and store::record_by_id(): observe's overview of
// what the store holds, and one record by its id. Each answers from what the store keeps
// beside the records (per-service state, block summaries, chains) and decodes only the
// few records it returns.
#include <algorithm>
#include <limits>
#include <vector>

#include "logwire/logwire_generated.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

// A summary reads the records of the blocks its window cuts through (the tables count
// whole blocks) up to this many entries; past it, those blocks are left out of the
// repeated messages' counts, which stay lower bounds.
constexpr std::uint64_t k_max_exact_entries = 16'384;

// The repeats of one message, summed over blocks, in an open-addressing table: a summary
// merges tens of thousands of slots, and a node-based map spent most of its time
// allocating them.
class repeat_table {
 public:
  struct merged {
    std::uint64_t key = 0;  // 0: free
    std::uint64_t count = 0;
    std::uint64_t newest_ordinal = 0;  // the newest record known to have the message
  };

  explicit repeat_table(std::size_t expected) {
    std::size_t capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    slots_.resize(capacity);
  }

  void add(std::uint64_t key, std::uint64_t count, std::uint64_t ordinal) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    merged& m = find(key);
    if (m.key == 0) {
      m.key = key;
      ++size_;
    }
    m.count += count;
    m.newest_ordinal = std::max(m.newest_ordinal, ordinal);
  }

  const std::vector<merged>& slots() const noexcept { return slots_; }

 private:
  merged& find(std::uint64_t key) {
    const std::size_t mask = slots_.size() - 1;
    // Keys are hashes already; their high bits pick the slot.
    for (std::size_t i = static_cast<std::size_t>(key >> 20) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key || slots_[i].key == 0) return slots_[i];
    }
  }

  void grow() {
    std::vector<merged> old(slots_.size() * 2);
    old.swap(slots_);
    for (const merged& m : old) {
      if (m.key != 0) find(m.key) = m;
    }
  }

  std::vector<merged> slots_;
  std::size_t size_ = 0;
};

}  // namespace

std::vector<service_overview> store::services(const std::vector<std::string>& only) const {
  const std::lock_guard lock(mutex_);
  std::vector<service_overview> out;
  const auto add = [&out](const service_state& s) {
    out.push_back(service_overview{.counts = s.counts,
                                   .producers = static_cast<std::uint32_t>(s.connected.size()),
                                   .transport = s.transport,
                                   .host = s.host,
                                   .language = s.language,
                                   .library_version = s.library_version,
                                   .app_version = s.app_version,
                                   .first_seen_ns = s.first_seen_ns,
                                   .last_seen_ns = s.last_seen_ns});
  };
  if (only.empty()) {
    out.reserve(services_.size());
    for (const service_state& s : services_) add(s);
  } else {
    for (const std::string& name : only) {
      if (const auto found = service_ids_.find(name); found != service_ids_.end())
        add(services_[found->second]);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const service_overview& a, const service_overview& b) {
                     return a.last_seen_ns > b.last_seen_ns;
                   });
  return out;
}

broker_result_of<log_record> store::record_by_id(std::uint64_t position) const {
  const std::lock_guard lock(mutex_);
  const std::uint64_t ordinal = ordinal_at_or_after(position);
  if (ordinal < end_ordinal() && at_ordinal(ordinal).position == position) return decode(ordinal);
  const std::string id = std::to_string(position);
  std::string message;
  if (!entries_.empty() && position < entries_.front().position) {
    message = "record " + id +
              " is no longer kept: it was evicted (memory cap or retention) since it was given";
  } else {
    message = "no record has id " + id + " (an id is the \"id\" of a record in an observe answer)";
  }
  std::string hint = "find it again with observe {what: \"backend-logs\"} and its filters";
  if (!entries_.empty()) {
    hint += "; the oldest record kept now is from " +
            format_rfc3339_ms(entries_.front().timestamp_ns) + " (id " +
            std::to_string(entries_.front().position) + ")";
  }
  return broker_error{"not_found", std::move(message), std::move(hint)};
}

store_summary store::summary(const summary_query& q) const {
  const std::lock_guard lock(mutex_);
  store_summary out;
  std::vector<bool> wanted(services_.size(), q.services.empty());
  std::uint64_t service_mask = q.services.empty() ? ~std::uint64_t{0} : 0;
  for (const std::string& name : q.services) {
    if (const auto found = service_ids_.find(name); found != service_ids_.end()) {
      wanted[found->second] = true;
      service_mask |= std::uint64_t{1} << (found->second % 64);
    }
  }
  const bool windowed = q.since_ns != std::numeric_limits<std::int64_t>::min() ||
                        q.until_ns != std::numeric_limits<std::int64_t>::max();
  const auto in_window = [&q](std::int64_t t) { return t >= q.since_ns && t < q.until_ns; };
  const auto may_match = [&](const block_summary& b) {
    return (b.service_mask & service_mask) != 0 && b.max_timestamp_ns >= q.since_ns &&
           b.min_timestamp_ns < q.until_ns;
  };
  const std::uint64_t first_block = first_ordinal_ / k_block_entries;
  const auto block_begin = [&](std::size_t b) {
    return std::max(first_ordinal_, (first_block + b) * k_block_entries);
  };
  const auto block_end = [&](std::size_t b) {
    return std::min(end_ordinal(), (first_block + b + 1) * k_block_entries);
  };
  std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();

  // Counts by service and level. Without a window they are the services' counters, and
  // the oldest and newest entries are near the ends: blocks that cannot beat the best so
  // far are passed over. With one, the entries of the blocks it touches are read (32
  // bytes each, no record).
  std::vector<std::array<std::uint64_t, k_levels>> counts(services_.size());
  if (!windowed) {
    for (std::size_t i = 0; i < services_.size(); ++i) {
      if (wanted[i]) counts[i] = services_[i].counts.by_level;
    }
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      if (!may_match(blocks_[b]) || blocks_[b].min_timestamp_ns >= oldest) continue;
      for (std::uint64_t o = block_begin(b); o < block_end(b); ++o) {
        if (wanted[at_ordinal(o).service]) oldest = std::min(oldest, at_ordinal(o).timestamp_ns);
      }
    }
    for (std::size_t b = blocks_.size(); b-- > 0;) {
      if (!may_match(blocks_[b]) || blocks_[b].max_timestamp_ns <= newest) continue;
      for (std::uint64_t o = block_begin(b); o < block_end(b); ++o) {
        if (wanted[at_ordinal(o).service]) newest = std::max(newest, at_ordinal(o).timestamp_ns);
      }
    }
  } else {
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      if (!may_match(blocks_[b])) continue;
      for (std::uint64_t o = block_begin(b); o < block_end(b); ++o) {
        const entry& e = at_ordinal(o);
        if (!wanted[e.service] || !in_window(e.timestamp_ns)) continue;
        ++counts[e.service][static_cast<std::size_t>(e.severity)];
        oldest = std::min(oldest, e.timestamp_ns);
        newest = std::max(newest, e.timestamp_ns);
      }
    }
  }
  for (std::size_t i = 0; i < services_.size(); ++i) {
    std::uint64_t total = 0;
    for (const std::uint64_t n : counts[i]) total += n;
    if (total == 0) continue;
    out.total_count += total;
    out.by_service.emplace_back(services_[i].name, counts[i]);
  }
  std::stable_sort(out.by_service.begin(), out.by_service.end(), [](const auto& a, const auto& b) {
    std::uint64_t ta = 0, tb = 0;
    for (const std::uint64_t n : a.second) ta += n;
    for (const std::uint64_t n : b.second) tb += n;
    return ta > tb;
  });
  if (out.total_count != 0) {
    out.oldest_ns = oldest;
    out.newest_ns = newest;
  }

  // The most repeated messages: the tables of the blocks inside the window, merged; the
  // records of the blocks its edges cut through, read.
  repeat_table merged(blocks_.size() * 4);
  std::uint64_t exact_budget = k_max_exact_entries;
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    const block_summary& block = blocks_[b];
    if (!may_match(block)) continue;
    const std::uint64_t base = (first_block + b) * k_block_entries;
    if (in_window(block.min_timestamp_ns) && in_window(block.max_timestamp_ns)) {
      for (const repeat_slot& slot : block.repeats) {
        if (slot.count <= slot.error || !wanted[slot.service]) continue;
        merged.add(slot.key, slot.count - slot.error, base + slot.offset);
      }
      continue;
    }
    const std::uint64_t begin = block_begin(b);
    const std::uint64_t end = block_end(b);
    if (end - begin > exact_budget) continue;
    exact_budget -= end - begin;
    for (std::uint64_t o = begin; o < end; ++o) {
      const entry& e = at_ordinal(o);
      if (e.kind != static_cast<std::uint8_t>(entry_kind::record) || !wanted[e.service] ||
          !in_window(e.timestamp_ns)) {
        continue;
      }
      const log_entry stored = log_.at(e.position);
      const auto& record = *flatbuffers::GetRoot<wire::Record>(stored.record.data());
      const std::string_view message =
          record.message() != nullptr ? record.message()->string_view() : std::string_view();
      merged.add(repeat_key(message, e.service, e.severity), stored.header->repeat_count, o);
    }
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranked;  // count, newest ordinal
  for (const auto& m : merged.slots()) {
    if (m.count >= 2) ranked.emplace_back(m.count, m.newest_ordinal);
  }
  const std::size_t top = std::min(q.repeated, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(top), ranked.end(),
                    std::greater<>());
  for (std::size_t i = 0; i < top; ++i) {
    out.repeated.push_back({.count = ranked[i].first, .sample = decode(ranked[i].second)});
  }

  // The newest errors: the (service, ERROR) and (service, FATAL) chains merged, newest
  // ordinal first, so that only errors are read. Times are not in ordinal order (late
  // arrivals): the walk ends when no entry before the current block can be as new as the
  // oldest of a full list.
  for (std::size_t i = 0; i < services_.size(); ++i) {
    for (const level l : {level::error, level::fatal}) {
      out.error_count += counts[i][static_cast<std::size_t>(l)];
    }
  }
  if (q.newest_errors != 0 && out.error_count != 0) {
    std::vector<std::uint64_t> heads;
    for (std::size_t i = 0; i < services_.size(); ++i) {
      if (!wanted[i]) continue;
      for (const level l : {level::error, level::fatal}) {
        if (services_[i].counts.by_level[static_cast<std::size_t>(l)] != 0)
          heads.push_back(services_[i].newest_ordinal[static_cast<std::size_t>(l)]);
      }
    }
    std::vector<std::int64_t> latest_up_to(blocks_.size());
    std::int64_t latest = std::numeric_limits<std::int64_t>::min();
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      latest = std::max(latest, blocks_[b].max_timestamp_ns);
      latest_up_to[b] = latest;
    }
    using key = std::pair<std::int64_t, std::uint64_t>;  // timestamp, position
    std::vector<std::pair<key, std::uint64_t>> best;     // a min-heap of the newest
    std::make_heap(heads.begin(), heads.end());
    while (!heads.empty()) {
      std::pop_heap(heads.begin(), heads.end());
      const std::uint64_t o = heads.back();
      const entry& e = at_ordinal(o);
      if (best.size() == q.newest_errors &&
          latest_up_to[o / k_block_entries - first_block] < best.front().first.first) {
        break;
      }
      if (in_window(e.timestamp_ns)) {
        best.push_back({{e.timestamp_ns, e.position}, o});
        std::push_heap(best.begin(), best.end(), std::greater<>());
        if (best.size() > q.newest_errors) {
          std::pop_heap(best.begin(), best.end(), std::greater<>());
          best.pop_back();
        }
      }
      if (e.previous_alike != 0 && o - first_ordinal_ >= e.previous_alike) {
        heads.back() = o - e.previous_alike;
        std::push_heap(heads.begin(), heads.end());
      } else {
        heads.pop_back();
      }
    }
    std::sort(best.begin(), best.end(), std::greater<>());
    for (const auto& [k, o] : best) out.newest_errors.push_back(decode(o));
  }
  return out;
}

}  // namespace logwire
