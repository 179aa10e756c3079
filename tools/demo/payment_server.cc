#include "payment_server.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "logwire/request_scope.h"
#include "payment_page.h"

namespace logwire::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using response = http::response<http::string_body>;

constexpr std::size_t k_max_body = 64 * 1024;
constexpr std::size_t k_max_header = 8 * 1024;
// Payments take about 200 ms each (the gateway "call"); a few run side by side, and past
// this many waiting the app answers 503 rather than queue without bound.
constexpr int k_payment_threads = 4;
constexpr std::size_t k_max_payments_waiting = 64;
constexpr std::chrono::seconds k_read_timeout{30};
constexpr std::chrono::seconds k_write_timeout{30};

constexpr std::string_view k_payment_path = "/api/payments/process";
constexpr std::string_view k_script_mark = "<!--logwire-script-->";

std::string random_hex(std::size_t digits) {
  std::random_device entropy;
  constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    std::uint32_t bits = entropy();
    for (int i = 0; i < 8 && out.size() < digits; ++i, bits >>= 4) out += k_hex[bits & 0xf];
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  std::uint16_t port = 0;
  const auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || failure != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return port;
}

// The payment the page asked for; the fields it leaves out keep the spec's values.
std::optional<payment_request> parse_payment(std::string_view body) {
  payment_request payment;
  if (body.empty()) return payment;
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  if (const auto user = parsed.find("userId"); user != parsed.end()) {
    if (!user->is_number_integer()) return std::nullopt;
    payment.user_id = user->get<std::int64_t>();
  }
  if (const auto id = parsed.find("paymentId"); id != parsed.end()) {
    if (!id->is_string() || id->get_ref<const std::string&>().size() > 64) return std::nullopt;
    payment.payment_id = id->get<std::string>();
  }
  if (const auto amount = parsed.find("amount"); amount != parsed.end()) {
    if (!amount->is_number()) return std::nullopt;
    payment.amount = amount->get<double>();
  }
  return payment;
}

