// The broker's query protocol: JSON over ZeroMQ request/reply on the runtime directory's
// query socket (runtime_dir::query_endpoint()). One frame each way, UTF-8 JSON, at most
// k_max_query_message bytes.
//
//   request  {"v": 1, "method": "<method>", "params": {...}}
//   reply    {"v": 1, "result": {...}, "timing": {...}}  ("timing" for observe only)
//        or  {"v": 1, "error": {"code": "<code>", "message": "<text>", "hint": "<next step>"}}
//            ("hint" is optional)
//
// Methods:
//   ping     params ignored    -> {"broker": "logwire", "version": "0.1.0", "pid": 1234}
//   observe  the MCP tool's arguments:
//              what       "backend-logs" (or "backend_logs"), required
//              service    a name or a list of names
//              level      minimum severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL
//              since      RFC 3339 time or a duration ago ("5m"), inclusive
//              until      same forms, exclusive
//              requestId, traceId (32 hex digits or a whole traceparent), spanId (the
//              record's span ID or its traceparent's parent ID), sessionId, userId
//              text       case-insensitive (ASCII) substring of message or stack trace
//              fields     {"name": value, ...}: each field equal (numbers compare as numbers)
//              limit      1..1000, default 100
//              cursor     a nextCursor or newerCursor of an earlier answer
//            -> {"type": "backend-logs", "logs": [...], "totalCount": N,
//                "oldestTimestamp": "...", "nextCursor": "...", "newerCursor": "...",
//                "counts": {"<service>": {"stored", "deduplicated", "rateLimited",
//                                         "expired", "evicted", "dropped"}}}
//            (the shape in DESIGN.md "The agent's view"). `logs` holds the newest `limit`
//            matches (older than the cursor, for a nextCursor), oldest first; with a
//            newerCursor, the first `limit` matches that arrived after it, in time order.
//            `totalCount` counts every match of the filters, cursor aside, and
//            `oldestTimestamp` is the time of the oldest. `nextCursor` is there while
//            older matches remain; `newerCursor` always. A record that stands for repeats
//            has "repeatCount" and "lastTimestamp". `counts` covers the services asked
//            for, else every service: records kept now, folded as repeats, dropped by the
//            rate limit, expired, evicted by the memory cap, and lost before the broker.
//
// Timing of an observe reply, in ms: "storeMs" from asking the store, its lock included,
// to its answer; "brokerMs" from the request's arrival in the query thread to the reply
// written, JSON included. What the socket and the client add is the rest.
//
// Error codes: unsupported_version (the message names the version the broker speaks),
// bad_request (not JSON, not an object, no method), unknown_method, invalid_param (the
// message names the parameter and what it accepts), unknown_mode (an unknown `what`),
// cursor_expired (the records a cursor pointed at were evicted, or the store started
// afresh; the hint says where to restart), internal.
//
// Evolution: a reply only ever gains keys, so a client ignores keys it does not know; a
// change that would break that raises "v".
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace logwire {

inline constexpr int k_query_protocol_version = 1;
inline constexpr std::size_t k_max_query_message = 1024 * 1024;  // a request
inline constexpr std::size_t k_max_query_reply = 64 * 1024 * 1024;

// An error as the agent sees it: a stable code, what happened, and what to do about it.
struct broker_error {
  std::string code;  // an error code above, or broker_unavailable / protocol_error
  std::string message;
  std::string hint;  // a next step for the user, may be empty
};

[[noreturn]] inline void throw_exception_from_error(const broker_error& e,
                                                    const boost::source_location&) {
  throw std::runtime_error(e.code + ": " + e.message);
}

// Replies keep their keys in the order the broker wrote them (timestamp, service, level,
// message, ...), which is the order an agent reads best.
using ordered_json = nlohmann::ordered_json;

template <class T>
using broker_result_of = boost::system::result<T, broker_error>;
using broker_result = broker_result_of<ordered_json>;

}  // namespace logwire
