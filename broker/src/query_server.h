// Answers the query protocol (logwire/query_protocol.h) on the runtime directory's
// query socket, from the store.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "logwire/error.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"

namespace logwire {

// Thread-safety: serve() in one thread; handle() from any thread.
class query_server {
 public:
  // Binds the socket, replacing a stale socket file (the caller holds the instance lock).
  static result<query_server> bind(const runtime_dir& dir, const store& records);

  query_server(query_server&&) noexcept;
  query_server& operator=(query_server&&) = delete;
  ~query_server();

  // Answers requests until `stop` is set; looks at it at least every 100 ms.
  void serve(const std::atomic<bool>& stop);

  // One request in, one reply out: the protocol without the socket.
  static std::string handle(std::string_view request, const store& records);

 private:
  struct socket_state;
  query_server(std::unique_ptr<socket_state> state, const store& records);
  std::unique_ptr<socket_state> socket_;
  const store* store_;
};

}  // namespace logwire
