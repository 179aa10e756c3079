#include "remote_sessions.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "logwire/remote_protocol.h"
#include "logwire/timestamp.h"
#include "logwire/version.h"

namespace logwire {
namespace {

// A hostile or broken client opening sessions without end costs a bounded amount: past
// this many, the longest silent session is forgotten (its producer says HELLO again).
constexpr std::size_t k_max_sessions = 4096;

std::string text(const flatbuffers::String* value) {
  return value != nullptr ? value->str() : std::string();
}

instance_id instance_of(const wire::ProducerIdentity& identity) {
  return {identity.instance_id()->hi(), identity.instance_id()->lo()};
}

}  // namespace

remote_sessions::remote_sessions(store& records, std::string transport)
    : store_(records), transport_(std::move(transport)), reply_(256) {}

remote_sessions::reply remote_sessions::handle(std::string_view peer,
                                               std::span<const std::span<const std::byte>> frames,
                                               std::string_view peer_address, std::int64_t now_ns) {
  ++counters_.messages;
  remote_message message = parse_remote_message(frames, body_);
  if (const auto* refusal = std::get_if<remote_refusal>(&message)) {
    return refuse(refusal->code, refusal->message);
  }
  if (const auto* h = std::get_if<hello_message>(&message)) {
    return hello(peer, *h->hello, peer_address, now_ns);
  }
  const auto found = sessions_.find(std::string(peer));
  if (found == sessions_.end()) {
    return refuse(remote::refusal::no_session, "no session on this connection: send HELLO first");
  }
  session& s = found->second;
  s.last_heard_ns = now_ns;
  if (const auto* d = std::get_if<data_message>(&message)) return data(s, *d->envelope, now_ns);
  if (std::holds_alternative<ping_message>(message)) {
    return ack(remote::command::pong, s.next_sequence);
  }
  // BYE: the producer closed after its last acknowledgement.
  note(s, entry_kind::disconnected, 0, level::info, "producer disconnected: " + s.service,
       {{"event", "disconnected"}, {"transport", transport_}}, now_ns);
  spdlog::info("remote producer disconnected: {} on {}", s.service, s.host);
  const std::uint64_t next = s.next_sequence;
  sessions_.erase(found);
  return ack(remote::command::ack, next);
}

remote_sessions::reply remote_sessions::hello(std::string_view peer, const wire::Hello& message,
                                              std::string_view peer_address, std::int64_t now_ns) {
  const wire::ProducerIdentity& identity = *message.producer();
  if (!sessions_.contains(std::string(peer)) && sessions_.size() >= k_max_sessions) {
    const auto oldest =
        std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
          return a.second.last_heard_ns < b.second.last_heard_ns;
        });
    sessions_.erase(oldest);
  }
  session& s = sessions_[std::string(peer)];
  s.instance = instance_of(identity);
  s.service = identity.service()->str();
  s.host = text(identity.host());
  s.last_heard_ns = now_ns;
  const auto last = store_.last_sequence(s.instance, entry_kind::record);
  s.next_sequence = last ? *last + 1 : 0;

  const std::string pid = std::to_string(identity.pid());
  const std::string from =
      peer_address.empty() ? transport_ : transport_ + " from " + std::string(peer_address);
  // Stored once per producer instance: a reconnect after a broker restart is no news; one
  // after the session expired is (the store last heard it went silent).
  std::uint64_t connected_sequence = 0;
  if (const auto silent = std::find(went_silent_.begin(), went_silent_.end(), s.instance);
      silent != went_silent_.end()) {
    went_silent_.erase(silent);
    connected_sequence = next_note_sequence(s.instance, entry_kind::connected);
  }
  note(s, entry_kind::connected, connected_sequence, level::info,
       "producer connected: " + s.service + " (pid " + pid + " on " + s.host + ", " +
           text(identity.language()) + " logwire " + text(identity.library_version()) + ", " +
           from + ")",
       {{"event", "connected"},
        {"pid", static_cast<std::int64_t>(identity.pid())},
        {"host", s.host},
        {"language", text(identity.language())},
        {"transport", transport_}},
       now_ns);
  spdlog::info("remote producer {}: {} pid {} on {}, from sequence {}",
               last ? "resumed" : "connected", s.service, pid, s.host, s.next_sequence);

  reply_.Clear();
  reply_.Finish(wire::CreateWelcome(
      reply_, s.next_sequence,
      static_cast<std::uint32_t>(std::chrono::milliseconds(remote::k_heartbeat_interval).count()),
      static_cast<std::uint32_t>(remote::k_max_message_bytes),
      reply_.CreateString(k_library_version)));
  return {remote::command::welcome,
          {reinterpret_cast<const std::byte*>(reply_.GetBufferPointer()), reply_.GetSize()}};
}

