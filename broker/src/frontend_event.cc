// decode_frontend_batch(): the browser's batch, checked as hostile input (the rules are in
// frontend_event.h).
#include "logwire/frontend_event.h"

#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>

#include "logwire/utf8.h"

namespace logwire {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, k_frontend_kinds> k_kind_names = {
    "request", "action", "console", "exception", "rejection", "page-load"};

error malformed(std::string message) {
  return error{errc::protocol_error, std::move(message)};
}
error bad_batch(std::string message) {
  return error{errc::invalid_argument, std::move(message)};
}

// How deep arrays and objects nest, counted before parsing: the parser's own stack and
// the value's destructor must never meet a body of a million '['.
bool nests_within(std::string_view text, unsigned most) noexcept {
  unsigned depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > most) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// A member of `object`, or null when absent or JSON null (both mean "not given").
const json* member(const json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && !found->is_null() ? &*found : nullptr;
}

// A text member: absent is empty; a string is cut at `cap` bytes between characters; any
// other type is false.
bool text_member(const json& object, const char* key, std::size_t cap, std::string& out) {
  const json* value = member(object, key);
  if (value == nullptr) return true;
  if (!value->is_string()) return false;
  // The parser let through only well-formed UTF-8.
  out = utf8_prefix(value->get_ref<const std::string&>(), cap);
  return true;
}

std::optional<double> finite_number(const json& value) {
  if (!value.is_number()) return std::nullopt;
  const double d = value.get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

// A whole number in [low, high]; a float that is whole counts.
std::optional<std::int64_t> whole_in(const json& value, std::int64_t low, std::int64_t high) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(high)) return std::nullopt;
    const auto i = static_cast<std::int64_t>(u);
    return i >= low ? std::optional(i) : std::nullopt;
  }
  if (value.is_number_integer()) {
    const auto i = value.get<std::int64_t>();
    return i >= low && i <= high ? std::optional(i) : std::nullopt;
  }
  if (const auto d = finite_number(value); d && *d == std::floor(*d) &&
                                           *d >= static_cast<double>(low) &&
                                           *d <= static_cast<double>(high)) {
    return static_cast<std::int64_t>(*d);
  }
  return std::nullopt;
}

// A duration in ms: a finite number from 0 to about 31 years; absent is -1.
bool duration_member(const json& object, double& out) {
  const json* value = member(object, "durationMs");
  if (value == nullptr) return true;
  const auto d = finite_number(*value);
  if (!d || *d < 0 || *d > 1e12) return false;
  out = *d;
  return true;
}

// One event, or false when it cannot be read.
bool decode_event(const json& e, frontend_event& out) {
  if (!e.is_object()) return false;
  const json* kind = member(e, "kind");
  if (kind == nullptr || !kind->is_string() ||
      !parse_frontend_kind(kind->get_ref<const std::string&>(), out.kind)) {
    return false;
  }
  const json* stamp = member(e, "timestamp");
  const auto ms = stamp != nullptr ? finite_number(*stamp) : std::nullopt;
  if (!ms || *ms < 0 || *ms > k_max_timestamp_ms) return false;
  // Whole ms and µs apart: a double of ~1.8e12 ms holds a quarter µs, not a ns.
  const double whole = std::floor(*ms);
  out.timestamp_ns =
      static_cast<std::int64_t>(whole) * 1'000'000 + std::llround((*ms - whole) * 1e3) * 1'000;
  switch (out.kind) {
    case frontend_kind::request: {
      if (const json* status = member(e, "status")) {
        const auto value = whole_in(*status, 0, 999);
        if (!value) return false;
        out.status = static_cast<int>(*value);
      }
      return text_member(e, "method", k_max_word_bytes, out.method) &&
             text_member(e, "url", k_max_url_bytes, out.url) &&
             duration_member(e, out.duration_ms) &&
             text_member(e, "requestId", k_max_id_bytes, out.request_id) &&
             text_member(e, "traceparent", k_max_id_bytes, out.traceparent) &&
             text_member(e, "initiator", k_max_word_bytes, out.initiator) &&
             text_member(e, "error", k_max_message_bytes, out.error);
    }
    case frontend_kind::action:
      return text_member(e, "action", k_max_word_bytes, out.action) &&
             text_member(e, "selector", k_max_selector_bytes, out.selector) &&
             text_member(e, "text", k_max_selector_bytes, out.text);
    case frontend_kind::console:
      return text_member(e, "level", k_max_word_bytes, out.level) &&
             text_member(e, "message", k_max_message_bytes, out.message);
    case frontend_kind::exception:
    case frontend_kind::rejection:
      return text_member(e, "message", k_max_message_bytes, out.message) &&
             text_member(e, "stack", k_max_stack_bytes, out.stack) &&
             text_member(e, "source", k_max_url_bytes, out.source);
    case frontend_kind::page_load:
      return text_member(e, "url", k_max_url_bytes, out.url) && duration_member(e, out.duration_ms);
  }
  return false;
}

