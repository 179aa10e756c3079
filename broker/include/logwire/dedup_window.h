// The burst dedup's memory: the records stored recently, by content hash, so that an
// identical one arriving within the window is folded into the stored one instead of
// stored again. The store decides what "within" means (by the backends' timestamps);
// this forgets a record once its receive time is two windows old, which bounds it.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <deque>
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
  void remember(std::uint64_t hash, std::uint64_t ordinal, std::int64_t receive_ns);
  // Forgets what was received two windows before `now_ns`.
  void age(std::int64_t now_ns);

  std::uint64_t memory_bytes() const noexcept;

 private:
  struct candidate {
    std::uint64_t hash;
    std::uint64_t ordinal;
    std::int64_t receive_ns;
  };
  std::int64_t window_ns_;
  boost::unordered_flat_map<std::uint64_t, std::uint64_t> latest_;
  std::deque<candidate> order_;  // receive order
};

}  // namespace logwire
