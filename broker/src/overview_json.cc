// observe's services and summary answers as JSON text (shapes in query_protocol.h).
#include <algorithm>
#include <limits>

#include "json_text.h"
#include "logwire/observe_json.h"
#include "logwire/traceparent.h"

namespace logwire {
namespace {

using json_text::append_integer;
using json_text::append_key;
using json_text::append_string;
using json_text::append_time;

constexpr std::size_t k_envelope_bytes = 256;

// {"INFO": 3, "ERROR": 1}: the levels with entries, lowest first.
void append_levels(std::string& out, const std::array<std::uint64_t, k_levels>& by_level) {
  out += '{';
  bool first = true;
  for (std::size_t l = 0; l < k_levels; ++l) {
    if (by_level[l] == 0) continue;
    if (!first) out += ',';
    first = false;
    append_string(out, level_name(static_cast<level>(l)));
    out += ':';
    append_integer(out, by_level[l]);
  }
  out += '}';
}

void append_if_any(std::string& out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  append_key(out, key);
  append_string(out, value);
}

void append_service(std::string& out, const service_overview& s) {
  out += "{\"service\":";
  append_string(out, s.counts.service);
  out += s.producers != 0 ? ",\"connected\":true" : ",\"connected\":false";
  if (s.producers != 0) {
    append_key(out, "producers");
    append_integer(out, s.producers);
  }
  append_if_any(out, "transport", s.transport);
  append_if_any(out, "host", s.host);
  append_if_any(out, "language", s.language);
  append_if_any(out, "libraryVersion", s.library_version);
  append_if_any(out, "appVersion", s.app_version);
  append_key(out, "firstSeen");
  append_time(out, s.first_seen_ns);
  append_key(out, "lastSeen");
  append_time(out, s.last_seen_ns);
  append_key(out, "byLevel");
  append_levels(out, s.counts.by_level);
  const std::pair<std::string_view, std::uint64_t> counters[] = {
      {"stored", s.counts.stored},
      {"deduplicated", s.counts.deduplicated},
      {"rateLimited", s.counts.rate_limited},
      {"expired", s.counts.expired},
      {"evicted", s.counts.evicted},
      {"dropped", s.counts.dropped}};
  for (const auto& [key, value] : counters) {
    append_key(out, key);
    append_integer(out, value);
  }
  out += '}';
}

// A text of a summary, cut like a record's (observe_json.h).
void append_text(std::string& out, std::string_view text, std::size_t limit, std::uint64_t position,
                 bool& cut) {
  json_text::append_cut_text(out, text, limit, position, false, cut);
}

void append_repeated(std::string& out, const repeated_message& m, std::size_t limit, bool& cut) {
  const log_record& r = m.sample;
  out += "{\"count\":";
  append_integer(out, m.count);
  append_key(out, "service");
  append_string(out, r.service);
  append_key(out, "level");
  append_string(out, level_name(r.severity));
  append_key(out, "message");
  append_text(out, r.message, limit, r.position, cut);
  append_key(out, "timestamp");
  append_time(out,
              r.repeat_count > 1 ? std::max(r.timestamp_ns, r.last_timestamp_ns) : r.timestamp_ns);
  append_if_any(out, "requestId", r.request_id);
  append_key(out, "id");
  append_string(out, std::to_string(r.position));
  out += '}';
}

void append_error(std::string& out, const log_record& r, std::size_t limit, bool& cut) {
  out += "{\"timestamp\":";
  append_time(out, r.timestamp_ns);
  append_key(out, "service");
  append_string(out, r.service);
  append_key(out, "level");
  append_string(out, level_name(r.severity));
  append_key(out, "message");
  append_text(out, r.message, limit, r.position, cut);
  append_if_any(out, "requestId", r.request_id);
  if (const auto parsed = parse_traceparent(r.traceparent)) {
    append_key(out, "traceId");
    append_string(out, parsed->trace_id);
  }
  if (r.repeat_count > 1) {
    append_key(out, "repeatCount");
    append_integer(out, r.repeat_count);
  }
  append_key(out, "id");
  append_string(out, std::to_string(r.position));
  out += '}';
}

std::string summary_text(const store_summary& s, const summary_query& q, std::size_t repeated,
                         std::size_t errors, std::size_t text_limit) {
  std::string out = "{\"type\":\"summary\"";
  if (q.since_ns != std::numeric_limits<std::int64_t>::min()) {
    append_key(out, "since");
    append_time(out, q.since_ns);
  }
  if (q.until_ns != std::numeric_limits<std::int64_t>::max()) {
    append_key(out, "until");
    append_time(out, q.until_ns);
  }
  append_key(out, "totalCount");
  append_integer(out, s.total_count);
  if (s.oldest_ns) {
    append_key(out, "oldestTimestamp");
    append_time(out, *s.oldest_ns);
  }
  if (s.newest_ns) {
    append_key(out, "newestTimestamp");
    append_time(out, *s.newest_ns);
  }
  append_key(out, "byService");
  out += '{';
  for (std::size_t i = 0; i < s.by_service.size(); ++i) {
    if (i != 0) out += ',';
    append_string(out, s.by_service[i].first);
    out += ':';
    append_levels(out, s.by_service[i].second);
  }
  out += '}';
  bool cut = false;
  append_key(out, "repeatedMessages");
  out += '[';
  for (std::size_t i = 0; i < repeated; ++i) {
    if (i != 0) out += ',';
    append_repeated(out, s.repeated[i], text_limit, cut);
  }
  out += ']';
  append_key(out, "errorCount");
  append_integer(out, s.error_count);
  append_key(out, "newestErrors");
  out += '[';
  for (std::size_t i = 0; i < errors; ++i) {
    if (i != 0) out += ',';
    append_error(out, s.newest_errors[i], text_limit, cut);
  }
  out += ']';
  if (cut) out += ",\"textCut\":true";
  const std::size_t omitted = s.repeated.size() - repeated + s.newest_errors.size() - errors;
  if (omitted != 0) {
    append_key(out, "omittedCount");
    append_integer(out, omitted);
  }
  out += '}';
  return out;
}

}  // namespace

std::string services_json_text(const std::vector<service_overview>& services,
                               const std::vector<std::string>& asked, std::size_t max_bytes) {
  std::string list;
  std::size_t shown = 0;
  for (const service_overview& s : services) {
    std::string one;
    append_service(one, s);
    // The least recently seen go first when the answer would pass its budget.
    if (shown != 0 && list.size() + one.size() + 1 + k_envelope_bytes > max_bytes) break;
    if (shown != 0) list += ',';
    list += one;
    ++shown;
  }
  std::string out = "{\"type\":\"services\",\"services\":[";
  out += list;
  out += ']';
  append_key(out, "totalCount");
  append_integer(out, services.size());
  std::vector<std::string_view> not_seen;
  for (const std::string& name : asked) {
    if (std::none_of(services.begin(), services.end(),
                     [&](const service_overview& s) { return s.counts.service == name; })) {
      not_seen.push_back(name);
    }
  }
  if (!not_seen.empty()) {
    append_key(out, "notSeen");
    out += '[';
    for (std::size_t i = 0; i < not_seen.size() && out.size() + 160 < max_bytes; ++i) {
      if (i != 0) out += ',';
      append_string(out, not_seen[i].substr(0, 64));
    }
    out += ']';
  }
  if (shown != services.size()) {
    append_key(out, "omittedCount");
    append_integer(out, services.size() - shown);
  }
  out += '}';
  return out;
}

std::string summary_json_text(const store_summary& summary, const summary_query& query,
                              std::size_t max_bytes) {
  // Twenty texts at most share the budget.
  const std::size_t text_limit = std::max<std::size_t>(128, max_bytes / 64);
  std::size_t repeated = summary.repeated.size();
  std::size_t errors = summary.newest_errors.size();
  std::string out = summary_text(summary, query, repeated, errors, text_limit);
  // Past the budget the longer list loses its last (least repeated, oldest) entry.
  while (out.size() > max_bytes && repeated + errors != 0) {
    (repeated >= errors ? repeated : errors) -= 1;
    out = summary_text(summary, query, repeated, errors, text_limit);
  }
  return out;
}

}  // namespace logwire
