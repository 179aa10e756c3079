// The ZeroMQ protocol between a remote (or other-language) producer and the broker: what
// crosses the wire, the states of both ends, and what each failure does. Every producer
// implementation (C++ here, Python in producer/python) follows this text.
//
// Sockets. The producer connects a DEALER socket to the broker's ROUTER (TCP; default
// tcp://127.0.0.1:7717). One DEALER socket carries one session for one producer instance.
//
// Messages. Every message is three frames (the ROUTER's routing-id frame aside):
//
//   +-----------+-----------+---------------------------------------------+
//   | "LWP1"    | command   | body (FlatBuffers, schema/logwire.fbs)      |
//   +-----------+-----------+---------------------------------------------+
//     protocol    ASCII word
//     and version
//
//   producer -> broker              broker -> producer
//   HELLO  Hello (identity)         WELCOME  Welcome (next_sequence, limits)
//   DATA   Envelope (records)       ACK      Ack (next_sequence)
//   PING   empty                    PONG     Ack (next_sequence)
//   BYE    empty                    ERROR    Refusal (code, message)
//
// A DATA body is an Envelope (file identifier "LWE1"); each record in it is a RecordBuffer,
// the record's own finished FlatBuffer, so it is stored as it came. Bodies other than
// Envelope carry no file identifier; PING and BYE bodies are empty.
//
// Sequences. A producer instance (128 random bits, drawn at start) numbers its records
// 0, 1, 2, ... in the order they were logged; an envelope carries first_sequence and its
// records in order. The broker stores a sequence at most once per instance, so a replay
// is harmless. When its queue is full, a producer drops its oldest unacknowledged records;
// whether the broker had received them it cannot know, but the broker can: the sequences
// between the envelope's `acknowledged` (the highest ACK the producer had) and its
// first_sequence that the broker never stored are the records lost, and the broker notes
// exactly that many ("N records ... never reached the broker"). Records refused before
// they got a sequence (the producer's in-process buffer was full) are counted by the
// producer in `dropped`, in all so far, and the broker notes every increase.
//
// Producer states:
//
//   CONNECTING --WELCOME--> STREAMING --BYE--> CLOSED
//        ^                      |
//        +------ session lost --+   (no message from the broker for k_peer_timeout,
//                                    or ERROR no_session)
//
//   CONNECTING: a fresh DEALER socket, HELLO sent. No WELCOME within the attempt's time
//     (1 s, doubling per attempt up to the reconnect limit, 30 s by default): the socket is
//     closed with nothing lingering and a new one tries again. ZeroMQ's own TCP reconnects
//     back off the same way.
//   STREAMING: records from WELCOME.next_sequence on are sent in DATA envelopes, at most
//     k_max_in_flight_bytes unacknowledged on the wire; every record stays queued until
//     an ACK at or above its sequence. PING after k_heartbeat_interval of silence.
//   Session lost: back to CONNECTING; everything unacknowledged is replayed from the new
//     WELCOME's next_sequence.
//
// Broker, per routing id: HELLO opens (or replaces) the session and is answered with
// WELCOME carrying the first sequence not yet stored for the instance. DATA without a
// session is answered ERROR no_session (the producer says HELLO again); DATA in a session
// stores every record at or above the session's next sequence and is answered ACK. A
// session silent for k_session_timeout is forgotten. BYE ends it and notes the producer
// disconnected.
//
// Failures:
//   - broker killed or restarted: the producer hears nothing (or no_session) and replays
//     from the new WELCOME; the broker's store survives it (record_log), so nothing is
//     stored twice and nothing acknowledged is lost.
//   - network gone: the same, after k_peer_timeout.
//   - producer killed: unacknowledged records are lost unless it spools to disk; a
//     spooled instance is replayed under its own identity by the next producer that opens
//     the same spool directory.
//   - bad message (wrong protocol, wrong frame count, unknown command, over the size cap,
//     failing the FlatBuffers Verifier, records out of bounds): ERROR with a code, counted
//     by the broker; the session and every other producer carry on.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace logwire::remote {

inline constexpr std::string_view k_protocol = "LWP1";

namespace command {
inline constexpr std::string_view hello = "HELLO";
inline constexpr std::string_view data = "DATA";
inline constexpr std::string_view ping = "PING";
inline constexpr std::string_view bye = "BYE";
inline constexpr std::string_view welcome = "WELCOME";
inline constexpr std::string_view ack = "ACK";
inline constexpr std::string_view pong = "PONG";
inline constexpr std::string_view error = "ERROR";
}  // namespace command

// Refusal codes.
namespace refusal {
inline constexpr std::string_view unsupported_version = "unsupported_version";
inline constexpr std::string_view malformed = "malformed";
inline constexpr std::string_view too_large = "too_large";
inline constexpr std::string_view unknown_command = "unknown_command";
inline constexpr std::string_view no_session = "no_session";
inline constexpr std::string_view wrong_instance = "wrong_instance";
}  // namespace refusal

inline constexpr std::uint16_t k_default_port = 7717;
inline constexpr std::string_view k_default_listen = "tcp://127.0.0.1:7717";

inline constexpr auto k_heartbeat_interval = std::chrono::seconds(1);
inline constexpr auto k_peer_timeout = std::chrono::seconds(3);
inline constexpr auto k_session_timeout = std::chrono::seconds(30);
inline constexpr auto k_reconnect_min = std::chrono::milliseconds(100);
inline constexpr auto k_default_reconnect_max = std::chrono::seconds(30);
inline constexpr auto k_first_attempt_timeout = std::chrono::seconds(1);

// The broker refuses a message larger than this before parsing it. A record may be up to
// k_max_record_bytes (16 MiB), so one such record always fits in an envelope.
inline constexpr std::size_t k_max_message_bytes = 32 * 1024 * 1024;
inline constexpr std::size_t k_max_envelope_records = 100'000;
// What a producer puts in one envelope, and keeps unacknowledged on the wire.
inline constexpr std::size_t k_batch_bytes = 256 * 1024;
inline constexpr std::size_t k_batch_records = 4096;
inline constexpr std::size_t k_max_in_flight_bytes = 8 * 1024 * 1024;

inline constexpr std::size_t k_default_queue_bytes = 64 * 1024 * 1024;

}  // namespace logwire::remote
