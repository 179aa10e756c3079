// The observe request as an agent phrases it (the MCP tool's arguments, the command
// line's flags), checked into a store query; and the store's answer shaped as the agent
// reads it (DESIGN.md "The agent's view"). One place, so every surface agrees.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "logwire/query_protocol.h"
#include "logwire/store.h"

namespace logwire {

inline constexpr std::size_t k_default_limit = 100;
inline constexpr std::size_t k_max_limit = 1000;
// An answer stays small enough for an agent's context: each text (message, stack trace,
// string field) is cut at k_max_text_bytes, and the oldest records of a page are left out
// once the page passes k_max_reply_bytes. The reply says what it cut.
inline constexpr std::size_t k_max_text_bytes = 4096;
inline constexpr std::size_t k_max_reply_bytes = 256 * 1024;

// Checks `arguments` (what, service, level, since, until, requestId, traceId, spanId,
// sessionId, userId, text, fields, limit, cursor; see query_protocol.h). A bad one is an
// invalid_param error naming the parameter and what it accepts; an unknown `what` is unknown_mode.
// Relative times count back from `now_ns`.
broker_result_of<store_query> parse_observe_arguments(const nlohmann::json& arguments,
                                                      std::int64_t now_ns);

// {"type": "backend-logs", "logs": [...], "totalCount": N, "oldestTimestamp": "...",
// "nextCursor", "newerCursor", "counts": {service: {...}}}, camelCase keys, RFC 3339
// times, keys without a value left out; plus "omittedCount" (records of the page left
// out for size, which the cursors still reach) and "textCut" when the size bounds cut.
// observe_json_text() (observe_json.h) writes it; this is that text, parsed.
ordered_json to_observe_json(store_result result);

// One record as the agent sees it (append_record_json, parsed).
ordered_json to_json(const log_record& record);

}  // namespace logwire
