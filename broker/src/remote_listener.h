// The broker's ZeroMQ ROUTER socket for remote producers: receives their messages and
// answers each through remote_sessions.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "logwire/error.h"
#include "remote_sessions.h"

namespace logwire {

// Thread-safety: serve() in one thread; endpoint() from any.
class remote_listener {
 public:
  // Binds `endpoint` (e.g. tcp://127.0.0.1:7717; port 0 picks a free one).
  static result<remote_listener> bind(const std::string& endpoint, store& records);

  remote_listener(remote_listener&&) noexcept;
  remote_listener& operator=(remote_listener&&) = delete;
  ~remote_listener();

  // The endpoint actually bound, with the port a wildcard resolved to.
  const std::string& endpoint() const noexcept;

  // Answers producers until `stop` is set; looks at it at least every 100 ms.
  void serve(const std::atomic<bool>& stop);

 private:
  struct state;
  explicit remote_listener(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

// True when `endpoint` listens on loopback only (127.0.0.0/8, ::1, localhost).
bool loopback_endpoint(const std::string& endpoint);

}  // namespace logwire
