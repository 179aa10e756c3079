// Asio orders its handlers with std::atomic_thread_fence as well as its mutexes; GCC 12 warns
// under ThreadSanitizer that it cannot see fences, which -Werror would make fatal. Before
// every include, as GCC judges a warning by where in the translation unit its code lies.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include "ws_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "logwire/timestamp.h"
#include "logwire/version.h"

namespace logwire {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

std::string event_reply(const browser_events::accepted& batch) {
  return R"({"v":1,"ack":)" + std::to_string(batch.next_sequence) + "}";
}

std::string event_refusal(http_refusal why, std::string_view message) {
  return nlohmann::json{{"v", 1}, {"error", http_refusal_code(why)}, {"message", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class ws_connection : public std::enable_shared_from_this<ws_connection> {
 public:
  ws_connection(beast::tcp_stream stream, ws_route route, http_context& context,
                std::string peer_address)
      : ws_(std::move(stream)),
        route_(route),
        context_(context),
        peer_address_(std::move(peer_address)),
        peer_("ws-" + std::to_string(++context.next_peer)) {
    ++context_.connections;
  }
  ~ws_connection() { --context_.connections; }
  ws_connection(const ws_connection&) = delete;
  ws_connection& operator=(const ws_connection&) = delete;

  void run(http::request<http::string_body> request) {
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts from here
    // A 30 s handshake; a connection silent for 5 minutes after a ping it does not answer
    // is closed (a browser tab asleep answers pings; a vanished peer does not).
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "logwire-broker");
    }));
    ws_.read_message_max(message_cap());
    request_ = std::move(request);  // held until the handshake is answered
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->context_.refuse(http_refusal::bad_http, "WebSocket handshake: " + ec.message());
        return;
      }
      self->read();
    });
  }

 private:
  std::size_t message_cap() const noexcept {
    return route_ == ws_route::events ? k_max_ws_event_message : k_max_ws_backend_message;
  }
  std::string_view route_name() const noexcept {
    return route_ == ws_route::events ? "/events" : "/logs";
  }

  void read() {
    buffer_.clear();
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // Beast has already closed with 1009 (too big) for an oversized message.
      if (ec == websocket::error::message_too_big) {
        context_.refuse(http_refusal::too_large,
                        "a WebSocket message on " + std::string(route_name()) +
                            " over its cap of " + std::to_string(message_cap()) +
                            " bytes; the connection was closed (1009)");
      }
      return;
    }
    const std::string_view text(static_cast<const char*>(buffer_.data().data()),
                                buffer_.data().size());
    const std::int64_t now_ns = unix_now_ns();
    if (route_ == ws_route::events) {
      auto batch = context_.browser.ingest(text, now_ns);
      if (batch) {
        context_.stored(*batch);
        reply_ = event_reply(*batch);
      } else {
        context_.refuse(batch.error().why, batch.error().message);
        reply_ = event_refusal(batch.error().why, batch.error().message);
      }
    } else {
      context_.backend_messages.fetch_add(1, std::memory_order_relaxed);
      const std::lock_guard lock(context_.backend_mutex);
      reply_ = context_.backend.handle(peer_, text, peer_address_, now_ns);
    }
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(reply_),
                    [self = shared_from_this()](beast::error_code error, std::size_t) {
                      if (!error) self->read();
                    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  const ws_route route_;
  http_context& context_;
  const std::string peer_address_;
  const std::string peer_;  // the routing id remote_sessions knows this connection by
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  std::string reply_;
};

}  // namespace

void serve_websocket(beast::tcp_stream stream, http::request<http::string_body> request,
                     ws_route route, http_context& context, std::string peer_address) {
  std::make_shared<ws_connection>(std::move(stream), route, context, std::move(peer_address))
      ->run(std::move(request));
}

}  // namespace logwire
