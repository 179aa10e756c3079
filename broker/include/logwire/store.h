// The broker's record store: every record the broker has taken, kept as its verified
// FlatBuffers bytes in a record_log that outlives the broker process, indexed for the
// agent's questions.
//
// Ingest pipeline, in this order (insert()):
//   1. Exactly once: every entry carries its producer instance and a sequence number that
//      only grows (a ring position, an envelope sequence, a drop count); an entry whose
//      sequence is not above the last one taken for its instance and kind is a duplicate.
//   2. Burst dedup (dedup_window): a record identical to one stored within the window
//      (by the backend's timestamps) from the same service, in everything but its
//      timestamp, is folded into the stored one: repeat_count and last_timestamp_ns.
//   3. Rate limit (rate_limiter): a token bucket per service; records past it are
//      dropped, counted, and stated by one marker entry per service per interval.
//   4. Retention: entries older than `retention` (by receive time) expire; under the
//      memory cap (records and indexes together) the oldest are evicted first.
//   5. Indexes: correlation IDs (correlation_index), and per-block summaries of time,
//      services and levels that let a query skip what cannot match.
// The broker's own notes (connected, dropped, ...) skip steps 2 and 3.
//
// Every entry has a position in the record log that only grows and survives a broker
// restart; cursors are made of positions, and a record's id is its position.
//
// For observe's overview modes (store_overview.cc) the store also keeps, per service, what
// the producers' lifecycle notes said (connected now, transport, versions) and when it was
// first and last seen; and per block of entries a small table of the messages repeated
// most, so that a summary reads tables rather than every record's text.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "logwire/correlation_index.h"
#include "logwire/dedup_window.h"
#include "logwire/frontend_store.h"
#include "logwire/level.h"
#include "logwire/log_record.h"
#include "logwire/query_protocol.h"
#include "logwire/rate_limiter.h"
#include "logwire/record_encoder.h"
#include "logwire/record_log.h"
#include "logwire/runtime_dir.h"