remote_sessions::reply remote_sessions::data(session& s, const wire::Envelope& envelope,
                                             std::int64_t now_ns) {
  if (envelope.producer() != nullptr && instance_of(*envelope.producer()) != s.instance) {
    return refuse(remote::refusal::wrong_instance,
                  "the envelope names another producer instance than this session's HELLO");
  }
  const std::uint64_t first = envelope.first_sequence();
  const auto* records = envelope.records();
  // Sequences skipped between what was stored (here or by a broker before a restart) or
  // acknowledged, and this envelope: records the producer's queue dropped undelivered.
  // What the store says, not this session: another connection of the same producer (an
  // older socket whose messages arrived late) or a gap noted before may have moved it.
  const auto stored = store_.last_sequence(s.instance, entry_kind::record);
  const auto noted = store_.last_sequence(s.instance, entry_kind::lost);
  s.next_sequence = std::max(s.next_sequence, stored ? *stored + 1 : 0);
  const std::uint64_t floor =
      std::max({s.next_sequence, envelope.acknowledged(), noted.value_or(0)});
  if (records != nullptr && records->size() != 0 && first > floor) {
    const std::uint64_t lost = first - floor;
    note(s, entry_kind::lost, first, level::warn,
         std::to_string(lost) + " records from " + s.service +
             " never reached the broker (sequences " + std::to_string(floor) + " to " +
             std::to_string(first - 1) +
             "): the producer's queue was full while the broker was unavailable, and it "
             "dropped its oldest",
         {{"event", "dropped"}, {"dropped", lost}, {"cause", "producer queue full"}}, now_ns);
    spdlog::warn("{} records from remote producer {} on {} never arrived (its queue was full)",
                 lost, s.service, s.host);
  }
  if (records != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < records->size(); ++i) {
      const std::uint64_t sequence = first + i;
      if (sequence < s.next_sequence) {
        ++counters_.records_duplicate;  // a replay of what the store already holds
        continue;
      }
      std::span<const std::byte> bytes = record_bytes(*records->Get(i));
      if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) != 0) {
        aligned_.resize(bytes.size() / sizeof(std::uint64_t) + 1);
        std::memcpy(aligned_.data(), bytes.data(), bytes.size());
        bytes = {reinterpret_cast<const std::byte*>(aligned_.data()), bytes.size()};
      }
      const auto status = store_.insert(sanitizer_.sanitize(bytes), {.service = s.service,
                                                                     .receive_ns = now_ns,
                                                                     .instance = s.instance,
                                                                     .sequence = sequence});
      if (status == insert_status::stored) ++counters_.records_stored;
      if (status == insert_status::duplicate) ++counters_.records_duplicate;
      if (status == insert_status::too_large) ++counters_.records_too_large;
      if (status == insert_status::deduplicated) ++counters_.records_deduplicated;
      if (status == insert_status::rate_limited) ++counters_.records_rate_limited;
      s.next_sequence = sequence + 1;
    }
  }
  const std::uint64_t dropped = envelope.dropped();
  const std::uint64_t reported = store_.last_sequence(s.instance, entry_kind::dropped).value_or(0);
  if (dropped > reported) {
    const std::uint64_t count = dropped - reported;
    const std::string when =
        format_rfc3339_ms(envelope.last_drop_ns() != 0 ? envelope.last_drop_ns() : now_ns);
    note(s, entry_kind::dropped, dropped, level::warn,
         std::to_string(count) + " records from " + s.service +
             " were refused by the producer (the latest at " + when +
             "): its buffer was full, or a record was too large",
         {{"event", "dropped"}, {"dropped", count}, {"to", when}, {"cause", "producer buffer"}},
         now_ns);
    spdlog::warn("{} records refused by remote producer {} on {}", count, s.service, s.host);
  }
  return ack(remote::command::ack, s.next_sequence);
}