std::string json_text(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

// The listening socket, the I/O thread, the payment threads and what connections share.
struct payment_server::state {
  state(producer& logs, console& out, payment_server_options options)
      : logs(logs),
        out(out),
        options(std::move(options)),
        page(render_page(this->options.broker_origin)) {}

  producer& logs;
  console& out;
  const payment_server_options options;
  const std::string page;
  std::uint16_t port = 0;
  std::atomic<std::size_t> payments_waiting{0};

  // Declared after what connections use: destroying these destroys the connections.
  asio::io_context io{1};
  tcp::acceptor acceptor{asio::make_strand(io)};
  asio::thread_pool payments{k_payment_threads};
  std::thread io_thread;
  bool stopped = false;

  void accept();
};

namespace {

// One browser connection: reads a request, answers it, and reads the next one while the
// browser keeps the connection alive. Runs on its strand; a payment is handled on a
// payment thread, whose answer comes back to the strand.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket socket, payment_server::state& server)
      : server_(server), stream_(std::move(socket)), executor_(stream_.get_executor()) {}

  void start() {
    asio::dispatch(executor_, beast::bind_front_handler(&connection::read, shared_from_this()));
  }

 private:
  using request = http::request<http::string_body>;

  void read() {
    parser_.emplace();
    parser_->header_limit(k_max_header);
    parser_->body_limit(k_max_body);
    stream_.expires_after(k_read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&connection::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      return send(error_reply(http::status::payload_too_large, "too_large",
                              "a payment request is at most 64 KiB"),
                  /*close=*/true);
    }
    if (ec) return close();  // gone, too slow, or not HTTP: nobody to answer
    stream_.expires_never();
    const request& message = parser_->get();
    const std::string_view target = message.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const http::verb method = message.method();
    if (path == "/" || path == "/index.html") {
      if (method != http::verb::get && method != http::verb::head) return send(not_allowed("GET"));
      response reply(http::status::ok, message.version());
      reply.set(http::field::content_type, "text/html; charset=utf-8");
      reply.body() = server_.page;
      return send(std::move(reply));
    }
    if (path == k_payment_path) {
      if (method != http::verb::post) return send(not_allowed("POST"));
      return pay();
    }
    if (path == "/favicon.ico") {
      return send(response(http::status::no_content, message.version()));
    }
    send(error_reply(http::status::not_found, "not_found",
                     "this app serves / and POST " + std::string(k_payment_path)));
  }

  void pay() {
    const request& message = parser_->get();
    const auto payment = parse_payment(message.body());
    std::string request_id(message["X-Request-ID"]);
    std::string traceparent(message["traceparent"]);
    // A request without an ID (no logwire.js on the page, curl) still gets one, so its
    // records stay together.
    if (request_id.empty()) request_id = "req-" + random_hex(12);
    if (!payment) {
      const auto scope = request_scope::from_headers(request_id, traceparent);
      server_.logs.log(level::warn, "Malformed payment request", {},
                       {{"method", "POST"}, {"path", k_payment_path}});
      server_.out.line(level::warn, "Malformed payment request", {.request_id = request_id});
      return send(error_reply(http::status::bad_request, "bad_request",
                              "the body must be a JSON object: {\"userId\": 987, \"paymentId\": "
                              "\"pay-99\", \"amount\": 49.99}",
                              request_id));
    }
    if (server_.payments_waiting.fetch_add(1) >= k_max_payments_waiting) {
      --server_.payments_waiting;
      response reply = error_reply(http::status::service_unavailable, "busy",
                                   "too many payments under way; retry shortly", request_id);
      reply.set(http::field::retry_after, "1");
      return send(std::move(reply));
    }
    server_.out.text("POST " + std::string(k_payment_path) + "  X-Request-ID: " + request_id +
                     (traceparent.empty() ? "" : "  traceparent: " + traceparent) + "\n");
    asio::post(server_.payments,
               [self = shared_from_this(), payment = *payment, request_id = std::move(request_id),
                traceparent = std::move(traceparent)]() mutable {
                 payment.gateway_span_id = random_hex(16);
                 payment_outcome outcome;
                 std::string answered_id;
                 {
                   // Every record this thread logs while the scope lives carries the request's IDs.
                   const auto scope = request_scope::from_headers(request_id, traceparent);
                   answered_id = std::string(request_scope::current()->request_id);
                   outcome = process_payment(self->server_.logs, payment, self->server_.out);
                 }
                 --self->server_.payments_waiting;
                 const auto executor = self->executor_;
                 asio::post(executor, [self = std::move(self), outcome = std::move(outcome),
                                       answered_id = std::move(answered_id)]() mutable {
                   self->server_.out.text("  -> " + std::to_string(outcome.status) + " " +
                                          outcome.error_code + "  (" + answered_id + ")\n");
                   self->send(self->error_reply(static_cast<http::status>(outcome.status),
                                                outcome.error_code, outcome.message, answered_id));
                 });
               });
  }

  response error_reply(http::status status, std::string_view code, std::string_view message,
                       std::string_view request_id = {}) const {
    const bool have_request = parser_ && parser_->is_header_done();
    response reply(status, have_request ? parser_->get().version() : 11);
    reply.set(http::field::content_type, "application/json");
    json body{{"error", code}, {"message", message}};
    if (!request_id.empty()) {
      body["requestId"] = request_id;
      reply.set("X-Request-ID", request_id);
    }
    reply.body() = json_text(body);
    return reply;
  }

  response not_allowed(std::string_view allowed) const {
    response reply = error_reply(http::status::method_not_allowed, "method_not_allowed",
                                 "this path takes " + std::string(allowed));
    reply.set(http::field::allow, allowed);
    return reply;
  }

  // Writes `reply`, then reads the next request unless the connection is to close.
  void send(response reply, bool close = false) {
    const bool have_request = parser_ && parser_->is_header_done();
    reply_ = std::move(reply);
    reply_.set(http::field::server, "logwire-demo-payment");
    reply_.set(http::field::cache_control, "no-store");
    reply_.keep_alive(!close && have_request && parser_->get().keep_alive());
    reply_.prepare_payload();
    stream_.expires_after(k_write_timeout);
    http::async_write(stream_, reply_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->reply_.keep_alive()) return self->close();
                        self->reply_ = {};
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  payment_server::state& server_;
  beast::tcp_stream stream_;
  const asio::any_io_executor executor_;  // the strand; read by payment threads
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  response reply_;
};

}  // namespace

void payment_server::state::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<connection>(std::move(socket), *this)->start();
    }
    accept();
  });
}

