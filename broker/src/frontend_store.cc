#include "logwire/frontend_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include "logwire/traceparent.h"
#include "logwire/utf8.h"

namespace logwire {
namespace {

constexpr std::string_view k_cursor_prefix = "f1";
// A page keeps at most this many ranges of sequences taken; past it the oldest gap is
// taken as seen (events that fill it later count as duplicates). A page's batches arrive
// in order but for a beacon or a retry, so a handful is already generous.
constexpr std::size_t k_max_ranges_per_page = 64;
// Pages known at once; past it the one quiet the longest is forgotten.
constexpr std::size_t k_max_pages = 10'000;
// What the cap counts for an event besides its own struct and texts: its node in the time
// index, and an entry in an ID index with the ID's bytes.
constexpr std::uint64_t k_time_node_bytes = 64;

// Kept in context_by_time_ too: what a timeline shows around a page's requests.
bool is_context(frontend_kind kind) noexcept {
  return kind == frontend_kind::action || kind == frontend_kind::console ||
         kind == frontend_kind::exception || kind == frontend_kind::rejection;
}
constexpr std::uint64_t k_id_entry_bytes = 80;
constexpr std::uint64_t k_page_bytes = 256;
// browserRequest: the URL's path and query, cut here.
constexpr std::size_t k_max_path_bytes = 200;
constexpr std::size_t k_max_failure_bytes = 80;

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == lower(needle[j])) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

// The request ID a record gives: its own, else a string field with one of the usual names.
std::string_view request_id_of(const log_record& record) {
  if (!record.request_id.empty()) return record.request_id;
  for (const auto& [key, value] : record.fields) {
    if (key == "request_id" || key == "requestId" || key == "x-request-id" || key == "req_id" ||
        key == "reqId") {
      if (const auto* text = std::get_if<std::string>(&value)) return *text;
    }
  }
  return {};
}

}  // namespace

std::string_view frontend_refusal_name(frontend_refusal why) noexcept {
  switch (why) {
    case frontend_refusal::malformed_json:
      return "malformedJson";
    case frontend_refusal::bad_batch:
      return "badBatch";
    case frontend_refusal::bad_host:
      return "badHost";
    case frontend_refusal::bad_origin:
      return "badOrigin";
    case frontend_refusal::too_large:
      return "tooLarge";
    case frontend_refusal::bad_event:
      return "badEvent";
  }
  return "other";
}

std::string format_frontend_cursor(const frontend_cursor& cursor) {
  char text[96];
  const int n = std::snprintf(text, sizeof text, "%.*s-%llx-%llx-%llx",
                              static_cast<int>(k_cursor_prefix.size()), k_cursor_prefix.data(),
                              static_cast<unsigned long long>(cursor.store_id),
                              static_cast<unsigned long long>(cursor.timestamp_ns),
                              static_cast<unsigned long long>(cursor.ordinal));
  return std::string(text, static_cast<std::size_t>(n));
}

