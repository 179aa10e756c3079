// Asio orders its handlers with std::atomic_thread_fence as well as its mutexes; GCC 12 warns
// under ThreadSanitizer that it cannot see fences, which -Werror would make fatal. Before
// every include, as GCC judges a warning by where in the translation unit its code lies.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include "http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "http_connection.h"
#include "http_context.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

constexpr std::chrono::seconds k_expire_interval{1};

}  // namespace

// The listening socket, the thread and what every connection shares.
struct http_server::state {
  state(http_server_options options, browser_events& browser, store& records)
      : context(std::move(options), browser, records) {}
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() { stop(); }

  result<void> bind(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return error{errc::io_error,
                   "cannot serve HTTP on " + endpoint_text(endpoint) + ": " + ec.message()};
    }
    context.port = acceptor.local_endpoint(ec).port();
    if (ec) return error{errc::io_error, "cannot read the bound port: " + ec.message()};
    return {};
  }

  void start() {
    accept();
    expire_sessions();
    thread = std::thread([this] {
      for (;;) {
        try {
          io.run();
          return;
        } catch (const std::exception& e) {
          // A handler ran out of memory; its connection is gone, the others go on.
          spdlog::error("http: {}", e.what());
        }
      }
    });
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    io.stop();
    if (thread.joinable()) thread.join();
    // The thread is gone: nothing else touches these now.
    beast::error_code ignored;
    acceptor.close(ignored);
    retry.cancel();
    expiry.cancel();
  }

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (ec) {
        // Out of file descriptors, most likely: try again shortly rather than spin.
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](beast::error_code cancelled) {
          if (!cancelled) accept();
        });
        return;
      }
      serve_http(std::move(socket), context);
      accept();
    });
  }

  // Backends that went away without a word are forgotten, as on the ZeroMQ path.
  void expire_sessions() {
    expiry.expires_after(k_expire_interval);
    expiry.async_wait([this](beast::error_code ec) {
      if (ec) return;
      {
        const std::lock_guard lock(context.backend_mutex);
        context.backend.expire(unix_now_ns());
      }
      expire_sessions();
    });
  }

  // Declared before the I/O context: destroying the context destroys the connections,
  // which still count themselves out of it.
  http_context context;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  asio::steady_timer expiry{io};
  std::thread thread;
  bool stopped = false;
};

http_server::http_server(std::unique_ptr<state> s, std::uint16_t port, std::string url)
    : state_(std::move(s)), port_(port), url_(std::move(url)) {}
http_server::http_server(http_server&&) noexcept = default;
http_server::~http_server() {
  stop();
}

result<http_server> http_server::listen(http_server_options options, browser_events& browser,
                                        store& records) {
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
                 "refusing to serve HTTP on " + given +
                     ": other machines could send events and logs to it; use a loopback "
                     "address (127.0.0.1 or ::1)"};
  }
  const std::uint16_t port = options.port;
  auto s = std::make_unique<state>(std::move(options), browser, records);
  if (auto bound = s->bind(tcp::endpoint(address, port)); !bound) return bound.error();
  s->start();
  const std::uint16_t bound_port = s->context.port;
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return http_server(std::move(s), bound_port, "http://" + host + ":" + std::to_string(bound_port));
}

http_counters http_server::counters() const {
  http_counters out;
  if (!state_) return out;
  const http_context& c = state_->context;
  out.requests = c.requests.load();
  out.batches = c.batches.load();
  out.events_stored = c.events_stored.load();
  out.events_duplicate = c.events_duplicate.load();
  out.backend_messages = c.backend_messages.load();
  for (std::size_t i = 0; i < k_http_refusals; ++i) out.refused[i] = c.refused[i].load();
  return out;
}

remote_counters http_server::backend_counters() const {
  if (!state_) return {};
  const std::lock_guard lock(state_->context.backend_mutex);
  return state_->context.backend.counters();
}

void http_server::stop() {
  if (!state_) return;
  state_->stop();
  state_.reset();  // closes every connection
}

result<http_server_options> parse_http_address(std::string_view text) {
  const auto invalid = [&](std::string why) {
    return error{errc::invalid_argument,
                 quote_short(text) + ": " + why +
                     "; expected ADDRESS:PORT on loopback, e.g. 127.0.0.1:7719, [::1]:7719 or "
                     "127.0.0.1:0 for any free port, or none"};
  };
  http_server_options options;
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

std::string_view http_refusal_code(http_refusal why) noexcept {
  switch (why) {
    case http_refusal::malformed_json:
      return "malformed_json";
    case http_refusal::bad_batch:
      return "bad_batch";
    case http_refusal::bad_host:
      return "bad_host";
    case http_refusal::bad_origin:
      return "bad_origin";
    case http_refusal::too_large:
      return "too_large";
    case http_refusal::bad_event:
      return "bad_event";
    case http_refusal::not_found:
      return "not_found";
    case http_refusal::method_not_allowed:
      return "method_not_allowed";
    case http_refusal::unsupported_media_type:
      return "unsupported_media_type";
    case http_refusal::bad_http:
      return "bad_request";
    case http_refusal::too_many_connections:
      return "too_many_connections";
  }
  return "bad_request";
}

std::string http_error_body(http_refusal why, std::string_view message) {
  return nlohmann::json{{"error", http_refusal_code(why)}, {"message", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace logwire
