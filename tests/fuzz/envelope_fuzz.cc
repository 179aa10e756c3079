// libFuzzer target: arbitrary bytes as a message from a remote producer, taken the way the
// broker takes one (broker/src/remote_sessions.cc): parse_remote_message, then every record
// of a DATA envelope through the sanitizer and the decoder, every value read. Nothing may
// crash, read outside the message, or come out of the sanitizer unfit to store.
//
// Input layout: byte 0 chooses the message's shape, the rest is its body.
//   byte 0 % 8  0-3  DATA (half of the inputs: the largest surface)
//               4    HELLO
//               5    PING (bit 3 clear) or BYE (bit 3 set)
//               6    a bad frame layout: with bit 3 set, a protocol other than LWP1 (the
//                    body's first byte % 8 is its length, the text follows); else
//                    (byte 0 >> 4) % 8 frames, the body cut into that many equal parts
//               7    by bit 3: a command from the body (its first byte % 16 is the
//                    length), or a message over the size cap
// Texts over k_max_text_bytes (1 MiB), which the sanitizer cuts, are out of reach: one
// such input takes ~0.4 s here and would starve the rest.
// tests/vectors/*.bin seed the corpus behind a 0 byte (DATA).
//
// The body is copied to memory of exactly its size, so AddressSanitizer catches a read
// one byte past it, and 8-aligned. libzmq hands the broker bodies under ~8 KiB at
// addresses 5 or 6 past an 8-byte boundary, and parse_remote_message reads them in place,
// which UBSan reports as a misaligned load (in Verifier::VerifyVectorOfTables); that is
// reported as a broker bug rather than left to stop every run here.
#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/record_sanitizer.h"
#include "logwire/remote_message.h"
#include "logwire/remote_protocol.h"
#include "logwire/utf8.h"

namespace {

using logwire::remote_message;

// Stops the run with a message libFuzzer shows beside the input that caused it.
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "envelope_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Sums bytes, so that every byte of a value is read (and checked by AddressSanitizer).
struct toucher {
  std::size_t sum = 0;
  void bytes(std::string_view text) {
    for (char c : text) sum += static_cast<unsigned char>(c);
  }
  void text(const flatbuffers::String* s) {
    if (s != nullptr) bytes(s->string_view());
  }
  void identity(const logwire::wire::ProducerIdentity& id) {
    require(id.service() != nullptr && id.service()->size() > 0, "identity without service");
    require(logwire::valid_utf8(id.service()->string_view()), "identity service not UTF-8");
    text(id.service());
    text(id.host());
    text(id.language());
    text(id.library_version());
    sum += id.pid();
    require(id.instance_id() != nullptr, "identity without instance id");
    sum += id.instance_id()->hi() ^ id.instance_id()->lo();
  }
};

// What the broker stores must be valid UTF-8 within the size cap (plus the cut marker).
void require_fit(std::string_view text) {
  require(logwire::valid_utf8(text), "sanitized text is not UTF-8");
  require(text.size() <= logwire::k_max_text_bytes + 64, "sanitized text over the cap");
}

void take_record(std::span<const std::byte> bytes, logwire::record_sanitizer& sanitizer,
                 toucher& touch) {
  // The broker reads a record from an 8-aligned copy when the envelope misplaces it.
  std::vector<std::uint64_t> aligned;
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) != 0) {
    aligned.resize(bytes.size() / sizeof(std::uint64_t) + 1);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    bytes = {reinterpret_cast<const std::byte*>(aligned.data()), bytes.size()};
  }
  require(logwire::verify_record(bytes), "a record of an accepted envelope fails verify_record");
  const std::span<const std::byte> stored = sanitizer.sanitize(bytes);
  require(logwire::verify_record(stored), "a sanitized record fails verify_record");
  const logwire::log_record record = logwire::decode_record(stored, "fuzz-service");
  require(!record.service.empty(), "decoded record without service");
  touch.sum += static_cast<std::size_t>(record.timestamp_ns);
  touch.sum += static_cast<std::size_t>(record.severity);
  require(record.severity <= logwire::k_max_level, "decoded level out of range");
  for (const std::string* text : {&record.service, &record.message, &record.request_id,
                                  &record.traceparent, &record.span_id, &record.stack_trace}) {
    require_fit(*text);
    touch.bytes(*text);
  }
  for (const auto& [key, value] : record.fields) {
    require_fit(key);
    touch.bytes(key);
    if (const auto* text = std::get_if<std::string>(&value)) {
      require_fit(*text);
      touch.bytes(*text);
    } else if (const auto* number = std::get_if<std::int64_t>(&value)) {
      touch.sum += static_cast<std::size_t>(*number);
    } else if (const auto* real = std::get_if<double>(&value)) {
      touch.sum += *real > 0 ? 1 : 0;
    } else {
      touch.sum += std::get<bool>(value) ? 1 : 0;
    }
  }
}

