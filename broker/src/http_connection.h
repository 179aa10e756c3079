// One HTTP connection of the broker's server (http_server.h has the table of what a request
// gets): reads a request, checks its Host and Origin, answers it, and reads the next while
// the client keeps the connection alive; an upgrade to a WebSocket goes to serve_websocket().
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "http_context.h"

namespace logwire {

// Serves `socket` on the server's thread until either side closes; answers 503 at once when
// too many connections are open.
void serve_http(boost::asio::ip::tcp::socket socket, http_context& context);

// "127.0.0.1:5555", "[::1]:5555".
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

// A value quoted in an error message, cut short.
std::string quote_short(std::string_view text);

}  // namespace logwire
