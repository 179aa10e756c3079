// The broker's in-memory record store: every record the broker has taken, kept as its
// verified FlatBuffers bytes, answering filtered queries for the agent.
//
// This first version keeps records in arrival order and scans them on a query. The
// ingest pipeline (exactly-once, burst dedup, rate limits, retention, memory cap) and the
// correlation indexes grow here behind the same interface.
#pragma once

#include <cstddef>
#include <cstdint>
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

namespace logwire {

// Where a record came from.
struct record_source {
  std::string_view producer_service;  // used when the record names no service
  std::int64_t receive_ns = 0;
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

// Thread-safety: every member may be called from any thread at any time.
class store {
 public:
  // Takes a record that verify_record() accepted.
  void insert(std::span<const std::byte> record, const record_source& source);

  store_result query(const store_query& query) const;

  std::size_t size() const;

 private:
  struct entry {
    std::int64_t timestamp_ns;
    std::int64_t receive_ns;
    std::uint32_t service_id;
    level severity;
    std::unique_ptr<std::byte[]> bytes;
    std::uint32_t size;
  };

  std::uint32_t intern_service(std::string_view service);  // requires mutex_

  mutable std::mutex mutex_;
  std::vector<entry> entries_;                                  // guarded by mutex_
  std::vector<std::string> services_;                           // guarded by mutex_
  std::unordered_map<std::string, std::uint32_t> service_ids_;  // guarded by mutex_
};

}  // namespace logwire
