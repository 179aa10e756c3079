// store::query(): which entries match, which of them make the page, and the cursors.
#include <algorithm>
#include <charconv>
#include <queue>

#include "logwire/logwire_generated.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

constexpr std::string_view k_cursor_prefix = "c1";

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view view(const flatbuffers::String* text) noexcept {
  return text != nullptr ? text->string_view() : std::string_view();
}

// ASCII case-insensitive substring search (Horspool): the skip table is built once per
// query and every record's text is scanned with it.
class text_matcher {
 public:
  explicit text_matcher(std::string_view needle) {
    for (const char c : needle) needle_.push_back(lower(c));
    const std::size_t m = needle_.size();
    skip_.fill(m);
    for (std::size_t i = 0; i + 1 < m; ++i) {
      const auto c = static_cast<unsigned char>(needle_[i]);
      skip_[c] = m - 1 - i;
      if (c >= 'a' && c <= 'z') skip_[c - 'a' + 'A'] = m - 1 - i;
    }
  }

  bool found_in(std::string_view haystack) const noexcept {
    const std::size_t m = needle_.size();
    if (m == 0) return true;
    std::size_t at = 0;
    while (at + m <= haystack.size()) {
      std::size_t j = m;
      while (j > 0 && lower(haystack[at + j - 1]) == needle_[j - 1]) --j;
      if (j == 0) return true;
      at += skip_[static_cast<unsigned char>(haystack[at + m - 1])];
    }
    return false;
  }

 private:
  std::string needle_;
  std::array<std::size_t, 256> skip_{};
};

bool field_equals(const wire::Field& f, const field_value& wanted) {
  switch (f.kind()) {
    case wire::FieldKind::String:
      if (const auto* s = std::get_if<std::string>(&wanted)) return view(f.string_value()) == *s;
      return false;
    case wire::FieldKind::Int:
      if (const auto* i = std::get_if<std::int64_t>(&wanted)) return f.int_value() == *i;
      if (const auto* d = std::get_if<double>(&wanted))
        return static_cast<double>(f.int_value()) == *d;
      return false;
    case wire::FieldKind::Double:
      if (const auto* d = std::get_if<double>(&wanted)) return f.double_value() == *d;
      if (const auto* i = std::get_if<std::int64_t>(&wanted))
        return f.double_value() == static_cast<double>(*i);
      return false;
    case wire::FieldKind::Bool:
      if (const auto* b = std::get_if<bool>(&wanted)) return f.bool_value() == *b;
      return false;
    default:
      return false;
  }
}

broker_error expired(std::string message, std::string hint) {
  return broker_error{"cursor_expired", std::move(message), std::move(hint)};
}

}  // namespace

std::string format_cursor(const store_cursor& cursor) {
  char text[128];
  const int n = std::snprintf(text, sizeof text, "%.*s-%c-%llx-%llx-%llx-%llx",
                              static_cast<int>(k_cursor_prefix.size()), k_cursor_prefix.data(),
                              cursor.way == store_cursor::direction::older ? 'o' : 'n',
                              static_cast<unsigned long long>(cursor.store_id),
                              static_cast<unsigned long long>(cursor.watermark),
                              static_cast<unsigned long long>(cursor.timestamp_ns),
                              static_cast<unsigned long long>(cursor.position));
  return std::string(text, static_cast<std::size_t>(n));
}

