// The browser's events, kept beside the backend's records: owned by logwire::store
// (store::frontend()), in memory only (a broker restart starts it empty), within a memory
// cap of its own and the store's retention, indexed by request ID, trace ID, time and
// kind for observe's `frontend` and `timeline` modes and backend-logs' browserRequest.
//
// Exactly once: an event is known by (page id, sequence); a batch sent again after a
// lost answer, or overlapping an earlier one, stores only the events not seen before.
// Batches may arrive out of order (a beacon overtakes a fetch): each page keeps the
// ranges of sequences it has taken, not only the last.
//
// Every refusal of browser input is counted here, whoever found it: the HTTP server's
// (bad Host, bad Origin, too large, malformed JSON, not a batch) through count_refusal(),
// and the events a batch could not read when the batch is inserted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "logwire/frontend_event.h"
#include "logwire/log_record.h"
#include "logwire/query_protocol.h"

namespace logwire {

enum class frontend_refusal : std::uint8_t {
  malformed_json,  // not JSON, or not UTF-8, or nested too deep
  bad_batch,       // JSON, but not a batch (frontend_event.h)
  bad_host,        // a Host header that is not loopback (DNS rebinding)
  bad_origin,      // an Origin not allowed
  too_large,       // a body or frame over its cap
  bad_event,       // one event of a batch that could not be read
};
inline constexpr std::size_t k_frontend_refusals = 6;

// As the frontend mode's counts name them: "malformedJson", "badBatch", "badHost",
// "badOrigin", "tooLarge", "badEvent".
std::string_view frontend_refusal_name(frontend_refusal why) noexcept;

struct frontend_counts {
  std::uint64_t stored = 0;      // events kept now
  std::uint64_t taken = 0;       // events stored since the broker started
  std::uint64_t duplicates = 0;  // events sent again and not stored twice
  std::uint64_t expired = 0;     // past the retention time
  std::uint64_t evicted = 0;     // pushed out by the memory cap
  std::uint64_t pages = 0;       // pages known now
  std::array<std::uint64_t, k_frontend_refusals> refused{};  // by frontend_refusal
  std::uint64_t memory_bytes = 0;
};

// Where a page of frontend events ends: older matches than (timestamp, ordinal).
struct frontend_cursor {
  std::uint64_t store_id = 0;  // the frontend store's creation time
  std::int64_t timestamp_ns = 0;
  std::uint64_t ordinal = 0;
};
std::string format_frontend_cursor(const frontend_cursor& cursor);
std::optional<frontend_cursor> parse_frontend_cursor(std::string_view text) noexcept;

struct frontend_query {
  std::uint8_t kinds = (1u << k_frontend_kinds) - 1;  // bit per frontend_kind
  std::string url_text;  // case-insensitive (ASCII) substring of the event's URL
  // Requests with a status of at least this, or that failed without one; 0: any event.
  int min_status = 0;
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();  // inclusive
  std::int64_t until_ns = std::numeric_limits<std::int64_t>::max();  // exclusive
  std::string request_id;
  std::string trace_id;  // 32 lowercase hex digits
  std::string page_id;
  std::size_t limit = 100;
  std::optional<frontend_cursor> cursor;
};

struct frontend_result {
  std::vector<frontend_event> events;   // the newest `limit` matches (older than the cursor),
                                        // oldest first
  std::vector<std::uint64_t> ordinals;  // each event's place in the store, for cursors
  std::size_t total_count = 0;          // every match, cursor aside
  std::optional<std::int64_t> oldest_ns;
  std::optional<frontend_cursor> next;  // older matches remain
  std::uint64_t store_id = 0;           // the cursors' store
  frontend_counts counts;
};

// Thread-safety: every member may be called from any thread at any time.
class frontend_store {
 public:
  struct insert_result {
    std::size_t stored = 0;
    std::size_t duplicate = 0;
  };

  frontend_store(std::uint64_t memory_cap_bytes, std::int64_t retention_ns, std::int64_t now_ns);
  frontend_store(const frontend_store&) = delete;
  frontend_store& operator=(const frontend_store&) = delete;
  ~frontend_store();

  // Stores the events of `batch` not seen before; counts its refused events as bad_event.
  // `now_ns` (the broker's clock) drives retention.
  insert_result insert(frontend_batch&& batch, std::int64_t now_ns);
  void count_refusal(frontend_refusal why) noexcept;
  // Expires what is past retention and forgets pages quiet for as long.
  void maintain(std::int64_t now_ns);

  // A cursor_expired error when the cursor is from another store.
  broker_result_of<frontend_result> query(const frontend_query& query) const;