std::size_t take(const remote_message& message) {
  static logwire::record_sanitizer sanitizer;  // the broker keeps one per listener
  toucher touch;
  if (const auto* refusal = std::get_if<logwire::remote_refusal>(&message)) {
    require(!refusal->code.empty() && !refusal->message.empty(), "refusal without reason");
    touch.bytes(refusal->code);
    touch.bytes(refusal->message);
  } else if (const auto* hello = std::get_if<logwire::hello_message>(&message)) {
    touch.identity(*hello->hello->producer());
  } else if (const auto* data = std::get_if<logwire::data_message>(&message)) {
    const logwire::wire::Envelope& envelope = *data->envelope;
    if (envelope.producer() != nullptr) touch.identity(*envelope.producer());
    touch.sum += envelope.first_sequence() + envelope.dropped();
    touch.sum += static_cast<std::size_t>(envelope.last_drop_ns());
    if (const auto* records = envelope.records()) {
      require(records->size() <= logwire::remote::k_max_envelope_records, "too many records");
      for (const logwire::wire::RecordBuffer* buffer : *records) {
        take_record(logwire::record_bytes(*buffer), sanitizer, touch);
      }
    }
  }
  return touch.sum;
}

remote_message parse(std::span<const std::span<const std::byte>> frames) {
  return logwire::parse_remote_message(frames);
}

remote_message three_frames(std::string_view command, std::span<const std::byte> body) {
  const std::array<std::span<const std::byte>, 3> frames{as_bytes(logwire::remote::k_protocol),
                                                         as_bytes(command), body};
  return parse(frames);
}

bool is_refusal(const remote_message& message, std::string_view code) {
  const auto* refusal = std::get_if<logwire::remote_refusal>(&message);
  return refusal != nullptr && refusal->code == code;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t shape = data[0];
  const std::vector<std::byte> body(reinterpret_cast<const std::byte*>(data) + 1,
                                    reinterpret_cast<const std::byte*>(data) + size);
  namespace command = logwire::remote::command;
  namespace refusal = logwire::remote::refusal;

  std::size_t touched = 0;
  switch (shape % 8) {
    case 0:
    case 1:
    case 2:
    case 3: {
      const remote_message message = three_frames(command::data, body);
      require(std::holds_alternative<logwire::data_message>(message) ||
                  std::holds_alternative<logwire::remote_refusal>(message),
              "DATA parsed as another command");
      touched = take(message);
      break;
    }
    case 4: {
      const remote_message message = three_frames(command::hello, body);
      require(std::holds_alternative<logwire::hello_message>(message) ||
                  std::holds_alternative<logwire::remote_refusal>(message),
              "HELLO parsed as another command");
      touched = take(message);
      break;
    }
    case 5: {
      const bool bye = (shape & 8) != 0;
      const remote_message message = three_frames(bye ? command::bye : command::ping, body);
      require(bye ? std::holds_alternative<logwire::bye_message>(message)
                  : std::holds_alternative<logwire::ping_message>(message),
              "PING or BYE not parsed as such, whatever the body");
      touched = take(message);
      break;
    }
    case 6:
      if ((shape & 8) != 0) {
        const std::size_t length =
            body.empty()
                ? 0
                : std::min<std::size_t>(std::to_integer<std::size_t>(body[0]) % 8, body.size() - 1);
        const std::vector<std::byte> protocol(body.begin() + (body.empty() ? 0 : 1),
                                              body.begin() + (body.empty() ? 0 : 1 + length));
        const std::array<std::span<const std::byte>, 3> frames{protocol, as_bytes(command::data),
                                                               body};
        const remote_message message = parse(frames);
        const std::string_view text(reinterpret_cast<const char*>(protocol.data()),
                                    protocol.size());
        require(text == logwire::remote::k_protocol ||
                    is_refusal(message, refusal::unsupported_version),
                "a foreign protocol not refused as unsupported_version");
        touched = take(message);
      } else {
        const std::size_t count = (shape >> 4) % 8;
        std::vector<std::vector<std::byte>> parts(count);
        std::vector<std::span<const std::byte>> frames;
        for (std::size_t i = 0; i < count; ++i) {
          const std::size_t from = body.size() * i / count;
          const std::size_t to = body.size() * (i + 1) / count;
          parts[i].assign(body.begin() + from, body.begin() + to);
          frames.emplace_back(parts[i]);
        }
        const remote_message message = parse(frames);
        require(count == 3 || is_refusal(message, refusal::malformed),
                "a message of other than 3 frames not refused as malformed");
        touched = take(message);
      }
      break;
    case 7:
      if ((shape & 8) == 0) {
        const std::size_t length =
            body.empty() ? 0
                         : std::min<std::size_t>(std::to_integer<std::size_t>(body[0]) % 16,
                                                 body.size() - 1);
        const std::string name(reinterpret_cast<const char*>(body.data()) + (body.empty() ? 0 : 1),
                               length);
        touched = take(three_frames(name, body));
      } else {
        static const std::vector<std::byte> huge(logwire::remote::k_max_message_bytes);
        const std::array<std::span<const std::byte>, 3> frames{
            as_bytes(logwire::remote::k_protocol), as_bytes(command::data), huge};
        const remote_message message = parse(frames);
        require(is_refusal(message, refusal::too_large), "an oversized message not refused");
        touched = take(message);
      }
      break;
  }
  return touched == ~std::size_t{0} ? 1 : 0;
}
