#include "logwire/remote_message.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/remote_protocol.h"
#include "logwire/utf8.h"

namespace logwire {
namespace {

// Envelope -> RecordBuffer -> (bytes) and Envelope -> ProducerIdentity -> InstanceId: three
// levels of tables; a record inside is verified on its own.
constexpr unsigned k_max_message_depth = 4;
constexpr unsigned k_max_message_tables = remote::k_max_envelope_records + 16;
constexpr std::size_t k_max_identity_text = 256;

std::string_view text(std::span<const std::byte> frame) {
  return {reinterpret_cast<const char*>(frame.data()), frame.size()};
}

template <class Table>
const Table* verified(std::span<const std::byte> body) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(body.data()), body.size(),
                                 k_max_message_depth, k_max_message_tables);
  if (body.size() < sizeof(flatbuffers::uoffset_t) || !verifier.VerifyBuffer<Table>(nullptr)) {
    return nullptr;
  }
  return flatbuffers::GetRoot<Table>(body.data());
}

// The identity names the service every record of the session is filed under, so it must
// be text fit to show: present, valid UTF-8 and short.
bool identity_fit(const wire::ProducerIdentity& id) {
  if (id.service() == nullptr || id.service()->size() == 0 || id.instance_id() == nullptr) {
    return false;
  }
  for (const flatbuffers::String* s :
       {id.service(), id.host(), id.language(), id.library_version()}) {
    if (s != nullptr && (s->size() > k_max_identity_text || !valid_utf8(s->string_view()))) {
      return false;
    }
  }
  return true;
}

remote_refusal refuse(std::string_view code, std::string message) {
  return remote_refusal{code, std::move(message)};
}

// A record buffer's bytes sit wherever the envelope put them; the Verifier and the
// reader need them 8-byte aligned, so a misplaced one is checked from an aligned copy.
bool record_verifies(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch) {
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0) {
    return verify_record(bytes);
  }
  scratch.resize(bytes.size() / sizeof(std::uint64_t) + 1);
  std::memcpy(scratch.data(), bytes.data(), bytes.size());
  return verify_record({reinterpret_cast<const std::byte*>(scratch.data()), bytes.size()});
}

remote_message parse_data(std::span<const std::byte> body) {
  const auto* envelope = verified<wire::Envelope>(body);
  if (envelope == nullptr)
    return refuse(remote::refusal::malformed, "DATA body is not an Envelope");
  if (envelope->producer() != nullptr && !identity_fit(*envelope->producer())) {
    return refuse(remote::refusal::malformed, "the envelope's producer identity is malformed");
  }
  const auto* records = envelope->records();
  const std::uint64_t count = records != nullptr ? records->size() : 0;
  // Sequences count records and never come near 2^63; one that would is not a producer's.
  if (envelope->first_sequence() > (std::uint64_t{1} << 62)) {
    return refuse(remote::refusal::malformed, "the envelope's first_sequence is out of range");
  }
  if (records == nullptr) return data_message{envelope};
  if (count > remote::k_max_envelope_records) {
    return refuse(
        remote::refusal::too_large,
        "an envelope holds at most " + std::to_string(remote::k_max_envelope_records) + " records");
  }
  std::vector<std::uint64_t> scratch;
  for (flatbuffers::uoffset_t i = 0; i < records->size(); ++i) {
    if (!record_verifies(record_bytes(*records->Get(i)), scratch)) {
      return refuse(remote::refusal::malformed,
                    "record " + std::to_string(i) + " (sequence " +
                        std::to_string(envelope->first_sequence() + i) +
                        ") is not a well-formed Record within the limits");
    }
  }
  return data_message{envelope};
}

}  // namespace

remote_message parse_remote_message(std::span<const std::span<const std::byte>> frames) {
  thread_local std::vector<std::uint64_t> scratch;
  return parse_remote_message(frames, scratch);
}

remote_message parse_remote_message(std::span<const std::span<const std::byte>> frames,
                                    std::vector<std::uint64_t>& scratch) {
  if (frames.size() != 3) {
    return refuse(remote::refusal::malformed,
                  "a message has 3 frames (protocol, command, body), this one has " +
                      std::to_string(frames.size()));
  }
  if (text(frames[0]) != remote::k_protocol) {
    return refuse(remote::refusal::unsupported_version,
                  "this broker speaks " + std::string(remote::k_protocol) + "; the message says '" +
                      std::string(text(frames[0]).substr(0, 16)) + "'");
  }
  std::size_t total = 0;
  for (const auto& frame : frames) total += frame.size();
  if (total > remote::k_max_message_bytes) {
    return refuse(remote::refusal::too_large,
                  "a message may hold " + std::to_string(remote::k_max_message_bytes) +
                      " bytes, this one holds " + std::to_string(total));
  }
  const std::string_view command = text(frames[1]);
  std::span<const std::byte> body = frames[2];
  if (reinterpret_cast<std::uintptr_t>(body.data()) % alignof(std::uint64_t) != 0) {
    // FlatBuffers checks alignment relative to the buffer's start, then reads scalars in
    // place: the buffer itself must be aligned.
    scratch.resize(body.size() / sizeof(std::uint64_t) + 1);
    std::memcpy(scratch.data(), body.data(), body.size());
    body = {reinterpret_cast<const std::byte*>(scratch.data()), body.size()};
  }
  if (command == remote::command::data) return parse_data(body);
  if (command == remote::command::hello) {
    const auto* hello = verified<wire::Hello>(body);
    if (hello == nullptr || !identity_fit(*hello->producer())) {
      return refuse(remote::refusal::malformed,
                    "HELLO body is not a Hello with a producer identity and instance id");
    }
    return hello_message{hello};
  }
  if (command == remote::command::ping) return ping_message{};
  if (command == remote::command::bye) return bye_message{};
  return refuse(remote::refusal::unknown_command,
                "unknown command '" + std::string(command.substr(0, 16)) +
                    "'; a producer sends HELLO, DATA, PING or BYE");
}

}  // namespace logwire
