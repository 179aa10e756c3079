#include "logwire/http_guard.h"

#include <cctype>
#include <charconv>
#include <system_error>

namespace logwire {
namespace {

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

}  // namespace

std::optional<std::uint16_t> parse_port(std::string_view text) {
  std::uint16_t port = 0;
  const auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || failure != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return port;
}

bool allowed_host(std::string_view host, std::uint16_t port) {
  const std::string text = lower(trim(host));
  std::string_view name = text;
  std::string_view rest;
  if (name.starts_with('[')) {
    const auto close = name.find(']');
    if (close == name.npos) return false;
    rest = name.substr(close + 1);
    name = name.substr(0, close + 1);
  } else if (const auto colon = name.find(':'); colon != name.npos) {
    rest = name.substr(colon);
    name = name.substr(0, colon);
  }
  if (name != "localhost" && name != "127.0.0.1" && name != "[::1]") return false;
  if (rest.empty()) return port == 80;
  return rest.front() == ':' && parse_port(rest.substr(1)) == port;
}

bool allowed_origin(std::string_view origin, const std::vector<std::string>& allowed) {
  const std::string given = lower(trim(origin));
  for (const std::string& entry : allowed) {
    const std::string pattern = lower(trim(entry));
    if (pattern.ends_with(":*")) {
      const std::string_view base = std::string_view(pattern).substr(0, pattern.size() - 2);
      if (given == base) return true;
      if (given.size() > base.size() + 1 && given.starts_with(base) && given[base.size()] == ':' &&
          parse_port(std::string_view(given).substr(base.size() + 1))) {
        return true;
      }
    } else if (given == pattern) {
      return true;
    }
  }
  return false;
}

}  // namespace logwire
