// observe's `timeline`: what the browser did and what the backend did for it, merged in
// time order (shape in query_protocol.h).
//
// How entries are joined:
//   - Browser: the events with the request ID (or trace ID) asked for; for each request
//     among them, the page's last action (click, submit) within 2 s before it started,
//     and the page's console errors, exceptions and rejections from its start to 1 s
//     after its answer ("correlation": "inferred": same page, by time).
//   - Backend, exact: the records with the request ID, or with the trace ID of the
//     request's traceparent (and, for a trace, the records with the request IDs its
//     browser requests carried).
//   - Backend, inferred: a record with no request ID and no trace ID, timed from N ms
//     before a browser request started to N ms after it was answered (N = window), that
//     names the request: a `path`, `url`, `route`, `http.target`, `http.url`,
//     `http.route`, `url.path` or `request_path` field whose path (scheme, host, query
//     left out) is the request's, and a `method`/`http.method` field, if any, that is its
//     method; or, for a record with none of those fields, a service whose name (or the
//     name without a -service, -server, -api, -backend or -svc ending), 3 characters or
//     more, appears in the request's URL ("inferredBy": "path" or "service").
// A window (since/until, no ID) joins the same way for every browser request in it.
#include <algorithm>
#include <map>
#include <set>

#include "json_text.h"
#include "logwire/logwire_generated.h"
#include "logwire/observe_json.h"
#include "logwire/timestamp.h"
#include "logwire/traceparent.h"
#include "logwire/utf8.h"

