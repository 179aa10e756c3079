// The demo's payment app: a loopback HTTP server with a checkout page and
// POST /api/payments/process, whose handler logs through the producer library with the
// request's own X-Request-ID and traceparent (the ones logwire.js added in the browser)
// and answers 500, so that one click shows up in the timeline from end to end.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "logwire/error.h"
#include "logwire/producer.h"
#include "payment_flow.h"

namespace logwire::demo {

struct payment_server_options {
  std::string address = "127.0.0.1";  // loopback only
  std::uint16_t port = 0;             // 0: the kernel picks one
  // Origin of the broker's HTTP server, where the page loads logwire.js from
  // ("http://127.0.0.1:7719"); empty: the page has no script tag.
  std::string broker_origin;
};

// "PORT" or "ADDRESS:PORT" ("[::1]:3000" for IPv6), loopback addresses only.
result<payment_server_options> parse_serve_address(std::string_view text);

// An origin the page may name in its script tag: http(s)://host[:port], nothing else.
bool is_plain_origin(std::string_view origin);

// The checkout page (tools/demo/payment/index.html, compiled in) with the script tag of
// `broker_origin` in place of its <!--logwire-script--> mark.
std::string render_page(std::string_view broker_origin);

// Thread-safety: listen(), stop() and destruction from one thread; requests are served on
// the server's own threads (one for the sockets, a few for payments, which take their
// time as a gateway call would).
class payment_server {
 public:
  static result<std::unique_ptr<payment_server>> listen(producer& logs, console& out,
                                                        payment_server_options options);
  ~payment_server();
  payment_server(const payment_server&) = delete;
  payment_server& operator=(const payment_server&) = delete;

  std::uint16_t port() const noexcept;
  // The page's address, e.g. "http://127.0.0.1:40123/".
  std::string url() const;
  // Stops accepting, lets the payments under way finish, and closes every connection.
  void stop();

  struct state;

 private:
  explicit payment_server(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace logwire::demo
