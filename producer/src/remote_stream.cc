#include "remote_stream.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <zmq_addon.hpp>

#include "logwire/logwire_generated.h"
#include "logwire/remote_protocol.h"

namespace logwire {
namespace {

using std::chrono::nanoseconds;

constexpr std::int64_t ns(auto duration) {
  return std::chrono::duration_cast<nanoseconds>(duration).count();
}

// Replies are a few dozen bytes; a peer sending more is not a broker.
constexpr std::int64_t k_max_reply_bytes = 64 * 1024;

template <class Table>
const Table* verified(std::span<const std::byte> body) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(body.data()), body.size(), 4,
                                 16);
  if (body.size() < sizeof(flatbuffers::uoffset_t) || !verifier.VerifyBuffer<Table>(nullptr)) {
    return nullptr;
  }
  return flatbuffers::GetRoot<Table>(body.data());
}

std::string_view text(const zmq::message_t& frame) {
  return {static_cast<const char*>(frame.data()), frame.size()};
}

}  // namespace

remote_stream::remote_stream(zmq::context_t& context, const remote_settings& settings,
                             std::vector<std::byte> identity, send_queue queue,
                             std::optional<spool_file> spool, std::uint64_t acknowledged,
                             std::int64_t now_ns)
    : context_(context),
      settings_(settings),
      identity_(std::move(identity)),
      queue_(std::move(queue)),
      spool_(std::move(spool)),
      spooled_through_(queue_.next_sequence()),  // an orphan's records came from its spool
      builder_(std::make_unique<flatbuffers::FlatBufferBuilder>(64 * 1024)),
      acknowledged_(acknowledged) {
  open_socket(now_ns);
}

remote_stream::~remote_stream() = default;

void remote_stream::open_socket(std::int64_t now_ns) {
  // Lazy Pirate: a fresh socket per attempt, so nothing a lost session left queued in the
  // old one is sent to the next broker ahead of HELLO.
  state_ = state::connecting;
  try {
    zmq::socket_t fresh(context_, zmq::socket_type::dealer);
    fresh.set(zmq::sockopt::linger, 0);
    fresh.set(zmq::sockopt::reconnect_ivl,
              static_cast<int>(std::chrono::milliseconds(remote::k_reconnect_min).count()));
    fresh.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(settings_.reconnect_max.count()));
    fresh.set(zmq::sockopt::maxmsgsize, k_max_reply_bytes);
    fresh.connect(settings_.endpoint);
    socket_ = std::move(fresh);
  } catch (const zmq::error_t&) {
    // Out of file descriptors, say: no socket this attempt; the next one tries again.
    if (!socket_) throw;  // the first: producer::open() reports it
    socket_.close();
    attempt_deadline_ns_ = now_ns + attempt_timeout();
    return;
  }
  send_hello(now_ns);
}

std::int64_t remote_stream::attempt_timeout() const noexcept {
  return std::min<std::int64_t>(
      ns(remote::k_first_attempt_timeout) << std::min(attempt_, 16),
      std::max(ns(settings_.reconnect_max), ns(remote::k_first_attempt_timeout)));
}

void remote_stream::send_hello(std::int64_t now_ns) {
  attempt_deadline_ns_ = now_ns + attempt_timeout();
  const auto* id = flatbuffers::GetRoot<wire::ProducerIdentity>(identity_.data());
  auto& fbb = *builder_;
  fbb.Clear();
  const auto text_of = [&fbb](const flatbuffers::String* s) {
    return fbb.CreateString(s != nullptr ? s->string_view() : std::string_view());
  };
  const auto service = text_of(id->service());
  const auto host = text_of(id->host());
  const auto language = text_of(id->language());
  const auto version = text_of(id->library_version());
  const auto identity = wire::CreateProducerIdentity(fbb, service, host, id->pid(),
                                                     id->instance_id(), language, version);
  fbb.Finish(wire::CreateHello(fbb, identity));
  send(remote::command::hello,
       {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()});
}