namespace logwire {
namespace {

using json_text::append_integer;
using json_text::append_key;
using json_text::append_string;
using json_text::append_time;

constexpr std::int64_t k_ms = 1'000'000;
constexpr std::int64_t k_action_lead_ns = 2'000 * k_ms;
constexpr std::int64_t k_aftermath_ns = 1'000 * k_ms;
constexpr std::size_t k_max_requests = 50;   // browser requests joined in one answer
constexpr std::size_t k_max_ids = 16;        // IDs followed into the backend's records
constexpr std::size_t k_max_per_id = 1000;   // backend records per ID
constexpr std::size_t k_max_inferred = 500;  // inferred records, before the limit
constexpr std::size_t k_max_browser = 1000;  // browser events read
constexpr std::size_t k_max_context = 20;    // console errors and the like per page
constexpr std::size_t k_envelope_bytes = 512;
constexpr std::size_t k_summary_bytes = 1200;

constexpr std::array<std::string_view, 9> k_path_fields = {
    "path",       "url",      "route",        "http.target", "http.url",
    "http.route", "url.path", "request_path", "requestPath"};
constexpr std::array<std::string_view, 3> k_method_fields = {"method", "http.method",
                                                             "http.request.method"};
constexpr std::array<std::string_view, 6> k_service_endings = {"-service", "-server", "-api",
                                                               "-backend", "-svc",    "_service"};

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The path of a URL or path: scheme and host, query and fragment left out.
std::string_view path_of(std::string_view url) noexcept {
  if (const std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    const std::size_t path = url.find('/', scheme + 3);
    url = path == std::string_view::npos ? std::string_view("/") : url.substr(path);
  }
  if (const std::size_t end = url.find_first_of("?#"); end != std::string_view::npos)
    url = url.substr(0, end);
  return url;
}

// A browser request and what an inferred join compares with it.
struct request_view {
  const frontend_event* event;
  std::int64_t start_ns;
  std::int64_t end_ns;
  std::string_view path;
  std::string lower_url;
};

// Does a record without IDs, of `service` at `timestamp_ns`, name `r`? `field(name)`
// gives a string field's value, empty when absent. Returns "path", "service" or empty.
template <class Field>
std::string_view names_request(const request_view& r, std::int64_t window_ns,
                               std::int64_t timestamp_ns, std::string_view service,
                               const Field& field) {
  if (timestamp_ns < r.start_ns - window_ns || timestamp_ns > r.end_ns + window_ns) return {};
  bool had_path = false;
  for (const std::string_view name : k_path_fields) {
    const std::string_view value = field(name);
    if (value.empty()) continue;
    had_path = true;
    if (path_of(value) != r.path) continue;
    for (const std::string_view method : k_method_fields) {
      const std::string_view given = field(method);
      if (!given.empty() && !equal_ignoring_case(given, r.event->method)) return {};
    }
    return "path";
  }
  if (had_path) return {};
  std::string name = lowercase(service);
  for (const std::string_view ending : k_service_endings) {
    if (name.size() > ending.size() + 2 && name.ends_with(ending)) {
      name.resize(name.size() - ending.size());
      break;
    }
  }
  if (name.size() >= 3 && r.lower_url.find(name) != std::string::npos) return "service";
  return {};
}

std::string_view wire_field(const wire::Record& record, std::string_view name) {
  if (const auto* fields = record.fields()) {
    for (const wire::Field* f : *fields) {
      if (f->kind() == wire::FieldKind::String && f->key()->string_view() == name &&
          f->string_value() != nullptr) {
        return f->string_value()->string_view();
      }
    }
  }
  return {};
}

std::string_view record_field(const log_record& record, std::string_view name) {
  for (const auto& [key, value] : record.fields) {
    if (key != name) continue;
    if (const auto* text = std::get_if<std::string>(&value)) return *text;
  }
  return {};
}

// Ties at one timestamp: the click, the request sent, the page's other events, the
// backend's records, the answer.
enum class rank : std::uint8_t { action, sent, browser, backend, answered };

struct entry {
  std::int64_t timestamp_ns;
  rank order;
  std::size_t arrival;  // keeps ties stable
  const frontend_event* event = nullptr;
  const log_record* record = nullptr;
  std::string_view kind;  // request-sent, request-answered, request-failed, or the event's
  bool exact = true;
  std::string_view inferred_by;  // "path", "service"; for browser events "page"
};

struct gathered {
  std::vector<frontend_event> browser;
  std::vector<bool> browser_exact;
  std::map<std::uint64_t, log_record> exact;  // by position
  std::vector<std::pair<log_record, std::string_view>> inferred;
  std::size_t requests_not_followed = 0;
};

std::string event_key(const frontend_event& e) {
  return e.page_id + '\n' + std::to_string(e.sequence);
}

void gather_browser(const frontend_store& fe, const timeline_query& q, gathered& g) {
  std::set<std::string> seen;
  const auto add = [&](std::vector<frontend_event> events, bool exact) {
    for (frontend_event& e : events) {
      if (g.browser.size() >= k_max_browser) return;
      if (!seen.insert(event_key(e)).second) continue;
      g.browser.push_back(std::move(e));
      g.browser_exact.push_back(exact);
    }
  };
  if (!q.request_id.empty() || !q.trace_id.empty()) {
    if (!q.request_id.empty()) add(fe.with_request_id(q.request_id), true);
    if (!q.trace_id.empty()) add(fe.with_trace_id(q.trace_id), true);
    // The same trace's other requests, when asked by request ID.
    std::set<std::string> traces;
    for (const frontend_event& e : g.browser) {
      if (const auto parsed = parse_traceparent(e.traceparent); parsed && traces.size() < k_max_ids)
        traces.emplace(parsed->trace_id);
    }
    traces.erase(q.trace_id);
    for (const std::string& t : traces) add(fe.with_trace_id(t), true);
    // Each page's click before its first request, and its errors until after its last.
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> pages;
    for (const frontend_event& e : g.browser) {
      if (e.kind != frontend_kind::request) continue;
      const std::int64_t end =
          e.timestamp_ns + (e.duration_ms > 0 ? static_cast<std::int64_t>(e.duration_ms * 1e6) : 0);
      auto [span, added] = pages.try_emplace(e.page_id, e.timestamp_ns, end);
      span->second.first = std::min(span->second.first, e.timestamp_ns);
      span->second.second = std::max(span->second.second, end);
    }
    for (const auto& [page, span] : pages) {
      add(fe.page_context(page, span.first - k_action_lead_ns, span.first,
                          span.second + k_aftermath_ns + 1, k_max_context),
          false);
    }
  } else {
    add(fe.between(q.since_ns, q.until_ns, {}, k_max_browser), true);
  }
}

void gather_backend(const store& records, const timeline_query& q, gathered& g,
                    std::vector<request_view>& requests) {
  std::set<std::string> request_ids;
  std::set<std::string> trace_ids;
  if (!q.request_id.empty()) request_ids.insert(q.request_id);
  if (!q.trace_id.empty()) trace_ids.insert(q.trace_id);
  for (const frontend_event& e : g.browser) {
    if (e.kind != frontend_kind::request) continue;
    if (requests.size() >= k_max_requests) {
      ++g.requests_not_followed;
      continue;
    }
    const std::int64_t end =
        e.timestamp_ns + (e.duration_ms > 0 ? static_cast<std::int64_t>(e.duration_ms * 1e6) : 0);
    requests.push_back(request_view{.event = &e,
                                    .start_ns = e.timestamp_ns,
                                    .end_ns = end,
                                    .path = path_of(e.url),
                                    .lower_url = lowercase(e.url)});
    if (!e.request_id.empty() && request_ids.size() < k_max_ids) request_ids.insert(e.request_id);
    if (const auto parsed = parse_traceparent(e.traceparent);
        parsed && trace_ids.size() < k_max_ids)
      trace_ids.emplace(parsed->trace_id);
  }
  const auto take = [&](const store_query& query) {
    auto answer = records.query(query);
    if (!answer) return;
    for (log_record& r : answer->logs) {
      const std::uint64_t position = r.position;
      g.exact.try_emplace(position, std::move(r));
    }
  };
  for (const std::string& id : request_ids) take({.request_id = id, .limit = k_max_per_id});
  for (const std::string& id : trace_ids) take({.trace_id = id, .limit = k_max_per_id});

  if (requests.empty()) return;
  std::int64_t since = std::numeric_limits<std::int64_t>::max();
  std::int64_t until = std::numeric_limits<std::int64_t>::min();
  for (const request_view& r : requests) {
    since = std::min(since, r.start_ns - q.window_ns);
    until = std::max(until, r.end_ns + q.window_ns);
  }
  const auto found = records.records_without_ids(
      since, until + 1, k_max_inferred, [&](const wire::Record& record, std::string_view service) {
        const auto field = [&record](std::string_view name) { return wire_field(record, name); };
        for (const request_view& r : requests) {
          if (!names_request(r, q.window_ns, record.timestamp_ns(), service, field).empty())
            return true;
        }
        return false;
      });
  for (const log_record& record : found) {
    const auto field = [&record](std::string_view name) { return record_field(record, name); };
    for (const request_view& r : requests) {
      const std::string_view by =
          names_request(r, q.window_ns, record.timestamp_ns, record.service, field);
      if (!by.empty()) {
        g.inferred.emplace_back(record, by);
        break;
      }
    }
  }
}

// The entries in time order.
std::vector<entry> merge(const gathered& g) {
  std::vector<entry> out;
  std::size_t arrival = 0;
  for (std::size_t i = 0; i < g.browser.size(); ++i) {
    const frontend_event& e = g.browser[i];
    const bool exact = g.browser_exact[i];
    const std::string_view by = exact ? std::string_view() : std::string_view("page");
    if (e.kind == frontend_kind::request) {
      out.push_back(
          {e.timestamp_ns, rank::sent, arrival++, &e, nullptr, "request-sent", exact, by});
      if (e.status != 0 || !e.error.empty() || e.duration_ms >= 0) {
        const std::int64_t end =
            e.timestamp_ns +
            (e.duration_ms > 0 ? static_cast<std::int64_t>(e.duration_ms * 1e6) : 0);
        out.push_back({end, rank::answered, arrival++, &e, nullptr,
                       e.status != 0 ? "request-answered" : "request-failed", exact, by});
      }
      continue;
    }
    out.push_back({e.timestamp_ns, e.kind == frontend_kind::action ? rank::action : rank::browser,
                   arrival++, &e, nullptr, frontend_kind_name(e.kind), exact, by});
  }
  for (const auto& [position, record] : g.exact) {
    out.push_back({record.timestamp_ns, rank::backend, arrival++, nullptr, &record, {}, true, {}});
  }
  for (const auto& [record, by] : g.inferred) {
    if (g.exact.contains(record.position)) continue;
    out.push_back({record.timestamp_ns, rank::backend, arrival++, nullptr, &record, {}, false, by});
  }
  std::sort(out.begin(), out.end(), [](const entry& a, const entry& b) {
    return std::tie(a.timestamp_ns, a.order, a.arrival) <
           std::tie(b.timestamp_ns, b.order, b.arrival);
  });
  return out;
}

// The order backend entries give way in when the answer is too long: the lowest level
// first, the latest of a level first.
std::vector<std::size_t> drop_order(const std::vector<entry>& entries) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].record != nullptr) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const log_record& ra = *entries[a].record;
    const log_record& rb = *entries[b].record;
    if (ra.severity != rb.severity) return ra.severity < rb.severity;
    return a > b;
  });
  return order;
}

