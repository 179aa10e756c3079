// Small Beast clients for the broker's HTTP server in tests and benchmarks: one HTTP exchange
// on a connection of its own, and a WebSocket whose every step is bounded by a timeout, so a
// broken server fails a test instead of hanging it.

// Asio orders its handlers with std::atomic_thread_fence as well as its mutexes; GCC 12 warns
// under ThreadSanitizer that it cannot see fences, which -Werror would make fatal.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

namespace logwire::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct http_answer {
  beast::error_code error;
  http::response<http::string_body> response;

  unsigned status() const { return response.result_int(); }
  std::string header(std::string_view name) const { return std::string(response[name]); }
  nlohmann::json body() const {
    return nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
  }
};

// A request as a browser on a local page would send it, to be adjusted by the test.
inline http::request<http::string_body> http_request(http::verb method, std::string target,
                                                     std::uint16_t port) {
  http::request<http::string_body> request(method, target, 11);
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  return request;
}

// Writes `bytes` as they are on a fresh connection and reads one response.
inline http_answer http_exchange(std::uint16_t port, const std::string& bytes,
                                 std::chrono::seconds timeout = std::chrono::seconds(10)) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http_answer answer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  stream.expires_after(timeout);
  stream.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (ec) {
          answer.error = ec;
          return;
        }
        asio::async_write(stream, asio::buffer(bytes), [&](beast::error_code error, std::size_t) {
          // A server that refuses early may close before it read everything: its answer
          // is still there to read.
          (void)error;
          http::async_read(stream, buffer, parser, [&](beast::error_code read_error, std::size_t) {
            answer.error = read_error;
          });
        });
      });
  io.run();
  answer.response = parser.release();
  return answer;
}

inline http_answer http_exchange(std::uint16_t port,
                                 const http::request<http::string_body>& request) {
  std::ostringstream bytes;
  bytes << request;
  return http_exchange(port, bytes.str());
}

// A WebSocket client. Thread-safety: one thread.
class ws_client {
 public:
  struct options {
    std::string origin;  // empty: no Origin header (a backend)
    std::string host;    // empty: 127.0.0.1:<port>
    std::chrono::seconds timeout{10};
  };

  ws_client(std::uint16_t port, std::string path, options opts) : timeout_(opts.timeout), ws_(io_) {
    const std::string host = opts.host.empty() ? "127.0.0.1:" + std::to_string(port) : opts.host;
    if (!opts.origin.empty()) {
      ws_.set_option(websocket::stream_base::decorator(
          [origin = opts.origin](websocket::request_type& request) {
            request.set(http::field::origin, origin);
          }));
    }
    ws_.read_message_max(std::numeric_limits<std::uint64_t>::max());
    auto& lowest = beast::get_lowest_layer(ws_);
    lowest.expires_after(timeout_);
    lowest.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                         [&](beast::error_code ec) {
                           if (ec) {
                             error_ = ec;
                             return;
                           }
                           ws_.async_handshake(handshake_, host, path,
                                               [&](beast::error_code error) { error_ = error; });
                         });
    run();
    open_ = !error_;
  }
  ws_client(std::uint16_t port, std::string path) : ws_client(port, std::move(path), options{}) {}

  bool open() const noexcept { return open_; }
  beast::error_code error() const noexcept { return error_; }
  // The server's answer to the handshake (its status when it refused).
  const websocket::response_type& handshake() const noexcept { return handshake_; }
  websocket::close_reason close_reason() const { return ws_.reason(); }

  bool send(std::string_view text) {
    if (!open_) return false;
    ws_.text(true);
    beast::get_lowest_layer(ws_).expires_after(timeout_);
    ws_.async_write(asio::buffer(text.data(), text.size()),
                    [&](beast::error_code ec, std::size_t) { error_ = ec; });
    run();
    if (error_) open_ = false;
    return open_;
  }

  // The next message; nothing once the connection ended (error() says how).
  std::optional<std::string> read() {
    if (!open_) return std::nullopt;
    buffer_.clear();
    beast::get_lowest_layer(ws_).expires_after(timeout_);
    ws_.async_read(buffer_, [&](beast::error_code ec, std::size_t) { error_ = ec; });
    run();
    if (error_) {
      open_ = false;
      return std::nullopt;
    }
    return beast::buffers_to_string(buffer_.data());
  }
  std::optional<nlohmann::json> read_json() {
    const auto text = read();
    if (!text) return std::nullopt;
    return nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  }
  std::optional<nlohmann::json> exchange(std::string_view text) {
    if (!send(text)) return std::nullopt;
    return read_json();
  }

  // Ends the connection as a killed process does: a reset, no close frame.
  void tear_down() {
    beast::error_code ignored;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    open_ = false;
  }

  void close() {
    if (!open_) return;
    beast::get_lowest_layer(ws_).expires_after(timeout_);
    ws_.async_close(websocket::close_code::normal, [&](beast::error_code ec) { error_ = ec; });
    run();
    open_ = false;
  }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  std::chrono::seconds timeout_;
  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type handshake_;
  beast::flat_buffer buffer_;
  beast::error_code error_;
  bool open_ = false;
};

}  // namespace logwire::testing
