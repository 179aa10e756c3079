// A client of the broker's query socket (query_protocol.h), for the MCP bridge and the
// command line. Lazy Pirate: a request that gets no reply within the timeout closes the
// socket (a REQ socket cannot send twice), opens a fresh one and tries again, then gives
// up with a clear broker_unavailable error instead of hanging.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "logwire/query_protocol.h"
#include "logwire/runtime_dir.h"

namespace logwire {

struct broker_client_options {
  std::chrono::milliseconds timeout{750};  // per attempt
  int attempts = 2;
};

// Thread-safety: one thread at a time (a ZeroMQ socket is not thread-safe).
class broker_client {
 public:
  explicit broker_client(const runtime_dir& dir, broker_client_options options = {});
  ~broker_client();
  broker_client(const broker_client&) = delete;
  broker_client& operator=(const broker_client&) = delete;

  // Sends one request and waits for the reply's `result`.
  broker_result call(std::string_view method, const nlohmann::json& params);

 private:
  struct connection;
  std::string endpoint_;
  std::string runtime_path_;
  std::string socket_path_;
  broker_client_options options_;
  std::unique_ptr<connection> connection_;
};

}  // namespace logwire
