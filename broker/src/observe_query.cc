#include "logwire/observe_query.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

#include "logwire/timestamp.h"
#include "logwire/traceparent.h"

namespace logwire {
namespace {

constexpr std::array<std::string_view, 20> k_known_arguments = {
    "what",   "service",   "level",  "since", "until",  "requestId", "traceId",
    "spanId", "sessionId", "userId", "text",  "fields", "limit",     "cursor",
    "id",     "maxBytes",  "window", "kind",  "url",    "minStatus"};
constexpr std::string_view k_accepted_arguments =
    "what, service, level, since, until, requestId, traceId, spanId, sessionId, userId, text, "
    "fields, limit, cursor, id, maxBytes, window, kind, url, minStatus";
// What each mode takes besides what and maxBytes; the filters of backend-logs but id.
constexpr std::array<std::string_view, 1> k_services_arguments = {"service"};
constexpr std::array<std::string_view, 3> k_summary_arguments = {"service", "since", "until"};
constexpr std::array<std::string_view, 6> k_timeline_arguments = {"requestId", "traceId", "since",
                                                                  "until",     "window",  "limit"};
constexpr std::array<std::string_view, 9> k_frontend_arguments = {
    "kind", "url", "minStatus", "since", "until", "requestId", "traceId", "limit", "cursor"};
// The browser's arguments, which backend-logs does not take.
constexpr std::array<std::string_view, 4> k_browser_arguments = {"window", "kind", "url",
                                                                 "minStatus"};
// A record's id is a decimal position: at most 20 digits.
constexpr std::size_t k_max_id_digits = 20;
// IDs and the text searched for are short; anything longer is a mistake.
constexpr std::size_t k_max_filter_bytes = 1024;

broker_error invalid(std::string message) {
  return broker_error{"invalid_param", std::move(message), ""};
}

std::optional<std::int64_t> whole_number(const nlohmann::json& value) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() &&
        value.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      return std::nullopt;
    }
    return value.get<std::int64_t>();
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (d >= -1e15 && d <= 1e15 && d == std::floor(d)) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

// `what` with '_' read as '-'.
std::optional<observe_mode> mode_named(std::string what) {
  std::replace(what.begin(), what.end(), '_', '-');
  if (what == "backend-logs") return observe_mode::backend_logs;
  if (what == "services") return observe_mode::services;
  if (what == "summary") return observe_mode::summary;
  if (what == "timeline") return observe_mode::timeline;
  if (what == "frontend") return observe_mode::frontend;
  return std::nullopt;
}

// An argument the mode does not take, named with what it does take.
template <std::size_t n>
std::optional<broker_error> not_taken(const nlohmann::json& args, std::string_view mode,
                                      const std::array<std::string_view, n>& takes) {
  for (const auto& [key, value] : args.items()) {
    if (key == "what" || key == "maxBytes" || value.is_null()) continue;
    if (std::find(takes.begin(), takes.end(), key) != takes.end()) continue;
    std::string accepted;
    for (const std::string_view name : takes) accepted += std::string(name) + ", ";
    return broker_error{"invalid_param",
                        key + " does not apply to what: \"" + std::string(mode) + "\"; it takes " +
                            accepted + "maxBytes",
                        "drop " + key + ", or ask for what: \"backend-logs\""};
  }
  return std::nullopt;
}

// A record's id: its decimal position, as a string (as answers give it) or a number.
std::optional<std::uint64_t> id_of(const nlohmann::json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {
    const auto number = value.get<std::int64_t>();
    if (number < 0) return std::nullopt;
    return static_cast<std::uint64_t>(number);
  }
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty() || text.size() > k_max_id_digits) return std::nullopt;
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return id;
}

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// An ID filter: a non-empty string, or a whole number (user IDs often are).
broker_result_of<std::string> id_argument(const nlohmann::json& value, std::string_view name) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty() || text.size() > k_max_filter_bytes) {
      return invalid(std::string(name) + " must be 1 to " + std::to_string(k_max_filter_bytes) +
                     " characters");
    }
    return {boost::system::in_place_value, text};
  }
  if (const auto number = whole_number(value))
    return {boost::system::in_place_value, std::to_string(*number)};
  return invalid(std::string(name) + " must be a string (or a whole number)");
}