  // For the timeline, in time order (timestamp, then arrival), at most `limit`:
  // the events with this request ID; with this trace ID (of a valid traceparent);
  // the events in [since_ns, until_ns), of one page when `page_id` is not empty.
  std::vector<frontend_event> with_request_id(std::string_view request_id,
                                              std::size_t limit = 1000) const;
  std::vector<frontend_event> with_trace_id(std::string_view trace_id,
                                            std::size_t limit = 1000) const;
  std::vector<frontend_event> between(std::int64_t since_ns, std::int64_t until_ns,
                                      std::string_view page_id = {},
                                      std::size_t limit = 1000) const;
  // What surrounds a page's requests that start at `at_ns`: its last action (click,
  // submit) in [since_ns, at_ns], then its console errors, exceptions and rejections in
  // [at_ns, until_ns), at most `limit` of them; only these are copied out.
  std::vector<frontend_event> page_context(std::string_view page_id, std::int64_t since_ns,
                                           std::int64_t at_ns, std::int64_t until_ns,
                                           std::size_t limit) const;

  // For backend-logs: for each record, the newest browser request with its request ID as
  // "POST /api/payments/process → 500" (the URL's path and query), or empty.
  std::vector<std::string> browser_requests(std::span<const log_record> records) const;

  frontend_counts counts() const;
  std::size_t size() const;
  std::uint64_t memory_bytes() const;
  std::uint64_t store_id() const noexcept { return store_id_; }

 private:
  struct page_info {
    std::string id;
    std::string url;
    std::string session_id;
  };
  // An event as kept: its texts back to back in one string.
  enum class text_slot : std::uint8_t {
    method,
    url,
    request_id,
    traceparent,
    initiator,
    error,
    action,
    selector,
    text,
    level,
    message,
    stack,
    source,
    trace_id
  };
  static constexpr std::size_t k_text_slots = 14;
  struct stored_event {
    std::int64_t timestamp_ns;
    std::int64_t receive_ns;
    std::uint64_t sequence;
    double duration_ms;
    std::shared_ptr<const page_info> page;
    std::string texts;
    std::array<std::uint16_t, k_text_slots> ends;  // end of each text in `texts`
    std::int16_t status;
    frontend_kind kind;
    std::string_view slot(text_slot s) const noexcept {
      const auto i = static_cast<std::size_t>(s);
      const std::size_t begin = i == 0 ? 0 : ends[i - 1];
      return std::string_view(texts).substr(begin, ends[i] - begin);
    }
  };
  struct page_state {
    std::shared_ptr<const page_info> current;
    std::map<std::uint64_t, std::uint64_t> taken;  // [first, end) ranges of sequences
    std::int64_t last_seen_ns = 0;
  };
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  using id_index =
      std::unordered_map<std::string, std::vector<std::uint64_t>, name_hash, std::equal_to<>>;

  // Each requires mutex_.
  bool take_sequence(page_state& page, std::uint64_t sequence);
  void append(stored_event&& event);
  void evict_front(bool expired);
  void expire(std::int64_t now_ns);
  void forget_quiet_pages(std::int64_t now_ns);
  std::uint64_t event_bytes(const stored_event& event) const noexcept;
  frontend_event unpack(const stored_event& event) const;
  const stored_event& at(std::uint64_t ordinal) const noexcept {
    return events_[ordinal - first_ordinal_];
  }
  std::vector<frontend_event> from_index(const id_index& index, std::string_view id,
                                         std::size_t limit) const;
  frontend_counts counts_locked() const;

  const std::uint64_t memory_cap_bytes_;
  const std::int64_t retention_ns_;
  const std::uint64_t store_id_;
  mutable std::mutex mutex_;
  std::deque<stored_event> events_;  // guarded by mutex_; ordinal first_ordinal_ first
  std::uint64_t first_ordinal_ = 0;  // guarded by mutex_
  std::set<std::pair<std::int64_t, std::uint64_t>> by_time_;  // guarded by mutex_
  // The events a timeline shows around a request (actions, console errors, exceptions,
  // rejections), few in a busy page's stream of requests.
  std::set<std::pair<std::int64_t, std::uint64_t>> context_by_time_;  // guarded by mutex_
  id_index by_request_;                                               // guarded by mutex_
  id_index by_trace_;                                                 // guarded by mutex_
  std::array<std::uint64_t, k_frontend_kinds> by_kind_{};             // guarded by mutex_; kept now
  std::unordered_map<std::string, page_state, name_hash, std::equal_to<>>
      pages_;                // guarded by mutex_
  std::uint64_t bytes_ = 0;  // guarded by mutex_; events and their index entries
  frontend_counts counts_;   // guarded by mutex_; but stored, pages, memory
};

}  // namespace logwire