std::string entry_json(const entry& e, std::size_t text_limit, bool& cut) {
  std::string out = "{\"timestamp\":";
  append_time(out, e.timestamp_ns);
  std::string body;
  std::string head = "{\"timestamp\":";
  if (e.record != nullptr) {
    out += ",\"source\":\"backend\",\"correlation\":";
    out += e.exact ? "\"exact\"" : "\"inferred\"";
    if (!e.inferred_by.empty()) {
      append_key(out, "inferredBy");
      append_string(out, e.inferred_by);
    }
    append_record_json(body, *e.record, {.text = text_limit, .stack_trace = text_limit * 2}, cut);
    append_time(head, e.record->timestamp_ns);
  } else {
    out += ",\"source\":\"browser\"";
    append_key(out, "kind");
    append_string(out, e.kind);
    out += ",\"correlation\":";
    out += e.exact ? "\"exact\"" : "\"inferred\"";
    if (!e.inferred_by.empty()) {
      append_key(out, "inferredBy");
      append_string(out, e.inferred_by);
    }
    frontend_event shown = *e.event;
    if (e.order == rank::sent) {
      shown.status = 0;
      shown.duration_ms = -1;
      shown.error.clear();
    }
    append_frontend_event_json(body, shown, text_limit, false, cut);
    append_time(head, shown.timestamp_ns);
    head += ",\"kind\":";
    append_string(head, frontend_kind_name(shown.kind));
  }
  // The members after the ones written above.
  if (body.starts_with(head)) {
    out.append(body, head.size());
  } else {
    out += '}';
  }
  return out;
}

