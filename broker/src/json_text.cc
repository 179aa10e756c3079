#include "json_text.h"

#include <cmath>

#include "logwire/timestamp.h"
#include "logwire/utf8.h"

namespace logwire::json_text {
namespace {

// A JSON string of valid UTF-8: quotes, backslashes and control characters escaped.
void append_valid_string(std::string& out, std::string_view text) {
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += k_hex[c >> 4];
        out += k_hex[c & 0xf];
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

}  // namespace

void append_string(std::string& out, std::string_view text) {
  if (valid_utf8(text)) {
    append_valid_string(out, text);
  } else {
    append_valid_string(out, repair_utf8(text));
  }
}

void append_key(std::string& out, std::string_view key) {
  out += ',';
  append_string(out, key);
  out += ':';
}

void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char digits[32];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  const std::string_view text(digits, static_cast<std::size_t>(end - digits));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void append_time(std::string& out, std::int64_t ns) {
  out += '"';
  out += format_rfc3339_ms(ns);
  out += '"';
}

namespace {

// 3210 -> "3,210": byte counts an agent reads.
std::string with_thousands(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (std::size_t at = digits.size(); at > 3;) {
    at -= 3;
    digits.insert(at, 1, ',');
  }
  return digits;
}

}  // namespace

void append_cut_text(std::string& out, std::string_view text, std::size_t limit,
                     std::uint64_t position, bool whole_record, bool& cut) {
  if (text.size() <= limit) {
    append_string(out, text);
    return;
  }
  cut = true;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  std::string shown(text.substr(0, end));
  shown += "\xE2\x80\xA6 [cut " + with_thousands(text.size() - end) + " bytes";
  if (whole_record) {
    shown += ": the record is too long to show whole]";
  } else {
    shown += "; observe {what: \"backend-logs\", id: \"" + std::to_string(position) +
             "\"} returns it whole]";
  }
  append_string(out, shown);
}

}  // namespace logwire::json_text
