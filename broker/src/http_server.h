// The broker's HTTP and WebSocket server, on loopback: the browser script, browser events and
// backends that send their logs over a WebSocket. What a request gets, in the order the
// checks run:
//
//   Host not localhost / 127.0.0.1 / [::1] with our port .......... 403 bad_host (DNS rebinding)
//   Origin present and not allowed (except GET /logwire.js) ....... 403 bad_origin
//   headers over 8 KiB / body over 1 MiB .......................... 431 / 413 too_large
//   GET or HEAD /logwire.js ........................................ 200 text/javascript, any
//   Origin POST /events, Content-Type application/json or text/plain ..... 204 (the batch stored)
//        not JSON 400 malformed_json, not a batch 400 bad_batch, other type 415
//   OPTIONS /events ................................................ 204, CORS preflight
//   GET /events, Upgrade: websocket ................................ browser batches, one per
//        text message (at most 1 MiB), each answered {"v":1,"ack":<next seq>} or
//        {"v":1,"error":"<code>","message":"..."}
//   GET /logs, Upgrade: websocket .................................. backend records (JSON form of
//        the remote producer protocol, ws_backend_json.h; messages up to 4 MiB)
//   any other path 404, any other method 405
//
// A WebSocket message over its cap closes the connection with code 1009 (too big). Every
// error body is {"error":"<code>","message":"<what was wrong and what to send instead>"}, and
// every refusal is counted: in counters(), and those of the browser's making in the frontend
// store (browser_events::count).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/error.h"
#include "logwire/http_guard.h"
#include "logwire/store.h"
#include "remote_sessions.h"

namespace logwire {

inline constexpr std::uint16_t k_broker_http_port = 7719;
inline constexpr std::string_view k_broker_http_default = "127.0.0.1:7719";
inline constexpr std::size_t k_max_http_body = 1024 * 1024;
inline constexpr std::size_t k_max_ws_event_message = 1024 * 1024;

// Why a request or message was refused. The first six are the frontend store's
// (frontend_refusal), in its order.
enum class http_refusal : std::uint8_t {
  malformed_json,  // a browser batch that is not JSON
  bad_batch,       // JSON, but not a batch
  bad_host,        // Host not loopback with our port
  bad_origin,      // Origin not allowed
  too_large,       // body, headers or WebSocket message over the cap
  bad_event,       // an event of a batch refused, the rest stored
  not_found,
  method_not_allowed,
  unsupported_media_type,
  bad_http,              // not HTTP, or a WebSocket handshake gone wrong
  too_many_connections,  // 503
};
inline constexpr std::size_t k_http_refusals = 11;

// "malformed_json", "bad_batch", ...: the code an error body names.
std::string_view http_refusal_code(http_refusal why) noexcept;

// Where browser batches go: the frontend store (frontend_ingest, http_browser_events.h), or
// a test's own.
// Thread-safety: called from the server's thread only.
class browser_events {
 public:
  struct accepted {
    std::uint64_t next_sequence = 0;  // the batch's seq + its number of events
    std::size_t stored = 0;
    std::size_t duplicate = 0;
    std::size_t refused_events = 0;
  };
  struct refused {
    http_refusal why;  // malformed_json or bad_batch
    std::string message;
  };
  virtual ~browser_events() = default;

  // Decodes and stores one batch.
  virtual boost::system::result<accepted, refused> ingest(std::string_view json,
                                                          std::int64_t now_ns) = 0;
  // Counts a refusal the server made (bad_host, bad_origin, too_large, ...).
  virtual void count(http_refusal why) noexcept = 0;
};

struct http_server_options {
  // A loopback address: 127.0.0.1 (or another of 127.0.0.0/8), ::1 or localhost.
  std::string address = "127.0.0.1";
  // 0 picks a free port; port() tells which.
  std::uint16_t port = k_broker_http_port;
  // Origins a page may send from; a request without Origin (a backend, curl) is not checked
  // against them (Host still is).
  std::vector<std::string> allowed_origins = k_local_origins;
};

// Reads a --http value: "ADDRESS:PORT", "[IPv6]:PORT" or "PORT". Only the syntax is checked
// here; listen() refuses an address that is not loopback.
result<http_server_options> parse_http_address(std::string_view text);

struct http_counters {
  std::uint64_t requests = 0;          // HTTP requests read, upgrades included
  std::uint64_t batches = 0;           // browser batches stored (POST and WebSocket)
  std::uint64_t events_stored = 0;     // browser events stored
  std::uint64_t events_duplicate = 0;  // replays of events already stored
  std::uint64_t backend_messages = 0;  // /logs messages answered
  std::array<std::uint64_t, k_http_refusals> refused{};  // by http_refusal
};

// Serves on one thread of its own; the drain and the query socket never wait for it.
// Thread-safety: port(), url() and the counters from any thread; stop() and the destructor
// from the owner.
class http_server {
 public:
  // Binds and starts serving. `browser` and `records` must outlive the server. Fails with
  // invalid_argument for an address that is not loopback, io_error if it cannot bind.
  static result<http_server> listen(http_server_options options, browser_events& browser,
                                    store& records);

  http_server(http_server&&) noexcept;
  http_server& operator=(http_server&&) = delete;
  ~http_server();  // stop()

  std::uint16_t port() const noexcept { return port_; }
  // "http://127.0.0.1:7719"
  const std::string& url() const noexcept { return url_; }

  http_counters counters() const;
  // What the /logs sessions did.
  remote_counters backend_counters() const;

  // Stops accepting and closes every connection. Idempotent.
  void stop();

  struct state;

 private:
  http_server(std::unique_ptr<state> s, std::uint16_t port, std::string url);

  std::unique_ptr<state> state_;  // null once stopped
  std::uint16_t port_;
  std::string url_;
};

// The browser script (tools/browser/logwire.js), compiled in at build time.
std::string_view browser_script() noexcept;

}  // namespace logwire
