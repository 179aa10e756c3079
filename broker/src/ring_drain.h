// Finds the rings that producers registered in the runtime directory, drains their
// records into the store, and reclaims a ring once it is empty and its producer is gone.
// What the agent should know about a producer (it connected, disconnected or crashed,
// records were dropped or malformed) is written into the store as notes beside its
// records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "logwire/record_encoder.h"
#include "logwire/record_sanitizer.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"

namespace logwire {

// Thread-safety: one thread (the broker's drain thread) calls everything.
class ring_drain {
 public:
  ring_drain(runtime_dir dir, store& records);
  ~ring_drain();
  ring_drain(const ring_drain&) = delete;
  ring_drain& operator=(const ring_drain&) = delete;

  // Rescans the registry when due, then drains every attached ring once. Returns the
  // number of records moved into the store.
  std::size_t poll(std::int64_t now_ns);

  std::size_t attached_rings() const noexcept { return rings_.size(); }

 private:
  struct attached_ring;

  void rescan(std::int64_t now_ns);
  void attach(const std::string& name, std::int64_t now_ns);
  std::size_t drain(attached_ring& ring, std::int64_t now_ns);
  void report_problems(attached_ring& ring, std::int64_t now_ns);
  // Detaches and removes the ring if it is drained and its writer will write no more.
  bool reclaim_if_done(attached_ring& ring, std::int64_t now_ns);
  void note(const attached_ring& ring, entry_kind kind, std::uint64_t sequence, level severity,
            std::string_view message, std::initializer_list<field> fields, std::int64_t now_ns);

  runtime_dir dir_;
  store& store_;
  record_encoder encoder_;
  record_sanitizer sanitizer_;
  std::vector<std::byte> copy_;  // a record copied out of a ring; reused, so no allocation per poll
  std::map<std::string, std::unique_ptr<attached_ring>> rings_;
  std::set<std::string> unreadable_;  // segments already reported as not a ring
  std::int64_t next_scan_ns_ = 0;
};

}  // namespace logwire