result<payment_server_options> parse_serve_address(std::string_view text) {
  const auto invalid = [&](std::string why) {
    return error{errc::invalid_argument, "'" + std::string(text) + "': " + why +
                                             "; expected PORT or ADDRESS:PORT on loopback, e.g. "
                                             "3000 or 127.0.0.1:0"};
  };
  payment_server_options options;
  std::string_view port_text = text;
  if (const auto colon = text.rfind(':'); colon != text.npos) {
    std::string_view address = text.substr(0, colon);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
      address = address.substr(1, address.size() - 2);
    }
    options.address = address == "localhost" ? "127.0.0.1" : std::string(address);
    port_text = text.substr(colon + 1);
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec) return invalid("not an IP address");
  if (!address.is_loopback()) {
    return invalid("the demo app serves loopback only (127.0.0.1 or ::1)");
  }
  const auto port = parse_port(port_text);
  if (!port) return invalid("the port is not a number from 0 to 65535");
  options.port = *port;
  return options;
}

bool is_plain_origin(std::string_view origin) {
  std::string_view rest;
  if (origin.starts_with("http://")) {
    rest = origin.substr(7);
  } else if (origin.starts_with("https://")) {
    rest = origin.substr(8);
  } else {
    return false;
  }
  if (rest.empty()) return false;
  for (const char c : rest) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' &&
        c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

std::string render_page(std::string_view broker_origin) {
  std::string page(k_payment_page);
  const auto mark = page.find(k_script_mark);
  if (mark == page.npos) return page;
  std::string tag;
  if (!broker_origin.empty()) {
    tag = "<script src=\"" + std::string(broker_origin) +
          "/logwire.js\" data-service=\"payment-page\"></script>";
  }
  page.replace(mark, k_script_mark.size(), tag);
  return page;
}

payment_server::payment_server(std::unique_ptr<state> s) : state_(std::move(s)) {}

payment_server::~payment_server() {
  stop();
}

result<std::unique_ptr<payment_server>> payment_server::listen(producer& logs, console& out,
                                                               payment_server_options options) {
  if (!options.broker_origin.empty() && !is_plain_origin(options.broker_origin)) {
    return error{errc::invalid_argument,
                 "'" + options.broker_origin +
                     "' is not an origin such as http://127.0.0.1:7719 (scheme, host, port)"};
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec || !address.is_loopback()) {
    return error{errc::invalid_argument,
                 "'" + options.address + "': the demo app serves loopback only"};
  }
  auto s = std::make_unique<state>(logs, out, std::move(options));
  const tcp::endpoint endpoint(address, s->options.port);
  s->acceptor.open(endpoint.protocol(), ec);
  if (!ec) s->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(endpoint, ec);
  if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) s->port = s->acceptor.local_endpoint(ec).port();
  if (ec) {
    return error{errc::io_error, "cannot serve on " + s->options.address + ":" +
                                     std::to_string(s->options.port) + ": " + ec.message()};
  }
  s->accept();
  s->io_thread = std::thread([&io = s->io] {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception&) {
        // A handler ran out of memory; its connection is gone, the others go on.
      }
    }
  });
  return std::unique_ptr<payment_server>(new payment_server(std::move(s)));
}

std::uint16_t payment_server::port() const noexcept {
  return state_->port;
}

std::string payment_server::url() const {
  const std::string& host = state_->options.address;
  return "http://" + (host.find(':') != host.npos ? "[" + host + "]" : host) + ":" +
         std::to_string(state_->port) + "/";
}

void payment_server::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  asio::post(state_->acceptor.get_executor(), [s = state_.get()] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
  });
  // The payments under way finish (their records are logged); their answers go unsent.
  state_->io.stop();
  state_->io_thread.join();
  state_->payments.join();
}

}  // namespace logwire::demo
