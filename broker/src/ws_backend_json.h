// The remote producer protocol (logwire/remote_protocol.h) in JSON, for backends that speak
// neither shared memory nor ZeroMQ: they open a WebSocket on the broker's /logs and send one
// JSON message per text frame. Each message is translated into the FlatBuffers message the
// ZeroMQ path carries and handed to a remote_sessions of its own, so hello, sequences,
// acknowledgements, replay and exactly-once storage are the same code, not a copy; the
// replies are translated back.
//
//   backend -> broker                                      broker -> backend
//   {"v":1,"type":"hello","producer":{...}}            {"v":1,"type":"welcome","nextSequence":N,
//                                                        "heartbeatIntervalMs":1000,
//                                                        "maxMessageBytes":4194304,
//                                                        "brokerVersion":"0.1.0"}
//   {"v":1,"type":"data","firstSequence":N,            {"v":1,"type":"ack","nextSequence":M}
//    "records":[...],"dropped":0,"acknowledged":K}
//   {"v":1,"type":"ping"}                              {"v":1,"type":"ack","nextSequence":M}
//   {"v":1,"type":"bye"}                               {"v":1,"type":"ack","nextSequence":M}
//   anything refused                                   {"v":1,"type":"error","code":"malformed",
//                                                        "message":"..."}
//
// producer: "service" (required, 1 to 256 bytes), "host", "pid" (0 to 2^32-1), "instanceId"
// (32 hex digits, required: 128 random bits drawn when the backend starts; the sequences
// count against it), "language", "libraryVersion".
//
// A record: "timestamp" (RFC 3339 text, or a number of ms since the Unix epoch; absent: when
// the broker received it), "level" (TRACE, DEBUG, INFO, WARN, ERROR, FATAL in any case, also
// WARNING and CRITICAL, or an OpenTelemetry severity number 1 to 24; absent: INFO),
// "message", "service" (absent: the producer's), "requestId", "traceparent", "spanId",
// "stackTrace" (strings), "fields" (an object: strings, whole numbers (int64), other
// numbers, booleans; an array or object is kept as its JSON text, null is left out).
// Unknown keys are ignored. A value of the wrong type refuses the whole message
// ("malformed", naming the record and the key): the backend is told at once, not its records
// quietly changed.
//
// "firstSequence" is the sequence of the first record (each next one has the next);
// "dropped" counts, in all so far, records the backend refused before they got a sequence;
// "acknowledged" is the highest nextSequence the backend has had acknowledged (optional; it
// tells a gap the backend's queue dropped from records never sent). Refusal codes:
// unsupported_version ("v" is not 1), malformed, too_large, unknown_command (a "type" other
// than the four), no_session (data or ping before hello: send hello again),
// wrong_instance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/record_encoder.h"
#include "remote_sessions.h"

namespace logwire {

// The largest message a backend may send on /logs: a frame over it closes the WebSocket
// (close code 1009). A few thousand records of a realistic size fit.
inline constexpr std::size_t k_max_ws_backend_message = 4 * 1024 * 1024;

// Translates JSON messages into the ZeroMQ protocol's frames and back.
// Thread-safety: one thread at a time; what to_wire() returns is valid until its next call.
class ws_backend_codec {
 public:
  struct wire_message {
    std::string_view command;         // remote::command::hello, data, ping or bye
    std::span<const std::byte> body;  // the FlatBuffers body; empty for ping and bye
  };

  // The message as the ZeroMQ path carries it, or the refusal to answer with.
  // `now_ns` stamps records without a timestamp.
  boost::system::result<wire_message, remote_refusal> to_wire(std::string_view json,
                                                              std::int64_t now_ns);

  // The JSON reply for what remote_sessions answered.
  static std::string to_json(std::string_view command, std::span<const std::byte> body);
  static std::string refusal_json(std::string_view code, std::string_view message);

 private:
  record_encoder encoder_;
  flatbuffers::FlatBufferBuilder builder_{64 * 1024};
};

// The /logs WebSocket's sessions: one remote_sessions ("websocket" in its notes) fed by the
// codec. Each connection is a peer of its own.
// Thread-safety: one thread (the HTTP server's) calls everything.
class ws_backend_sessions {
 public:
  explicit ws_backend_sessions(store& records);

  // Answers one JSON message from connection `peer`.
  std::string handle(std::string_view peer, std::string_view json, std::string_view peer_address,
                     std::int64_t now_ns);

  // Forgets sessions silent for longer than remote::k_session_timeout.
  void expire(std::int64_t now_ns) { sessions_.expire(now_ns); }

  std::size_t sessions() const noexcept { return sessions_.sessions(); }
  // The sessions' counts and the messages refused before they reached them.
  remote_counters counters() const;

 private:
  ws_backend_codec codec_;
  remote_sessions sessions_;
  remote_counters refused_;  // by the codec: not JSON, not the protocol
};

}  // namespace logwire
