// What the broker's HTTP connections and WebSocket sessions share (http_server.cc,
// ws_connection.cc): the options, where batches and backend messages go, and the counts.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "http_server.h"
#include "ws_backend_json.h"

namespace logwire {

// Thread-safety: the server's thread uses everything; the atomics, and backend under
// backend_mutex, may be read from any thread.
struct http_context {
  http_context(http_server_options options, browser_events& browser, store& records)
      : options(std::move(options)), browser(browser), backend(records) {}

  const http_server_options options;
  std::uint16_t port = 0;  // set once bound, before the first connection
  browser_events& browser;

  mutable std::mutex backend_mutex;
  ws_backend_sessions backend;  // guarded by backend_mutex
  std::uint64_t next_peer = 0;  // the server's thread only

  std::atomic<std::size_t> connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> events_stored{0};
  std::atomic<std::uint64_t> events_duplicate{0};
  std::atomic<std::uint64_t> backend_messages{0};
  std::array<std::atomic<std::uint64_t>, k_http_refusals> refused{};

  // Counts a refusal and tells the frontend store of those it counts. Logs the first of each
  // kind and every thousandth after, so a developer sees why a page's events do not arrive
  // (an Origin not allowed, say) and a flood does not fill the log.
  void refuse(http_refusal why, std::string_view message);

  // Counts what one batch did; the reply's next sequence comes with it.
  void stored(const browser_events::accepted& batch) noexcept {
    batches.fetch_add(1, std::memory_order_relaxed);
    events_stored.fetch_add(batch.stored, std::memory_order_relaxed);
    events_duplicate.fetch_add(batch.duplicate, std::memory_order_relaxed);
  }
};

// Error bodies: {"error":"<code>","message":"..."}.
std::string http_error_body(http_refusal why, std::string_view message);

}  // namespace logwire
