#include "observe_tool.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace logwire {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// The broker's bounds on `limit` (query_protocol.h); the schema tells the agent the same.
constexpr std::int64_t k_default_limit = 100;
constexpr std::int64_t k_max_limit = 1000;

// Replacing bad UTF-8 instead of throwing: a record's message is whatever the backend
// logged, and the agent is better served by U+FFFD than by no answer.
template <class json_type>
std::string compact(const json_type& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

ordered_json text_content(std::string text) {
  return ordered_json::array({ordered_json{{"type", "text"}, {"text", std::move(text)}}});
}

ordered_json tool_error(const broker_error& error) {
  std::string text = error.code + ": " + error.message;
  ordered_json detail = {{"code", error.code}, {"message", error.message}};
  if (!error.hint.empty()) {
    text += "\n" + error.hint;
    detail["hint"] = error.hint;
  }
  return ordered_json{{"content", text_content(std::move(text))},
                      {"structuredContent", ordered_json{{"error", std::move(detail)}}},
                      {"isError", true}};
}

std::string argument_text(const json& arguments, const char* key) {
  const auto found = arguments.find(key);
  if (found == arguments.end() || found->is_null()) return {};
  return found->is_string() ? found->get<std::string>() : compact(*found);
}

// The filters the agent set, as "service=api, level>=ERROR", and their names for advice.
struct filter_list {
  std::string described;
  std::vector<std::string> names;
};

filter_list describe_filters(const json& arguments) {
  filter_list filters;
  const auto add = [&](const char* key, const char* relation) {
    const std::string value = argument_text(arguments, key);
    if (value.empty()) return;
    if (!filters.described.empty()) filters.described += ", ";
    filters.described += std::string(key) + relation + value;
    filters.names.emplace_back(key);
  };
  add("service", "=");
  add("level", ">=");
  add("since", "=");
  add("until", "=");
  add("requestId", "=");
  add("traceId", "=");
  add("spanId", "=");
  add("sessionId", "=");
  add("userId", "=");
  add("text", "~");
  add("fields", "=");
  return filters;
}

std::string join_alternatives(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

std::string records_word(std::uint64_t count) {
  return count == 1 ? "record" : "records";
}

}  // namespace

ordered_json observe_tool_definition() {
  ordered_json schema = {
      {"type", "object"},
      {"properties",
       {{"what",
         {{"type", "string"},
          {"enum", {"backend-logs", "backend_logs"}},
          {"description",
           "What to observe. 'backend-logs': structured log records the developer's backend "
           "services sent to logwire (the two spellings are the same)."}}},
        {"service",
         {{"anyOf", {{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "string"}}}}}},
          {"description",
           "Only records from this service, by the name the backend gave its logwire "
           "producer (e.g. 'api-server'), or from any of a list of services. Omit for every "
           "service."}}},
        {"level",
         {{"type", "string"},
          {"enum", {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}},
          {"description",
           "Minimum severity: 'WARN' returns WARN, ERROR and FATAL records. Omit for every "
           "level."}}},
        {"limit",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", k_max_limit},
          {"default", k_default_limit},
          {"description",
           "Most records to return (1-1000, default 100). totalCount in the result says how "
           "many matched in all."}}},
        {"since",
         {{"type", "string"},
          {"description",
           "Only records at or after this time: an RFC 3339 time ('2026-01-31T10:15:00Z') or "
           "a duration back from now ('30s', '5m', '2h')."}}},
        {"until",
         {{"type", "string"},
          {"description", "Only records before this time (same forms as since)."}}},
        {"requestId",
         {{"type", "string"},
          {"description",
           "Only records of this request: the X-Request-ID the browser sent (the backend's "
           "request_id / requestId field counts too)."}}},
        {"traceId",
         {{"type", "string"},
          {"description",
           "Only records of this W3C trace: 32 hex digits, or a whole traceparent header."}}},
        {"spanId",
         {{"type", "string"},
          {"description",
           "Only records of this span: the record's span ID, or the parent ID of its "
           "traceparent (so the browser's span finds the backend lines it caused)."}}},
        {"sessionId",
         {{"type", "string"}, {"description", "Only records with this session_id field."}}},
        {"userId",
         {{"anyOf", {{{"type", "string"}}, {{"type", "integer"}}}},
          {"description", "Only records with this user_id field."}}},
        {"text",
         {{"type", "string"},
          {"description",
           "Only records whose message or stack trace contains this text (case-insensitive)."}}},
        {"fields",
         {{"type", "object"},
          {"description",
           "Only records whose fields have these values, e.g. {\"paymentId\": \"pay-99\", "
           "\"attempt\": 2}."}}},
        {"cursor",
         {{"type", "string"},
          {"description",
           "Page on: pass nextCursor from an answer for the older matches, or newerCursor for "
           "only what arrived since that answer (poll with it after triggering an action)."}}}}},
      {"required", {"what"}}};
  return ordered_json{
      {"name", k_observe_tool_name},
      {"title", "Observe backend logs"},
      {"description",
       "Read the structured logs that the developer's backend services stream live to logwire. "
       "Each record has timestamp (RFC 3339 UTC), service, level, message and, when the "
       "backend set them, requestId, traceId, spanId, fields and stackTrace; use requestId or "
       "traceId to match backend work to a browser request. The answer opens with a one-line "
       "summary (how many matched, how many are shown, what to do when nothing matched), then "
       "the JSON {type, logs, totalCount, oldestTimestamp, nextCursor, newerCursor, counts}; a "
       "record repeated within 2 s shows once with repeatCount and lastTimestamp. To "
       "investigate a failure, start with level 'ERROR' or since '5m', then follow its "
       "requestId."},
      {"inputSchema", std::move(schema)},
      {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}};
}

