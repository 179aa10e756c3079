// The broker's query protocol: JSON over ZeroMQ request/reply on the runtime directory's
// query socket (runtime_dir::query_endpoint()). One frame each way, UTF-8 JSON, at most
// k_max_query_message bytes.
//
//   request  {"v": 1, "method": "<method>", "params": {...}}
//   reply    {"v": 1, "result": {...}}
//        or  {"v": 1, "error": {"code": "<code>", "message": "<text>", "hint": "<next step>"}}
//            ("hint" is optional)
//
// Methods:
//   ping     params ignored    -> {"broker": "logwire", "version": "0.1.0", "pid": 1234}
//   observe  the MCP tool's arguments: what ("backend-logs" or "backend_logs"), service,
//            level (minimum), limit (1..1000, default 100), since (RFC 3339 or "5m")
//            -> {"type": "backend-logs", "logs": [...], "totalCount": N,
//                "oldestTimestamp": "..."}   (the shape in DESIGN.md "The agent's view")
//            `logs` holds the newest `limit` matches, oldest first; `totalCount` counts
//            every match and `oldestTimestamp` is the time of the oldest match.
//
// Error codes: unsupported_version (the message names the version the broker speaks),
// bad_request (not JSON, not an object, no method), unknown_method, invalid_param (the
// message names the parameter and what it accepts), unknown_mode (an unknown `what`),
// internal.
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
