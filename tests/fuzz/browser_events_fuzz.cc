// libFuzzer target: arbitrary bytes as a batch of browser events, taken the way the broker
// takes a POST /events body or a WebSocket message (broker/src/http_browser_events.cc):
// decode_frontend_batch(), then the events read into a frontend store, looked up by their
// IDs, time and page, and expired. Nothing may crash; a refusal says why in UTF-8, fit for
// a 400 body; what the decoder keeps obeys every rule frontend_event.h states (UTF-8, the
// caps on texts and counts, sequences, times, statuses); expiry leaves no index behind.
//
// tests/fuzz/browser_events_seeds/*.bin seed the corpus: batches as logwire.js sends them.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "logwire/frontend_event.h"
#include "logwire/frontend_store.h"
#include "logwire/utf8.h"

namespace {

using namespace logwire;

constexpr std::int64_t k_receive_ns = 1769854523LL * 1'000'000'000;

// Stops the run with a message libFuzzer shows beside the input that caused it.
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "browser_events_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

void require_text(std::string_view text, std::size_t cap, const char* what) {
  require(valid_utf8(text), what);
  require(text.size() <= cap, what);
}

void check_event(const frontend_batch& batch, const frontend_event& e) {
  require(e.page_id == batch.page_id, "an event names its batch's page");
  require(e.receive_ns == k_receive_ns, "an event carries the receive time it was given");
  require(
      e.timestamp_ns >= 0 && static_cast<double>(e.timestamp_ns) <= k_max_timestamp_ms * 1e6 + 1e3,
      "a timestamp from 0 to 2100");
  frontend_kind kind{};
  require(parse_frontend_kind(frontend_kind_name(e.kind), kind) && kind == e.kind,
          "a kind that names itself");
  require(e.status >= 0 && e.status <= 999, "a status of 0..999");
  require(e.duration_ms == -1 || (std::isfinite(e.duration_ms) && e.duration_ms >= 0),
          "a duration not given (-1) or finite and not negative");
  require_text(e.page_url, k_max_url_bytes, "page url: UTF-8 within 2 KiB");
  require_text(e.url, k_max_url_bytes, "url: UTF-8 within 2 KiB");
  require_text(e.session_id, k_max_id_bytes, "sessionId: UTF-8 within 256 B");
  require_text(e.request_id, k_max_id_bytes, "requestId: UTF-8 within 256 B");
  require_text(e.traceparent, k_max_id_bytes, "traceparent: UTF-8 within 256 B");
  require_text(e.method, k_max_word_bytes, "method: UTF-8 within 32 B");
  require_text(e.initiator, k_max_word_bytes, "initiator: UTF-8 within 32 B");
  require_text(e.action, k_max_word_bytes, "action: UTF-8 within 32 B");
  require_text(e.level, k_max_word_bytes, "level: UTF-8 within 32 B");
  require_text(e.error, k_max_message_bytes, "error: UTF-8 within 8 KiB");
  require_text(e.message, k_max_message_bytes, "message: UTF-8 within 8 KiB");
  require_text(e.stack, k_max_stack_bytes, "stack: UTF-8 within 16 KiB");
  require_text(e.selector, k_max_selector_bytes, "selector: UTF-8 within 512 B");
  require_text(e.text, k_max_selector_bytes, "text: UTF-8 within 512 B");
  require_text(e.source, k_max_url_bytes, "source: UTF-8 within 2 KiB");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto decoded = decode_frontend_batch(input, k_receive_ns);
  if (!decoded) {
    require(!decoded.error().message.empty(), "a refusal says why");
    require(valid_utf8(decoded.error().message), "a refusal's message is UTF-8 (a 400 body)");
    return 0;
  }
  frontend_batch& batch = *decoded;
  require(!batch.page_id.empty() && batch.page_id.size() <= k_max_page_id_bytes,
          "a page id of 1 to 128 bytes");
  require(valid_utf8(batch.page_id), "a page id in UTF-8");
  require(batch.first_sequence <= k_max_sequence, "a sequence within 2^53");
  require(batch.events.size() + batch.refused_events <= k_max_batch_events,
          "at most 1000 events a batch");
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    const frontend_event& e = batch.events[i];
    check_event(batch, e);
    require(e.sequence >= batch.first_sequence &&
                e.sequence - batch.first_sequence < batch.events.size() + batch.refused_events,
            "an event's sequence is its place in the batch");
    require(i == 0 || e.sequence > previous, "sequences rise through the batch");
    previous = e.sequence;
  }

  // Into a store of its own (small, so its cap evicts), and out again by ID, time and page;
  // then past its retention, when nothing may be left in any index.
  constexpr std::int64_t k_retention_ns = 3600LL * 1'000'000'000;
  frontend_store store(64 * 1024, k_retention_ns, k_receive_ns);
  const std::string page = batch.page_id;
  std::string request_id, trace;
  std::int64_t middle = 0;
  for (const frontend_event& e : batch.events) {
    if (request_id.empty()) request_id = e.request_id;
    if (trace.empty() && e.traceparent.size() >= 35) trace = e.traceparent.substr(3, 32);
    middle = e.timestamp_ns;
  }
  const std::size_t read = batch.events.size();
  const auto inserted = store.insert(std::move(batch), k_receive_ns);
  require(inserted.stored == read && inserted.duplicate == 0,
          "every event of a batch is new to an empty store");
  require(store.size() <= read, "no more events kept than stored");
  if (!request_id.empty()) {
    for (const frontend_event& e : store.with_request_id(request_id))
      require(e.request_id == request_id, "with_request_id returns that request's events");
  }
  if (!trace.empty()) (void)store.with_trace_id(trace);
  std::int64_t last = -1;
  for (const frontend_event& e : store.between(0, std::numeric_limits<std::int64_t>::max())) {
    require(e.timestamp_ns >= last, "between() in time order");
    last = e.timestamp_ns;
  }
  std::size_t actions = 0;
  for (const frontend_event& e :
       store.page_context(page, 0, middle, std::numeric_limits<std::int64_t>::max(), 20)) {
    require(e.page_id == page, "page_context() keeps to its page");
    if (e.kind == frontend_kind::action) {
      require(e.timestamp_ns <= middle && ++actions == 1, "page_context(): one action, before");
    } else {
      require((e.kind == frontend_kind::console || e.kind == frontend_kind::exception ||
               e.kind == frontend_kind::rejection) &&
                  e.timestamp_ns >= middle,
              "page_context(): errors from the time asked");
    }
  }
  store.maintain(k_receive_ns + k_retention_ns + 1);
  require(store.size() == 0, "expiry removes every event");
  require(store.between(0, std::numeric_limits<std::int64_t>::max()).empty(),
          "expired events leave the time index");
  require(store.page_context(page, 0, middle, std::numeric_limits<std::int64_t>::max(), 20).empty(),
          "expired events leave the page context index");
  if (!request_id.empty()) {
    require(store.with_request_id(request_id).empty(), "expired events leave the ID index");
  }
  require(store.memory_bytes() == 0, "nothing is counted once every event and page is gone");
  return 0;
}