std::optional<store_cursor> parse_cursor(std::string_view text) noexcept {
  if (!text.starts_with(k_cursor_prefix) || text.size() < k_cursor_prefix.size() + 4 ||
      text[k_cursor_prefix.size()] != '-' || text[k_cursor_prefix.size() + 2] != '-') {
    return std::nullopt;
  }
  store_cursor cursor;
  const char way = text[k_cursor_prefix.size() + 1];
  if (way != 'o' && way != 'n') return std::nullopt;
  cursor.way = way == 'o' ? store_cursor::direction::older : store_cursor::direction::newer;
  std::uint64_t values[4];
  const char* p = text.data() + k_cursor_prefix.size() + 3;
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    const auto [next, ec] = std::from_chars(p, end, values[i], 16);
    if (ec != std::errc() || next == p) return std::nullopt;
    p = next;
    if (i < 3) {
      if (p == end || *p != '-') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  cursor.store_id = values[0];
  cursor.watermark = values[1];
  cursor.timestamp_ns = static_cast<std::int64_t>(values[2]);
  cursor.position = values[3];
  return cursor;
}

// One query's work, under the store's lock.
class store::query_run {
  // Service and level queries follow the (service, level) chains when there are at most
  // this many to merge, and read every match when there are at most this many.
  static constexpr std::size_t k_max_chains = 64;
  static constexpr std::size_t k_read_all_matches = 256;

 public:
  query_run(const store& s, const store_query& q) : s_(s), q_(q), text_(q.text) {
    wanted_.assign(s.services_.size(), q.services.empty());
    service_mask_ = q.services.empty() ? ~std::uint64_t{0} : 0;
    for (const std::string& name : q.services) {
      if (const auto found = s.service_ids_.find(name); found != s.service_ids_.end()) {
        wanted_[found->second] = true;
        service_mask_ |= std::uint64_t{1} << (found->second % 64);
      }
    }
    level_mask_ =
        static_cast<std::uint8_t>(0x3f & ~((1u << static_cast<unsigned>(q.min_level)) - 1));
    by_id_ = !q.request_id.empty() || !q.trace_id.empty() || !q.span_id.empty() ||
             !q.session_id.empty() || !q.user_id.empty();
    reads_record_ = by_id_ || !q.text.empty() || !q.fields.empty();
    by_time_ = q.since_ns != std::numeric_limits<std::int64_t>::min() ||
               q.until_ns != std::numeric_limits<std::int64_t>::max();
  }

  broker_result_of<store_result> answer() {
    const std::uint64_t head = s_.entries_.empty() ? s_.log_.tail() : s_.entries_.front().position;
    store_result result;
    watermark_ = s_.log_.tail();
    if (q_.cursor) {
      const store_cursor& c = *q_.cursor;
      const std::string restart =
          s_.entries_.empty()
              ? std::string("call observe again without a cursor")
              : "call observe again without a cursor for the newest records; the oldest "
                "record kept now is from " +
                    format_rfc3339_ms(s_.at_ordinal(s_.first_ordinal_).timestamp_ns);
      if (c.store_id != s_.log_.created_ns()) {
        return expired(
            "this cursor is from a store that no longer exists (the broker started "
            "afresh)",
            restart);
      }
      if (c.way == store_cursor::direction::older && c.position < head) {
        return expired(
            "the records this cursor pages from were evicted (memory cap or "
            "retention) since it was given",
            restart + "; or pass until: \"" + format_rfc3339_ms(c.timestamp_ns) +
                "\" to see what is still kept before it");
      }
      if (c.way == store_cursor::direction::newer && c.watermark < head) {
        return expired(
            "records that arrived after this cursor was given were evicted (memory "
            "cap or retention) before they were read",
            restart);
      }
      if (c.way == store_cursor::direction::older) watermark_ = c.watermark;
    }

    if (by_id_) {
      from_correlation_index();
    } else if (!reads_record_ && !by_time_) {
      from_counters();
    } else {
      from_blocks();
    }

    std::vector<std::uint64_t> chosen = take_page();
    result.total_count = total_;
    if (total_ != 0) result.oldest_ns = oldest_;
    result.logs.reserve(chosen.size());
    for (const std::uint64_t ordinal : chosen) result.logs.push_back(s_.decode(ordinal));

    const std::uint64_t store_id = s_.log_.created_ns();
    result.newer_page = newer_mode();
    if (newer_mode()) {
      // Past the last record returned when the page is full, else past everything read.
      std::uint64_t after = s_.log_.tail();
      if (more_) {
        after = 0;
        for (const std::uint64_t ordinal : chosen)
          after = std::max(after, s_.at_ordinal(ordinal).position + 1);
      }
      result.newer = {store_cursor::direction::newer, store_id, after, 0, 0};
    } else {
      result.newer = {store_cursor::direction::newer, store_id, watermark_, 0, 0};
      if (more_ && !chosen.empty()) {
        const entry& oldest = s_.at_ordinal(chosen.front());
        result.next = store_cursor{store_cursor::direction::older, store_id, watermark_,
                                   oldest.timestamp_ns, oldest.position};
      }
    }
    for (const service_state& state : s_.services_) {
      if (q_.services.empty() ||
          std::find(q_.services.begin(), q_.services.end(), state.name) != q_.services.end()) {
        result.counts.push_back(state.counts);
      }
    }
    for (const std::string& name : q_.services) {
      if (!s_.service_ids_.contains(name)) result.counts.push_back({.service = name});
    }
    return result;
  }

 private:
  using key = std::pair<std::int64_t, std::uint64_t>;  // timestamp, position

  bool newer_mode() const noexcept {
    return q_.cursor && q_.cursor->way == store_cursor::direction::newer;
  }
  key key_of(std::uint64_t ordinal) const noexcept {
    const entry& e = s_.at_ordinal(ordinal);
    return {e.timestamp_ns, e.position};
  }

  // What the entry itself says: service, level, time.
  bool entry_matches(const entry& e) const noexcept {
    return wanted_[e.service] && e.severity >= q_.min_level && e.timestamp_ns >= q_.since_ns &&
           e.timestamp_ns < q_.until_ns;
  }

  // What only the record's bytes say: IDs, text, fields.
  bool record_matches(const entry& e) const {
    if (!reads_record_) return true;
    const log_entry stored = s_.log_.at(e.position);
    const auto& record = *flatbuffers::GetRoot<wire::Record>(stored.record.data());
    if (by_id_) {
      const record_keys keys(record);
      if (!q_.request_id.empty() && keys.id(key_kind::request) != q_.request_id) return false;
      if (!q_.trace_id.empty() && keys.id(key_kind::trace) != q_.trace_id) return false;
      if (!q_.span_id.empty() && keys.id(key_kind::span) != q_.span_id &&
          keys.id(key_kind::parent_span) != q_.span_id) {
        return false;
      }
      if (!q_.session_id.empty() && keys.id(key_kind::session) != q_.session_id) return false;
      if (!q_.user_id.empty() && keys.id(key_kind::user) != q_.user_id) return false;
    }
    if (!q_.text.empty() && !text_.found_in(view(record.message())) &&
        !text_.found_in(view(record.stack_trace()))) {
      return false;
    }
    for (const auto& [name, value] : q_.fields) {
      bool found = false;
      if (const auto* fields = record.fields()) {
        for (const wire::Field* f : *fields) {
          if (f->key()->string_view() == name && field_equals(*f, value)) {
            found = true;
            break;
          }
        }
      }
      if (!found) return false;
    }
    return true;
  }

  // A match: counted, and offered to the page.
  void take(std::uint64_t ordinal) {
    const key k = key_of(ordinal);
    ++total_;
    oldest_ = std::min(oldest_, k.first);
    offer(ordinal, k);
  }

  // Keeps the page's candidates: the limit + 1 best, so that one more says more remain.
  void offer(std::uint64_t ordinal, const key& k) {
    if (newer_mode()) {
      if (k.second < q_.cursor->watermark) return;
      if (page_.size() <= q_.limit || k.second < key_of(page_.top().second).second) {
        push(ordinal, {0, k.second});
      }
      return;
    }
    if (k.second >= watermark_) return;
    if (q_.cursor && k >= key{q_.cursor->timestamp_ns, q_.cursor->position}) return;
    if (page_.size() <= q_.limit || k > page_.top().first) push(ordinal, k);
  }

  void push(std::uint64_t ordinal, const key& k) {
    if (newer_mode()) {
      // Smallest positions wanted: keep a max-heap of positions by negating.
      page_.push({key{0, ~k.second}, ordinal});
    } else {
      page_.push({k, ordinal});
    }
    if (page_.size() > q_.limit + 1) page_.pop();
  }

  // The worst key the page still holds, once it is full (limit + 1).
  std::optional<key> page_floor() const {
    if (newer_mode() || page_.size() <= q_.limit) return std::nullopt;
    return page_.top().first;
  }

  void from_correlation_index() {
    std::vector<std::uint64_t> found;
    auto collect = [&](key_kind kind, const std::string& id) {
      s_.correlation_.walk(kind, id, [&](std::uint64_t ordinal) {
        found.push_back(ordinal);
        return true;
      });
    };
    if (!q_.request_id.empty()) {
      collect(key_kind::request, q_.request_id);
    } else if (!q_.trace_id.empty()) {
      collect(key_kind::trace, q_.trace_id);
    } else if (!q_.span_id.empty()) {
      collect(key_kind::span, q_.span_id);
      collect(key_kind::parent_span, q_.span_id);
      std::sort(found.begin(), found.end());
      found.erase(std::unique(found.begin(), found.end()), found.end());
    } else if (!q_.session_id.empty()) {
      collect(key_kind::session, q_.session_id);
    } else {
      collect(key_kind::user, q_.user_id);
    }
    for (const std::uint64_t ordinal : found) {
      const entry& e = s_.at_ordinal(ordinal);
      if (entry_matches(e) && record_matches(e)) take(ordinal);
    }
  }

  bool block_may_match(const block_summary& b) const noexcept {
    return (b.service_mask & service_mask_) != 0 && (b.level_mask & level_mask_) != 0 &&
           b.max_timestamp_ns >= q_.since_ns && b.min_timestamp_ns < q_.until_ns;
  }

  template <class Visit>
  void for_each_in_block(std::size_t block, Visit&& visit) const {
    const std::uint64_t first_block = s_.first_ordinal_ / k_block_entries;
    const std::uint64_t begin =
        std::max(s_.first_ordinal_, (first_block + block) * k_block_entries);
    const std::uint64_t end =
        std::min(s_.end_ordinal(), (first_block + block + 1) * k_block_entries);
    for (std::uint64_t ordinal = begin; ordinal < end; ++ordinal) visit(ordinal);
  }

  // Every block that may hold a match is read, entry by entry.
  void from_blocks() {
    for (std::size_t b = 0; b < s_.blocks_.size(); ++b) {
      if (!block_may_match(s_.blocks_[b])) continue;
      for_each_in_block(b, [&](std::uint64_t ordinal) {
        const entry& e = s_.at_ordinal(ordinal);
        if (entry_matches(e) && record_matches(e)) take(ordinal);
      });
    }
  }

  // Service and level alone: the count is kept per service and level, and the page and
  // the oldest match come from the (service, level) chains or from the blocks.
  void from_counters() {
    std::vector<std::uint64_t> heads;  // the newest entry of each chain that matches
    for (std::size_t i = 0; i < s_.services_.size(); ++i) {
      if (!wanted_[i]) continue;
      const service_state& state = s_.services_[i];
      for (auto l = static_cast<std::size_t>(q_.min_level); l < k_levels; ++l) {
        if (state.counts.by_level[l] == 0) continue;
        total_ += state.counts.by_level[l];
        heads.push_back(state.newest_ordinal[l]);
      }
    }
    if (total_ == 0) return;
    if (newer_mode()) {
      oldest_from_blocks();
      const std::uint64_t from = s_.ordinal_at_or_after(q_.cursor->watermark);
      for (std::uint64_t ordinal = from; ordinal < s_.end_ordinal(); ++ordinal) {
        if (entry_matches(s_.at_ordinal(ordinal))) {
          offer(ordinal, key_of(ordinal));
          if (page_.size() > q_.limit) break;
        }
      }
      return;
    }
    if (heads.size() > k_max_chains) {
      oldest_from_blocks();
      page_from_blocks();
      return;
    }
    // Few matches: every one is read, which gives the oldest too. Otherwise the oldest is
    // near the front of the store, and the page near its end.
    const bool read_all = total_ <= k_read_all_matches;
    if (!read_all) oldest_from_blocks();
    page_from_chains(std::move(heads), read_all);
  }

  // The oldest match: a block whose earliest time is not before the best so far cannot
  // hold an older one.
  void oldest_from_blocks() {
    const auto& blocks = s_.blocks_;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (!block_may_match(blocks[b]) || blocks[b].min_timestamp_ns >= oldest_) continue;
      for_each_in_block(b, [&](std::uint64_t ordinal) {
        const entry& e = s_.at_ordinal(ordinal);
        if (entry_matches(e)) oldest_ = std::min(oldest_, e.timestamp_ns);
      });
    }
  }

  // The page from the blocks, newest first; a block entirely older than a full page is
  // skipped.
  void page_from_blocks() {
    const auto& blocks = s_.blocks_;
    for (std::size_t b = blocks.size(); b-- > 0;) {
      if (!block_may_match(blocks[b])) continue;
      if (q_.cursor && blocks[b].min_timestamp_ns > q_.cursor->timestamp_ns) continue;
      if (const auto floor = page_floor(); floor && blocks[b].max_timestamp_ns < floor->first)
        continue;
      for_each_in_block(b, [&](std::uint64_t ordinal) {
        const entry& e = s_.at_ordinal(ordinal);
        if (entry_matches(e)) offer(ordinal, key_of(ordinal));
      });
    }
  }

  // The page from the chains, merged newest ordinal first, so that only matches are read.
  // Times are not in ordinal order (late arrivals), so the walk ends when no entry before
  // the current block can be as new as a full page's oldest; or, with `read_all`, at the
  // chains' ends, taking the oldest match on the way.
  void page_from_chains(std::vector<std::uint64_t> heads, bool read_all) {
    const auto& blocks = s_.blocks_;
    std::vector<std::int64_t> latest_up_to(blocks.size());
    std::int64_t latest = std::numeric_limits<std::int64_t>::min();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      latest = std::max(latest, blocks[b].max_timestamp_ns);
      latest_up_to[b] = latest;
    }
    const std::uint64_t first_block = s_.first_ordinal_ / k_block_entries;
    std::make_heap(heads.begin(), heads.end());
    while (!heads.empty()) {
      std::pop_heap(heads.begin(), heads.end());
      const std::uint64_t ordinal = heads.back();
      const entry& e = s_.at_ordinal(ordinal);
      if (read_all) {
        oldest_ = std::min(oldest_, e.timestamp_ns);
      } else if (const auto floor = page_floor();
                 floor && latest_up_to[ordinal / k_block_entries - first_block] < floor->first) {
        break;
      }
      offer(ordinal, key_of(ordinal));
      if (e.previous_alike != 0 && ordinal - s_.first_ordinal_ >= e.previous_alike) {
        heads.back() = ordinal - e.previous_alike;
        std::push_heap(heads.begin(), heads.end());
      } else {
        heads.pop_back();
      }
    }
  }

  // The page, in time order; sets more_ when matches remain beyond it.
  std::vector<std::uint64_t> take_page() {
    std::vector<std::uint64_t> chosen;
    chosen.reserve(page_.size());
    while (!page_.empty()) {
      chosen.push_back(page_.top().second);
      page_.pop();
    }
    // The heap gave worst first.
    std::reverse(chosen.begin(), chosen.end());
    if (chosen.size() > q_.limit) {
      // The extra one: for newer pages the latest to arrive, for the others the oldest.
      more_ = true;
      chosen.pop_back();
    }
    std::sort(chosen.begin(), chosen.end(),
              [this](std::uint64_t a, std::uint64_t b) { return key_of(a) < key_of(b); });
    return chosen;
  }

  const store& s_;
  const store_query& q_;
  text_matcher text_;
  std::vector<bool> wanted_;
  std::uint64_t service_mask_ = 0;
  std::uint8_t level_mask_ = 0;
  bool by_id_ = false;
  bool reads_record_ = false;
  bool by_time_ = false;
  std::uint64_t watermark_ = 0;
  std::size_t total_ = 0;
  std::int64_t oldest_ = std::numeric_limits<std::int64_t>::max();
  bool more_ = false;
  // Min-heap on the key (the worst kept on top).
  std::priority_queue<std::pair<key, std::uint64_t>, std::vector<std::pair<key, std::uint64_t>>,
                      std::greater<>>
      page_;
};

std::uint64_t store::ordinal_at_or_after(std::uint64_t position) const noexcept {
  const auto found =
      std::lower_bound(entries_.begin(), entries_.end(), position,
                       [](const entry& e, std::uint64_t p) { return e.position < p; });
  return first_ordinal_ + static_cast<std::uint64_t>(found - entries_.begin());
}

log_record store::decode(std::uint64_t ordinal) const {
  const entry& e = at_ordinal(ordinal);
  const log_entry stored = log_.at(e.position);
  log_record record = decode_record(stored.record, services_[e.service].name);
  record.receive_ns = stored.header->receive_ns;
  record.repeat_count = stored.header->repeat_count;
  record.last_timestamp_ns = stored.header->last_timestamp_ns;
  record.position = e.position;
  return record;
}

broker_result_of<store_result> store::query(const store_query& query) const {
  const std::lock_guard lock(mutex_);
  return query_run(*this, query).answer();
}

}  // namespace logwire
