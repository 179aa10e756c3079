// Where the MCP bridge's observe tool gets its answer. The bridge speaks MCP and formats
// results; the broker validates parameters and runs the query. This seam lets the MCP
// session be tested without a broker.
#pragma once

#include <nlohmann/json.hpp>

#include "logwire/broker_client.h"

namespace logwire {

class observe_backend {
 public:
  virtual ~observe_backend() = default;

  // Runs observe with the tool's arguments exactly as the agent sent them; the reply is
  // the observe object (DESIGN.md "The agent's view") or the broker's error.
  virtual broker_result observe(const nlohmann::json& arguments) = 0;
};

// The production backend: the broker's query socket.
// Thread-safety: one thread at a time, like the broker_client it wraps.
class broker_observe_backend final : public observe_backend {
 public:
  explicit broker_observe_backend(broker_client& client) noexcept : client_(client) {}

  broker_result observe(const nlohmann::json& arguments) override;

 private:
  broker_client& client_;
};

}  // namespace logwire