std::optional<frontend_cursor> parse_frontend_cursor(std::string_view text) noexcept {
  if (!text.starts_with(k_cursor_prefix) || text.size() < k_cursor_prefix.size() + 2 ||
      text[k_cursor_prefix.size()] != '-') {
    return std::nullopt;
  }
  std::uint64_t values[3];
  const char* p = text.data() + k_cursor_prefix.size() + 1;
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    const auto [next, ec] = std::from_chars(p, end, values[i], 16);
    if (ec != std::errc() || next == p) return std::nullopt;
    p = next;
    if (i < 2) {
      if (p == end || *p != '-') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return frontend_cursor{.store_id = values[0],
                         .timestamp_ns = static_cast<std::int64_t>(values[1]),
                         .ordinal = values[2]};
}

frontend_store::frontend_store(std::uint64_t memory_cap_bytes, std::int64_t retention_ns,
                               std::int64_t now_ns)
    : memory_cap_bytes_(memory_cap_bytes),
      retention_ns_(retention_ns),
      store_id_(static_cast<std::uint64_t>(now_ns)) {}

frontend_store::~frontend_store() = default;

bool frontend_store::take_sequence(page_state& page, std::uint64_t sequence) {
  auto& taken = page.taken;
  auto next = taken.upper_bound(sequence);  // the first range starting after it
  if (next != taken.begin()) {
    auto previous = std::prev(next);
    if (previous->second > sequence) return false;  // within a range taken
    if (previous->second == sequence) {
      previous->second = sequence + 1;
      if (next != taken.end() && next->first == previous->second) {
        previous->second = next->second;
        taken.erase(next);
      }
      return true;
    }
  }
  if (next != taken.end() && next->first == sequence + 1) {
    const std::uint64_t end = next->second;
    taken.erase(next);
    taken.emplace(sequence, end);
  } else {
    taken.emplace(sequence, sequence + 1);
  }
  if (taken.size() > k_max_ranges_per_page) {
    // The oldest gap is filled: the two first ranges become one.
    auto first = taken.begin();
    auto second = std::next(first);
    first->second = second->second;
    taken.erase(second);
  }
  return true;
}

std::uint64_t frontend_store::event_bytes(const stored_event& event) const noexcept {
  std::uint64_t bytes = sizeof(stored_event) + event.texts.capacity() + k_time_node_bytes;
  if (is_context(event.kind)) bytes += k_time_node_bytes;
  if (const auto id = event.slot(text_slot::request_id); !id.empty())
    bytes += k_id_entry_bytes + id.size();
  if (const auto id = event.slot(text_slot::trace_id); !id.empty())
    bytes += k_id_entry_bytes + id.size();
  return bytes;
}

frontend_store::insert_result frontend_store::insert(frontend_batch&& batch, std::int64_t now_ns) {
  insert_result result;
  const std::lock_guard lock(mutex_);
  expire(now_ns);
  counts_.refused[static_cast<std::size_t>(frontend_refusal::bad_event)] += batch.refused_events;
  if (batch.events.empty()) return result;

  auto [found, is_new] = pages_.try_emplace(batch.page_id);
  page_state& page = found->second;
  page.last_seen_ns = now_ns;
  if (is_new) {
    bytes_ += k_page_bytes + batch.page_id.size();
    if (pages_.size() > k_max_pages) {
      auto quietest = pages_.end();
      for (auto it = pages_.begin(); it != pages_.end(); ++it) {
        if (it != found &&
            (quietest == pages_.end() || it->second.last_seen_ns < quietest->second.last_seen_ns)) {
          quietest = it;
        }
      }
      bytes_ -= std::min(bytes_, k_page_bytes + quietest->first.size());
      pages_.erase(quietest);
    }
  }
  const frontend_event& head = batch.events.front();
  if (!page.current || page.current->url != head.page_url ||
      page.current->session_id != head.session_id) {
    page.current = std::make_shared<const page_info>(
        page_info{.id = batch.page_id, .url = head.page_url, .session_id = head.session_id});
  }

  for (frontend_event& e : batch.events) {
    if (!take_sequence(page, e.sequence)) {
      ++result.duplicate;
      ++counts_.duplicates;
      continue;
    }
    stored_event kept{.timestamp_ns = e.timestamp_ns,
                      .receive_ns = e.receive_ns,
                      .sequence = e.sequence,
                      .duration_ms = e.duration_ms,
                      .page = page.current,
                      .texts = {},
                      .ends = {},
                      .status = static_cast<std::int16_t>(std::clamp(e.status, 0, 999)),
                      .kind = e.kind};
    std::string_view trace_id;
    if (const auto parsed = parse_traceparent(e.traceparent)) trace_id = parsed->trace_id;
    const std::string_view texts[k_text_slots] = {
        e.method,   e.url,  e.request_id, e.traceparent, e.initiator, e.error,  e.action,
        e.selector, e.text, e.level,      e.message,     e.stack,     e.source, trace_id};
    std::size_t total = 0;
    for (const std::string_view t : texts) total += t.size();
    if (total > std::numeric_limits<std::uint16_t>::max()) {
      // Only a batch that was not decoded by decode_frontend_batch() can get here.
      ++counts_.refused[static_cast<std::size_t>(frontend_refusal::bad_event)];
      continue;
    }
    kept.texts.reserve(total);
    for (std::size_t i = 0; i < k_text_slots; ++i) {
      kept.texts += texts[i];
      kept.ends[i] = static_cast<std::uint16_t>(kept.texts.size());
    }
    append(std::move(kept));
    ++result.stored;
  }
  return result;
}

void frontend_store::append(stored_event&& event) {
  const std::uint64_t bytes = event_bytes(event);
  while (!events_.empty() && bytes_ + bytes > memory_cap_bytes_) evict_front(false);
  const std::uint64_t ordinal = first_ordinal_ + events_.size();
  by_time_.emplace(event.timestamp_ns, ordinal);
  if (is_context(event.kind)) context_by_time_.emplace(event.timestamp_ns, ordinal);
  if (const auto id = event.slot(text_slot::request_id); !id.empty()) {
    auto [entry, added] = by_request_.try_emplace(std::string(id));
    entry->second.push_back(ordinal);
  }
  if (const auto id = event.slot(text_slot::trace_id); !id.empty()) {
    auto [entry, added] = by_trace_.try_emplace(std::string(id));
    entry->second.push_back(ordinal);
  }
  ++by_kind_[static_cast<std::size_t>(event.kind)];
  bytes_ += bytes;
  ++counts_.taken;
  events_.push_back(std::move(event));
}

void frontend_store::evict_front(bool expired) {
  const stored_event& oldest = events_.front();
  const std::uint64_t ordinal = first_ordinal_;
  by_time_.erase({oldest.timestamp_ns, ordinal});
  if (is_context(oldest.kind)) context_by_time_.erase({oldest.timestamp_ns, ordinal});
  const auto forget = [ordinal](id_index& index, std::string_view id) {
    if (id.empty()) return;
    const auto found = index.find(id);
    if (found == index.end()) return;
    // Ordinals were added in order: the oldest of an ID is first.
    auto& ordinals = found->second;
    if (!ordinals.empty() && ordinals.front() == ordinal) ordinals.erase(ordinals.begin());
    if (ordinals.empty()) index.erase(found);
  };
  forget(by_request_, oldest.slot(text_slot::request_id));
  forget(by_trace_, oldest.slot(text_slot::trace_id));
  --by_kind_[static_cast<std::size_t>(oldest.kind)];
  bytes_ -= std::min(bytes_, event_bytes(oldest));
  ++(expired ? counts_.expired : counts_.evicted);
  events_.pop_front();
  ++first_ordinal_;
}

void frontend_store::expire(std::int64_t now_ns) {
  const std::int64_t horizon = now_ns - retention_ns_;
  while (!events_.empty() && events_.front().receive_ns < horizon) evict_front(true);
}

void frontend_store::forget_quiet_pages(std::int64_t now_ns) {
  const std::int64_t horizon = now_ns - retention_ns_;
  std::erase_if(pages_, [&](const auto& page) {
    if (page.second.last_seen_ns >= horizon) return false;
    bytes_ -= std::min(bytes_, k_page_bytes + page.first.size());
    return true;
  });
}

void frontend_store::count_refusal(frontend_refusal why) noexcept {
  const auto i = static_cast<std::size_t>(why);
  if (i >= k_frontend_refusals) return;
  const std::lock_guard lock(mutex_);
  ++counts_.refused[i];
}

void frontend_store::maintain(std::int64_t now_ns) {
  const std::lock_guard lock(mutex_);
  expire(now_ns);
  forget_quiet_pages(now_ns);
}

frontend_event frontend_store::unpack(const stored_event& e) const {
  frontend_event out;
  out.kind = e.kind;
  out.timestamp_ns = e.timestamp_ns;
  out.receive_ns = e.receive_ns;
  out.page_id = e.page->id;
  out.page_url = e.page->url;
  out.session_id = e.page->session_id;
  out.sequence = e.sequence;
  out.status = e.status;
  out.duration_ms = e.duration_ms;
  const std::pair<text_slot, std::string*> slots[] = {{text_slot::method, &out.method},
                                                      {text_slot::url, &out.url},
                                                      {text_slot::request_id, &out.request_id},
                                                      {text_slot::traceparent, &out.traceparent},
                                                      {text_slot::initiator, &out.initiator},
                                                      {text_slot::error, &out.error},
                                                      {text_slot::action, &out.action},
                                                      {text_slot::selector, &out.selector},
                                                      {text_slot::text, &out.text},
                                                      {text_slot::level, &out.level},
                                                      {text_slot::message, &out.message},
                                                      {text_slot::stack, &out.stack},
                                                      {text_slot::source, &out.source}};
  for (const auto& [slot, text] : slots) *text = e.slot(slot);
  return out;
}

broker_result_of<frontend_result> frontend_store::query(const frontend_query& q) const {
  const std::lock_guard lock(mutex_);
  if (q.cursor && q.cursor->store_id != store_id_) {
    return broker_error{"cursor_expired",
                        "this cursor is from a frontend store that no longer exists (the broker "
                        "started afresh)",
                        "call observe again without a cursor"};
  }
  const auto matches = [&](const stored_event& e) {
    if ((q.kinds & (1u << static_cast<unsigned>(e.kind))) == 0) return false;
    if (e.timestamp_ns < q.since_ns || e.timestamp_ns >= q.until_ns) return false;
    if (q.min_status > 0 &&
        (e.kind != frontend_kind::request || (e.status != 0 && e.status < q.min_status))) {
      return false;
    }
    if (!q.request_id.empty() && e.slot(text_slot::request_id) != q.request_id) return false;
    if (!q.trace_id.empty() && e.slot(text_slot::trace_id) != q.trace_id) return false;
    if (!q.page_id.empty() && e.page->id != q.page_id) return false;
    if (!q.url_text.empty()) {
      const bool has_url = e.kind == frontend_kind::request || e.kind == frontend_kind::page_load;
      if (!contains_ignoring_case(has_url ? e.slot(text_slot::url) : e.page->url, q.url_text))
        return false;
    }
    return true;
  };
  using key = std::pair<std::int64_t, std::uint64_t>;
  std::vector<key> found;
  const auto consider = [&](std::uint64_t ordinal) {
    if (ordinal < first_ordinal_) return;
    const stored_event& e = at(ordinal);
    if (matches(e)) found.emplace_back(e.timestamp_ns, ordinal);
  };
  const id_index* index = !q.request_id.empty() ? &by_request_
                          : !q.trace_id.empty() ? &by_trace_
                                                : nullptr;
  if (index != nullptr) {
    const auto hit = index->find(!q.request_id.empty() ? q.request_id : q.trace_id);
    if (hit != index->end()) {
      for (const std::uint64_t ordinal : hit->second) consider(ordinal);
    }
    std::sort(found.begin(), found.end());
  } else {
    const auto begin = by_time_.lower_bound({q.since_ns, 0});
    for (auto it = begin; it != by_time_.end() && it->first < q.until_ns; ++it)
      consider(it->second);
  }

  frontend_result result;
  result.store_id = store_id_;
  result.total_count = found.size();
  if (!found.empty()) result.oldest_ns = found.front().first;
  auto end = found.end();
  if (q.cursor) {
    end = std::lower_bound(found.begin(), found.end(),
                           key{q.cursor->timestamp_ns, q.cursor->ordinal});
  }
  const std::size_t available = static_cast<std::size_t>(end - found.begin());
  const std::size_t take = std::min(available, q.limit);
  const auto begin = end - static_cast<std::ptrdiff_t>(take);
  result.events.reserve(take);
  result.ordinals.reserve(take);
  for (auto it = begin; it != end; ++it) {
    result.events.push_back(unpack(at(it->second)));
    result.ordinals.push_back(it->second);
  }
  if (available > take) {
    result.next = frontend_cursor{
        .store_id = store_id_, .timestamp_ns = begin->first, .ordinal = begin->second};
  }
  result.counts = counts_locked();
  return result;
}

std::vector<frontend_event> frontend_store::from_index(const id_index& index, std::string_view id,
                                                       std::size_t limit) const {
  std::vector<std::pair<std::int64_t, std::uint64_t>> found;
  if (const auto hit = index.find(id); hit != index.end()) {
    for (const std::uint64_t ordinal : hit->second) {
      if (ordinal >= first_ordinal_) found.emplace_back(at(ordinal).timestamp_ns, ordinal);
    }
  }
  std::sort(found.begin(), found.end());
  if (found.size() > limit) found.resize(limit);
  std::vector<frontend_event> out;
  out.reserve(found.size());
  for (const auto& [stamp, ordinal] : found) out.push_back(unpack(at(ordinal)));
  return out;
}

std::vector<frontend_event> frontend_store::with_request_id(std::string_view request_id,
                                                            std::size_t limit) const {
  const std::lock_guard lock(mutex_);
  return from_index(by_request_, request_id, limit);
}

std::vector<frontend_event> frontend_store::with_trace_id(std::string_view trace_id,
                                                          std::size_t limit) const {
  const std::lock_guard lock(mutex_);
  return from_index(by_trace_, trace_id, limit);
}

std::vector<frontend_event> frontend_store::between(std::int64_t since_ns, std::int64_t until_ns,
                                                    std::string_view page_id,
                                                    std::size_t limit) const {
  const std::lock_guard lock(mutex_);
  std::vector<frontend_event> out;
  for (auto it = by_time_.lower_bound({since_ns, 0});
       it != by_time_.end() && it->first < until_ns && out.size() < limit; ++it) {
    const stored_event& e = at(it->second);
    if (!page_id.empty() && e.page->id != page_id) continue;
    out.push_back(unpack(e));
  }
  return out;
}

std::vector<frontend_event> frontend_store::page_context(std::string_view page_id,
                                                         std::int64_t since_ns, std::int64_t at_ns,
                                                         std::int64_t until_ns,
                                                         std::size_t limit) const {
  const std::lock_guard lock(mutex_);
  std::vector<frontend_event> out;
  // Only actions and errors are walked: a busy page's many requests are not.
  for (auto it = context_by_time_.upper_bound({at_ns, std::numeric_limits<std::uint64_t>::max()});
       it != context_by_time_.begin();) {
    --it;
    if (it->first < since_ns) break;
    const stored_event& e = at(it->second);
    if (e.kind == frontend_kind::action && e.page->id == page_id) {
      out.push_back(unpack(e));
      break;
    }
  }
  const std::size_t actions = out.size();
  for (auto it = context_by_time_.lower_bound({at_ns, 0});
       it != context_by_time_.end() && it->first < until_ns && out.size() - actions < limit; ++it) {
    const stored_event& e = at(it->second);
    if ((e.kind == frontend_kind::console || e.kind == frontend_kind::exception ||
         e.kind == frontend_kind::rejection) &&
        e.page->id == page_id) {
      out.push_back(unpack(e));
    }
  }
  return out;
}

std::vector<std::string> frontend_store::browser_requests(
    std::span<const log_record> records) const {
  std::vector<std::string> out(records.size());
  const std::lock_guard lock(mutex_);
  if (by_request_.empty()) return out;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::string_view id = request_id_of(records[i]);
    if (id.empty()) continue;
    const auto hit = by_request_.find(id);
    if (hit == by_request_.end()) continue;
    for (auto it = hit->second.rbegin(); it != hit->second.rend(); ++it) {
      if (*it < first_ordinal_) break;
      const stored_event& e = at(*it);
      if (e.kind != frontend_kind::request) continue;
      std::string_view url = e.slot(text_slot::url);
      if (const std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
        const std::size_t path = url.find('/', scheme + 3);
        url = path == std::string_view::npos ? std::string_view("/") : url.substr(path);
      }
      std::string line(e.slot(text_slot::method).empty() ? "GET" : e.slot(text_slot::method));
      line += ' ';
      line += utf8_prefix(url, k_max_path_bytes);
      if (url.size() > k_max_path_bytes) line += "…";
      line += " → ";
      if (e.status != 0) {
        line += std::to_string(e.status);
      } else if (const auto failure = e.slot(text_slot::error); !failure.empty()) {
        line += "failed: ";
        line += utf8_prefix(failure, k_max_failure_bytes);
      } else {
        line += "no response";
      }
      out[i] = std::move(line);
      break;
    }
  }
  return out;
}

frontend_counts frontend_store::counts_locked() const {
  frontend_counts c = counts_;
  c.stored = events_.size();
  c.pages = pages_.size();
  c.memory_bytes = bytes_;
  return c;
}

frontend_counts frontend_store::counts() const {
  const std::lock_guard lock(mutex_);
  return counts_locked();
}

std::size_t frontend_store::size() const {
  const std::lock_guard lock(mutex_);
  return events_.size();
}

std::uint64_t frontend_store::memory_bytes() const {
  const std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace logwire