namespace logwire {

inline constexpr std::int64_t k_ns_per_second = 1'000'000'000;

struct store_options {
  // Records and indexes together; the record log takes the largest power of two that fits.
  std::uint64_t memory_cap_bytes = 256ull * 1024 * 1024;
  std::int64_t retention_ns = 3600 * k_ns_per_second;
  std::int64_t dedup_window_ns = 2 * k_ns_per_second;  // 0: no dedup
  rate_limits rate;
  // The browser's events (frontend_store), apart from the records' cap; same retention.
  std::uint64_t frontend_memory_cap_bytes = 32ull * 1024 * 1024;
};

// Where a page of a result ends, so the next call goes on from there. Opaque to clients
// (format_cursor/parse_cursor); made of record-log positions, which survive a restart.
struct store_cursor {
  enum class direction : std::uint8_t {
    older,  // the matches just older (by timestamp) than `timestamp_ns`/`position`
    newer,  // the matches that arrived after `watermark`
  };
  direction way = direction::older;
  std::uint64_t store_id = 0;   // the record log's creation time: a new store, a new id
  std::uint64_t watermark = 0;  // the log's tail when the first page was answered
  std::int64_t timestamp_ns = 0;
  std::uint64_t position = 0;
};

std::string format_cursor(const store_cursor& cursor);
std::optional<store_cursor> parse_cursor(std::string_view text) noexcept;

struct store_query {
  std::vector<std::string> services;  // empty: every service
  level min_level = level::trace;
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();  // inclusive
  std::int64_t until_ns = std::numeric_limits<std::int64_t>::max();  // exclusive
  std::string request_id;
  std::string trace_id;  // 32 lowercase hex digits
  std::string span_id;   // the record's span ID, or the parent ID of its traceparent
  std::string session_id;
  std::string user_id;
  std::string text;  // case-insensitive (ASCII) substring of message or stack trace
  std::vector<std::pair<std::string, field_value>> fields;  // each must be equal
  std::size_t limit = 100;
  std::optional<store_cursor> cursor;
};

// Counts of one service since the broker started. `stored`, `expired` and `evicted`
// count the backend's records only, so that they add up with what it logged;
// `by_level` counts every entry retained now, the broker's notes too, as queries see them.
struct service_counts {
  std::string service;
  std::uint64_t stored = 0;                        // records retained now
  std::array<std::uint64_t, k_levels> by_level{};  // entries retained now, by level
  std::uint64_t deduplicated = 0;                  // records folded into an earlier identical one
  std::uint64_t rate_limited = 0;                  // records dropped by the rate limit
  std::uint64_t expired = 0;                       // past the retention time
  std::uint64_t evicted = 0;                       // pushed out by the memory cap
  std::uint64_t dropped = 0;  // lost before the broker: producers' own drop notes
};

struct store_result {
  // Without a cursor or with an `older` one: the newest `limit` matches (older than the
  // cursor), oldest first. With a `newer` one: the first `limit` matches that arrived
  // after it, in time order.
  std::vector<log_record> logs;
  std::size_t total_count = 0;            // every match of the filters, cursor aside
  std::optional<std::int64_t> oldest_ns;  // timestamp of the oldest match
  std::optional<store_cursor> next;       // older matches remain: page on with this
  store_cursor newer;                     // what arrives after this answer
  bool newer_page = false;                // answered a `newer` cursor
  std::vector<service_counts> counts;     // the services asked for, else every service
};

// What the store knows of one service (observe's `services` mode).
struct service_overview {
  service_counts counts;
  std::uint32_t producers = 0;  // producer instances connected now (connected, not yet closed)
  // From the newest connected note: how that producer reached the broker ("shared-memory"
  // or "zeromq"), its host, and the producer library's language and version.
  std::string transport;
  std::string host;
  std::string language;
  std::string library_version;
  // The newest value the first record of a producer instance of the service gave in a
  // field k_app_version_fields names.
  std::string app_version;
  std::int64_t first_seen_ns = 0;  // broker receive times of its first and last entry
  std::int64_t last_seen_ns = 0;
};

// Fields whose string value a backend gives as its own version (OpenTelemetry's
// service.version and the usual spellings).
inline constexpr std::array<std::string_view, 6> k_app_version_fields = {
    "service.version", "service_version", "serviceVersion",
    "app.version",     "app_version",     "appVersion"};

// observe's `summary` mode: a window of record timestamps, and services.
struct summary_query {
  std::vector<std::string> services;                                 // empty: every service
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();  // inclusive
  std::int64_t until_ns = std::numeric_limits<std::int64_t>::max();  // exclusive
  std::size_t repeated = 10;       // most repeated messages to return
  std::size_t newest_errors = 10;  // newest records at ERROR and above to return
};

struct repeated_message {
  // At least this many records of the window had this service, level and message (the
  // tables count per block; a message rare within a busy block may go uncounted there).
  std::uint64_t count = 0;
  log_record sample;  // one of them, the newest the tables name
};

struct store_summary {
  std::size_t total_count = 0;            // entries in the window, the broker's notes too
  std::optional<std::int64_t> oldest_ns;  // their oldest and newest timestamps
  std::optional<std::int64_t> newest_ns;
  // Entries in the window by service and level; services with none left out.
  std::vector<std::pair<std::string, std::array<std::uint64_t, k_levels>>> by_service;
  std::vector<repeated_message> repeated;  // most first; only messages seen twice or more
  std::size_t error_count = 0;             // entries at ERROR and above in the window
  std::vector<log_record> newest_errors;   // newest first
};

enum class insert_status { stored, duplicate, deduplicated, rate_limited, too_large, refused };

// Thread-safety: every member may be called from any thread at any time.
class store {
 public:
  // Opens the store of a runtime directory, recovering the records a previous broker
  // left in it.
  static result<std::unique_ptr<store>> open(const runtime_dir& dir, store_options options,
                                             std::int64_t now_ns);
  ~store();

  // Takes a record that verify_record() accepted. `meta.receive_ns` is the broker's
  // clock: it drives the rate limit and retention.
  insert_status insert(std::span<const std::byte> record, const entry_meta& meta);

  // Expires what is past retention, writes the rate-limit markers that are due and ages
  // the dedup window. The broker calls it a few times a second; tests with their clock.
  void maintain(std::int64_t now_ns);

