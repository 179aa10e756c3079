#include "http_browser_events.h"

#include "logwire/frontend_event.h"

namespace logwire {

boost::system::result<browser_events::accepted, browser_events::refused> frontend_ingest::ingest(
    std::string_view json, std::int64_t now_ns) {
  auto batch = decode_frontend_batch(json, now_ns);
  if (!batch) {
    const http_refusal why = batch.error().code == errc::protocol_error
                                 ? http_refusal::malformed_json
                                 : http_refusal::bad_batch;
    return refused{why, std::move(batch.error().message)};
  }
  accepted out;
  // Event i of the batch has seq + i whether it was read or refused.
  out.next_sequence = batch->first_sequence + batch->events.size() + batch->refused_events;
  out.refused_events = batch->refused_events;
  // insert() counts the refused events (bad_event) itself.
  const frontend_store::insert_result result = events_.insert(std::move(*batch), now_ns);
  out.stored = result.stored;
  out.duplicate = result.duplicate;
  return out;
}

void frontend_ingest::count(http_refusal why) noexcept {
  switch (why) {
    case http_refusal::malformed_json:
      return events_.count_refusal(frontend_refusal::malformed_json);
    case http_refusal::bad_batch:
      return events_.count_refusal(frontend_refusal::bad_batch);
    case http_refusal::bad_host:
      return events_.count_refusal(frontend_refusal::bad_host);
    case http_refusal::bad_origin:
      return events_.count_refusal(frontend_refusal::bad_origin);
    case http_refusal::too_large:
      return events_.count_refusal(frontend_refusal::too_large);
    case http_refusal::bad_event:
      return events_.count_refusal(frontend_refusal::bad_event);
    default:
      return;  // the server's own (404, 405, ...): counted in http_counters only
  }
}

}  // namespace logwire
