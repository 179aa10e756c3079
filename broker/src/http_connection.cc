// Asio orders its handlers with std::atomic_thread_fence as well as its mutexes; GCC 12 warns
// under ThreadSanitizer that it cannot see fences, which -Werror would make fatal. Before
// every include, as GCC judges a warning by where in the translation unit its code lies.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include "http_connection.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "logwire/timestamp.h"
#include "logwire/utf8.h"
#include "ws_connection.h"

namespace logwire {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using response = http::response<http::string_body>;

// A developer's browser tabs and backends, not a crowd: beyond this a client gets 503.
constexpr std::size_t k_max_connections = 256;
constexpr std::size_t k_max_header_bytes = 8 * 1024;
// How long a client has to send a request, which also closes an idle keep-alive connection.
constexpr std::chrono::seconds k_read_timeout{60};
constexpr std::chrono::seconds k_write_timeout{30};

constexpr std::string_view k_script_path = "/logwire.js";
constexpr std::string_view k_events_path = "/events";
constexpr std::string_view k_logs_path = "/logs";

std::string lower_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  std::string out(type);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One client connection: reads a request, answers it, and reads the next while the client
// keeps the connection alive; hands an upgrade over to serve_websocket().
class http_connection : public std::enable_shared_from_this<http_connection> {
 public:
  http_connection(tcp::socket socket, http_context& context)
      : context_(context), stream_(std::move(socket)) {
    ++context_.connections;
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_address_ = endpoint_text(peer);
  }
  ~http_connection() { --context_.connections; }
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  void start() { read_header(); }

  // Too many connections: answers 503 without reading the request.
  void refuse() {
    response reply =
        error_reply(http::status::service_unavailable, http_refusal::too_many_connections,
                    "too many connections; retry shortly");
    reply.set(http::field::retry_after, "1");
    send(std::move(reply), /*close=*/true);
  }