broker_result_of<std::int64_t> time_argument(const nlohmann::json& value, std::string_view name,
                                             std::int64_t now_ns) {
  if (!value.is_string()) {
    return invalid(std::string(name) +
                   " must be a string: an RFC 3339 time (\"2026-01-31T10:15:23Z\") or a "
                   "duration ago (\"30s\", \"5m\", \"2h\")");
  }
  const auto parsed = parse_time(value.get_ref<const std::string&>(), now_ns);
  if (!parsed) return invalid(std::string(name) + ": " + parsed.error().message);
  return *parsed;
}

// The timeline's own arguments, and those it shares with backend-logs (in `query`).
broker_result_of<timeline_query> timeline_arguments(const nlohmann::json& args,
                                                    const store_query& query) {
  timeline_query timeline;
  timeline.request_id = query.request_id;
  timeline.trace_id = query.trace_id;
  timeline.since_ns = query.since_ns;
  timeline.until_ns = query.until_ns;
  timeline.limit = query.limit;
  if (timeline.request_id.empty() && timeline.trace_id.empty() &&
      timeline.since_ns == std::numeric_limits<std::int64_t>::min()) {
    return broker_error{"invalid_param",
                        "timeline needs requestId, traceId, or since (a window of time)",
                        "pass the requestId of a browser request or a backend record (observe "
                        "what: \"frontend\" with minStatus 400 lists failed requests), or "
                        "since: \"5m\""};
  }
  if (const auto found = args.find("window"); found != args.end() && !found->is_null()) {
    std::optional<std::int64_t> ms;
    if (found->is_string()) {
      if (const auto parsed = parse_duration_ns(found->get_ref<const std::string&>()))
        ms = *parsed / 1'000'000;
    } else {
      ms = whole_number(*found);
    }
    if (!ms || *ms < 0 || *ms > k_max_timeline_window_ms) {
      return invalid("window must be milliseconds from 0 to " +
                     std::to_string(k_max_timeline_window_ms) +
                     " (a number, or \"250ms\", "
                     "\"2s\"; default " +
                     std::to_string(k_default_timeline_window_ms) +
                     "): how far from a browser request a backend record without IDs may be "
                     "and still be joined to it");
    }
    timeline.window_ns = *ms * 1'000'000;
  }
  return timeline;
}

// The frontend mode's own arguments, and those it shares with backend-logs (in `query`).
std::optional<broker_error> frontend_arguments(const nlohmann::json& args, const store_query& query,
                                               frontend_query& out) {
  out.since_ns = query.since_ns;
  out.until_ns = query.until_ns;
  out.request_id = query.request_id;
  out.trace_id = query.trace_id;
  out.limit = query.limit;
  const auto given = [&args](const char* name) -> const nlohmann::json* {
    const auto found = args.find(name);
    return found != args.end() && !found->is_null() ? &*found : nullptr;
  };
  if (const auto* kind = given("kind")) {
    const std::string accepted =
        "kind must be one of request, action, console, exception, rejection, page-load, or a "
        "list of them";
    std::vector<nlohmann::json> names;
    if (kind->is_array()) {
      names.assign(kind->begin(), kind->end());
    } else {
      names.push_back(*kind);
    }
    if (names.empty()) return invalid(accepted);
    out.kinds = 0;
    for (const auto& name : names) {
      frontend_kind parsed{};
      if (!name.is_string() || !parse_frontend_kind(name.get_ref<const std::string&>(), parsed))
        return invalid(accepted);
      out.kinds |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(parsed));
    }
  }
  if (const auto* url = given("url")) {
    if (!url->is_string() || url->get_ref<const std::string&>().empty() ||
        url->get_ref<const std::string&>().size() > k_max_filter_bytes) {
      return invalid("url must be a string of 1 to " + std::to_string(k_max_filter_bytes) +
                     " characters (matched case-insensitively in the URL)");
    }
    out.url_text = url->get<std::string>();
  }
  if (const auto* status = given("minStatus")) {
    const auto value = whole_number(*status);
    if (!value || *value < 1 || *value > 999) {
      return invalid(
          "minStatus must be a whole number from 1 to 999: requests answered with "
          "at least this status, or not answered at all (e.g. 400 for failures)");
    }
    out.min_status = static_cast<int>(*value);
  }
  return std::nullopt;
}

}  // namespace

