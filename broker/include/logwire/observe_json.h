// The store's answer to an observe call written as JSON text, directly: it is what every
// agent question waits for, and a general JSON library spent about 8 µs a record on it.
// The shape is DESIGN.md's "The agent's view" (query_protocol.h lists every key).
#pragma once

#include <string>

#include "logwire/log_record.h"
#include "logwire/store.h"

namespace logwire {

// {"type": "backend-logs", "logs": [...], "totalCount": N, ...}, as query_protocol.h
// says; texts past k_max_text_bytes cut, and the records past k_max_reply_bytes left
// out where the cursors pick them up again.
std::string observe_json_text(store_result result);

// One record, as it appears in "logs". Sets `cut` when a text was cut.
void append_record_json(std::string& out, const log_record& record, bool& cut);

}  // namespace logwire
