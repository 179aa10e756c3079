// The checks every logwire HTTP server runs before it looks at a request: the broker's (browser
// events, backend WebSockets) and logwire-mcp's (Streamable HTTP). Both listen on loopback
// only; these keep a web page on another site from reaching them through the user's browser
// (DNS rebinding: a name that resolves to 127.0.0.1 but is not ours, and a page of another
// origin calling us).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logwire {

// The origins a local development page has, on any port: what both servers allow when not
// told otherwise.
inline const std::vector<std::string> k_local_origins = {"http://localhost:*", "http://127.0.0.1:*",
                                                         "http://[::1]:*"};

// True when a Host header names this server on loopback: localhost, 127.0.0.1 or [::1],
// case-insensitive, with `port` (or without one only when `port` is 80, as HTTP reads it).
bool allowed_host(std::string_view host, std::uint16_t port);

// True when `origin` matches one of `allowed`: exact origins ("http://localhost:6274") or
// origins with any port ("http://localhost:*"), scheme and host compared case-insensitively.
bool allowed_origin(std::string_view origin, const std::vector<std::string>& allowed);

// A decimal port, 0 to 65535, and nothing else.
std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace logwire
