// The observe tool as an agent meets it: its definition in tools/list, and how a broker
// reply becomes a tool result that opens with one line saying what was found and, when
// nothing or not everything was, what to do next.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logwire/broker_client.h"
#include "logwire/mcp_server.h"
#include "logwire/observe_backend.h"

namespace logwire {

inline constexpr std::string_view k_observe_tool_name = "observe";

// The Tool object for tools/list: name, description, inputSchema, annotations.
nlohmann::ordered_json observe_tool_definition();

// The whole observe tool call: checks the bridge's own arguments (waitMs), asks the
// backend, waits for a first match when asked to (polling with the answer's newerCursor
// until one arrives, waitMs passes or `cancelled` is set), and when nothing matched asks
// again without each filter to say which one is too narrow. Returns the CallToolResult.
nlohmann::ordered_json run_observe(observe_backend& backend, const nlohmann::json& arguments,
                                   const std::atomic<bool>& cancelled);

// What run_observe learned besides the answer, for the summary line.
struct observe_notes {
  std::int64_t max_bytes = k_default_max_bytes;  // maxBytes asked, or the default
  std::int64_t wait_ms = 0;                      // waitMs asked
  double waited_ms = 0;                          // how long it waited
  bool arrived = false;                          // a match arrived while it waited
  // Filters without which something matches, with how many then match.
  std::vector<std::pair<std::string, std::uint64_t>> narrowing;
};

// The CallToolResult for a reply to `arguments`: the summary line and the compact JSON as
// text plus the JSON as structuredContent, or isError with the broker's code and hint.
nlohmann::ordered_json observe_tool_result(const nlohmann::json& arguments,
                                           const broker_result& reply,
                                           const observe_notes& notes = {});

// The first line of a successful result, e.g. "2 of 2 matching records (service=api,
// level>=ERROR), oldest 2026-01-31T10:15:23.350Z."
std::string observe_summary(const nlohmann::json& arguments, const nlohmann::ordered_json& result,
                            const observe_notes& notes = {});

}  // namespace logwire
