// Asio orders its handlers with std::atomic_thread_fence as well as its mutexes; GCC 12 warns
// under ThreadSanitizer that it cannot see fences, which -Werror would make fatal. The
// mutexes are what TSan checks, so the warning says nothing here. Before every include, as
// GCC judges a warning by where in the translation unit its code lies.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include "logwire/http_transport.h"

#include <sys/random.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace logwire {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using response = http::response<http::string_body>;

// Two threads move the bytes; every message is handled on a thread of its own, so a call
// waiting for records never holds up a socket.
constexpr int k_io_threads = 2;
// Beyond these a client gets 503: the bridge serves one developer's agents, not a crowd.
constexpr std::size_t k_max_connections = 128;
constexpr std::size_t k_max_http_calls = 32;
// How long a client has to send a request, which also closes an idle keep-alive connection.
constexpr std::chrono::seconds k_read_timeout{60};
constexpr std::chrono::seconds k_write_timeout{30};

// JSON-RPC "server error" codes for the transport's refusals, as the MCP SDKs use them.
constexpr int k_transport_error = -32000;
constexpr int k_session_not_found = -32001;

constexpr std::string_view k_session_header = "Mcp-Session-Id";
constexpr std::string_view k_version_header = "MCP-Protocol-Version";

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == text.npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// Header values quoted back in an error are cut short.
std::string quote_short(std::string_view text) {
  constexpr std::size_t k_max_quoted = 80;
  if (text.size() <= k_max_quoted) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, k_max_quoted)) + "...'";
}

// 128 bits from the kernel's CSPRNG as 32 lowercase hex digits (visible ASCII, as MCP asks).
std::optional<std::string> random_session_id() {
  std::array<unsigned char, 16> bytes{};
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    filled += static_cast<std::size_t>(got);
  }
  constexpr std::string_view k_hex = "0123456789abcdef";
  std::string id;
  id.reserve(2 * bytes.size());
  for (const unsigned char byte : bytes) {
    id += k_hex[byte >> 4];
    id += k_hex[byte & 0xf];
  }
  return id;
}

// The q the client's Accept gives `type` (lowercase, e.g. "application/json"): that of the
// most specific media range matching it, 0 when none does. No Accept accepts anything.
double accept_quality(std::string_view accept, std::string_view type) {
  if (trim(accept).empty()) return 1;
  const std::string any_subtype = std::string(type.substr(0, type.find('/'))) + "/*";
  int best_specificity = -1;
  double best_quality = 0;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    const std::string_view item = accept.substr(0, comma);
    accept = comma == accept.npos ? std::string_view() : accept.substr(comma + 1);
    const auto semicolon = item.find(';');
    const std::string range = lower(trim(item.substr(0, semicolon)));
    int specificity = 0;
    if (range == type) {
      specificity = 2;
    } else if (range == any_subtype) {
      specificity = 1;
    } else if (range != "*/*") {
      continue;
    }
    double quality = 1;
    std::string_view parameters =
        semicolon == item.npos ? std::string_view() : item.substr(semicolon + 1);
    while (!parameters.empty()) {
      const auto next = parameters.find(';');
      const std::string_view parameter = trim(parameters.substr(0, next));
      parameters = next == parameters.npos ? std::string_view() : parameters.substr(next + 1);
      if (parameter.size() > 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
          parameter[1] == '=') {
        double given = 1;
        const auto [end, failure] =
            std::from_chars(parameter.data() + 2, parameter.data() + parameter.size(), given);
        if (failure == std::errc() && end == parameter.data() + parameter.size()) quality = given;
      }
    }
    if (specificity > best_specificity) {
      best_specificity = specificity;
      best_quality = quality;
    }
  }
  return best_quality;
}

bool is_json_content(std::string_view content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';')))) == "application/json";
}

bool is_spoken_version(std::string_view version) {
  for (const std::string_view spoken : k_mcp_versions) {
    if (version == spoken) return true;
  }
  return false;
}

