// The burst dedup's memory: the records stored recently, by content hash, so that an
// identical one arriving within the window is folded into the stored one instead of
// stored again. The store decides what "within" means (by the backends' timestamps);
// this decides how long a record stays a candidate, which bounds the memory.
//
// A candidate is kept while a repeat of it could still arrive: until both the broker's
// clock and the backends' time have moved two windows past it. The backends' time is the
// frontier, the latest timestamp the store has taken; a broker that stalls, or drains a
// backlog, moves its own clock on but not the frontier, so repeats logged within the
// window still fold however late they arrive. A timestamp counts no later than its
// receive time, so that a backend whose clock runs ahead cannot rush the frontier and
// one whose clock runs behind falls back on the broker's clock. Whatever the
// timestamps, a candidate is forgotten k_lag_allowance_ns past that.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>

namespace logwire {

// Thread-safety: none; the store's lock guards it.
class dedup_window {
 public:
  explicit dedup_window(std::int64_t window_ns) : window_ns_(window_ns) {}

  bool enabled() const noexcept { return window_ns_ > 0; }
  std::int64_t window_ns() const noexcept { return window_ns_; }

  // The ordinal of the latest stored record with this content hash, if remembered.
  std::optional<std::uint64_t> find(std::uint64_t hash) const;
  void remember(std::uint64_t hash, std::uint64_t ordinal, std::int64_t timestamp_ns,
                std::int64_t receive_ns);
  // The store took a record of this timestamp at this receive time: moves the frontier.
  void saw(std::int64_t timestamp_ns, std::int64_t receive_ns) noexcept;
  // Forgets what cannot be repeated any more by `now_ns` on the broker's clock.
  void age(std::int64_t now_ns);

  // How far behind its backends the broker may fall and still fold every repeat.
  static constexpr std::int64_t k_lag_allowance_ns = 15'000'000'000;

  std::uint64_t memory_bytes() const noexcept;

 private:
  struct candidate {
    std::uint64_t hash;
    std::uint64_t ordinal;
    std::int64_t timestamp_ns;  // no later than receive_ns
    std::int64_t receive_ns;
  };
  std::int64_t window_ns_;
  std::int64_t frontier_ns_ = std::numeric_limits<std::int64_t>::min();
  boost::unordered_flat_map<std::uint64_t, std::uint64_t> latest_;
  std::deque<candidate> order_;  // receive order
};

}  // namespace logwire