bool remote_stream::send(std::string_view command, std::span<const std::byte> body) {
  const std::array<zmq::const_buffer, 3> frames{
      zmq::buffer(remote::k_protocol), zmq::buffer(command), zmq::buffer(body.data(), body.size())};
  try {
    return zmq::send_multipart(socket_, frames, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

void remote_stream::receive(std::int64_t now_ns) {
  std::vector<zmq::message_t> frames;
  while (true) {
    frames.clear();
    try {
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        return;
      }
    } catch (const zmq::error_t&) {
      return;
    }
    if (frames.size() != 3 || text(frames[0]) != remote::k_protocol) continue;  // not a broker
    // ZeroMQ hands small frames over at any address; FlatBuffers reads scalars in place.
    const zmq::message_t& body = frames[2];
    aligned_reply_.resize(body.size() / sizeof(std::uint64_t) + 1);
    std::memcpy(aligned_reply_.data(), body.data(), body.size());
    on_message(text(frames[1]),
               {reinterpret_cast<const std::byte*>(aligned_reply_.data()), body.size()}, now_ns);
  }
}

void remote_stream::on_message(std::string_view command, std::span<const std::byte> body,
                               std::int64_t now_ns) {
  if (command == remote::command::welcome) {
    const auto* welcome = verified<wire::Welcome>(body);
    if (welcome == nullptr) return;
    last_heard_ns_ = now_ns;
    last_sent_ns_ = now_ns;
    attempt_ = 0;
    state_ = state::streaming;
    next_send_ = welcome->next_sequence();  // replay from here
    dropped_sent_ = 0;                      // a new broker may not have the last drop note
    acknowledged(welcome->next_sequence());
    return;
  }
  if (command == remote::command::ack || command == remote::command::pong) {
    const auto* ack = verified<wire::Ack>(body);
    if (ack == nullptr || state_ != state::streaming) return;
    last_heard_ns_ = now_ns;
    acknowledged(ack->next_sequence());
    return;
  }
  if (command == remote::command::error && state_ == state::streaming) {
    // no_session: the broker restarted or forgot a silent session: say HELLO again. A
    // refused envelope (malformed, too large) ends nothing: its records stay below the
    // broker's position, and the broker reports them as lost once later ones arrive.
    const auto* refusal = verified<wire::Refusal>(body);
    if (refusal != nullptr && refusal->code() != nullptr &&
        (refusal->code()->string_view() == remote::refusal::no_session ||
         refusal->code()->string_view() == remote::refusal::unsupported_version)) {
      session_lost(now_ns);
    }
  }
}

void remote_stream::acknowledged(std::uint64_t next_sequence) {
  queue_.acknowledge(next_sequence);
  acknowledged_ = std::max(acknowledged_, next_sequence);
  next_send_ = std::max(next_send_, next_sequence);
  if (spool_) spool_->compact(queue_, settings_.queue_bytes);
}

void remote_stream::session_lost(std::int64_t now_ns) {
  ++attempt_;
  open_socket(now_ns);
}

void remote_stream::spool_new_records() {
  if (!spool_) return;
  const std::size_t first = queue_.find(spooled_through_);
  if (first == queue_.size()) return;
  std::vector<send_queue::record> fresh;
  fresh.reserve(queue_.size() - first);
  for (std::size_t i = first; i < queue_.size(); ++i) fresh.push_back(queue_.at(i));
  if (!spool_->append(fresh)) {
    spool_.reset();  // the disk refused: memory only from now on
    return;
  }
  spooled_through_ = queue_.next_sequence();
  // While no acknowledgement comes, the queue drops its oldest: the file follows it.
  spool_->compact(queue_, settings_.queue_bytes);
}

void remote_stream::pump(std::int64_t now_ns, std::uint64_t dropped, std::int64_t last_drop_ns) {
  spool_new_records();
  if (spool_ && (dropped != spooled_dropped_ || acknowledged_ != spooled_acknowledged_)) {
    spool_->record_progress(dropped, last_drop_ns, acknowledged_);
    spooled_dropped_ = dropped;
    spooled_acknowledged_ = acknowledged_;
  }
  switch (state_) {
    case state::connecting:
      if (now_ns >= attempt_deadline_ns_) session_lost(now_ns);
      return;
    case state::streaming:
      if (now_ns - last_heard_ns_ > ns(remote::k_peer_timeout)) {
        session_lost(now_ns);
        return;
      }
      send_batches(now_ns, dropped, last_drop_ns);
      if (now_ns - last_sent_ns_ >= ns(remote::k_heartbeat_interval) &&
          send(remote::command::ping, {})) {
        last_sent_ns_ = now_ns;
      }
      return;
    case state::closed:
      return;
  }
}

bool remote_stream::can_send() const noexcept {
  if (state_ != state::streaming) return false;
  const std::size_t index = queue_.find(next_send_);
  return index < queue_.size() && queue_.bytes_before(index) < remote::k_max_in_flight_bytes;
}

void remote_stream::send_batches(std::int64_t now_ns, std::uint64_t dropped,
                                 std::int64_t last_drop_ns) {
  auto& fbb = *builder_;
  std::vector<flatbuffers::Offset<wire::RecordBuffer>> buffers;
  std::size_t index = queue_.find(next_send_);
  // The drop count goes with the next envelope; with none to send, in an empty one.
  bool drops_unsent = dropped != dropped_sent_;
  while ((index < queue_.size() || drops_unsent) &&
         queue_.bytes_before(index) < remote::k_max_in_flight_bytes) {
    fbb.Clear();
    buffers.clear();
    std::size_t bytes = 0;
    const std::uint64_t first = index < queue_.size() ? queue_.at(index).sequence : next_send_;
    std::size_t end = index;
    // Records of one envelope have consecutive sequences; a gap starts the next one.
    while (end < queue_.size() && buffers.size() < remote::k_batch_records &&
           queue_.at(end).sequence == first + (end - index) &&
           (buffers.empty() || bytes + queue_.at(end).bytes.size() <= remote::k_batch_bytes)) {
      const auto record = queue_.at(end);
      // 8-aligned in the envelope, so the broker reads it where it lies.
      fbb.ForceVectorAlignment(record.bytes.size(), 1, 8);
      const auto vector = fbb.CreateVector(
          reinterpret_cast<const std::uint8_t*>(record.bytes.data()), record.bytes.size());
      buffers.push_back(wire::CreateRecordBuffer(fbb, vector));
      bytes += record.bytes.size();
      ++end;
    }
    const auto records = fbb.CreateVector(buffers);
    wire::EnvelopeBuilder envelope(fbb);
    envelope.add_first_sequence(first);
    envelope.add_records(records);
    envelope.add_dropped(dropped);
    envelope.add_last_drop_ns(last_drop_ns);
    envelope.add_acknowledged(acknowledged_);
    wire::FinishEnvelopeBuffer(fbb, envelope.Finish());
    if (!send(remote::command::data,
              {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()})) {
      return;  // the socket's queue is full: try again on the next pump
    }
    last_sent_ns_ = now_ns;
    dropped_sent_ = dropped;
    drops_unsent = false;
    if (end > index) next_send_ = queue_.at(end - 1).sequence + 1;
    index = end;
    if (end == queue_.size()) return;
  }
}

void remote_stream::close(std::chrono::milliseconds timeout) {
  if (state_ == state::streaming && send(remote::command::bye, {})) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, timeout);
    } catch (const zmq::error_t&) {
    }
  }
  socket_.close();
  state_ = state::closed;
}

}  // namespace logwire
