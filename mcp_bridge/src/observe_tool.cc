#include "observe_tool.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
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
  add("kind", "=");
  add("url", "~");
  add("minStatus", ">=");
  add("window", "=");
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

std::string seconds_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", ms / 1000);
  return text;
}

std::uint64_t count_of(const ordered_json& result, const char* key) {
  const auto found = result.find(key);
  if (found == result.end()) return 0;
  if (found->is_array()) return found->size();
  if (!found->is_number_integer()) return 0;
  return found->is_number_unsigned() || found->get<std::int64_t>() >= 0
             ? found->get<std::uint64_t>()
             : 0;
}

std::string string_of(const ordered_json& result, const char* key) {
  const auto found = result.find(key);
  return found != result.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// `what` with '_' read as '-', as the broker reads it.
std::string mode_of(const json& arguments) {
  std::string mode = argument_text(arguments, "what");
  std::replace(mode.begin(), mode.end(), '_', '-');
  return mode;
}

// The filters the narrowing advice tries to drop, in the order the agent reads them.
constexpr std::array<const char*, 11> k_filters = {"service",   "level",   "since",  "until",
                                                   "requestId", "traceId", "spanId", "sessionId",
                                                   "userId",    "text",    "fields"};

// What the summary line may take of maxBytes; the broker's JSON gets the rest.
constexpr std::int64_t k_summary_line_bytes = 1000;
constexpr std::int64_t k_min_max_bytes = 2000;
constexpr std::int64_t k_max_max_bytes = 1 << 20;

constexpr std::chrono::milliseconds k_first_poll{25};
constexpr std::chrono::milliseconds k_longest_poll{250};
// A cancelled wait notices within this.
constexpr std::chrono::milliseconds k_cancel_check{50};

// Polls with the first answer's newerCursor until a match arrives, the wait is over or
// the call is cancelled. A broker error ends the wait with that error.
broker_result wait_for_match(observe_backend& backend, json arguments, broker_result first,
                             const std::atomic<bool>& cancelled, observe_notes& notes) {
  using clock_type = std::chrono::steady_clock;
  const auto start = clock_type::now();
  const auto deadline = start + std::chrono::milliseconds(notes.wait_ms);
  std::string cursor = string_of(*first, "newerCursor");
  broker_result answer = std::move(first);
  auto interval = std::chrono::duration_cast<clock_type::duration>(k_first_poll);
  auto next_poll = start + interval;
  while (!cursor.empty() && !cancelled.load()) {
    const auto now = clock_type::now();
    if (now >= deadline) break;
    if (now < next_poll) {
      std::this_thread::sleep_for(
          std::min<clock_type::duration>({next_poll - now, deadline - now, k_cancel_check}));
      continue;
    }
    arguments["cursor"] = cursor;
    broker_result polled = backend.observe(arguments);
    if (!polled) {
      answer = std::move(polled);
      break;
    }
    if (count_of(*polled, "logs") > 0) {
      notes.arrived = true;
      answer = std::move(polled);
      break;
    }
    if (const std::string next = string_of(*polled, "newerCursor"); !next.empty()) cursor = next;
    interval = std::min<clock_type::duration>(k_longest_poll, interval * 2);
    next_poll = clock_type::now() + interval;
  }
  notes.waited_ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
  return answer;
}

// For an answer with no match: how many would match without each filter the agent set.
void find_narrowing(observe_backend& backend, const json& arguments, observe_notes& notes) {
  for (const char* filter : k_filters) {
    if (!arguments.contains(filter)) continue;
    json wider = arguments;
    wider.erase(filter);
    wider.erase("cursor");
    wider["limit"] = 1;
    wider["maxBytes"] = k_min_max_bytes;
    const broker_result reply = backend.observe(wider);
    if (!reply) return;  // the answer itself came; advice is not worth an error
    if (const std::uint64_t count = count_of(*reply, "totalCount"); count > 0)
      notes.narrowing.emplace_back(filter, count);
  }
}

}  // namespace