  // The last sequence taken for an instance and kind, if any.
  std::optional<std::uint64_t> last_sequence(instance_id instance, entry_kind kind) const;

  // A cursor_expired error when the cursor's position is gone.
  broker_result_of<store_result> query(const store_query& query) const;

  std::vector<service_counts> counts() const;

  // Every service seen (or those of `only`, when not empty), most recently seen first.
  // O(services).
  std::vector<service_overview> services(const std::vector<std::string>& only = {}) const;

  // Counts, most repeated messages and newest errors of a window (store_overview.cc).
  store_summary summary(const summary_query& query) const;

  // The record (or note) whose id is `position`, whole; a not_found error when it was
  // evicted or never existed.
  broker_result_of<log_record> record_by_id(std::uint64_t position) const;

  std::size_t size() const;
  // What the cap counts: the record log's bytes in use plus the indexes'.
  std::uint64_t memory_bytes() const;
  const store_options& options() const noexcept { return options_; }
  bool recovered() const noexcept { return recovered_; }

  // The browser's events: thread-safe on its own, with its own lock and cap; maintain()
  // expires them too.
  frontend_store& frontend() noexcept { return frontend_; }
  const frontend_store& frontend() const noexcept { return frontend_; }

  // For the timeline's inferred joins (timeline_store.cc): the backend records with a
  // timestamp in [since_ns, until_ns) that carry no request ID and no trace ID and that
  // `keep` accepts (given the record, read in place, and its service), oldest first, at
  // most `limit`. The broker's own notes are left out.
  std::vector<log_record> records_without_ids(
      std::int64_t since_ns, std::int64_t until_ns, std::size_t limit,
      const std::function<bool(const wire::Record&, std::string_view service)>& keep) const;

 private:
  struct entry {
    std::uint64_t position;
    std::int64_t timestamp_ns;
    std::int64_t receive_ns;  // here too, so retention needs no look into the log
    std::uint16_t service;
    level severity;
    std::uint8_t kind : 7;     // entry_kind
    std::uint8_t has_ids : 1;  // a request or trace ID: no candidate for an inferred join
    // Ordinals back to the previous entry of the same service and level; 0 for none. The
    // (service, level) chains let a query read only the entries it wants.
    std::uint32_t previous_alike;
  };
  // What the entries of one block of k_block_entries ordinals hold, so that a query
  // skips a block that cannot match.
  //
  // `repeats` is a heavy-hitters table (space-saving) of the block's backend records by
  // service, level and message: a message that makes up more than 1/k_repeat_slots of
  // the block's records is always in it. `count - error` of a slot is how many records
  // (repeats folded into them included) it saw for sure.
  struct repeat_slot {
    std::uint64_t key = 0;  // repeat_key(); 0 with count 0: free
    std::uint32_t count = 0;
    std::uint32_t error = 0;    // what count inherited from the slot's previous message
    std::uint16_t service = 0;  // as entry::service
    std::uint8_t offset = 0;    // the newest such record: its ordinal % k_block_entries
    level severity = level::info;
  };
  static constexpr std::size_t k_repeat_slots = 16;
  struct block_summary {
    std::int64_t min_timestamp_ns = std::numeric_limits<std::int64_t>::max();
    std::int64_t max_timestamp_ns = std::numeric_limits<std::int64_t>::min();
    std::uint64_t service_mask = 0;  // bit (service % 64)
    std::uint8_t level_mask = 0;     // bit per level
    bool any_without_ids = false;    // a backend record without request or trace ID
    std::array<repeat_slot, k_repeat_slots> repeats{};
  };
  struct service_state {
    std::string name;
    service_counts counts;
    // The newest entry of each level; alive while counts.by_level says any are.
    std::array<std::uint64_t, k_levels> newest_ordinal{};
    // What its producers' lifecycle notes and its records said (service_overview).
    std::vector<instance_id> connected;
    std::string transport;
    std::string host;
    std::string language;
    std::string library_version;
    std::string app_version;
    std::int64_t first_seen_ns = std::numeric_limits<std::int64_t>::max();
    std::int64_t last_seen_ns = std::numeric_limits<std::int64_t>::min();
  };
  struct sequence_key {
    instance_id instance;
    entry_kind kind;
    friend bool operator==(const sequence_key&, const sequence_key&) = default;
  };
  struct sequence_key_hash {
    std::size_t operator()(const sequence_key& key) const noexcept {
      return instance_id_hash{}(key.instance) ^ static_cast<std::size_t>(key.kind);
    }
  };
  class query_run;
  friend class query_run;

