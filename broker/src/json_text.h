// Pieces of JSON text, written straight into a string: the broker's answers are written
// this way because a general JSON library spent about 8 µs a record on them.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace logwire::json_text {

// A JSON string; invalid UTF-8 is repaired rather than written as bytes no JSON reader
// accepts (stored texts are valid: the ingest repairs them).
void append_string(std::string& out, std::string_view text);

// ,"key":
void append_key(std::string& out, std::string_view key);

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

// The shortest text that reads back as the same double, with ".0" on whole numbers so a
// reader keeps it a float; JSON has no infinity or NaN: null.
void append_double(std::string& out, double value);

// An RFC 3339 UTC time with milliseconds, quoted.
void append_time(std::string& out, std::int64_t ns);

// A text an agent reads, cut at `limit` bytes (between characters) when longer, ending
// with a marker that says how much is missing and how to get it whole: observe the
// record whose id is `position`; or, `whole_record`, that the record is too long to be
// shown whole. Sets `cut` when it cuts.
void append_cut_text(std::string& out, std::string_view text, std::size_t limit,
                     std::uint64_t position, bool whole_record, bool& cut);

}  // namespace logwire::json_text