// A text of the summary line, cut at `most` bytes.
std::string brief(std::string_view text, std::size_t most) {
  if (text.size() <= most) return std::string(text);
  return std::string(utf8_prefix(text, most)) + "…";
}

// The developer's view: click → POST /api/x req-1 → api: INFO ..., ERROR ... → 500.
std::string story(const std::vector<entry>& entries, const std::vector<bool>& kept,
                  std::size_t most) {
  std::vector<std::string> steps;
  std::string backend;
  std::string_view backend_service;
  std::size_t backend_shown = 0;
  std::size_t backend_more = 0;
  const auto close_backend = [&] {
    if (backend.empty()) return;
    if (backend_more != 0) backend += ", +" + std::to_string(backend_more) + " more";
    steps.push_back(std::move(backend));
    backend.clear();
    backend_shown = 0;
    backend_more = 0;
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!kept[i]) continue;
    const entry& e = entries[i];
    if (e.record != nullptr) {
      const log_record& r = *e.record;
      if (backend.empty() || r.service != backend_service) {
        close_backend();
        backend = r.service + ":";
        backend_service = r.service;
      }
      if (backend_shown < 6) {
        backend += backend_shown == 0 ? " " : ", ";
        backend += std::string(level_name(r.severity)) + " " + brief(r.message, 60);
        if (!e.exact) backend += " (inferred)";
        ++backend_shown;
      } else {
        ++backend_more;
      }
      continue;
    }
    close_backend();
    const frontend_event& ev = *e.event;
    std::string step;
    switch (ev.kind) {
      case frontend_kind::request:
        if (e.order == rank::sent) {
          step = (ev.method.empty() ? std::string("GET") : ev.method) + " " +
                 brief(path_of(ev.url), 80);
          if (!ev.request_id.empty()) step += " " + brief(ev.request_id, 64);
        } else if (ev.status != 0) {
          step = std::to_string(ev.status);
          if (ev.duration_ms >= 0)
            step +=
                " after " + std::to_string(static_cast<long long>(ev.duration_ms + 0.5)) + " ms";
        } else {
          step = ev.error.empty() ? "no response" : "failed: " + brief(ev.error, 60);
        }
        break;
      case frontend_kind::action:
        step = ev.action.empty() ? "action" : brief(ev.action, 16);
        if (!ev.text.empty()) step += " \"" + brief(ev.text, 40) + "\"";
        if (!ev.selector.empty()) step += " (" + brief(ev.selector, 40) + ")";
        break;
      case frontend_kind::console:
        step = "console." + (ev.level.empty() ? std::string("error") : brief(ev.level, 8)) + " \"" +
               brief(ev.message, 60) + "\"";
        break;
      case frontend_kind::exception:
        step = "exception \"" + brief(ev.message, 60) + "\"";
        break;
      case frontend_kind::rejection:
        step = "unhandled rejection \"" + brief(ev.message, 60) + "\"";
        break;
      case frontend_kind::page_load:
        step = "page load " + brief(path_of(ev.url), 60);
        break;
    }
    steps.push_back(std::move(step));
  }
  close_backend();
  std::string out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string next = (i == 0 ? "" : " → ") + steps[i];
    if (out.size() + next.size() > most) {
      out += " → … (" + std::to_string(steps.size() - i) + " more steps)";
      break;
    }
    out += next;
  }
  return out;
}

}  // namespace

