// The observe tool as an agent meets it: its definition in tools/list, and how a broker
// reply becomes a tool result that opens with one line saying what was found and, when
// nothing or not everything was, what to do next.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "logwire/broker_client.h"

namespace logwire {

inline constexpr std::string_view k_observe_tool_name = "observe";

// The Tool object for tools/list: name, description, inputSchema, annotations.
nlohmann::ordered_json observe_tool_definition();

// The CallToolResult for a reply to `arguments`: the summary line and the compact JSON as
// text plus the JSON as structuredContent, or isError with the broker's code and hint.
nlohmann::ordered_json observe_tool_result(const nlohmann::json& arguments,
                                           const broker_result& reply);

// The first line of a successful result, e.g. "2 of 2 matching records (service=api,
// level>=ERROR), oldest 2026-01-31T10:15:23.350Z."
std::string observe_summary(const nlohmann::json& arguments, const nlohmann::ordered_json& result);

}  // namespace logwire
