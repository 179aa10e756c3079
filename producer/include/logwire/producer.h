// The producer library's entry point. A backend opens one producer for its service and
// logs structured records; each call encodes the record as FlatBuffers into a ring: a
// shared-memory ring the broker drains when the broker runs on this host, or an
// in-process ring a background thread sends on over ZeroMQ to a broker anywhere
// (logwire/remote_protocol.h). A log call never blocks on the broker, never throws, and
// never drops a record without counting it where the agent will see it.
//
//   auto logs = logwire::producer::open({.service = "api-server"}).value();
//   logs.log(logwire::level::error, "Payment gateway timeout",
//            {.request_id = "req-12345", .span_id = "span-789"},
//            {{"gateway", "stripe"}, {"timeout_ms", 5000}});
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "logwire/error.h"
#include "logwire/level.h"

namespace logwire {

// A typed key/value pair attached to a record. Holds views: the strings must outlive
// the log call, which copies them.
class field {
 public:
  enum class kind : std::uint8_t { string, int64, float64, boolean };

  field(std::string_view key, std::string_view value) noexcept
      : key_(key), text_(value), kind_(kind::string) {}
  field(std::string_view key, const char* value) noexcept
      : field(key, std::string_view(value != nullptr ? value : "")) {}
  field(std::string_view key, const std::string& value) noexcept
      : field(key, std::string_view(value)) {}
  field(std::string_view key, bool value) noexcept : key_(key), kind_(kind::boolean) {
    number_.boolean = value;
  }
  template <std::integral T>
  requires(!std::same_as<T, bool>) field(std::string_view key, T value)
  noexcept : key_(key), kind_(kind::int64) {
    if constexpr (std::unsigned_integral<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (value > static_cast<T>(std::numeric_limits<std::int64_t>::max())) {
        kind_ = kind::float64;  // keeps the magnitude rather than wrapping negative
        number_.float64 = static_cast<double>(value);
        return;
      }
    }
    number_.int64 = static_cast<std::int64_t>(value);
  }
  template <std::floating_point T>
  field(std::string_view key, T value) noexcept : key_(key), kind_(kind::float64) {
    number_.float64 = static_cast<double>(value);
  }

  std::string_view key() const noexcept { return key_; }
  kind type() const noexcept { return kind_; }
  std::string_view string_value() const noexcept { return text_; }
  std::int64_t int_value() const noexcept { return number_.int64; }
  double double_value() const noexcept { return number_.float64; }
  bool bool_value() const noexcept { return number_.boolean; }

 private:
  std::string_view key_;
  std::string_view text_;
  union {
    std::int64_t int64;
    double float64;
    bool boolean;
  } number_{};
  kind kind_;
};

// Correlation and diagnostics of one record.
struct log_context {
  std::string_view request_id;   // e.g. the incoming X-Request-ID
  std::string_view traceparent;  // the W3C traceparent header value
  std::string_view span_id;
  std::string_view stack_trace;
};

// Everything a record can carry; the general form behind log().
struct record_view {
  level severity = level::info;
  std::string_view message;
  log_context context;
  std::span<const field> fields;
  std::int64_t timestamp_ns = 0;  // 0: now
  std::string_view service;       // empty: the producer's service
};

inline constexpr std::size_t k_default_ring_bytes = 64 * 1024 * 1024;
// The in-process ring between callers and the sending thread of a remote producer.
inline constexpr std::size_t k_default_remote_ring_bytes = 16 * 1024 * 1024;
// The most a record may hold; the broker refuses anything past these as malformed, so
// the producer refuses (and counts) it first.
inline constexpr std::size_t k_max_record_bytes = 16 * 1024 * 1024;
inline constexpr std::size_t k_max_record_fields = 10'000;

struct producer_options {
  std::string service;
  // Where the records go: "shm" (the broker of runtime_dir, on this host, through shared
  // memory) or a ZeroMQ endpoint of a broker anywhere ("tcp://host:7717"). Empty:
  // $LOGWIRE_ENDPOINT, else "shm".
  std::string endpoint;
  std::filesystem::path runtime_dir;  // shared memory: empty means runtime_dir::default_path()
  // Ring size, rounded down to a power of two (64 KiB to 1 GiB); 0: $LOGWIRE_RING_BYTES,
  // else k_default_ring_bytes (shared memory) or k_default_remote_ring_bytes (ZeroMQ).
  std::size_t ring_bytes = 0;

  // ZeroMQ only:
  // Records kept until the broker acknowledges them; past it the oldest are dropped and
  // counted. 0: 64 MiB.
  std::size_t queue_bytes = 0;
  // Also keep unacknowledged records in a spool file here, so they survive a restart of
  // this process while the broker is away; the next producer opened on the same
  // directory delivers them. Empty: $LOGWIRE_SPOOL_DIR, else no spool.
  std::filesystem::path spool_dir;
  // Reconnect attempts back off from 100 ms up to this.
  std::chrono::milliseconds reconnect_max = std::chrono::seconds(30);
  // How long closing the producer waits for the broker to acknowledge what is queued.
  std::chrono::milliseconds flush_timeout = std::chrono::seconds(2);
};

// Thread-safety: log() and write() may be called from any number of threads at once;
// open(), moves and destruction from one thread while no call is in flight.
class producer {
 public:
  // Shared memory: creates this process's ring and registers it where the broker looks.
  // ZeroMQ: starts the thread that connects to the broker (and claims orphan spools).
  // Works whether or not a broker runs; records wait until one does.
  static result<producer> open(producer_options options);

  producer(producer&&) noexcept;
  producer& operator=(producer&&) noexcept;
  ~producer();

  // Logs one record. True if it is in the ring; false if it was refused (ring full,
  // record larger than a quarter of the ring), in which case it is counted as dropped.
  bool log(level severity, std::string_view message, const log_context& context = {},
           std::initializer_list<field> fields = {}) noexcept {
    return write({.severity = severity,
                  .message = message,
                  .context = context,
                  .fields = std::span<const field>(fields.begin(), fields.size())});
  }
  bool write(const record_view& record) noexcept;

  // Waits until every record logged before the call has reached the broker: drained
  // from the shared-memory ring, or over ZeroMQ acknowledged (or dropped from a full
  // queue, which the broker then reports as lost). False if `timeout` passed.
  bool flush(std::chrono::milliseconds timeout) noexcept;

  const std::string& service() const noexcept;
  // "shared-memory" or "zeromq".
  std::string_view transport() const noexcept;
  // Records dropped so far: refused by the ring (full, too large) or, over ZeroMQ, pushed
  // out of the queue while the broker was away.
  std::uint64_t dropped() const noexcept;
  // ZeroMQ: records queued and not yet acknowledged; 0 on shared memory.
  std::uint64_t unacknowledged() const noexcept;
  // The shared-memory segment name of this producer's ring (empty over ZeroMQ).
  const std::string& ring_name() const noexcept;

 private:
  struct impl;
  explicit producer(std::unique_ptr<impl> state) noexcept;
  static result<producer> open_remote(producer_options options, const std::string& endpoint);
  std::unique_ptr<impl> impl_;
};

}  // namespace logwire
