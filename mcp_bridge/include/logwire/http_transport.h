// logwire-mcp's Streamable HTTP transport (MCP 2025-03-26 and later): one endpoint, /mcp,
// to which a client POSTs each JSON-RPC message and gets the reply in the HTTP response.
// Opt-in, loopback only, and Host and Origin are checked against DNS rebinding
// (DESIGN.md "Safe by default").
//
// What a request gets, in the order the checks run:
//
//   Host not localhost / 127.0.0.1 / [::1] with our port . 403  (DNS rebinding)
//   Origin present and not allowed ....................... 403
//   headers over 8 KiB / body over k_max_mcp_line ......... 431 / 413
//   path other than /mcp ................................. 404
//   OPTIONS .............................................. 204, CORS preflight
//   GET, or any other method but POST and DELETE ......... 405  (no server-initiated stream)
//   DELETE: no Mcp-Session-Id 400, unknown 404, else the session ends ..... 204
//   POST, Content-Type not application/json .............. 415
//   POST, Accept lists neither application/json nor text/event-stream ..... 406
//   POST, body not one JSON-RPC message .................. 400, a JSON-RPC error, id null
//   POST initialize (no Mcp-Session-Id) .................. 200, Mcp-Session-Id on success
//   POST other: no Mcp-Session-Id 400, unknown or ended 404,
//        MCP-Protocol-Version present and not one we speak 400
//   POST notification or response ........................ 202, no body
//   POST request ......................................... 200, the reply as
//        application/json, or as one SSE event when the client accepts only text/event-stream
//   too many calls in flight or connections open ......... 503
//
// Every error body is a JSON-RPC error object without an id (MCP allows one there) whose
// message says what was wrong and what to send instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/error.h"
#include "logwire/http_guard.h"  // allowed_host, allowed_origin: shared with the broker
#include "logwire/mcp_server.h"

namespace logwire {

inline constexpr std::uint16_t k_default_http_port = 7718;
inline constexpr std::string_view k_mcp_http_path = "/mcp";
// Sessions kept at once; beyond this the least recently used ends, and its client gets 404
// and initializes again, as MCP prescribes.
inline constexpr std::size_t k_max_http_sessions = 256;

struct http_options {
  // A loopback address: 127.0.0.1 (or another of 127.0.0.0/8), ::1 or localhost.
  std::string address = "127.0.0.1";
  // 0 picks a free port; port() tells which.
  std::uint16_t port = k_default_http_port;
  // Origins a browser page may call from: exact origins ("http://localhost:6274") or
  // origins with any port ("http://localhost:*"). A request without Origin (not from a
  // browser) is not checked against these; the Host check still applies.
  std::vector<std::string> allowed_origins = k_local_origins;
};

// Serves MCP over HTTP on its own threads: a small pool for the sockets and one thread per
// message in flight, so an observe call waiting up to 30 s holds up nothing else.
// Thread-safety: port() and url() from any thread; stop() and the destructor from the
// owner only, never from inside the mcp_server.
class http_transport {
 public:
  // Binds and starts serving `server`, which must outlive the transport. Fails with
  // invalid_argument for an address that is not loopback, io_error if it cannot bind.
  static result<http_transport> listen(mcp_server& server, http_options options);

  http_transport(http_transport&&) noexcept;
  http_transport& operator=(http_transport&&) = delete;
  ~http_transport();  // stop()

  std::uint16_t port() const noexcept;
  // The MCP endpoint, e.g. http://127.0.0.1:7718/mcp, for the agent's configuration.
  std::string url() const;

  // Stops accepting, cancels the calls in flight (a waiting observe answers with what it
  // has), waits for them and closes every connection. Idempotent.
  void stop();

 private:
  struct state;
  http_transport(std::unique_ptr<state> s, std::uint16_t port, std::string url);

  std::unique_ptr<state> state_;  // null once stopped
  std::uint16_t port_;
  std::string url_;
};

// Reads a --http argument: "PORT", "ADDRESS:PORT" or "[IPv6]:PORT". Only the syntax is
// checked here; listen() refuses an address that is not loopback.
result<http_options> parse_http_listen(std::string_view text);

}  // namespace logwire
