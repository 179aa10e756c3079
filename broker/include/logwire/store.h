// The broker's record store: every record the broker has taken, kept as its verified
// FlatBuffers bytes in a record_log that outlives the broker process, answering filtered
// queries for the agent.
//
// Exactly once: every entry carries its producer instance and a sequence number that
// only grows (a ring position, an envelope sequence, a drop count); an entry whose
// sequence is not above the last one stored for its instance and kind is a duplicate and
// is not stored again. That is what makes re-draining a ring after a broker crash safe.
//
// This version scans on a query; dedup, rate limits, retention and the correlation
// indexes grow here behind the same interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logwire/level.h"
#include "logwire/log_record.h"
#include "logwire/record_log.h"
#include "logwire/runtime_dir.h"

namespace logwire {

struct store_options {
  std::uint64_t capacity_bytes = 256ull * 1024 * 1024;  // rounded down to a power of two
};

struct store_query {
  std::vector<std::string> services;  // empty: every service
  level min_level = level::trace;
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();
  std::size_t limit = 100;
};

struct store_result {
  std::vector<log_record> logs;           // the newest `limit` matches, oldest first
  std::size_t total_count = 0;            // every match
  std::optional<std::int64_t> oldest_ns;  // timestamp of the oldest match
};

enum class insert_status { stored, duplicate, too_large };

// Thread-safety: every member may be called from any thread at any time.
class store {
 public:
  // Opens the store of a runtime directory, recovering the records a previous broker
  // left in it.
  static result<std::unique_ptr<store>> open(const runtime_dir& dir, store_options options,
                                             std::int64_t now_ns);

  // Takes a record that verify_record() accepted, unless it is a duplicate.
  insert_status insert(std::span<const std::byte> record, const entry_meta& meta);

  // The last sequence stored for an instance and kind, if any.
  std::optional<std::uint64_t> last_sequence(instance_id instance, entry_kind kind) const;

  store_result query(const store_query& query) const;

  std::size_t size() const;
  bool recovered() const noexcept { return recovered_; }

 private:
  struct entry {
    std::uint64_t position;
    std::int64_t timestamp_ns;
    std::uint32_t service_id;
    level severity;
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

  explicit store(record_log log);
  void index(const log_entry& stored);                     // requires mutex_
  std::uint32_t intern_service(std::string_view service);  // requires mutex_

  mutable std::mutex mutex_;
  record_log log_;                                              // guarded by mutex_
  std::deque<entry> entries_;                                   // guarded by mutex_
  std::vector<std::string> services_;                           // guarded by mutex_
  std::unordered_map<std::string, std::uint32_t> service_ids_;  // guarded by mutex_
  std::unordered_map<sequence_key, std::uint64_t, sequence_key_hash>
      last_sequence_;  // guarded by mutex_
  bool recovered_;
};

}  // namespace logwire