std::string spoken_versions() {
  std::string out;
  for (const std::string_view spoken : k_mcp_versions) {
    if (!out.empty()) out += ", ";
    out += spoken;
  }
  return out;
}

// The sessions initialize opened, most recently used first.
// Thread-safety: any thread.
class session_table {
 public:
  // A new session's id; nothing when the kernel gives no randomness.
  std::optional<std::string> open() {
    auto id = random_session_id();
    if (!id) return std::nullopt;
    const std::lock_guard lock(mutex_);
    if (ids_.size() >= k_max_http_sessions) {
      ids_.erase(by_use_.back());
      by_use_.pop_back();
    }
    by_use_.push_front(*id);
    ids_.emplace(*id, by_use_.begin());
    return id;
  }
  // True when `id` is open; it becomes the most recently used.
  bool use(const std::string& id) {
    const std::lock_guard lock(mutex_);
    const auto found = ids_.find(id);
    if (found == ids_.end()) return false;
    by_use_.splice(by_use_.begin(), by_use_, found->second);
    return true;
  }
  bool close(const std::string& id) {
    const std::lock_guard lock(mutex_);
    const auto found = ids_.find(id);
    if (found == ids_.end()) return false;
    by_use_.erase(found->second);
    ids_.erase(found);
    return true;
  }

 private:
  std::mutex mutex_;
  std::list<std::string> by_use_;                                          // guarded by mutex_
  std::unordered_map<std::string, std::list<std::string>::iterator> ids_;  // guarded by mutex_
};

// The messages being handled, each under "<session> <JSON-RPC id>", so that
// notifications/cancelled, DELETE and stop() can end a waiting call.
// Thread-safety: any thread.
class call_registry {
 public:
  using flag = std::shared_ptr<std::atomic<bool>>;

