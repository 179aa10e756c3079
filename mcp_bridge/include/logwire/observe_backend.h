// Where the MCP bridge's observe tool gets its answer. The bridge speaks MCP and formats
// results; the broker validates parameters and runs the query. This seam lets the MCP
// session be tested without a broker.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "logwire/broker_client.h"
#include "logwire/runtime_dir.h"

namespace logwire {

// Thread-safety: observe() may be called from several threads at once.
class observe_backend {
 public:
  virtual ~observe_backend() = default;

  // Runs observe with arguments the broker takes (query_protocol.h); the reply is the
  // observe object (DESIGN.md "The agent's view") or the broker's error.
  virtual broker_result observe(const nlohmann::json& arguments) = 0;
};

class broker_launcher;

struct broker_backend_options {
  broker_client_options client;
  // The logwire-broker binary to start when no broker answers; empty: never start one.
  std::filesystem::path broker_binary;
  // How long a call waits for a broker it started to answer.
  std::chrono::milliseconds start_wait{8000};
};

// The production backend: the broker's query socket, one client per call in flight
// (a REQ socket carries one request at a time). When no broker answers and starting one
// is on, it starts one and asks again once it answers.
class broker_observe_backend final : public observe_backend {
 public:
  broker_observe_backend(const runtime_dir& dir, broker_backend_options options);
  ~broker_observe_backend() override;

  broker_result observe(const nlohmann::json& arguments) override;

  // Starts a broker if none answers a ping, without waiting for it (at the bridge's
  // start, so that backends find one before the agent's first call).
  void start_broker_if_absent();

 private:
  broker_result call(std::string_view method, const nlohmann::json& params);
  // Starts a broker and waits up to start_wait for it; empty when it answers.
  std::optional<broker_error> start_and_wait();

  runtime_dir dir_;
  broker_backend_options options_;
  std::unique_ptr<broker_launcher> launcher_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<broker_client>> idle_;  // guarded by mutex_
};

}  // namespace logwire
