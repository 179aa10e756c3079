#include "logwire/observe_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "logwire/observe_query.h"
#include "logwire/timestamp.h"
#include "logwire/traceparent.h"
#include "logwire/utf8.h"

namespace logwire {
namespace {

// A JSON string of valid UTF-8: quotes, backslashes and control characters escaped.
void append_valid_string(std::string& out, std::string_view text) {
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += k_hex[c >> 4];
        out += k_hex[c & 0xf];
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

// Stored texts are valid UTF-8 (the ingest repairs them); anything else is repaired here
// rather than written as bytes no JSON reader accepts.
void append_string(std::string& out, std::string_view text) {
  if (valid_utf8(text)) {
    append_valid_string(out, text);
  } else {
    append_valid_string(out, repair_utf8(text));
  }
}

// A text an agent reads, cut at k_max_text_bytes (between characters) with a marker.
void append_text(std::string& out, std::string_view text, bool& cut) {
  if (text.size() <= k_max_text_bytes) {
    append_string(out, text);
    return;
  }
  cut = true;
  std::size_t end = k_max_text_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  append_string(out, std::string(text.substr(0, end)) +
                         "... [cut: " + std::to_string(text.size() - end) + " more bytes]");
}

void append_key(std::string& out, std::string_view key) {
  out += ',';
  append_string(out, key);
  out += ':';
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

// The shortest text that reads back as the same double, with ".0" on whole numbers so a
// reader keeps it a float; JSON has no infinity or NaN: null.
void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char digits[32];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  const std::string_view text(digits, static_cast<std::size_t>(end - digits));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void append_time(std::string& out, std::int64_t ns) {
  out += '"';
  out += format_rfc3339_ms(ns);
  out += '"';
}

void append_fields(std::string& out, const log_record& record, bool& cut) {
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
            append_text(out, value, cut);
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

}  // namespace

void append_record_json(std::string& out, const log_record& record, bool& cut) {
  out += "{\"timestamp\":";
  append_time(out, record.timestamp_ns);
  append_key(out, "service");
  append_string(out, record.service);
  append_key(out, "level");
  append_string(out, level_name(record.severity));
  append_key(out, "message");
  append_text(out, record.message, cut);
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
      append_text(out, record.traceparent, cut);
    }
  }
  if (!record.span_id.empty()) {
    append_key(out, "spanId");
    append_text(out, record.span_id, cut);
  }
  if (!record.fields.empty()) {
    append_key(out, "fields");
    append_fields(out, record, cut);
  }
  if (!record.stack_trace.empty()) {
    append_key(out, "stackTrace");
    append_text(out, record.stack_trace, cut);
  }
  if (record.repeat_count > 1) {
    append_key(out, "repeatCount");
    append_integer(out, record.repeat_count);
    append_key(out, "lastTimestamp");
    append_time(out, record.last_timestamp_ns);
  }
  out += '}';
}

std::string observe_json_text(store_result result) {
  bool cut = false;
  std::vector<std::string> entries(result.logs.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < result.logs.size(); ++i) {
    append_record_json(entries[i], result.logs[i], cut);
    bytes += entries[i].size() + 1;
  }
  // Past the size budget, records are left out where the cursor picks them up again:
  // the oldest of an older page, the latest to arrive of a newer one.
  std::vector<bool> kept(entries.size(), true);
  std::size_t omitted = 0;
  std::optional<store_cursor> next = result.next;
  store_cursor newer = result.newer;
  if (bytes > k_max_reply_bytes && !entries.empty()) {
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
      if (used > k_max_reply_bytes && count != 0) break;
      ++count;
    }
    std::fill(kept.begin(), kept.end(), false);
    for (std::size_t n = 0; n < count; ++n) kept[order[n]] = true;
    omitted = entries.size() - count;
    const log_record& last = result.logs[order[count - 1]];
    if (result.newer_page) {
      newer.watermark = last.position + 1;
    } else {
      next = store_cursor{store_cursor::direction::older, newer.store_id, newer.watermark,
                          last.timestamp_ns, last.position};
    }
  }

  std::string out;
  out.reserve(std::min(bytes, k_max_reply_bytes) + 1024);
  out += "{\"type\":\"backend-logs\",\"logs\":[";
  bool first = true;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!kept[i]) continue;
    if (!first) out += ',';
    first = false;
    out += entries[i];
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
    for (std::size_t i = 0; i < result.counts.size(); ++i) {
      const service_counts& c = result.counts[i];
      if (i != 0) out += ',';
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
    out += '}';
  }
  out += '}';
  return out;
}

ordered_json to_json(const log_record& record) {
  std::string text;
  bool cut = false;
  append_record_json(text, record, cut);
  return ordered_json::parse(text);
}

ordered_json to_observe_json(store_result result) {
  return ordered_json::parse(observe_json_text(std::move(result)));
}

}  // namespace logwire