  static constexpr std::uint64_t k_block_entries = 256;
  static constexpr std::size_t k_max_services = 65'536;
  static_assert(k_max_services - 1 <= std::numeric_limits<decltype(entry::service)>::max());
  static_assert(sizeof(entry) == 32, "an entry per record: keep it small");
  static_assert(static_cast<unsigned>(entry_kind::rate_limited) < (1u << 7), "entry::kind");
  static_assert(sizeof(repeat_slot) == 24);
  static_assert(k_block_entries - 1 <= std::numeric_limits<decltype(repeat_slot::offset)>::max());

  store(record_log log, store_options options, std::int64_t now_ns);
  // Each requires mutex_.
  void index(const log_entry& stored, std::uint32_t service, const wire::Record& record,
             const record_keys& keys);
  std::optional<std::uint32_t> intern_service(std::string_view service);
  std::optional<std::uint64_t> append(const entry_meta& meta, std::span<const std::byte> record,
                                      std::uint32_t service);
  void forget_front(const log_entry& gone, bool expired);
  void evict_front(bool expired);
  void expire(std::int64_t now_ns);
  void write_marker(const rate_limiter::drop_report& report, std::int64_t now_ns);
  // Counts a note's drops and follows its producer's lifecycle.
  void take_note(const log_entry& stored, std::uint32_t service, const wire::Record& record);
  void seen(std::uint32_t service, std::int64_t receive_ns) noexcept;
  // Reads the backend's version from the first record of each producer instance: a
  // backend that gives one logs it as it starts, and reading every record's fields for
  // it cost a tenth of insert time.
  void note_app_version(std::uint32_t service, const wire::Record& record);
  // Counts `count` records of `key` in the block of `ordinal`, which is its newest.
  void tally_repeat(std::uint64_t ordinal, std::uint64_t key, std::uint32_t service, level severity,
                    std::uint32_t count) noexcept;
  // The key a repeat_slot counts: message, service and level.
  static std::uint64_t repeat_key(std::string_view message, std::uint32_t service,
                                  level severity) noexcept;
  std::uint64_t index_bytes() const noexcept;
  const entry& at_ordinal(std::uint64_t ordinal) const noexcept {
    return entries_[ordinal - first_ordinal_];
  }
  std::uint64_t end_ordinal() const noexcept { return first_ordinal_ + entries_.size(); }
  // The first ordinal whose position is at or past `position`.
  std::uint64_t ordinal_at_or_after(std::uint64_t position) const noexcept;
  log_record decode(std::uint64_t ordinal) const;

  const store_options options_;
  mutable std::mutex mutex_;
  record_log log_;                       // guarded by mutex_
  std::deque<entry> entries_;            // guarded by mutex_; ordinal first_ordinal_ first
  std::uint64_t first_ordinal_ = 0;      // guarded by mutex_
  std::deque<block_summary> blocks_;     // guarded by mutex_; block of first_ordinal_ first
  correlation_index correlation_;        // guarded by mutex_
  dedup_window dedup_;                   // guarded by mutex_
  rate_limiter limiter_;                 // guarded by mutex_
  std::vector<service_state> services_;  // guarded by mutex_
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  std::unordered_map<std::string, std::uint32_t, name_hash, std::equal_to<>>
      service_ids_;                 // guarded by mutex_
  std::uint32_t last_service_ = 0;  // guarded by mutex_; the service interned last
  std::unordered_map<sequence_key, std::uint64_t, sequence_key_hash>
      last_sequence_;                  // guarded by mutex_
  std::uint64_t marker_sequence_ = 0;  // guarded by mutex_
  record_encoder markers_;             // guarded by mutex_
  bool recovered_;
  frontend_store frontend_;  // its own lock
};

}  // namespace logwire