 private:
  using request = http::request<http::string_body>;
  const request& current() const { return parser_->get(); }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(k_max_header_bytes);
    parser_->body_limit(k_max_http_body);
    origin_.reset();
    stream_.expires_after(k_read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    context_.requests.fetch_add(1, std::memory_order_relaxed);
    const request& message = current();
    const std::string_view host = message[http::field::host];
    if (!allowed_host(host, context_.port)) {
      const std::string port = std::to_string(context_.port);
      return send(error_reply(http::status::forbidden, http_refusal::bad_host,
                              "Host " + quote_short(host) +
                                  " is not this server; it answers to localhost:" + port +
                                  ", 127.0.0.1:" + port + " or [::1]:" + port + " only"),
                  /*close=*/true);
    }
    const std::string_view target = message.target();
    path_ = std::string(target.substr(0, target.find('?')));
    // A <script> tag sends no Origin, but one with crossorigin does: the script is public and
    // served to any page. Everything else is for allowed pages only.
    if (const auto origin = message.find(http::field::origin);
        origin != message.end() && path_ != k_script_path) {
      if (!allowed_origin(origin->value(), context_.options.allowed_origins)) {
        return send(error_reply(http::status::forbidden, http_refusal::bad_origin,
                                "Origin " + quote_short(origin->value()) +
                                    " may not send to this broker; local pages "
                                    "(http://localhost:*, http://127.0.0.1:*, http://[::1]:*) "
                                    "may, and others given with --http-allow-origin"),
                    /*close=*/true);
      }
      origin_ = std::string(origin->value());
    }
    if (beast::websocket::is_upgrade(message)) return upgrade();
    if (beast::iequals(message[http::field::expect], "100-continue")) {
      continue_ = http::response<http::empty_body>(http::status::continue_, message.version());
      stream_.expires_after(k_write_timeout);
      return http::async_write(stream_, continue_,
                               [self = shared_from_this()](beast::error_code error, std::size_t) {
                                 if (error) return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  void upgrade() {
    ws_route route;
    if (path_ == k_events_path) {
      route = ws_route::events;
    } else if (path_ == k_logs_path) {
      route = ws_route::logs;
    } else {
      return send(error_reply(http::status::not_found, http_refusal::not_found,
                              "no WebSocket at " + quote_short(path_) +
                                  "; browser events go to /events, backend logs to /logs"),
                  /*close=*/true);
    }
    if (!parser_->is_done()) {
      return send(error_reply(http::status::bad_request, http_refusal::bad_http,
                              "a WebSocket upgrade carries no body"),
                  /*close=*/true);
    }
    stream_.expires_never();
    serve_websocket(std::move(stream_), parser_->release(), route, context_,
                    std::move(peer_address_));
  }

  void read_body() {
    stream_.expires_after(k_read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const http::verb method = current().method();
    if (path_ == k_script_path) {
      if (method != http::verb::get) {
        return send(not_allowed("GET", "GET /logwire.js for the browser script"));
      }
      return send_script();
    }
    if (path_ == k_events_path) {
      if (method == http::verb::post) return post_events();
      if (method == http::verb::options) return preflight();
      if (method == http::verb::get) {
        return send(
            upgrade_required("POST a batch of browser events to /events, or open a "
                             "WebSocket there (GET with Upgrade: websocket)"));
      }
      return send(not_allowed("POST, OPTIONS",
                              "POST a batch of browser events to /events, or open a "
                              "WebSocket there (GET with Upgrade: websocket)"));
    }
    if (path_ == k_logs_path) {
      return send(
          upgrade_required("open a WebSocket on /logs (GET with Upgrade: websocket) "
                           "and send the backend's records as JSON messages"));
    }
    send(error_reply(http::status::not_found, http_refusal::not_found,
                     "nothing at " + quote_short(path_) +
                         "; this broker serves /logwire.js, /events and /logs"));
  }

  void on_read_error(beast::error_code ec) {
    // The client went away, was too slow, or the server stops: nobody to answer.
    if (ec.category() != http::make_error_code(http::error::end_of_stream).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return send(
          error_reply(http::status::payload_too_large, http_refusal::too_large,
                      "a request body may hold at most " + std::to_string(k_max_http_body / 1024) +
                          " KiB; send smaller batches"),
          /*close=*/true);
    }
    if (ec == http::error::header_limit) {
      return send(
          error_reply(http::status::request_header_fields_too_large, http_refusal::too_large,
                      "at most " + std::to_string(k_max_header_bytes / 1024) + " KiB of headers"),
          /*close=*/true);
    }
    send(error_reply(http::status::bad_request, http_refusal::bad_http,
                     "malformed HTTP (" + ec.message() + ")"),
         /*close=*/true);
  }

  void send_script() {
    response reply(http::status::ok, current().version());
    reply.set(http::field::content_type, "text/javascript; charset=utf-8");
    // A developer edits and rebuilds: the browser asks again each load.
    reply.set(http::field::cache_control, "no-cache");
    reply.set(http::field::access_control_allow_origin, "*");
    reply.body() = std::string(browser_script());
    origin_.reset();  // "*" above, not the page's origin
    send(std::move(reply));
  }

  void post_events() {
    const std::string type = lower_media_type(current()[http::field::content_type]);
    // text/plain is what navigator.sendBeacon sends a string as, and needs no preflight.
    if (type != "application/json" && type != "text/plain") {
      return send(error_reply(http::status::unsupported_media_type,
                              http_refusal::unsupported_media_type,
                              "send a batch as Content-Type: application/json (or text/plain), "
                              "not " +
                                  quote_short(current()[http::field::content_type])));
    }
    auto batch = context_.browser.ingest(current().body(), unix_now_ns());
    if (!batch) {
      return send(error_reply(http::status::bad_request, batch.error().why,
                              std::move(batch.error().message)));
    }
    context_.stored(*batch);
    send(response(http::status::no_content, current().version()));
  }

  void preflight() {
    response reply(http::status::no_content, current().version());
    reply.set(http::field::allow, "POST, OPTIONS");
    if (origin_) {
      reply.set(http::field::access_control_allow_methods, "POST, OPTIONS");
      reply.set(http::field::access_control_allow_headers, "Content-Type");
      reply.set(http::field::access_control_max_age, "600");
      // Chrome asks before a public page reaches a loopback server; only an allowed
      // Origin gets this far.
      if (beast::iequals(current()["Access-Control-Request-Private-Network"], "true")) {
        reply.set("Access-Control-Allow-Private-Network", "true");
      }
    }
    send(std::move(reply));
  }

  response error_reply(http::status status, http_refusal why, std::string_view message) {
    context_.refuse(why, message);
    const bool have_request = parser_ && parser_->is_header_done();
    response reply(status, have_request ? current().version() : 11);
    reply.set(http::field::content_type, "application/json");
    reply.body() = http_error_body(why, message);
    return reply;
  }
  response not_allowed(std::string_view allow, std::string_view message) {
    response reply =
        error_reply(http::status::method_not_allowed, http_refusal::method_not_allowed, message);
    reply.set(http::field::allow, allow);
    return reply;
  }
  response upgrade_required(std::string_view message) {
    response reply =
        error_reply(http::status::upgrade_required, http_refusal::method_not_allowed, message);
    reply.set(http::field::upgrade, "websocket");
    return reply;
  }

  // Writes `reply`, then reads the next request unless the connection is to close.
  void send(response reply, bool close = false) {
    const bool have_request = parser_ && parser_->is_header_done();
    reply_ = std::move(reply);
    reply_.set(http::field::server, "logwire-broker");
    if (reply_.find(http::field::cache_control) == reply_.end()) {
      reply_.set(http::field::cache_control, "no-store");
    }
    if (origin_) {
      reply_.set(http::field::access_control_allow_origin, *origin_);
      reply_.set(http::field::vary, "Origin");
    }
    reply_.keep_alive(!close && have_request && current().keep_alive());
    reply_.prepare_payload();
    stream_.expires_after(k_write_timeout);
    http::async_write(
        stream_, reply_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->after_write(ec); });
  }

  void after_write(beast::error_code ec) {
    if (ec || !reply_.keep_alive()) return close();
    reply_ = {};
    read_header();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  http_context& context_;
  beast::tcp_stream stream_;
  std::string peer_address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  response reply_;
  std::string path_;
  std::optional<std::string> origin_;  // an allowed Origin, echoed for CORS
};

}  // namespace

void http_context::refuse(http_refusal why, std::string_view message) {
  const std::uint64_t count =
      refused[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed) + 1;
  if (static_cast<std::size_t>(why) <= static_cast<std::size_t>(http_refusal::bad_event)) {
    browser.count(why);
  }
  if (count == 1 || count % 1000 == 0) {
    spdlog::warn("http: refused ({} {} so far): {}", count, http_refusal_code(why), message);
  }
}

void serve_http(tcp::socket socket, http_context& context) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const auto client = std::make_shared<http_connection>(std::move(socket), context);
  if (context.connections.load() > k_max_connections) {
    client->refuse();
  } else {
    client->start();
  }
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  const std::string address = endpoint.address().to_string();
  return (endpoint.address().is_v6() ? "[" + address + "]" : address) + ":" +
         std::to_string(endpoint.port());
}

// The peer's bytes, for a message and the log: at most 80 of them, cut between characters,
// and anything not UTF-8 shown as U+FFFD.
std::string quote_short(std::string_view text) {
  constexpr std::size_t k_max_quoted = 80;
  if (text.size() <= k_max_quoted) return "'" + repair_utf8(text) + "'";
  return "'" + repair_utf8(utf8_prefix(text, k_max_quoted)) + "...'";
}

}  // namespace logwire
