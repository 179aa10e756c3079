// Checks one message from a remote producer (producer/include/logwire/remote_protocol.h)
// before anything reads it: frame count, protocol, command, size cap, the FlatBuffers
// Verifier with tight limits, and every record in an envelope on its own. What passes
// may be read through the generated accessors; what fails comes back as the refusal the
// producer is sent.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "logwire/logwire_generated.h"

namespace logwire {

struct remote_refusal {
  std::string_view code;  // one of remote::refusal
  std::string message;
};

struct hello_message {
  const wire::Hello* hello;
};
struct data_message {
  const wire::Envelope* envelope;  // every record buffer in it passed verify_record()
};
struct ping_message {};
struct bye_message {};

using remote_message =
    std::variant<remote_refusal, hello_message, data_message, ping_message, bye_message>;

// `frames` are the message's frames after the routing id. The body is read in place when
// it is 8-byte aligned; ZeroMQ hands small frames over at any address, and such a body is
// copied into `scratch` first. The pointers in the result point into the frames or into
// `scratch`, which must outlive them.
remote_message parse_remote_message(std::span<const std::span<const std::byte>> frames,
                                    std::vector<std::uint64_t>& scratch);

// The same, with a scratch buffer of the calling thread's: the result is valid until the
// thread's next call.
remote_message parse_remote_message(std::span<const std::span<const std::byte>> frames);

// A record buffer of a checked envelope.
inline std::span<const std::byte> record_bytes(const wire::RecordBuffer& buffer) noexcept {
  return {reinterpret_cast<const std::byte*>(buffer.bytes()->data()), buffer.bytes()->size()};
}

}  // namespace logwire
