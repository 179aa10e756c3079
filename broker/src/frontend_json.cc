// observe's `frontend` answer, and a browser event as the `frontend` and `timeline`
// answers write it (shapes in query_protocol.h).
#include <algorithm>

#include "json_text.h"
#include "logwire/observe_json.h"
#include "logwire/traceparent.h"
#include "logwire/utf8.h"

namespace logwire {
namespace {

using json_text::append_double;
using json_text::append_integer;
using json_text::append_key;
using json_text::append_string;
using json_text::append_time;

constexpr std::size_t k_envelope_bytes = 512;
constexpr std::size_t k_counts_bytes = 400;

// A text of a browser event, cut between characters with a marker when past `limit`.
void append_cut(std::string& out, std::string_view text, std::size_t limit, bool& cut) {
  if (text.size() <= limit) {
    append_string(out, text);
    return;
  }
  cut = true;
  std::string shown(utf8_prefix(text, limit));
  shown += "… [cut " + std::to_string(text.size() - shown.size()) + " bytes]";
  append_string(out, shown);
}

void append_text_if(std::string& out, std::string_view key, std::string_view text,
                    std::size_t limit, bool& cut) {
  if (text.empty()) return;
  append_key(out, key);
  append_cut(out, text, limit, cut);
}

void append_counts(std::string& out, const frontend_counts& c) {
  out += "{\"stored\":";
  append_integer(out, c.stored);
  const std::pair<std::string_view, std::uint64_t> rest[] = {{"taken", c.taken},
                                                             {"duplicates", c.duplicates},
                                                             {"expired", c.expired},
                                                             {"evicted", c.evicted},
                                                             {"pages", c.pages}};
  for (const auto& [key, value] : rest) {
    append_key(out, key);
    append_integer(out, value);
  }
  out += ",\"refused\":{";
  for (std::size_t i = 0; i < k_frontend_refusals; ++i) {
    if (i != 0) out += ',';
    append_string(out, frontend_refusal_name(static_cast<frontend_refusal>(i)));
    out += ':';
    append_integer(out, c.refused[i]);
  }
  out += "}}";
}

}  // namespace

void append_frontend_event_json(std::string& out, const frontend_event& e, std::size_t limit,
                                bool page, bool& cut) {
  out += "{\"timestamp\":";
  append_time(out, e.timestamp_ns);
  append_key(out, "kind");
  append_string(out, frontend_kind_name(e.kind));
  append_text_if(out, "method", e.method, limit, cut);
  append_text_if(out, "url", e.url, limit, cut);
  if (e.kind == frontend_kind::request && e.status != 0) {
    append_key(out, "status");
    append_integer(out, e.status);
  }
  if (e.duration_ms >= 0) {
    append_key(out, "durationMs");
    append_double(out, e.duration_ms);
  }
  append_text_if(out, "requestId", e.request_id, limit, cut);
  if (!e.traceparent.empty()) {
    if (const auto parsed = parse_traceparent(e.traceparent)) {
      append_key(out, "traceId");
      append_string(out, parsed->trace_id);
    } else {
      append_text_if(out, "traceparent", e.traceparent, limit, cut);
    }
  }
  append_text_if(out, "initiator", e.initiator, limit, cut);
  append_text_if(out, "error", e.error, limit, cut);
  append_text_if(out, "action", e.action, limit, cut);
  append_text_if(out, "selector", e.selector, limit, cut);
  append_text_if(out, "text", e.text, limit, cut);
  append_text_if(out, "level", e.level, limit, cut);
  append_text_if(out, "message", e.message, limit, cut);
  append_text_if(out, "stack", e.stack, limit * 2, cut);
  append_text_if(out, "source", e.source, limit, cut);
  if (page) {
    append_text_if(out, "pageId", e.page_id, limit, cut);
    append_text_if(out, "pageUrl", e.page_url, limit, cut);
    append_text_if(out, "sessionId", e.session_id, limit, cut);
  }
  out += '}';
}

std::string frontend_json_text(const frontend_result& result, std::size_t max_bytes) {
  const std::size_t limit = text_limits::for_budget(max_bytes).text;
  std::vector<std::string> entries(result.events.size());
  std::vector<bool> entry_cut(entries.size(), false);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bool cut = false;
    append_frontend_event_json(entries[i], result.events[i], limit, true, cut);
    entry_cut[i] = cut;
  }
  // Past the budget the oldest are left out, where nextCursor picks them up; the newest
  // always stays.
  const std::size_t reserved = k_envelope_bytes + k_counts_bytes;
  const std::size_t budget = max_bytes > reserved ? max_bytes - reserved : 0;
  std::size_t first_kept = entries.size();
  std::size_t used = 0;
  while (first_kept > 0) {
    const std::size_t next = used + entries[first_kept - 1].size() + 1;
    if (next > budget && first_kept != entries.size()) break;
    used = next;
    --first_kept;
  }
  if (first_kept == 0 && entries.size() == 1 && used > budget) {
    entries[0].clear();
    bool cut = false;
    append_frontend_event_json(entries[0], result.events[0], 64, true, cut);
    entry_cut[0] = cut;
  }
  std::optional<frontend_cursor> next = result.next;
  if (first_kept > 0) {
    next = frontend_cursor{.store_id = result.store_id,
                           .timestamp_ns = result.events[first_kept].timestamp_ns,
                           .ordinal = result.ordinals[first_kept]};
  }

  std::string out = "{\"type\":\"frontend\",\"events\":[";
  bool cut = false;
  for (std::size_t i = first_kept; i < entries.size(); ++i) {
    if (i != first_kept) out += ',';
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
  if (next) {
    append_key(out, "nextCursor");
    append_string(out, format_frontend_cursor(*next));
  }
  if (first_kept != 0) {
    append_key(out, "omittedCount");
    append_integer(out, first_kept);
  }
  if (cut) out += ",\"textCut\":true";
  append_key(out, "counts");
  append_counts(out, result.counts);
  out += '}';
  return out;
}

}  // namespace logwire
