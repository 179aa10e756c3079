// The observe request as an agent phrases it (the MCP tool's arguments, the command
// line's flags), checked into a store question; and the store's answer shaped as the
// agent reads it (DESIGN.md "The agent's view"). One place, so every surface agrees.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "logwire/query_protocol.h"
#include "logwire/store.h"

namespace logwire {

inline constexpr std::size_t k_default_limit = 100;
inline constexpr std::size_t k_max_limit = 1000;
// An answer stays small enough for an agent's context: its JSON stays under `maxBytes`
// (this by default, for `logwire query`; the MCP bridge asks for less), texts are cut to
// a share of it, and the oldest records of a page are left out past it. The reply says
// what it cut. observe_json.h has the rules.
inline constexpr std::size_t k_default_max_bytes = 256 * 1024;
inline constexpr std::size_t k_smallest_max_bytes = 1000;
inline constexpr std::size_t k_largest_max_bytes = 1024 * 1024;

// observe's `what`. '-' and '_' are the same in its spellings.
enum class observe_mode { backend_logs, services, summary, timeline, frontend };

// What the modes are called, for messages.
inline constexpr std::string_view k_observe_modes =
    "backend-logs, services, summary, timeline, frontend";

// The timeline's inferred joins: a backend record without IDs within this of a browser
// request (before its start, after its answer) may be joined to it (timeline.cc).
inline constexpr std::int64_t k_default_timeline_window_ms = 100;
inline constexpr std::int64_t k_max_timeline_window_ms = 60'000;
inline constexpr std::size_t k_default_timeline_limit = 200;

// observe's `timeline`: one request (requestId), one trace (traceId), or a window of time
// (since, until) when neither is given.
struct timeline_query {
  std::string request_id;
  std::string trace_id;                                              // 32 lowercase hex digits
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();  // inclusive
  std::int64_t until_ns = std::numeric_limits<std::int64_t>::max();  // exclusive
  std::int64_t window_ns = k_default_timeline_window_ms * 1'000'000;
  std::size_t limit = k_default_timeline_limit;  // entries
};

struct observe_request {
  observe_mode mode = observe_mode::backend_logs;
  // backend-logs: every filter. services: `services`. summary: `services`, `since_ns`,
  // `until_ns`.
  store_query query;
  std::optional<std::uint64_t> id;  // backend-logs: this one record, whole
  std::size_t max_bytes = k_default_max_bytes;
  timeline_query timeline;  // timeline
  frontend_query frontend;  // frontend
};

// Checks `arguments` (what, service, level, since, until, requestId, traceId, spanId,
// sessionId, userId, text, fields, limit, cursor, id, maxBytes, window, kind, url,
// minStatus; see query_protocol.h). A
// bad one, or one the mode does not take, is an invalid_param error naming the parameter
// and what it accepts; an unknown `what` is unknown_mode. Relative times count back from
// `now_ns`.
broker_result_of<observe_request> parse_observe_request(const nlohmann::json& arguments,
                                                        std::int64_t now_ns);

// parse_observe_request's store query, for backend-logs.
broker_result_of<store_query> parse_observe_arguments(const nlohmann::json& arguments,
                                                      std::int64_t now_ns);

// {"type": "backend-logs", "logs": [...], "totalCount": N, "oldestTimestamp": "...",
// "nextCursor", "newerCursor", "counts": {service: {...}}}, camelCase keys, RFC 3339
// times, keys without a value left out; plus "omittedCount" (records of the page left
// out for size, which the cursors still reach) and "textCut" when the size bounds cut.
// observe_json_text() (observe_json.h) writes it; this is that text, parsed.
ordered_json to_observe_json(store_result result, std::size_t max_bytes = k_default_max_bytes);

// One record as the agent sees it (append_record_json, parsed).
ordered_json to_json(const log_record& record);

}  // namespace logwire
