// The store's answers to observe calls written as JSON text, directly: they are what
// every agent question waits for, and a general JSON library spent about 8 µs a record
// on them. The shapes are DESIGN.md's "The agent's view"; query_protocol.h lists every key.
//
// Size bounds, from the call's maxBytes (observe_query.h):
//   - a page of records stays under maxBytes: past it, the oldest records of an older
//     page (the latest to arrive of a newer one) are left out where the cursors pick them
//     up again, and "omittedCount" says how many; the newest one always stays;
//   - each message, string field value, span ID and invalid traceparent is cut at
//     text_limits::text bytes, a stack trace at text_limits::stack_trace, between
//     characters, ending with a marker: "… [cut 3,210 bytes; observe {what:
//     "backend-logs", id: "8812"} returns it whole]"; "textCut": true says one was;
//   - a record fetched by its id is whole unless its JSON alone would pass
//     k_max_whole_record_bytes; then its texts share that.
#pragma once

#include <string>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/observe_query.h"
#include "logwire/store.h"

namespace logwire {

inline constexpr std::size_t k_max_whole_record_bytes = 1024 * 1024;

struct text_limits {
  std::size_t text = 0;
  std::size_t stack_trace = 0;
  // The marker says the record is too long to show whole, rather than how to fetch it.
  bool whole_record = false;

  // A sixteenth of the budget for a text, an eighth for a stack trace (with 20,000 bytes:
  // 1,250 and 2,500), and never under 256 and 512.
  static text_limits for_budget(std::size_t max_bytes) noexcept;
};

// {"type": "backend-logs", "logs": [...], "totalCount": N, ...}, under `max_bytes`.
// `browser_requests`, when given, has one entry per record (frontend_store::
// browser_requests()): a record's non-empty one is its "browserRequest".
std::string observe_json_text(store_result result, std::size_t max_bytes = k_default_max_bytes,
                              std::vector<std::string> browser_requests = {});

// {"type": "backend-logs", "logs": [record], "totalCount": 1}: one record fetched by id,
// whole (see above).
std::string record_json_text(const log_record& record);

// {"type": "services", "services": [...], ...}: `asked` are the names the call gave.
std::string services_json_text(const std::vector<service_overview>& services,
                               const std::vector<std::string>& asked, std::size_t max_bytes);

// {"type": "summary", ...} of `query`'s window.
std::string summary_json_text(const store_summary& summary, const summary_query& query,
                              std::size_t max_bytes);

// {"type": "frontend", "events": [...], "totalCount": N, ...} (frontend_json.cc): past
// `max_bytes` the oldest events of the page are left out where nextCursor reaches them.
std::string frontend_json_text(const frontend_result& result, std::size_t max_bytes);

// One browser event, as "events" holds it; texts cut at `text_limit` bytes (a stack trace
// at twice that) with "… [cut N bytes]". With `page`, the page's id, URL and session.
void append_frontend_event_json(std::string& out, const frontend_event& event,
                                std::size_t text_limit, bool page, bool& cut);

// {"type": "timeline", "summary": "...", "entries": [...], ...} (timeline.cc): the browser's
// events and the backend's records for one request, trace or window, in time order.
std::string timeline_json_text(const store& records, const timeline_query& query,
                               std::size_t max_bytes);

// One record, as it appears in "logs". Sets `cut` when a text was cut. A non-empty
// `browser_request` is written as "browserRequest".
void append_record_json(std::string& out, const log_record& record, const text_limits& limits,
                        bool& cut, std::string_view browser_request = {});
// With the limits of the default budget.
void append_record_json(std::string& out, const log_record& record, bool& cut);

}  // namespace logwire
