// Makes a verified record from an untrusted producer fit to store and to show: text that
// is not UTF-8 has its bad bytes replaced (U+FFFD), and a text longer than
// k_max_text_bytes is cut there with a marker saying how much is missing. Every ingest
// path (rings, ZeroMQ) passes its records through here before the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "logwire/record_encoder.h"

namespace logwire {

// Texts (message, stack trace, IDs, field keys and values) up to this size are kept whole.
inline constexpr std::size_t k_max_text_bytes = 1024 * 1024;

// The text a cut one ends with: "… [cut: 123 bytes more]".
std::string cut_marker(std::size_t bytes_cut);

// Thread-safety: one thread per sanitizer (it reuses its encoder).
class record_sanitizer {
 public:
  // `verified` must have passed verify_record(). Returns it unchanged when it is already
  // fit (the common case, no copy); otherwise a repaired copy valid until the next call.
  std::span<const std::byte> sanitize(std::span<const std::byte> verified);

  // Records repaired so far.
  std::uint64_t repaired() const noexcept { return repaired_; }

 private:
  record_encoder encoder_;
  std::uint64_t repaired_ = 0;
};

}  // namespace logwire