ordered_json observe_tool_definition() {
  ordered_json schema = {
      {"type", "object"},
      {"properties",
       {{"what",
         {{"type", "string"},
          {"enum", {"backend-logs", "backend_logs", "services", "summary", "timeline", "frontend"}},
          {"description",
           "What to observe. 'backend-logs': the structured log records the developer's "
           "backend services sent (also spelled 'backend_logs'), filtered by the arguments "
           "below; a record whose request the browser made says so in browserRequest ('POST "
           "/api/x → 500'). 'services': every service seen, connected or not, its transport, "
           "first and last seen, version, counts by level and what was dropped, folded or "
           "evicted; takes service. 'summary': a cheap overview of a window (since/until, "
           "service): counts by service and level, the most repeated messages, the newest "
           "errors with their request IDs; start here when you do not know what to look for. "
           "'timeline': one browser request end to end (requestId or traceId; or a window with "
           "since/until): the click that started it, the request sent, every backend record "
           "for it and the answer, in time order; each backend entry says correlation 'exact' "
           "(same request or trace ID) or 'inferred' (no ID, within window ms of the request, "
           "naming its path or a service named in its URL); takes requestId, traceId, since, "
           "until, window, limit. 'frontend': the browser's events (requests, clicks, console "
           "errors, exceptions, rejections, page loads) from pages that load logwire.js; takes "
           "kind, url, minStatus, since, until, requestId, traceId, limit, cursor."}}},
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
           "request_id / requestId field counts too). For 'timeline': the request to show "
           "end to end."}}},
        {"traceId",
         {{"type", "string"},
          {"description",
           "Only records of this W3C trace: 32 hex digits, or a whole traceparent header. For "
           "'timeline': the trace to show end to end."}}},
        {"window",
         {{"anyOf",
           {{{"type", "integer"}, {"minimum", 0}, {"maximum", 60000}}, {{"type", "string"}}}},
          {"description",
           "timeline only: how many ms before a browser request started and after it was "
           "answered a backend record without any ID may be and still be joined to it as "
           "'inferred' (default 100; or '250ms', '2s'). 0 joins by ID only."}}},
        {"kind",
         {{"anyOf",
           {{{"type", "string"},
             {"enum", {"request", "action", "console", "exception", "rejection", "page-load"}}},
            {{"type", "array"},
             {"items",
              {{"type", "string"},
               {"enum",
                {"request", "action", "console", "exception", "rejection", "page-load"}}}}}}},
          {"description",
           "frontend only: only browser events of this kind or these kinds: request (fetch/XHR "
           "with method, url, status, durationMs, requestId), action (click, submit), console "
           "(console.error), exception, rejection (unhandled promise rejection), page-load."}}},
        {"url",
         {{"type", "string"},
          {"description",
           "frontend only: only events whose URL (a request's or page load's; else the page's) "
           "contains this text (case-insensitive), e.g. '/api/payments'."}}},
        {"minStatus",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", 999},
          {"description",
           "frontend only: only requests answered with at least this HTTP status, or not "
           "answered at all (network error, abort): 400 lists every failed request."}}},
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
        {"id",
         {{"anyOf", {{{"type", "string"}}, {{"type", "integer"}}}},
          {"description",
           "backend-logs only: the id of one record (every record in an answer has one) to "
           "fetch it whole, where an answer cut a long message, stack trace or field. Takes no "
           "other filter."}}},
        {"maxBytes",
         {{"type", "integer"},
          {"minimum", k_min_max_bytes},
          {"maximum", k_max_max_bytes},
          {"default", k_default_max_bytes},
          {"description",
           "Most bytes of text in the answer (default 20000). Past it, long texts are cut "
           "(each cut says how to fetch its record by id) and the oldest records of a page are "
           "left out, still reachable with nextCursor."}}},
        {"waitMs",
         {{"type", "integer"},
          {"minimum", 0},
          {"maximum", k_max_wait_ms},
          {"description",
           "backend-logs only: when nothing matches yet, wait up to this many milliseconds "
           "(at most 30000) for the first matching record to arrive and return it. Trigger an "
           "action (a request, a click), then call with e.g. level 'ERROR' and waitMs 10000 to "
           "catch the error it causes. Other requests are answered while a call waits."}}},
        {"cursor",
         {{"type", "string"},
          {"description",
           "Page on: pass nextCursor from an answer for the older matches, or newerCursor for "
           "only what arrived since that answer (poll with it after triggering an action)."}}}}},
      {"required", {"what"}}};
  return ordered_json{
      {"name", k_observe_tool_name},
      {"title", "Observe backend logs and the browser"},
      {"description",
       "Read the structured logs that the developer's backend services stream live to logwire "
       "(what:'backend-logs'), which services are connected (what:'services'), an overview "
       "of a time window (what:'summary'), the browser's requests, clicks and errors "
       "(what:'frontend'), or one browser request end to end with every backend line for it "
       "(what:'timeline' with its requestId: click → request → backend lines → response, "
       "each backend entry marked correlation 'exact' or 'inferred'). "
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

std::string observe_summary(const json& arguments, const ordered_json& result,
                            const observe_notes& notes) {
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

  std::string waited;
  if (notes.wait_ms > 0) {
    waited = notes.arrived ? "After waiting " + seconds_text(notes.waited_ms) + ": "
                           : "No match arrived within " + seconds_text(notes.waited_ms) +
                                 " (waitMs " + std::to_string(notes.wait_ms) + "). ";
  }
  if (total == 0) {
    if (!notes.narrowing.empty()) {
      std::string without;
      for (const auto& [filter, count] : notes.narrowing) {
        without += without.empty() ? "Without " : "; without ";
        without += filter + ", " + std::to_string(count) + " " + records_word(count) + " match";
      }
      return waited + "No records match" + in_filters + ". " + without +
             ": widen or drop that filter.";
    }
    if (filters.names.empty()) {
      return waited +
             "No records: no backend has sent logs to this broker recently. Start one with the "
             "logwire producer library (or `logwire send`) on the same runtime directory, "
             "then call observe again.";
    }
    return waited + "No records match" + in_filters +
           ", and none would without any one of the filters. If the backend has not run "
           "since, trigger it and call again with waitMs; otherwise widen the filters (drop " +
           join_alternatives(filters.names) + ").";
  }

  std::string oldest;
  if (const auto stamp = result.find("oldestTimestamp");
      stamp != result.end() && stamp->is_string()) {
    oldest = ", oldest " + stamp->get<std::string>();
  }
  const bool newer_page = notes.arrived || argument_text(arguments, "cursor").starts_with("c1-n");
  std::string counts = waited + std::to_string(shown) + (newer_page ? " new" : "") + " of " +
                       std::to_string(total) + " matching " + records_word(total) + in_filters +
                       oldest + ".";
  if (const auto cut = result.find("textCut"); cut != result.end() && *cut == true) {
    counts += " Long texts are cut; each cut says how to fetch its record whole by id.";
  }
  if (const std::uint64_t omitted = count_of(result, "omittedCount"); omitted > 0) {
    return counts + " " + std::to_string(omitted) + " " + (newer_page ? "later" : "older") +
           " records of this page were left out to keep the answer under " +
           std::to_string(notes.max_bytes) +
           " bytes; pass cursor: " + (newer_page ? "newerCursor" : "nextCursor") +
           " to read them, or raise maxBytes (up to 1048576).";
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

std::string services_summary(const ordered_json& result);
std::string summary_summary(const json& arguments, const ordered_json& result);
std::string frontend_summary(const json& arguments, const ordered_json& result);

// The one line that opens an answer, by mode.
std::string summary_line(const json& arguments, const ordered_json& result,
                         const observe_notes& notes) {
  const std::string type = string_of(result, "type");
  if (type == "services") return services_summary(result);
  if (type == "summary") return summary_summary(arguments, result);
  if (type == "frontend") return frontend_summary(arguments, result);
  // The broker writes the timeline's line itself: the developer's view of the request.
  if (type == "timeline") return string_of(result, "summary");
  return observe_summary(arguments, result, notes);
}

std::string frontend_summary(const json& arguments, const ordered_json& result) {
  const std::uint64_t shown = count_of(result, "events");
  const std::uint64_t total = std::max(shown, count_of(result, "totalCount"));
  const filter_list filters = describe_filters(arguments);
  const std::string in_filters = filters.described.empty() ? "" : " (" + filters.described + ")";
  const std::string noun = total == 1 ? "browser event" : "browser events";
  if (total == 0) {
    if (filters.names.empty()) {
      return "No browser events: no page has sent any. Add <script "
             "src=\"http://127.0.0.1:7719/logwire.js\"></script> to the page (the broker's "
             "HTTP address), reload it, then call again.";
    }
    return "No browser events match" + in_filters + "; widen or drop " +
           join_alternatives(filters.names) + ".";
  }
  std::string line = std::to_string(shown) + " of " + std::to_string(total) + " " + noun +
                     in_filters + ", newest last.";
  if (const std::uint64_t omitted = count_of(result, "omittedCount"); omitted > 0) {
    line += " " + std::to_string(omitted) + " older events of this page were left out for size.";
  }
  if (result.contains("nextCursor")) line += " Pass cursor: nextCursor for older ones.";
  line += " Follow a request with what:'timeline' and its requestId.";
  return line;
}

std::string services_summary(const ordered_json& result) {
  std::uint64_t seen = 0, connected = 0;
  std::string names;
  if (const auto services = result.find("services");
      services != result.end() && services->is_array()) {
    seen = services->size();
    for (const auto& s : *services) {
      if (!s.is_object()) continue;
      const bool up = s.value("connected", false);
      connected += up ? 1 : 0;
      if (names.size() < 200) {
        names += names.empty() ? ": " : ", ";
        names += s.value("service", std::string("?")) + (up ? " (connected)" : "");
      }
    }
  }
  if (seen == 0) {
    return "No service has sent logs to this broker. Start a backend with the logwire producer "
           "library (or `logwire send`) on the same runtime directory, then call again.";
  }
  std::string line = std::to_string(seen) + (seen == 1 ? " service" : " services") + " seen, " +
                     std::to_string(connected) + " connected now" + names + ".";
  if (const std::uint64_t omitted = count_of(result, "omittedCount"); omitted > 0)
    line += " " + std::to_string(omitted) + " less recently seen left out; ask by service.";
  if (const auto not_seen = result.find("notSeen");
      not_seen != result.end() && not_seen->is_array() && !not_seen->empty()) {
    line += " Never seen: " + compact(*not_seen) + ".";
  }
  return line;
}

std::string summary_summary(const json& arguments, const ordered_json& result) {
  const std::uint64_t total = count_of(result, "totalCount");
  const filter_list filters = describe_filters(arguments);
  const std::string in_filters = filters.described.empty() ? "" : " (" + filters.described + ")";
  if (total == 0) {
    return "No records in the window" + in_filters +
           ". Widen since/until, or check what:'services' for what has connected.";
  }
  std::string line = std::to_string(total) + " " + records_word(total) + in_filters;
  if (const auto since = result.find("oldestTimestamp");
      since != result.end() && since->is_string())
    line += " from " + since->get<std::string>();
  if (const auto until = result.find("newestTimestamp");
      until != result.end() && until->is_string())
    line += " to " + until->get<std::string>();
  const std::uint64_t errors = count_of(result, "errorCount");
  line += "; " + std::to_string(errors) + (errors == 1 ? " error" : " errors") + ".";
  if (errors > 0) {
    line += " Follow an error with what:'backend-logs' and its requestId, or fetch it by id.";
  }
  return line;
}

ordered_json observe_tool_result(const json& arguments, const broker_result& reply,
                                 const observe_notes& notes) {
  if (!reply) return tool_error(reply.error());
  const ordered_json& result = *reply;
  // structuredContent must be an object, and the summary reads the object's keys.
  if (!result.is_object()) {
    return tool_error({"protocol_error", "the broker's observe reply is not a JSON object",
                       "make sure logwire-broker and logwire-mcp come from one build"});
  }
  return ordered_json{
      {"content", text_content(summary_line(arguments, result, notes) + "\n" + compact(result))},
      {"structuredContent", result},
      {"isError", false}};
}

ordered_json run_observe(observe_backend& backend, const json& arguments,
                         const std::atomic<bool>& cancelled) {
  const std::string mode = mode_of(arguments);
  json asked = arguments;
  observe_notes notes;
  if (const auto wait = asked.find("waitMs"); wait != asked.end()) {
    if (!wait->is_number_integer() || wait->get<std::int64_t>() < 0 ||
        wait->get<std::int64_t>() > k_max_wait_ms) {
      return tool_error({"invalid_param",
                         "waitMs must be an integer from 0 to " + std::to_string(k_max_wait_ms) +
                             " (milliseconds to wait for a first match)",
                         "pass e.g. waitMs: 10000 after triggering the action you expect to log"});
    }
    if (mode != "backend-logs") {
      return tool_error({"invalid_param", "waitMs applies to what: 'backend-logs' only",
                         "drop waitMs, or ask for backend-logs"});
    }
    notes.wait_ms = wait->get<std::int64_t>();
    asked.erase(wait);
  }
  // maxBytes bounds what the agent reads: the broker's JSON gets it less the summary line.
  if (const auto max = asked.find("maxBytes"); max != asked.end()) {
    if (!max->is_number_integer() || max->get<std::int64_t>() < k_min_max_bytes ||
        max->get<std::int64_t>() > k_max_max_bytes) {
      return tool_error({"invalid_param",
                         "maxBytes must be an integer from " + std::to_string(k_min_max_bytes) +
                             " to " + std::to_string(k_max_max_bytes),
                         "leave it out for about 20 KB"});
    }
    notes.max_bytes = max->get<std::int64_t>();
  }
  asked["maxBytes"] = notes.max_bytes - k_summary_line_bytes;

  broker_result reply = backend.observe(asked);
  if (reply && notes.wait_ms > 0 && count_of(*reply, "logs") == 0)
    reply = wait_for_match(backend, asked, std::move(reply), cancelled, notes);
  if (reply && mode == "backend-logs" && count_of(*reply, "totalCount") == 0 && !cancelled.load()) {
    find_narrowing(backend, asked, notes);
  }
  return observe_tool_result(arguments, reply, notes);
}

}  // namespace logwire