std::string observe_summary(const json& arguments, const ordered_json& result) {
  const auto logs = result.find("logs");
  const std::uint64_t shown = logs != result.end() && logs->is_array() ? logs->size() : 0;
  std::uint64_t total = shown;
  if (const auto count = result.find("totalCount");
      count != result.end() && count->is_number_integer() &&
      (count->is_number_unsigned() || count->get<std::int64_t>() >= 0)) {
    total = std::max(shown, count->get<std::uint64_t>());
  }
  const filter_list filters = describe_filters(arguments);
  const std::string in_filters = filters.described.empty() ? "" : " (" + filters.described + ")";

  if (total == 0) {
    if (filters.names.empty()) {
      return "No records: no backend has sent logs to this broker recently. Start one with the "
             "logwire producer library (or `logwire send`) on the same runtime directory, "
             "then call observe again.";
    }
    return "No records match" + in_filters +
           ". If no service has connected yet, start a backend with the logwire producer; "
           "otherwise widen the filters (drop " +
           join_alternatives(filters.names) + ").";
  }

  std::string oldest;
  if (const auto stamp = result.find("oldestTimestamp");
      stamp != result.end() && stamp->is_string()) {
    oldest = ", oldest " + stamp->get<std::string>();
  }
  std::string counts = std::to_string(shown) + " of " + std::to_string(total) + " matching " +
                       records_word(total) + in_filters + oldest + ".";
  if (const auto cut = result.find("textCut"); cut != result.end() && *cut == true) {
    counts += " Long texts are cut at 4 KB.";
  }
  if (const auto omitted = result.find("omittedCount");
      omitted != result.end() && omitted->is_number_integer()) {
    return counts + " " + std::to_string(omitted->get<std::int64_t>()) +
           " older records of this page were left out to keep the answer under 256 KB; lower "
           "limit or narrow with since.";
  }
  if (shown == total) return counts;

  std::int64_t limit = k_default_limit;
  if (const auto asked = arguments.find("limit");
      asked != arguments.end() && asked->is_number_integer()) {
    limit = asked->get<std::int64_t>();
  }
  std::vector<std::string> narrowers = {"since (e.g. since '5m')"};
  if (argument_text(arguments, "level").empty()) narrowers.emplace_back("level");
  if (argument_text(arguments, "service").empty()) narrowers.emplace_back("service");
  const std::string page_on =
      result.contains("nextCursor") ? "pass cursor: nextCursor for the older ones, " : "";
  return "Showing " + counts + " To see the rest, " + page_on +
         (limit < k_max_limit ? "raise limit (up to 1000) or narrow with " : "narrow with ") +
         join_alternatives(narrowers) + ".";
}

ordered_json observe_tool_result(const json& arguments, const broker_result& reply) {
  if (!reply) return tool_error(reply.error());
  const ordered_json& result = *reply;
  // structuredContent must be an object, and the summary reads the object's keys.
  if (!result.is_object()) {
    return tool_error({"protocol_error", "the broker's observe reply is not a JSON object",
                       "make sure logwire-broker and logwire-mcp come from one build"});
  }
  return ordered_json{
      {"content", text_content(observe_summary(arguments, result) + "\n" + compact(result))},
      {"structuredContent", result},
      {"isError", false}};
}

}  // namespace logwire
