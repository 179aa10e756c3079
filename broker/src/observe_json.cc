#include "logwire/observe_json.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "json_text.h"
#include "logwire/observe_query.h"
#include "logwire/traceparent.h"

namespace logwire {
namespace {

using json_text::append_double;
using json_text::append_integer;
using json_text::append_key;
using json_text::append_string;
using json_text::append_time;

// What a page's answer holds besides its records and counts, at most: type, totalCount,
// oldestTimestamp, two cursors, omittedCount, textCut, countsOmitted.
constexpr std::size_t k_envelope_bytes = 512;
// The last resort for a page whose newest record alone passes the budget.
constexpr text_limits k_tightest{.text = 64, .stack_trace = 128};

// A record's text, cut by the marker's rules (json_text.h).
void append_text(std::string& out, std::string_view text, std::size_t limit,
                 const log_record& record, bool whole_record, bool& cut) {
  json_text::append_cut_text(out, text, limit, record.position, whole_record, cut);
}

void append_fields(std::string& out, const log_record& record, const text_limits& limits,
                   bool& cut) {
  const auto& fields = record.fields;
  // A key given twice keeps its last value, as a JSON object can hold it once.
  std::unordered_set<std::string_view> later;
  std::vector<bool> shadowed(fields.size(), false);
  for (std::size_t i = fields.size(); i-- > 0;) {
    if (!later.insert(fields[i].first).second) shadowed[i] = true;
  }
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (shadowed[i]) continue;
    if (!first) out += ',';
    first = false;
    append_string(out, fields[i].first);
    out += ':';
    std::visit(
        [&](const auto& value) {
          using type = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<type, std::string>) {
            append_text(out, value, limits.text, record, limits.whole_record, cut);
          } else if constexpr (std::is_same_v<type, bool>) {
            out += value ? "true" : "false";
          } else if constexpr (std::is_same_v<type, double>) {
            append_double(out, value);
          } else {
            append_integer(out, value);
          }
        },
        fields[i].second);
  }
  out += '}';
}

void append_cursor(std::string& out, std::string_view key, const store_cursor& cursor) {
  append_key(out, key);
  append_string(out, format_cursor(cursor));
}

// One service's counters, as "counts" holds them.
void append_counts(std::string& out, const service_counts& c) {
  append_string(out, c.service);
  out += ":{\"stored\":";
  append_integer(out, c.stored);
  const std::pair<std::string_view, std::uint64_t> rest[] = {{"deduplicated", c.deduplicated},
                                                             {"rateLimited", c.rate_limited},
                                                             {"expired", c.expired},
                                                             {"evicted", c.evicted},
                                                             {"dropped", c.dropped}};
  for (const auto& [key, value] : rest) {
    append_key(out, key);
    append_integer(out, value);
  }
  out += '}';
}

// The "counts" object's members within `budget` bytes: all of them when they fit, else
// the services of the page first. Returns how many were left out.
std::size_t write_counts(std::string& out, const store_result& result,
                         const std::vector<bool>& kept, std::size_t budget) {
  std::vector<std::string> members(result.counts.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    append_counts(members[i], result.counts[i]);
    bytes += members[i].size() + 1;
  }
  std::vector<std::size_t> order(members.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (bytes > budget) {
    std::unordered_set<std::string_view> on_page;
    for (std::size_t i = 0; i < result.logs.size(); ++i) {
      if (kept[i]) on_page.insert(result.logs[i].service);
    }
    std::stable_partition(order.begin(), order.end(), [&](std::size_t i) {
      return on_page.contains(result.counts[i].service);
    });
  }
  std::size_t used = 0;
  std::size_t left_out = 0;
  bool first = true;
  for (const std::size_t i : order) {
    if (used + members[i].size() + 1 > budget) {
      ++left_out;
      continue;
    }
    used += members[i].size() + 1;
    if (!first) out += ',';
    first = false;
    out += members[i];
  }
  return left_out;
}

}  // namespace

text_limits text_limits::for_budget(std::size_t max_bytes) noexcept {
  return {.text = std::max<std::size_t>(256, max_bytes / 16),
          .stack_trace = std::max<std::size_t>(512, max_bytes / 8)};
}

void append_record_json(std::string& out, const log_record& record, const text_limits& limits,
                        bool& cut, std::string_view browser_request) {
  const bool whole = limits.whole_record;
  out += "{\"timestamp\":";
  append_time(out, record.timestamp_ns);
  append_key(out, "service");
  append_string(out, record.service);
  append_key(out, "level");
  append_string(out, level_name(record.severity));
  append_key(out, "message");
  append_text(out, record.message, limits.text, record, whole, cut);
  if (!record.request_id.empty()) {
    append_key(out, "requestId");
    append_string(out, record.request_id);
  }
  if (!record.traceparent.empty()) {
    if (const auto parsed = parse_traceparent(record.traceparent)) {
      append_key(out, "traceId");
      append_string(out, parsed->trace_id);
    } else {
      append_key(out, "traceparent");  // invalid: shown as text, not as a trace
      append_text(out, record.traceparent, limits.text, record, whole, cut);
    }
  }
  if (!record.span_id.empty()) {
    append_key(out, "spanId");
    append_text(out, record.span_id, limits.text, record, whole, cut);
  }
  if (!record.fields.empty()) {
    append_key(out, "fields");
    append_fields(out, record, limits, cut);
  }
  if (!record.stack_trace.empty()) {
    append_key(out, "stackTrace");
    append_text(out, record.stack_trace, limits.stack_trace, record, whole, cut);
  }
  if (!browser_request.empty()) {
    append_key(out, "browserRequest");
    append_string(out, browser_request);
  }
  if (record.repeat_count > 1) {
    append_key(out, "repeatCount");
    append_integer(out, record.repeat_count);
    append_key(out, "lastTimestamp");
    append_time(out, record.last_timestamp_ns);
  }
  append_key(out, "id");
  append_string(out, std::to_string(record.position));
  out += '}';
}

