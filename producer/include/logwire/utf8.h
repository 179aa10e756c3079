// UTF-8 checking and repair for text that arrives from outside (producers, browsers,
// MCP clients): the store and every answer hold only valid UTF-8, so a JSON writer never
// meets a byte it cannot encode.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace logwire {

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF).
bool valid_utf8(std::string_view text) noexcept;

// `text` with every ill-formed sequence replaced by U+FFFD, the way the Unicode standard
// recommends (one replacement per maximal ill-formed subpart).
std::string repair_utf8(std::string_view text);

// The longest prefix of valid UTF-8 `text` that is at most `max_bytes` long and does not
// end inside a character.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept;

}  // namespace logwire
