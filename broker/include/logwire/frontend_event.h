// What a browser page tells the broker: its events (requests, clicks, console errors,
// exceptions, page loads) in JSON batches, sent by tools/browser/logwire.js over HTTP POST
// or a WebSocket. The batch is hostile input: decode_frontend_batch() checks everything,
// cuts long texts and refuses, one by one, events it cannot read.
//
// A batch (POST /events body, or one WebSocket text message), at most 1 MiB:
//
//   {"v": 1,
//    "page": {"id": "pg-5f2c9a", "url": "http://localhost:3000/checkout",
//             "sessionId": "optional", "userAgent": "optional"},
//    "seq": 17,
//    "events": [
//      {"kind": "request", "timestamp": 1769854523456.25, "method": "POST",
//       "url": "http://localhost:3000/api/payments/process", "status": 500,
//       "durationMs": 35.5, "requestId": "req-5f2c9a-0007",
//       "traceparent": "00-<32 hex>-<16 hex>-01", "initiator": "fetch",
//       "error": "only when it failed without a status"},
//      {"kind": "action", "timestamp": ..., "action": "click", "selector": "button#pay",
//       "text": "Submit Payment"},
//      {"kind": "console", "timestamp": ..., "level": "error", "message": "..."},
//      {"kind": "exception", "timestamp": ..., "message": "...", "stack": "...",
//       "source": "http://localhost:3000/app.js:12:5"},
//      {"kind": "rejection", "timestamp": ..., "message": "...", "stack": "..."},
//      {"kind": "page-load", "timestamp": ..., "url": "...", "durationMs": 412.0}]}
//
// Rules:
//   - `v` is 1; `page.id` a string of 1 to k_max_page_id_bytes; `seq` a whole number
//     0..2^53 (the sequence of the batch's first event within the page; event i has
//     seq + i, whether it is stored or refused); `events` an array of at most
//     k_max_batch_events. Anything else wrong with the batch refuses it whole.
//   - An event needs a known `kind` and a `timestamp`: ms since the Unix epoch, the
//     browser's clock, a finite number from 0 to k_max_timestamp_ms (a fraction keeps its
//     µs). For a request, the timestamp is its start.
//   - A known key with a value of the wrong type (a string status, a negative duration, a
//     status outside 0..999) refuses the event; the rest of the batch is kept and
//     `refused_events` counts the refused. Unknown keys are ignored, so a newer script
//     works with an older broker.
//   - Texts are cut (between characters, never refused) at: url and page url 2 KiB,
//     message and error 8 KiB, stack 16 KiB, selector and text 512 B, IDs 256 B, short
//     words (method, level, action, initiator) 32 B.
//   - The JSON itself must be well-formed UTF-8 and nest at most k_max_nesting deep; a
//     lone surrogate escape ("\ud800") is malformed JSON (a browser's JSON.stringify
//     writes one for a broken string, so the script repairs its strings before sending).
//   - `status` 0 or absent: no response (see `error`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/error.h"

namespace logwire {

enum class frontend_kind : std::uint8_t {
  request,
  action,
  console,
  exception,
  rejection,
  page_load
};
inline constexpr std::size_t k_frontend_kinds = 6;

// "request", "action", "console", "exception", "rejection", "page-load".
std::string_view frontend_kind_name(frontend_kind kind) noexcept;
// The kind of a name above ('_' read as '-'); false for any other.
bool parse_frontend_kind(std::string_view name, frontend_kind& kind) noexcept;

inline constexpr std::size_t k_max_batch_events = 1000;
inline constexpr std::size_t k_max_batch_bytes = 1024 * 1024;
inline constexpr std::size_t k_max_page_id_bytes = 128;
inline constexpr std::size_t k_max_url_bytes = 2048;
inline constexpr std::size_t k_max_message_bytes = 8 * 1024;
inline constexpr std::size_t k_max_stack_bytes = 16 * 1024;
inline constexpr std::size_t k_max_selector_bytes = 512;
inline constexpr std::size_t k_max_id_bytes = 256;
inline constexpr std::size_t k_max_word_bytes = 32;
inline constexpr unsigned k_max_nesting = 16;
inline constexpr std::uint64_t k_max_sequence = std::uint64_t{1} << 53;
// 2100-01-01T00:00:00Z: later is a broken clock, not a time.
inline constexpr double k_max_timestamp_ms = 4'102'444'800'000.0;

struct frontend_event {
  frontend_kind kind = frontend_kind::request;
  std::int64_t timestamp_ns = 0;  // the browser's clock; a request's start
  std::int64_t receive_ns = 0;    // the broker's clock when the batch arrived
  std::string page_id;
  std::string page_url;
  std::string session_id;
  std::uint64_t sequence = 0;  // within the page
  // request
  std::string method;
  std::string url;          // also a page-load's URL
  int status = 0;           // 0: no response
  double duration_ms = -1;  // < 0: not given (request, page-load)
  std::string request_id;
  std::string traceparent;
  std::string initiator;
  std::string error;
  // action
  std::string action;
  std::string selector;
  std::string text;
  // console, exception, rejection
  std::string level;
  std::string message;
  std::string stack;
  std::string source;
};

struct frontend_batch {
  std::string page_id;
  std::uint64_t first_sequence = 0;
  std::vector<frontend_event> events;  // those read; each carries its own sequence
  std::size_t refused_events = 0;      // events it could not read (see the rules above)
};

// Checks and decodes one batch; `receive_ns` is stamped on every event. The error's
// message says what is wrong, for the 400 body. Its code tells the two refusals apart:
// errc::protocol_error is not JSON at all (malformed_json), errc::invalid_argument a JSON
// value that is not a batch (bad_batch). Never throws.
result<frontend_batch> decode_frontend_batch(std::string_view json, std::int64_t receive_ns);

// "malformed_json" or "bad_batch": the code of a decode error, as the 400 body names it.
std::string_view frontend_error_code(const error& e) noexcept;

}  // namespace logwire