void append_record_json(std::string& out, const log_record& record, bool& cut) {
  append_record_json(out, record, text_limits::for_budget(k_default_max_bytes), cut);
}

std::string observe_json_text(store_result result, std::size_t max_bytes,
                              std::vector<std::string> browser_requests) {
  const text_limits limits = text_limits::for_budget(max_bytes);
  std::vector<std::string> entries(result.logs.size());
  std::vector<bool> entry_cut(entries.size(), false);
  browser_requests.resize(result.logs.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < result.logs.size(); ++i) {
    bool cut = false;
    append_record_json(entries[i], result.logs[i], limits, cut, browser_requests[i]);
    entry_cut[i] = cut;
    bytes += entries[i].size() + 1;
  }
  // The counts may take a quarter of the budget; the records what the rest leaves.
  std::vector<bool> kept(entries.size(), true);
  std::string counts;
  std::size_t counts_left_out = write_counts(counts, result, kept, max_bytes / 4);
  // Counts that had to be cut are written again once the page is known, as large as the
  // quarter allows.
  const std::size_t reserved =
      k_envelope_bytes + (counts_left_out == 0 ? counts.size() : max_bytes / 4);
  const std::size_t budget = max_bytes > reserved ? max_bytes - reserved : 0;

  // Past the budget, records are left out where the cursor picks them up again: the
  // oldest of an older page, the latest to arrive of a newer one.
  std::size_t omitted = 0;
  std::optional<store_cursor> next = result.next;
  store_cursor newer = result.newer;
  if (bytes > budget && !entries.empty()) {
    std::vector<std::size_t> order(entries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (result.newer_page) {
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return result.logs[a].position < result.logs[b].position;
      });
    } else {
      std::reverse(order.begin(), order.end());  // newest first
    }
    std::size_t used = 0;
    std::size_t count = 0;
    for (const std::size_t i : order) {
      used += entries[i].size() + 1;
      if (used > budget && count != 0) break;
      ++count;
    }
    std::fill(kept.begin(), kept.end(), false);
    for (std::size_t n = 0; n < count; ++n) kept[order[n]] = true;
    // The one record that must stay, alone over the budget: its texts cut to the bone.
    if (const std::size_t only = order[0]; count == 1 && entries[only].size() > budget) {
      entries[only].clear();
      bool cut = false;
      append_record_json(entries[only], result.logs[only], k_tightest, cut, browser_requests[only]);
      entry_cut[only] = cut;
    }
    omitted = entries.size() - count;
    const log_record& last = result.logs[order[count - 1]];
    if (result.newer_page) {
      newer.watermark = last.position + 1;
    } else {
      next = store_cursor{store_cursor::direction::older, newer.store_id, newer.watermark,
                          last.timestamp_ns, last.position};
    }
    // The services of the page come first in the counts now.
    counts.clear();
    counts_left_out = write_counts(counts, result, kept, max_bytes / 4);
  }

  std::string out;
  out.reserve(std::min(bytes, max_bytes) + counts.size() + k_envelope_bytes);
  out += "{\"type\":\"backend-logs\",\"logs\":[";
  bool first = true;
  bool cut = false;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!kept[i]) continue;
    if (!first) out += ',';
    first = false;
    out += entries[i];
    cut = cut || entry_cut[i];
  }
  out += ']';
  append_key(out, "totalCount");
  append_integer(out, result.total_count);
  if (result.oldest_ns) {
    append_key(out, "oldestTimestamp");
    append_time(out, *result.oldest_ns);
  }
  if (next) append_cursor(out, "nextCursor", *next);
  append_cursor(out, "newerCursor", newer);
  if (omitted != 0) {
    append_key(out, "omittedCount");
    append_integer(out, omitted);
  }
  if (cut) out += ",\"textCut\":true";
  if (!result.counts.empty()) {
    append_key(out, "counts");
    out += '{';
    out += counts;
    out += '}';
  }
  if (counts_left_out != 0) {
    append_key(out, "countsOmitted");
    append_integer(out, counts_left_out);
  }
  out += '}';
  return out;
}

std::string record_json_text(const log_record& record) {
  std::string shown;
  bool cut = false;
  constexpr std::size_t k_everything = std::numeric_limits<std::size_t>::max();
  append_record_json(shown, record, {.text = k_everything, .stack_trace = k_everything}, cut);
  if (shown.size() > k_max_whole_record_bytes) {
    // The texts share three quarters of what the record may take; its other parts
    // (keys, numbers, IDs) the rest.
    std::size_t texts = 2 + (record.span_id.empty() ? 0 : 1) + (record.traceparent.empty() ? 0 : 1);
    for (const auto& field : record.fields)
      texts += std::holds_alternative<std::string>(field.second) ? 1 : 0;
    const std::size_t share = std::max<std::size_t>(256, k_max_whole_record_bytes / 4 * 3 / texts);
    shown.clear();
    append_record_json(shown, record, {.text = share, .stack_trace = share, .whole_record = true},
                       cut);
  }
  std::string out = "{\"type\":\"backend-logs\",\"logs\":[";
  out += shown;
  out += "],\"totalCount\":1";
  if (cut) out += ",\"textCut\":true";
  out += '}';
  return out;
}

ordered_json to_json(const log_record& record) {
  std::string text;
  bool cut = false;
  append_record_json(text, record, cut);
  return ordered_json::parse(text);
}

ordered_json to_observe_json(store_result result, std::size_t max_bytes) {
  return ordered_json::parse(observe_json_text(std::move(result), max_bytes));
}

}  // namespace logwire
