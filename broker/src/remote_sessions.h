// The broker's side of the ZeroMQ producer protocol (logwire/remote_protocol.h) without
// the socket: one session per connected producer socket, and what each message does to
// the store. remote_listener feeds it from the ROUTER socket; tests feed it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logwire/record_encoder.h"
#include "logwire/record_sanitizer.h"
#include "logwire/remote_message.h"
#include "logwire/store.h"

namespace logwire {

// Counts of what the sessions did, for the log and for tests.
struct remote_counters {
  std::uint64_t messages = 0;
  std::uint64_t records_stored = 0;
  std::uint64_t records_duplicate = 0;     // replays of records already stored
  std::uint64_t records_too_large = 0;     // larger than the store can ever hold
  std::uint64_t records_deduplicated = 0;  // folded into an identical one (burst dedup)
  std::uint64_t records_rate_limited = 0;  // over their service's rate limit
  std::uint64_t refused = 0;               // messages answered with ERROR
  std::map<std::string, std::uint64_t, std::less<>> refused_by_code;
};

// Thread-safety: one thread (the listener's) calls everything.
class remote_sessions {
 public:
  struct reply {
    std::string_view command;
    std::span<const std::byte> body;  // valid until the next call
  };

  // `transport` names the way the producers reach the broker in the notes ("tcp" for
  // ZeroMQ, "websocket"); the services mode shows it.
  explicit remote_sessions(store& records, std::string transport = "tcp");

  // Handles one message from the peer with routing id `peer` (frames after the id) and
  // returns the reply to send it. `peer_address` is for the notes ("tcp from ...").
  reply handle(std::string_view peer, std::span<const std::span<const std::byte>> frames,
               std::string_view peer_address, std::int64_t now_ns);

  // Forgets sessions silent for longer than remote::k_session_timeout, each with a note
  // that its producer went silent (a process killed, a network gone): the services mode
  // then shows it no longer connected. Should it speak again, its HELLO notes it connected
  // anew.
  void expire(std::int64_t now_ns);

  std::size_t sessions() const noexcept { return sessions_.size(); }
  const remote_counters& counters() const noexcept { return counters_; }

 private:
  struct session {
    instance_id instance;
    std::string service;
    std::string host;
    std::uint64_t next_sequence = 0;
    std::int64_t last_heard_ns = 0;
  };

  reply hello(std::string_view peer, const wire::Hello& message, std::string_view peer_address,
              std::int64_t now_ns);
  reply data(session& s, const wire::Envelope& envelope, std::int64_t now_ns);
  reply refuse(std::string_view code, std::string_view message);
  reply ack(std::string_view command, std::uint64_t next_sequence);
  void note(const session& s, entry_kind kind, std::uint64_t sequence, level severity,
            std::string_view message, std::initializer_list<field> fields, std::int64_t now_ns);

  // The next sequence of a note of this kind for this instance: notes that may come more
  // than once in an instance's life (silent, connected again) each need a sequence of
  // their own, or the store takes the repeat for a replay.
  std::uint64_t next_note_sequence(const instance_id& instance, entry_kind kind) const;

  store& store_;
  std::string transport_;
  record_sanitizer sanitizer_;
  record_encoder notes_;
  flatbuffers::FlatBufferBuilder reply_;
  std::vector<std::uint64_t> body_;     // a message body copied to 8-byte alignment
  std::vector<std::uint64_t> aligned_;  // a record copied to 8-byte alignment
  std::unordered_map<std::string, session> sessions_;
  // Instances whose session expired, until they say HELLO again (at most k_max_sessions).
  std::vector<instance_id> went_silent_;
  remote_counters counters_;
};

}  // namespace logwire