std::string timeline_json_text(const store& records, const timeline_query& q,
                               std::size_t max_bytes) {
  gathered g;
  gather_browser(records.frontend(), q, g);
  std::vector<request_view> requests;
  gather_backend(records, q, g, requests);
  std::vector<entry> entries = merge(g);

  // The limit, then the budget: backend entries give way, the browser's stay.
  std::vector<bool> kept(entries.size(), true);
  std::size_t kept_count = entries.size();
  const std::vector<std::size_t> order = drop_order(entries);
  std::size_t dropped = 0;
  while (kept_count > q.limit && dropped < order.size()) {
    kept[order[dropped++]] = false;
    --kept_count;
  }
  const std::size_t text_limit = text_limits::for_budget(max_bytes).text;
  std::vector<std::string> texts(entries.size());
  std::vector<bool> entry_cut(entries.size(), false);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!kept[i]) continue;
    bool cut = false;
    texts[i] = entry_json(entries[i], text_limit, cut);
    entry_cut[i] = cut;
    bytes += texts[i].size() + 1;
  }
  // The story takes at most a fifth of the budget; its counts and advice about 500 bytes.
  const std::size_t story_bytes = std::min(k_summary_bytes, max_bytes / 5);
  const std::size_t reserved = k_envelope_bytes + story_bytes + 500;
  const std::size_t budget = max_bytes > reserved ? max_bytes - reserved : 0;
  while (bytes > budget && dropped < order.size()) {
    const std::size_t i = order[dropped++];
    bytes -= texts[i].size() + 1;
    kept[i] = false;
    --kept_count;
  }
  // Still over (browser entries alone): the latest give way, the first stays.
  for (std::size_t i = entries.size(); bytes > budget && i-- > 1;) {
    if (!kept[i]) continue;
    bytes -= texts[i].size() + 1;
    kept[i] = false;
    --kept_count;
  }

  std::size_t browser_count = 0, exact_count = 0, inferred_count = 0, answered_failures = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!kept[i]) continue;
    const entry& e = entries[i];
    if (e.record == nullptr) {
      ++browser_count;
      if (e.order == rank::answered &&
          (e.event->status >= 400 || e.kind == std::string_view("request-failed"))) {
        ++answered_failures;
      }
    } else {
      ++(e.exact ? exact_count : inferred_count);
    }
  }

  std::string summary;
  const bool by_id = !q.request_id.empty() || !q.trace_id.empty();
  const std::string asked = !q.request_id.empty() ? "requestId " + q.request_id
                            : !q.trace_id.empty() ? "traceId " + q.trace_id
                                                  : "the window";
  if (entries.empty()) {
    summary = by_id ? "Nothing has " + asked +
                          ": no browser event and no backend record carry it. Check the ID "
                          "(observe what:'frontend' with minStatus 400 lists failed requests), "
                          "or trigger the request again and call timeline again."
                    : "Nothing in the window: no browser event, so no backend record to join. "
                      "Widen since/until, or check what:'frontend' and what:'summary'.";
  } else {
    summary = story(entries, kept, story_bytes);
    std::string counts = " (" + std::to_string(browser_count) + " browser " +
                         (browser_count == 1 ? "entry" : "entries") + ", " +
                         std::to_string(exact_count + inferred_count) + " backend " +
                         (exact_count + inferred_count == 1 ? "record" : "records");
    if (inferred_count != 0) {
      counts += ", " + std::to_string(inferred_count) + " of them inferred by time";
    } else if (exact_count != 0) {
      counts += ", all joined by ID";
    }
    counts += ")";
    summary += counts + ".";
    if (by_id && g.browser.empty()) {
      summary +=
          " The browser sent no event with this ID: is logwire.js on the page, and did "
          "the request go to the page's origin or a configured API origin?";
    } else if (by_id && g.exact.empty() && g.inferred.empty()) {
      summary +=
          " No backend record has this ID: does the backend log the X-Request-ID or "
          "traceparent it receives?";
    }
    if (kept_count < entries.size()) {
      summary += " " + std::to_string(entries.size() - kept_count) +
                 " lower-level backend records left out for size; observe what:'backend-logs' "
                 "with the requestId lists them all.";
    }
  }

  std::string out = "{\"type\":\"timeline\",\"summary\":";
  append_string(out, summary);
  if (!q.request_id.empty()) {
    append_key(out, "requestId");
    append_string(out, q.request_id);
  }
  if (!q.trace_id.empty()) {
    append_key(out, "traceId");
    append_string(out, q.trace_id);
  }
  if (!by_id) {
    if (q.since_ns != std::numeric_limits<std::int64_t>::min()) {
      append_key(out, "since");
      append_time(out, q.since_ns);
    }
    if (q.until_ns != std::numeric_limits<std::int64_t>::max()) {
      append_key(out, "until");
      append_time(out, q.until_ns);
    }
  }
  append_key(out, "windowMs");
  append_integer(out, q.window_ns / k_ms);
  out += ",\"entries\":[";
  bool first = true;
  bool cut = false;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!kept[i]) continue;
    if (!first) out += ',';
    first = false;
    out += texts[i];
    cut = cut || entry_cut[i];
  }
  out += ']';
  append_key(out, "totalCount");
  append_integer(out, entries.size());
  append_key(out, "browserCount");
  append_integer(out, browser_count);
  append_key(out, "exactCount");
  append_integer(out, exact_count);
  append_key(out, "inferredCount");
  append_integer(out, inferred_count);
  if (answered_failures != 0) {
    append_key(out, "failedRequests");
    append_integer(out, answered_failures);
  }
  if (kept_count < entries.size()) {
    append_key(out, "omittedCount");
    append_integer(out, entries.size() - kept_count);
  }
  if (g.requests_not_followed != 0) {
    append_key(out, "requestsNotFollowed");
    append_integer(out, g.requests_not_followed);
  }
  if (cut) out += ",\"textCut\":true";
  out += '}';
  return out;
}

}  // namespace logwire