broker_result_of<observe_request> parse_observe_request(const nlohmann::json& arguments,
                                                        std::int64_t now_ns) {
  if (!arguments.is_object() && !arguments.is_null()) {
    return invalid("arguments must be an object");
  }
  const nlohmann::json args = arguments.is_null() ? nlohmann::json::object() : arguments;
  for (const auto& [key, value] : args.items()) {
    if (std::find(k_known_arguments.begin(), k_known_arguments.end(), key) ==
        k_known_arguments.end()) {
      return invalid("unknown parameter '" + key +
                     "'; accepted: " + std::string(k_accepted_arguments));
    }
  }

  const auto what = args.find("what");
  if (what == args.end() || !what->is_string()) {
    return invalid("what is required: one of " + std::string(k_observe_modes));
  }
  auto given = [&args](std::string_view name) -> const nlohmann::json* {
    const auto found = args.find(std::string(name));
    return found != args.end() && !found->is_null() ? &*found : nullptr;
  };
  const auto mode = mode_named(what->get<std::string>());
  if (!mode) {
    return broker_error{"unknown_mode",
                        "unknown what '" + what->get<std::string>() + "'; accepted: " +
                            std::string(k_observe_modes) + " ('_' and '-' are the same)",
                        "call observe with what: \"summary\" for an overview, \"services\" for "
                        "the services seen, \"backend-logs\" for the records, \"timeline\" "
                        "for a browser request and what the backend did for it, \"frontend\" "
                        "for the browser's events"};
  }
  observe_request request;
  request.mode = *mode;
  if (*mode == observe_mode::services) {
    if (auto refused = not_taken(args, "services", k_services_arguments)) return *refused;
  } else if (*mode == observe_mode::summary) {
    if (auto refused = not_taken(args, "summary", k_summary_arguments)) return *refused;
  } else if (*mode == observe_mode::timeline) {
    if (auto refused = not_taken(args, "timeline", k_timeline_arguments)) return *refused;
  } else if (*mode == observe_mode::frontend) {
    if (auto refused = not_taken(args, "frontend", k_frontend_arguments)) return *refused;
  } else {
    for (const std::string_view name : k_browser_arguments) {
      if (given(name) != nullptr) {
        return broker_error{"invalid_param",
                            std::string(name) + " does not apply to what: \"backend-logs\"",
                            std::string(name) == "window"
                                ? "drop window, or ask for what: \"timeline\""
                                : "drop " + std::string(name) + ", or ask for what: \"frontend\""};
      }
    }
  }
  if (const auto* max_bytes = given("maxBytes")) {
    const auto value = whole_number(*max_bytes);
    if (!value || *value < static_cast<std::int64_t>(k_smallest_max_bytes) ||
        *value > static_cast<std::int64_t>(k_largest_max_bytes)) {
      return invalid("maxBytes must be a whole number from " +
                     std::to_string(k_smallest_max_bytes) + " to " +
                     std::to_string(k_largest_max_bytes) +
                     " (the most bytes of JSON the answer "
                     "may take; default " +
                     std::to_string(k_default_max_bytes) + ")");
    }
    request.max_bytes = static_cast<std::size_t>(*value);
  }
  if (const auto* id = given("id")) {
    const auto parsed = id_of(*id);
    if (!parsed) {
      return invalid(
          "id must be a record's id as an observe answer gives it: a string of digits, e.g. "
          "\"8812\"");
    }
    for (const auto& [key, value] : args.items()) {
      if (key != "what" && key != "id" && key != "maxBytes" && !value.is_null()) {
        return broker_error{"invalid_param",
                            "id fetches one record whole; " + key + " does not apply with it",
                            "drop " + key + ", or drop id to search"};
      }
    }
    request.id = *parsed;
    return request;
  }

  store_query& query = request.query;
  if (const auto* service = given("service")) {
    if (service->is_string()) {
      if (!service->get_ref<const std::string&>().empty()) query.services.push_back(*service);
    } else if (service->is_array()) {
      for (const auto& name : *service) {
        if (!name.is_string()) return invalid("service must be a name or a list of names");
        query.services.push_back(name);
      }
    } else {
      return invalid("service must be a name or a list of names");
    }
  }
  if (const auto* lvl = given("level")) {
    const auto parsed =
        lvl->is_string() ? parse_level(lvl->get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) {
      return invalid(
          "level '" + (lvl->is_string() ? lvl->get<std::string>() : lvl->dump()) +
          "' is not a level; accepted (minimum severity): " + std::string(k_level_names));
    }
    query.min_level = *parsed;
  }
  query.limit = *mode == observe_mode::timeline ? k_default_timeline_limit : k_default_limit;
  if (const auto* limit = given("limit")) {
    const auto value = whole_number(*limit);
    if (!value || *value < 1 || *value > static_cast<std::int64_t>(k_max_limit)) {
      return invalid("limit must be a whole number from 1 to " + std::to_string(k_max_limit) +
                     " (default " + std::to_string(k_default_limit) + ")");
    }
    query.limit = static_cast<std::size_t>(*value);
  }
  if (const auto* since = given("since")) {
    const auto parsed = time_argument(*since, "since", now_ns);
    if (!parsed) return parsed.error();
    query.since_ns = *parsed;
  }
  if (const auto* until = given("until")) {
    const auto parsed = time_argument(*until, "until", now_ns);
    if (!parsed) return parsed.error();
    query.until_ns = *parsed;
  }
  if (query.since_ns >= query.until_ns) return invalid("since must be before until");

  const std::pair<std::string_view, std::string*> ids[] = {{"requestId", &query.request_id},
                                                           {"traceId", &query.trace_id},
                                                           {"spanId", &query.span_id},
                                                           {"sessionId", &query.session_id},
                                                           {"userId", &query.user_id}};
  for (const auto& [name, out] : ids) {
    if (const auto* value = given(name)) {
      auto id = id_argument(*value, name);
      if (!id) return id.error();
      *out = std::move(*id);
    }
  }
  if (!query.trace_id.empty()) {
    // A whole traceparent header names its trace too.
    if (const auto parsed = parse_traceparent(query.trace_id)) query.trace_id = parsed->trace_id;
    if (query.trace_id.size() != 32 || !is_hex(query.trace_id)) {
      return invalid(
          "traceId must be 32 hex digits (the second part of a traceparent), or a "
          "whole traceparent");
    }
    query.trace_id = lowercase(std::move(query.trace_id));
  }
  if (const auto* text = given("text")) {
    if (!text->is_string() || text->get_ref<const std::string&>().empty() ||
        text->get_ref<const std::string&>().size() > k_max_filter_bytes) {
      return invalid("text must be a string of 1 to " + std::to_string(k_max_filter_bytes) +
                     " characters (matched case-insensitively in message and stack trace)");
    }
    query.text = *text;
  }
  if (const auto* fields = given("fields")) {
    if (!fields->is_object()) {
      return invalid("fields must be an object of field names and values, e.g. {\"user_id\": 987}");
    }
    for (const auto& [name, value] : fields->items()) {
      if (value.is_string()) {
        query.fields.emplace_back(name, value.get<std::string>());
      } else if (value.is_boolean()) {
        query.fields.emplace_back(name, value.get<bool>());
      } else if (value.is_number_integer() && whole_number(value)) {
        query.fields.emplace_back(name, *whole_number(value));
      } else if (value.is_number_float()) {
        query.fields.emplace_back(name, value.get<double>());
      } else {
        return invalid("fields." + name +
                       " must be a string, a number or true/false (records are matched on "
                       "equal values)");
      }
    }
  }
  if (const auto* cursor = given("cursor"); cursor && *mode == observe_mode::frontend) {
    const auto parsed = cursor->is_string()
                            ? parse_frontend_cursor(cursor->get_ref<const std::string&>())
                            : std::nullopt;
    if (!parsed) {
      return invalid(
          "cursor is not one this broker gave; pass the nextCursor of an earlier frontend "
          "answer, or leave it out for the newest events");
    }
    request.frontend.cursor = *parsed;
  } else if (cursor) {
    const auto parsed =
        cursor->is_string() ? parse_cursor(cursor->get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) {
      return invalid(
          "cursor is not one this broker gave; pass the nextCursor or newerCursor of "
          "an earlier answer, or leave it out for the newest records");
    }
    query.cursor = *parsed;
  }
  if (*mode == observe_mode::timeline) {
    auto timeline = timeline_arguments(args, query);
    if (!timeline) return timeline.error();
    request.timeline = std::move(*timeline);
  } else if (*mode == observe_mode::frontend) {
    auto refused = frontend_arguments(args, query, request.frontend);
    if (refused) return *refused;
  }
  return request;
}

broker_result_of<store_query> parse_observe_arguments(const nlohmann::json& arguments,
                                                      std::int64_t now_ns) {
  auto request = parse_observe_request(arguments, now_ns);
  if (!request) return request.error();
  return std::move(request->query);
}

}  // namespace logwire
