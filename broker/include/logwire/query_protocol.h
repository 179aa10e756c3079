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
//   observe  the MCP tool's arguments. `what`, required, picks the mode: "backend-logs",
//            "services" or "summary" ('_' and '-' are the same: "backend_logs"). Every
//            mode takes maxBytes; each refuses, with invalid_param, an argument it does
//            not take.
//              maxBytes   1000..1048576, default 262144: the answer's JSON stays under it
//                         (the MCP bridge asks for about 20,000)
//
//   observe, what "backend-logs": the records.
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
//              id         a record's "id" (a string of digits, or the number): that one
//                         record, whole; with no other argument but maxBytes (ignored)
//            -> {"type": "backend-logs", "logs": [...], "totalCount": N,
//                "oldestTimestamp": "...", "nextCursor": "...", "newerCursor": "...",
//                "omittedCount": N, "textCut": true,
//                "counts": {"<service>": {"stored", "deduplicated", "rateLimited",
//                                         "expired", "evicted", "dropped"}},
//                "countsOmitted": N}
//            (the shape in DESIGN.md "The agent's view"). `logs` holds the newest `limit`
//            matches (older than the cursor, for a nextCursor), oldest first; with a
//            newerCursor, the first `limit` matches that arrived after it, in time order.
//            Each record has "id": its position in the broker's record log as a decimal
//            string, which never repeats and survives a broker restart. `totalCount`
//            counts every match of the filters, cursor aside, and `oldestTimestamp` is
//            the time of the oldest. `nextCursor` is there while older matches remain;
//            `newerCursor` always. A record that stands for repeats has "repeatCount"
//            and "lastTimestamp". `counts` covers the services asked for, else every
//            service: records kept now, folded as repeats, dropped by the rate limit,
//            expired, evicted by the memory cap, and lost before the broker.
//            Size (observe_json.h): past maxBytes the oldest records of the page (the
//            latest to arrive, for a newerCursor page) are left out and the cursors moved
//            so that they reach them: "omittedCount" says how many; the newest record
//            always stays. Messages, string field values, span IDs and invalid
//            traceparents are cut at max(256, maxBytes / 16) bytes, stack traces at
//            max(512, maxBytes / 8), each ending with
//              … [cut 3,210 bytes; observe {what: "backend-logs", id: "8812"} returns it whole]
//            and "textCut": true. `counts` takes at most a quarter of maxBytes (the
//            page's services first); "countsOmitted" says how many services it left out.
//            With `id`: {"type": "backend-logs", "logs": [record], "totalCount": 1},
//            nothing cut unless the record's JSON alone would pass 1 MiB (its texts then
//            end "… [cut N bytes: the record is too long to show whole]"); an id evicted
//            or never given is the error not_found.
//
//   observe, what "services": every service the broker has seen, most recently seen first.
//              service    a name or a list of names: only these
//            -> {"type": "services", "services": [
//                  {"service": "api", "connected": true, "producers": 1,
//                   "transport": "shared-memory" | "zeromq", "host": "devbox",
//                   "language": "c++", "libraryVersion": "0.1.0", "appVersion": "1.4.2",
//                   "firstSeen": "...", "lastSeen": "...",
//                   "byLevel": {"INFO": 120, "ERROR": 3},
//                   "stored", "deduplicated", "rateLimited", "expired", "evicted",
//                   "dropped"}],
//                "totalCount": N, "notSeen": ["name", ...], "omittedCount": N}
//            `connected`: a producer of the service announced itself (the broker's
//            connected note) and has not closed or ended since; `producers` counts those.
//            `transport`, `host`, `language` and `libraryVersion` come from the newest
//            connected note (left out for a service that sent none, e.g. through HTTP);
//            `appVersion` is the string value of a field service.version,
//            service_version, serviceVersion, app.version, app_version or appVersion in
//            the first record of the service's newest producer instance that gave one
//            (only first records are read for it: a backend logs its version as it
//            starts). `firstSeen`/`lastSeen` are the broker's receive times of its first
//            and last entry (since the store's oldest entry, after a
//            restart). `byLevel`: entries kept now, the broker's notes too, levels
//            without any left out. The counters are those of "counts" above; a service
//            whose records were all evicted is still listed with them. `notSeen` lists
//            names asked for that no entry ever had; past maxBytes the least recently
//            seen services are left out ("omittedCount").
//
//   observe, what "summary": an overview of a window, without reading every record.
//              service    a name or a list of names
//              since, until   as for backend-logs; default: the whole store
//            -> {"type": "summary", "since": "...", "until": "...", "totalCount": N,
//                "oldestTimestamp": "...", "newestTimestamp": "...",
//                "byService": {"api": {"INFO": 120, "ERROR": 3}},
//                "repeatedMessages": [{"count": 120, "service": "api", "level": "WARN",
//                                      "message": "...", "timestamp": "...",
//                                      "requestId": "...", "id": "8812"}],
//                "errorCount": N,
//                "newestErrors": [{"timestamp", "service", "level", "message",
//                                  "requestId", "traceId", "repeatCount", "id"}],
//                "textCut": true, "omittedCount": N}
//            `totalCount` and `byService` count the entries (the broker's notes too)
//            whose timestamp is in the window, services by their count, most first; a
//            record that stands for repeats folded by the dedup counts once there and in
//            `errorCount` (as in backend-logs' totalCount), and in full in `count`.
//            `repeatedMessages`: up to 10 (service, level, message) most often logged in
//            the window, twice or more; `count` is a lower bound, exact for a message
//            that makes up more than 1/16 of the records around it (the store counts
//            per block of 256 entries); timestamp, requestId and id are those of one of
//            them, the newest the store's tables name. `newestErrors`: the 10 newest
//            records at ERROR and above in the window, newest first; `errorCount`
//            counts all of them. Messages are cut at max(128, maxBytes / 64) bytes with
//            the marker above; past maxBytes the least repeated messages and the oldest
//            errors are left out ("omittedCount").
//
// Timing of an observe reply, in ms: "storeMs" from asking the store, its lock included,
// to its answer; "brokerMs" from the request's arrival in the query thread to the reply
// written, JSON included. What the socket and the client add is the rest.
//
// Error codes: unsupported_version (the message names the version the broker speaks),
// bad_request (not JSON, not an object, no method), unknown_method, invalid_param (the
// message names the parameter and what it accepts, or that the mode does not take it),
// unknown_mode (an unknown `what`; the message lists the modes),
// cursor_expired (the records a cursor pointed at were evicted, or the store started
// afresh; the hint says where to restart), not_found (observe by an `id` that was evicted
// or never given; the hint says how old the oldest record kept is), internal.
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