  // The new call's cancel flag; null when k_max_http_calls run or the transport stops.
  flag begin(std::string key) {
    const std::lock_guard lock(mutex_);
    if (stopping_ || calls_.size() >= k_max_http_calls) return nullptr;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    calls_.emplace(std::move(key), cancelled);
    return cancelled;
  }
  void end(const std::string& key, const flag& cancelled) {
    const std::lock_guard lock(mutex_);
    for (auto [it, last] = calls_.equal_range(key); it != last; ++it) {
      if (it->second == cancelled) {
        calls_.erase(it);
        break;
      }
    }
    // Under the lock: stop() may destroy the registry as soon as it sees the last end.
    ended_.notify_all();
  }
  void cancel(const std::string& key) {
    const std::lock_guard lock(mutex_);
    for (auto [it, last] = calls_.equal_range(key); it != last; ++it) it->second->store(true);
  }
  // Every call whose key starts with `prefix`.
  void cancel_all_of(const std::string& prefix) {
    const std::lock_guard lock(mutex_);
    for (auto it = calls_.lower_bound(prefix); it != calls_.end() && it->first.starts_with(prefix);
         ++it) {
      it->second->store(true);
    }
  }
  void cancel_all_and_wait() {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    for (auto& [key, cancelled] : calls_) cancelled->store(true);
    ended_.wait(lock, [&] { return calls_.empty(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable ended_;
  bool stopping_ = false;                   // guarded by mutex_
  std::multimap<std::string, flag> calls_;  // guarded by mutex_
};

class connection;

// The listening socket, the I/O threads and what every connection shares.
// Thread-safety: bind(), start() and stop() from the owner; the rest from any thread.
class http_server {
 public:
  http_server(mcp_server& server, http_options options)
      : mcp(server), options(std::move(options)) {}
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server() { stop(); }

  result<void> bind(const tcp::endpoint& endpoint);
  void start();
  void stop();

  mcp_server& mcp;
  const http_options options;
  std::uint16_t port = 0;
  session_table sessions;
  call_registry calls;
  std::atomic<std::size_t> connections{0};

 private:
  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  // Declared after what connections use: destroying it destroys the connections.
  asio::io_context io_{k_io_threads};
  tcp::acceptor acceptor_{asio::make_strand(io_)};
  asio::steady_timer retry_{acceptor_.get_executor()};
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

enum class reply_format { json, event_stream };

// One client connection: reads a request, answers it, and reads the next one while the
// client keeps the connection alive. Runs on its strand; a message is handled on a
// thread of its own, whose reply comes back to the strand.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket socket, http_server& server)
      : server_(server), stream_(std::move(socket)), executor_(stream_.get_executor()) {
    ++server_.connections;
  }
  ~connection() { --server_.connections; }

  void start() {
    asio::dispatch(executor_,
                   beast::bind_front_handler(&connection::read_header, shared_from_this()));
  }
  // Too many connections: answers 503 without reading the request.
  void refuse() {
    asio::dispatch(executor_, [self = shared_from_this()] {
      self->send(self->error_reply(http::status::service_unavailable, k_transport_error,
                                   "Service Unavailable: too many connections; retry shortly"),
                 /*close=*/true);
    });
  }

 private:
  using request = http::request<http::string_body>;
  const request& current() const { return parser_->get(); }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(k_max_mcp_line);
    origin_.reset();
    format_ = reply_format::json;
    stream_.expires_after(k_read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&connection::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    const request& message = current();
    const std::string_view host = message[http::field::host];
    if (!allowed_host(host, server_.port)) {
      const std::string port = std::to_string(server_.port);
      return send(error_reply(http::status::forbidden, k_transport_error,
                              "Forbidden: Host " + quote_short(host) +
                                  " is not this server; it answers to localhost:" + port +
                                  ", 127.0.0.1:" + port + " or [::1]:" + port + " only"),
                  /*close=*/true);
    }
    if (const auto origin = message.find(http::field::origin); origin != message.end()) {
      if (!allowed_origin(origin->value(), server_.options.allowed_origins)) {
        return send(error_reply(http::status::forbidden, k_transport_error,
                                "Forbidden: Origin " + quote_short(origin->value()) +
                                    " is not allowed to call this server; only local pages "
                                    "are, unless logwire-mcp is told to allow it"),
                    /*close=*/true);
      }
      origin_ = std::string(origin->value());
    }
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

  void read_body() {
    stream_.expires_after(k_read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&connection::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();  // the call may take its time; the client waits for it
    const std::string_view target = current().target();
    if (target.substr(0, target.find('?')) != k_mcp_http_path) {
      return send(error_reply(http::status::not_found, k_transport_error,
                              "Not Found: the MCP endpoint is " + std::string(k_mcp_http_path)));
    }
    switch (current().method()) {
      case http::verb::post:
        return handle_post();
      case http::verb::delete_:
        return handle_delete();
      case http::verb::options:
        return handle_preflight();
      case http::verb::get:
        return send(
            not_allowed("Method Not Allowed: this server opens no event stream on GET; "
                        "POST each JSON-RPC message to " +
                        std::string(k_mcp_http_path)));
      default:
        return send(not_allowed("Method Not Allowed: POST each JSON-RPC message to " +
                                std::string(k_mcp_http_path) + ", DELETE to end a session"));
    }
  }

  void on_read_error(beast::error_code ec) {
    // The client went away, was too slow, or the transport stops: nobody to answer.
    if (ec.category() != http::make_error_code(http::error::end_of_stream).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return send(error_reply(http::status::payload_too_large, k_transport_error,
                              "Payload Too Large: a message may be at most " +
                                  std::to_string(k_max_mcp_line / (1024 * 1024)) + " MiB"),
                  /*close=*/true);
    }
    if (ec == http::error::header_limit) {
      return send(error_reply(http::status::request_header_fields_too_large, k_transport_error,
                              "Request Header Fields Too Large: at most 8 KiB of headers"),
                  /*close=*/true);
    }
    send(error_reply(http::status::bad_request, k_transport_error,
                     "Bad Request: malformed HTTP (" + ec.message() + ")"),
         /*close=*/true);
  }

  void handle_post() {
    const request& message = current();
    if (!is_json_content(message[http::field::content_type])) {
      return send(error_reply(http::status::unsupported_media_type, k_transport_error,
                              "Unsupported Media Type: POST one JSON-RPC message with "
                              "Content-Type: application/json"));
    }
    const std::string_view accept = message[http::field::accept];
    if (accept_quality(accept, "application/json") > 0) {
      format_ = reply_format::json;
    } else if (accept_quality(accept, "text/event-stream") > 0) {
      format_ = reply_format::event_stream;
    } else {
      return send(error_reply(http::status::not_acceptable, k_transport_error,
                              "Not Acceptable: Accept must list application/json and "
                              "text/event-stream"));
    }

    // The transport looks only at what it needs: whether this is initialize, the session,
    // a cancellation. handle_line() judges the rest, malformed input included.
    const json parsed = json::parse(message.body(), nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return start_call("", /*initialize=*/false);
    const auto method = parsed.find("method");
    const auto id = parsed.find("id");
    const bool is_request = method != parsed.end() && id != parsed.end();
    if (is_request && *method == "initialize") {
      if (message.find(k_session_header) != message.end()) {
        return send(error_reply(http::status::bad_request, k_transport_error,
                                "Bad Request: initialize opens a new session; send it without "
                                "Mcp-Session-Id"));
      }
      return start_call("", /*initialize=*/true);
    }
    const std::optional<std::string> session = checked_session();
    if (!session) return;
    if (method != parsed.end() && *method == "notifications/cancelled" && id == parsed.end()) {
      const auto params = parsed.find("params");
      if (params != parsed.end() && params->is_object()) {
        if (const auto cancelled = params->find("requestId"); cancelled != params->end()) {
          server_.calls.cancel(*session + ' ' + cancelled->dump());
        }
      }
    }
    start_call(*session + ' ' + (is_request ? id->dump() : std::string()), /*initialize=*/false);
  }

  void handle_delete() {
    const std::optional<std::string> session = checked_session();
    if (!session) return;
    server_.sessions.close(*session);
    server_.calls.cancel_all_of(*session + ' ');
    send(response(http::status::no_content, current().version()));
  }

  void handle_preflight() {
    response reply(http::status::no_content, current().version());
    reply.set(http::field::allow, "POST, DELETE, OPTIONS");
    if (origin_) {
      reply.set(http::field::access_control_allow_methods, "POST, DELETE, OPTIONS");
      reply.set(http::field::access_control_allow_headers,
                "Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID");
      reply.set(http::field::access_control_max_age, "600");
    }
    send(std::move(reply));
  }

  // The request's open session, or nothing after answering why not.
  std::optional<std::string> checked_session() {
    const request& message = current();
    const auto given = message.find(k_session_header);
    if (given == message.end() || given->value().empty()) {
      send(error_reply(http::status::bad_request, k_transport_error,
                       "Bad Request: Mcp-Session-Id header missing; send the one the "
                       "initialize response gave"));
      return std::nullopt;
    }
    std::string session(given->value());
    if (!server_.sessions.use(session)) {
      send(error_reply(http::status::not_found, k_session_not_found,
                       "Not Found: session " + quote_short(session) +
                           " has ended or never existed; initialize a new one"));
      return std::nullopt;
    }
    // Clients of 2025-06-18 and later send the version they negotiated; without it the
    // session's own version holds.
    if (const auto version = message.find(k_version_header);
        version != message.end() && !is_spoken_version(version->value())) {
      send(error_reply(http::status::bad_request, k_transport_error,
                       "Bad Request: MCP-Protocol-Version " + quote_short(version->value()) +
                           " is not one this server speaks (" + spoken_versions() + ")"));
      return std::nullopt;
    }
    return session;
  }

  // Hands the message to the mcp_server on a thread of its own.
  void start_call(std::string key, bool initialize) {
    const call_registry::flag cancelled = server_.calls.begin(key);
    if (!cancelled) return send(busy_reply());
    try {
      std::thread([&server = server_, self = shared_from_this(), key, cancelled,
                   message = std::move(parser_->get().body()), initialize]() mutable {
        try {
          std::optional<std::string> reply;
          bool failed = false;
          try {
            reply = server.mcp.handle_line(message, *cancelled);
          } catch (const std::exception&) {
            failed = true;  // out of memory: handle_line turns everything else into a reply
          }
          const auto executor = self->executor_;
          asio::post(executor, [self = std::move(self), reply = std::move(reply), failed,
                                initialize]() mutable {
            self->finish_call(std::move(reply), failed, initialize);
          });
        } catch (const std::exception&) {
          // Out of memory posting the reply: the connection closes unanswered.
        }
        server.calls.end(key, cancelled);
      }).detach();
    } catch (const std::system_error&) {
      server_.calls.end(key, cancelled);
      send(busy_reply());
    }
  }

  void finish_call(std::optional<std::string> line, bool failed, bool initialize) {
    if (failed) {
      return send(error_reply(http::status::internal_server_error, k_transport_error,
                              "Internal Server Error: out of memory handling the message"));
    }
    if (!line) return send(response(http::status::accepted, current().version()));
    const json parsed = json::parse(*line, nullptr, /*allow_exceptions=*/false);
    // An error without an id is the message's own fault (not JSON, not JSON-RPC).
    const bool refused =
        parsed.is_object() && parsed.contains("error") && parsed.value("id", json()).is_null();
    response reply(refused ? http::status::bad_request : http::status::ok, current().version());
    if (initialize && !refused && parsed.is_object() && parsed.contains("result")) {
      const std::optional<std::string> session = server_.sessions.open();
      if (!session) {
        return send(error_reply(http::status::internal_server_error, k_transport_error,
                                "Internal Server Error: no randomness for a session id"));
      }
      reply.set(k_session_header, *session);
    }
    if (format_ == reply_format::event_stream && !refused) {
      reply.set(http::field::content_type, "text/event-stream");
      reply.body() = "event: message\ndata: " + *line + "\n\n";
    } else {
      reply.set(http::field::content_type, "application/json");
      reply.body() = std::move(*line);
    }
    send(std::move(reply));
  }

  response error_reply(http::status status, int code, std::string message) const {
    const bool have_request = parser_ && parser_->is_header_done();
    response reply(status, have_request ? current().version() : 11);
    reply.set(http::field::content_type, "application/json");
    reply.body() = json{{"jsonrpc", "2.0"},
                        {"id", nullptr},
                        {"error", {{"code", code}, {"message", std::move(message)}}}}
                       .dump(-1, ' ', false, json::error_handler_t::replace);
    return reply;
  }
  response not_allowed(std::string message) const {
    response reply =
        error_reply(http::status::method_not_allowed, k_transport_error, std::move(message));
    reply.set(http::field::allow, "POST, DELETE, OPTIONS");
    return reply;
  }
  response busy_reply() const {
    response reply = error_reply(http::status::service_unavailable, k_transport_error,
                                 "Service Unavailable: too many messages in flight; retry "
                                 "shortly");
    reply.set(http::field::retry_after, "1");
    return reply;
  }

  // Writes `reply`, then reads the next request unless the connection is to close.
  void send(response reply, bool close = false) {
    const bool have_request = parser_ && parser_->is_header_done();
    reply_ = std::move(reply);
    reply_.set(http::field::server, "logwire-mcp");
    reply_.set(http::field::cache_control, "no-store");
    if (origin_) {
      reply_.set(http::field::access_control_allow_origin, *origin_);
      reply_.set(http::field::access_control_expose_headers, k_session_header);
      reply_.set(http::field::vary, "Origin");
    }
    reply_.keep_alive(!close && have_request && current().keep_alive());
    reply_.prepare_payload();
    stream_.expires_after(k_write_timeout);
    http::async_write(stream_, reply_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->reply_.keep_alive()) return self->close();
                        self->reply_ = {};
                        self->read_header();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  http_server& server_;
  beast::tcp_stream stream_;
  const asio::any_io_executor executor_;  // the strand; read by call threads
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  response reply_;
  std::optional<std::string> origin_;  // an allowed Origin, echoed for CORS
  reply_format format_ = reply_format::json;
};

result<void> http_server::bind(const tcp::endpoint& endpoint) {
  const auto where = [&] {
    const std::string address = endpoint.address().to_string();
    return (endpoint.address().is_v6() ? "[" + address + "]" : address) + ":" +
           std::to_string(endpoint.port());
  };
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return error{errc::io_error, "cannot listen on " + where() + ": " + ec.message()};
  port = acceptor_.local_endpoint(ec).port();
  if (ec) return error{errc::io_error, "cannot read the bound port: " + ec.message()};
  return {};
}

void http_server::start() {
  accept();
  for (int i = 0; i < k_io_threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception&) {
          // A handler ran out of memory; its connection is gone, the others go on.
        }
      }
    });
  }
}

void http_server::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  });
  calls.cancel_all_and_wait();
  io_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void http_server::accept() {
  acceptor_.async_accept(asio::make_strand(io_),
                         beast::bind_front_handler(&http_server::on_accept, this));
}

void http_server::on_accept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors, most likely: try again shortly rather than spin.
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([this](beast::error_code cancelled) {
      if (!cancelled) accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const auto client = std::make_shared<connection>(std::move(socket), *this);
  if (connections.load() > k_max_connections) {
    client->refuse();
  } else {
    client->start();
  }
  accept();
}

}  // namespace

struct http_transport::state {
  state(mcp_server& server, http_options options) : server(server, std::move(options)) {}
  http_server server;
};

http_transport::http_transport(std::unique_ptr<state> s, std::uint16_t port, std::string url)
    : state_(std::move(s)), port_(port), url_(std::move(url)) {}
http_transport::http_transport(http_transport&&) noexcept = default;
http_transport::~http_transport() {
  stop();
}

result<http_transport> http_transport::listen(mcp_server& server, http_options options) {
  const std::string given = options.address;
  beast::error_code ec;
  const asio::ip::address address =
      asio::ip::make_address(given == "localhost" ? "127.0.0.1" : given, ec);
  if (ec) {
    return error{errc::invalid_argument,
                 quote_short(given) + " is not an IP address; use 127.0.0.1 or ::1"};
  }
  if (!address.is_loopback()) {
    return error{errc::invalid_argument,
                 "refusing to serve MCP over HTTP on " + given +
                     ": other machines could reach it, and the transport has no "
                     "authentication; use a loopback address (127.0.0.1 or ::1)"};
  }
  auto s = std::make_unique<state>(server, std::move(options));
  if (auto bound = s->server.bind(tcp::endpoint(address, s->server.options.port)); !bound) {
    return bound.error();
  }
  s->server.start();
  const std::uint16_t port = s->server.port;
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return http_transport(
      std::move(s), port,
      "http://" + host + ":" + std::to_string(port) + std::string(k_mcp_http_path));
}

std::uint16_t http_transport::port() const noexcept {
  return port_;
}

std::string http_transport::url() const {
  return url_;
}

void http_transport::stop() {
  if (!state_) return;
  state_->server.stop();
  state_.reset();  // closes every connection
}

result<http_options> parse_http_listen(std::string_view text) {
  const auto invalid = [&](std::string why) {
    return error{errc::invalid_argument, quote_short(text) + ": " + why +
                                             "; expected [ADDRESS:]PORT, e.g. 7718, " +
                                             "127.0.0.1:7718 or [::1]:7718"};
  };
  http_options options;
  std::string_view port_text = text;
  if (const auto colon = text.rfind(':'); colon != text.npos) {
    std::string_view address = text.substr(0, colon);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
      address = address.substr(1, address.size() - 2);
    } else if (address.find(':') != address.npos) {
      return invalid("an IPv6 address goes in brackets");
    }
    if (address.empty()) return invalid("the address is empty");
    options.address = std::string(address);
    port_text = text.substr(colon + 1);
  }
  const std::optional<std::uint16_t> port = parse_port(port_text);
  if (!port) return invalid("the port is not a number from 0 to 65535");
  options.port = *port;
  return options;
}

}  // namespace logwire
