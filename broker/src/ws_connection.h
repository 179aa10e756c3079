// One WebSocket on the broker's HTTP server, after the HTTP connection checked its Host and
// Origin: browser batches on /events, backend records on /logs. Each message is answered
// before the next is read, so a client that sends faster than the broker stores waits in TCP,
// not in the broker's memory.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "http_context.h"

namespace logwire {

enum class ws_route { events, logs };

// Takes the connection over: answers the handshake in `request` and serves messages until
// either side closes. Runs on the server's thread; the connection keeps itself alive.
void serve_websocket(boost::beast::tcp_stream stream,
                     boost::beast::http::request<boost::beast::http::string_body> request,
                     ws_route route, http_context& context, std::string peer_address);

}  // namespace logwire
