// Browser batches from the HTTP server into the frontend store: decode_frontend_batch()
// checks and reads a batch, frontend_store keeps each (page, sequence) once, and the server's
// refusals are counted where the agent sees them.
#pragma once

#include "http_server.h"
#include "logwire/frontend_store.h"

namespace logwire {

// Thread-safety: as browser_events (the server's thread); the store itself is thread-safe.
class frontend_ingest final : public browser_events {
 public:
  explicit frontend_ingest(frontend_store& events) : events_(events) {}

  boost::system::result<accepted, refused> ingest(std::string_view json,
                                                  std::int64_t now_ns) override;
  void count(http_refusal why) noexcept override;

 private:
  frontend_store& events_;
};

}  // namespace logwire
