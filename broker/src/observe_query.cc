#include "logwire/observe_query.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string_view>

#include "logwire/timestamp.h"
#include "logwire/traceparent.h"

namespace logwire {
namespace {

constexpr std::array<std::string_view, 5> k_known_arguments = {"what", "service", "level", "limit",
                                                               "since"};

broker_error invalid(std::string message) {
  return broker_error{"invalid_param", std::move(message), ""};
}

std::optional<std::int64_t> whole_number(const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (d >= -1e15 && d <= 1e15 && d == std::floor(d)) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

bool is_backend_logs(std::string_view what) {
  return what == "backend-logs" || what == "backend_logs";
}

}  // namespace

broker_result_of<store_query> parse_observe_arguments(const nlohmann::json& arguments,
                                                      std::int64_t now_ns) {
  if (!arguments.is_object() && !arguments.is_null()) {
    return invalid("arguments must be an object");
  }
  const nlohmann::json args = arguments.is_null() ? nlohmann::json::object() : arguments;
  for (const auto& [key, value] : args.items()) {
    if (std::find(k_known_arguments.begin(), k_known_arguments.end(), key) ==
        k_known_arguments.end()) {
      return invalid("unknown parameter '" + key +
                     "'; accepted: what, service, level, limit, since");
    }
  }

  const auto what = args.find("what");
  if (what == args.end() || !what->is_string()) {
    return invalid("what is required: \"backend-logs\"");
  }
  if (!is_backend_logs(what->get_ref<const std::string&>())) {
    return broker_error{"unknown_mode",
                        "unknown what '" + what->get<std::string>() +
                            "'; accepted: backend-logs (also spelled backend_logs)",
                        "call observe with what: \"backend-logs\""};
  }

  store_query query;
  if (const auto service = args.find("service"); service != args.end() && !service->is_null()) {
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
  if (const auto lvl = args.find("level"); lvl != args.end() && !lvl->is_null()) {
    const auto parsed =
        lvl->is_string() ? parse_level(lvl->get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) {
      return invalid(
          "level '" + (lvl->is_string() ? lvl->get<std::string>() : lvl->dump()) +
          "' is not a level; accepted (minimum severity): " + std::string(k_level_names));
    }
    query.min_level = *parsed;
  }
  if (const auto limit = args.find("limit"); limit != args.end() && !limit->is_null()) {
    const auto value = whole_number(*limit);
    if (!value || *value < 1 || *value > static_cast<std::int64_t>(k_max_limit)) {
      return invalid("limit must be a whole number from 1 to " + std::to_string(k_max_limit) +
                     " (default " + std::to_string(k_default_limit) + ")");
    }
    query.limit = static_cast<std::size_t>(*value);
  } else {
    query.limit = k_default_limit;
  }
  if (const auto since = args.find("since"); since != args.end() && !since->is_null()) {
    if (!since->is_string()) return invalid("since must be a string");
    const auto parsed = parse_time(since->get_ref<const std::string&>(), now_ns);
    if (!parsed) return invalid("since: " + parsed.error().message);
    query.since_ns = *parsed;
  }
  return query;
}

namespace {

std::string cut_text(const std::string& text, bool& cut) {
  if (text.size() <= k_max_text_bytes) return text;
  cut = true;
  std::size_t end = k_max_text_bytes;
  // Do not split a UTF-8 sequence: back up to the start of one.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end) + "... [cut: " + std::to_string(text.size() - end) + " more bytes]";
}

ordered_json to_json(const log_record& record, bool& cut) {
  ordered_json out = {{"timestamp", format_rfc3339_ms(record.timestamp_ns)},
                      {"service", record.service},
                      {"level", level_name(record.severity)},
                      {"message", cut_text(record.message, cut)}};
  if (!record.request_id.empty()) out["requestId"] = record.request_id;
  if (!record.traceparent.empty()) {
    if (const auto parsed = parse_traceparent(record.traceparent)) {
      out["traceId"] = parsed->trace_id;
    } else {
      out["traceparent"] = cut_text(record.traceparent, cut);  // invalid: text, not a trace
    }
  }
  if (!record.span_id.empty()) out["spanId"] = cut_text(record.span_id, cut);
  if (!record.fields.empty()) {
    ordered_json fields = ordered_json::object();
    for (const auto& [key, value] : record.fields) {
      if (const auto* text = std::get_if<std::string>(&value)) {
        fields[key] = cut_text(*text, cut);
      } else {
        std::visit([&fields, &key](const auto& v) { fields[key] = v; }, value);
      }
    }
    out["fields"] = std::move(fields);
  }
  if (!record.stack_trace.empty()) out["stackTrace"] = cut_text(record.stack_trace, cut);
  return out;
}

}  // namespace

ordered_json to_json(const log_record& record) {
  bool cut = false;
  return to_json(record, cut);
}

ordered_json to_observe_json(const store_result& result) {
  // Newest first into the budget, so what a size cut leaves out is the oldest.
  bool cut = false;
  std::size_t bytes = 0;
  std::vector<ordered_json> kept;
  for (auto it = result.logs.rbegin(); it != result.logs.rend(); ++it) {
    ordered_json entry = to_json(*it, cut);
    bytes += entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
    if (bytes > k_max_reply_bytes && !kept.empty()) break;
    kept.push_back(std::move(entry));
  }
  ordered_json logs = ordered_json::array();
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) logs.push_back(std::move(*it));
  const std::size_t omitted = result.logs.size() - kept.size();
  ordered_json out = {
      {"type", "backend-logs"}, {"logs", std::move(logs)}, {"totalCount", result.total_count}};
  if (result.oldest_ns) out["oldestTimestamp"] = format_rfc3339_ms(*result.oldest_ns);
  if (omitted != 0) out["omittedCount"] = omitted;
  if (cut) out["textCut"] = true;
  return out;
}

}  // namespace logwire
