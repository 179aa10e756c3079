// The MCP server of logwire-mcp, independent of its transport: one JSON-RPC 2.0 message in,
// at most one out. It offers one tool, observe, whose answers come from an observe_backend
// (the broker in production, a fake in tests).
#pragma once

#include <array>
#include <atomic>
#include <boost/system/result.hpp>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "logwire/observe_backend.h"

namespace logwire {

// The newest MCP revision this server speaks; also its answer to a client that asks for
// one it does not know, as the MCP lifecycle prescribes.
inline constexpr std::string_view k_latest_mcp_version = "2025-11-25";
// Every revision it speaks, newest first.
inline constexpr std::array<std::string_view, 4> k_mcp_versions = {
    k_latest_mcp_version, "2025-06-18", "2025-03-26", "2024-11-05"};

// How long an observe call may wait for its first match (waitMs), and how many bytes of
// text an answer holds when the agent names no maxBytes.
inline constexpr std::int64_t k_max_wait_ms = 30'000;
inline constexpr std::int64_t k_default_max_bytes = 20'000;

// Longer lines are answered with an error unread: an MCP message this big is a broken or
// hostile client, and the broker would refuse anything over 1 MiB anyway.
inline constexpr std::size_t k_max_mcp_line = 4 * 1024 * 1024;

// Messages nested deeper are answered with an error unread: nlohmann parses without
// recursion but serializes with it, so "[[[[..." forwarded to the broker would overflow
// the stack. No real MCP message nests anywhere near this deep.
inline constexpr std::size_t k_max_mcp_nesting = 128;

// Whether `text` nests brackets deeper than `limit`, counting outside JSON strings only,
// so it needs no parse and cannot itself be deep.
bool nests_deeper_than(std::string_view text, std::size_t limit);

// A JSON-RPC 2.0 error object: a code from the specification and a message for the client.
struct jsonrpc_error {
  int code;
  std::string message;
};

// Thread-safety: handle_line() may be called from several threads at once; the server
// keeps no state between messages, and the backend is thread-safe.
class mcp_server {
 public:
  explicit mcp_server(observe_backend& backend) noexcept : backend_(backend) {}

  // One line of input (one message, no newline). Returns the reply as one line of JSON
  // without its newline, or nothing for notifications, client responses and blank lines.
  // Every failure, the backend's exceptions included, becomes a JSON-RPC error or an
  // isError tool result; only running out of memory escapes as an exception.
  // `cancelled` ends a waiting observe call early (the client cancelled the request or
  // went away); its answer then says so.
  std::optional<std::string> handle_line(std::string_view line, const std::atomic<bool>& cancelled);
  std::optional<std::string> handle_line(std::string_view line);

 private:
  // The result of a request whose envelope is valid, or its JSON-RPC error. Ordered, so
  // the broker's records keep their key order (timestamp, service, level, message, ...).
  using outcome = boost::system::result<nlohmann::ordered_json, jsonrpc_error>;

  outcome dispatch(std::string_view method, const nlohmann::json& params,
                   const std::atomic<bool>& cancelled);
  outcome initialize(const nlohmann::json& params);
  outcome call_tool(const nlohmann::json& params, const std::atomic<bool>& cancelled);

  observe_backend& backend_;
};

// Most tool calls served at once on the stdio transport; the next waits for one to end.
inline constexpr std::size_t k_max_calls_in_flight = 32;

// The stdio transport: reads `in` one line per message until end of input and writes each
// reply as one line to `out`, flushed at once so the client never waits on a buffer.
// Tool calls run on threads of their own, so that a call waiting for records (waitMs)
// does not hold up the messages after it; a notifications/cancelled for one ends its
// wait and drops its reply, as MCP asks. At end of input the calls still waiting are
// cancelled and their replies written. Reads at most k_max_mcp_line + 1 bytes of any
// line, so a huge line costs no memory. Returns false if writing failed (the client went
// away), true at end of input.
bool serve_lines(mcp_server& server, std::istream& in, std::ostream& out);

}  // namespace logwire