result<frontend_batch> decode(std::string_view text, std::int64_t receive_ns) {
  if (text.size() > k_max_batch_bytes) {
    return bad_batch("the batch is " + std::to_string(text.size()) + " bytes; at most " +
                     std::to_string(k_max_batch_bytes));
  }
  if (!nests_within(text, k_max_nesting)) {
    return malformed("the JSON nests deeper than " + std::to_string(k_max_nesting) + " levels");
  }
  const json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) {
    return malformed(valid_utf8(text) ? "the body is not JSON"
                                      : "the body is not JSON: it is not valid UTF-8");
  }
  if (!body.is_object())
    return bad_batch("a batch is a JSON object {\"v\", \"page\", \"seq\", \"events\"}");
  const json* version = member(body, "v");
  if (version == nullptr || !whole_in(*version, 1, 1)) {
    return bad_batch("\"v\" must be 1, the batch format this broker reads");
  }
  const json* page = member(body, "page");
  if (page == nullptr || !page->is_object()) {
    return bad_batch("\"page\" must be an object with the page's \"id\"");
  }
  const json* page_id = member(*page, "id");
  if (page_id == nullptr || !page_id->is_string() ||
      page_id->get_ref<const std::string&>().empty() ||
      page_id->get_ref<const std::string&>().size() > k_max_page_id_bytes) {
    return bad_batch("\"page.id\" must be a string of 1 to " + std::to_string(k_max_page_id_bytes) +
                     " bytes");
  }
  std::string page_url;
  std::string session_id;
  if (!text_member(*page, "url", k_max_url_bytes, page_url)) {
    return bad_batch("\"page.url\" must be a string");
  }
  if (!text_member(*page, "sessionId", k_max_id_bytes, session_id)) {
    return bad_batch("\"page.sessionId\" must be a string");
  }
  const json* seq = member(body, "seq");
  const auto first =
      seq != nullptr ? whole_in(*seq, 0, static_cast<std::int64_t>(k_max_sequence)) : std::nullopt;
  if (!first) {
    return bad_batch(
        "\"seq\" must be a whole number from 0 to 2^53: the sequence of the batch's "
        "first event within the page");
  }
  const json* events = member(body, "events");
  if (events == nullptr || !events->is_array()) return bad_batch("\"events\" must be an array");
  if (events->size() > k_max_batch_events) {
    return bad_batch("the batch has " + std::to_string(events->size()) + " events; at most " +
                     std::to_string(k_max_batch_events));
  }

  frontend_batch batch;
  batch.page_id = page_id->get<std::string>();
  batch.first_sequence = static_cast<std::uint64_t>(*first);
  batch.events.reserve(events->size());
  std::uint64_t sequence = batch.first_sequence;
  for (const json& e : *events) {
    frontend_event event;
    if (decode_event(e, event)) {
      event.receive_ns = receive_ns;
      event.page_id = batch.page_id;
      event.page_url = page_url;
      event.session_id = session_id;
      event.sequence = sequence;
      batch.events.push_back(std::move(event));
    } else {
      ++batch.refused_events;
    }
    ++sequence;
  }
  return batch;
}

}  // namespace

std::string_view frontend_kind_name(frontend_kind kind) noexcept {
  const auto i = static_cast<std::size_t>(kind);
  return i < k_kind_names.size() ? k_kind_names[i] : std::string_view("other");
}

bool parse_frontend_kind(std::string_view name, frontend_kind& kind) noexcept {
  for (std::size_t i = 0; i < k_kind_names.size(); ++i) {
    const std::string_view known = k_kind_names[i];
    if (name.size() != known.size()) continue;
    bool same = true;
    for (std::size_t c = 0; c < name.size() && same; ++c) {
      same = name[c] == known[c] || (name[c] == '_' && known[c] == '-');
    }
    if (same) {
      kind = static_cast<frontend_kind>(i);
      return true;
    }
  }
  return false;
}

result<frontend_batch> decode_frontend_batch(std::string_view json, std::int64_t receive_ns) {
  try {
    return decode(json, receive_ns);
  } catch (const std::exception& e) {
    // Out of memory, or a value the checks above should have kept out.
    return bad_batch(std::string("the batch could not be read: ") + e.what());
  }
}

std::string_view frontend_error_code(const error& e) noexcept {
  return e.code == errc::protocol_error ? "malformed_json" : "bad_batch";
}

}  // namespace logwire