remote_sessions::reply remote_sessions::refuse(std::string_view code, std::string_view message) {
  ++counters_.refused;
  auto& by_code = counters_.refused_by_code;
  const auto found = by_code.find(code);
  const std::uint64_t count =
      found != by_code.end() ? ++found->second : (by_code[std::string(code)] = 1);
  // no_session is the normal first answer to a producer still streaming into a broker
  // that restarted. Others: the first of a kind and then every thousandth, so that a
  // flood does not flood the log.
  if (code == remote::refusal::no_session) {
    spdlog::debug("refused a producer message: {}", message);
  } else if (count == 1 || count % 1000 == 0) {
    spdlog::warn("refused a producer message ({} so far): {}: {}", count, code, message);
  }
  reply_.Clear();
  reply_.Finish(wire::CreateRefusal(reply_, reply_.CreateString(code.data(), code.size()),
                                    reply_.CreateString(message.data(), message.size())));
  return {remote::command::error,
          {reinterpret_cast<const std::byte*>(reply_.GetBufferPointer()), reply_.GetSize()}};
}

remote_sessions::reply remote_sessions::ack(std::string_view command, std::uint64_t next_sequence) {
  reply_.Clear();
  reply_.Finish(wire::CreateAck(reply_, next_sequence));
  return {command,
          {reinterpret_cast<const std::byte*>(reply_.GetBufferPointer()), reply_.GetSize()}};
}

void remote_sessions::note(const session& s, entry_kind kind, std::uint64_t sequence,
                           level severity, std::string_view message,
                           std::initializer_list<field> fields, std::int64_t now_ns) {
  const auto bytes = notes_.encode({.severity = severity,
                                    .message = message,
                                    .fields = {fields.begin(), fields.size()},
                                    .service = s.service},
                                   now_ns);
  store_.insert(bytes, {.service = s.service,
                        .receive_ns = now_ns,
                        .instance = s.instance,
                        .sequence = sequence,
                        .kind = kind});
}

std::uint64_t remote_sessions::next_note_sequence(const instance_id& instance,
                                                  entry_kind kind) const {
  const auto last = store_.last_sequence(instance, kind);
  return last ? *last + 1 : 0;
}

void remote_sessions::expire(std::int64_t now_ns) {
  const auto timeout = std::chrono::nanoseconds(remote::k_session_timeout).count();
  const auto timeout_s =
      std::chrono::duration_cast<std::chrono::seconds>(remote::k_session_timeout).count();
  std::erase_if(sessions_, [&](const auto& entry) {
    const session& s = entry.second;
    if (now_ns - s.last_heard_ns <= timeout) return false;
    note(s, entry_kind::crashed, next_note_sequence(s.instance, entry_kind::crashed), level::warn,
         "producer went silent: " + s.service + " on " + s.host + " (nothing heard for " +
             std::to_string(timeout_s) + " s; killed, or its network is gone)",
         {{"event", "silent"}, {"transport", transport_}}, now_ns);
    spdlog::info("remote producer went silent: {} on {}", s.service, s.host);
    if (went_silent_.size() >= k_max_sessions) went_silent_.erase(went_silent_.begin());
    went_silent_.push_back(s.instance);
    return true;
  });
}

}  // namespace logwire
