// One producer instance's session with the broker over ZeroMQ: the producer side of the
// protocol in logwire/remote_protocol.h (CONNECTING, STREAMING, session lost) for the
// records of one send_queue. The live producer has one stream; each orphan spool being
// replayed has its own, under its own identity.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "send_queue.h"
#include "spool.h"

namespace flatbuffers {
class FlatBufferBuilder;
}

namespace logwire {

struct remote_settings {
  std::string endpoint;
  std::chrono::milliseconds reconnect_max;
  std::size_t queue_bytes;
};

// Thread-safety: one thread (the producer's sender) calls everything.
class remote_stream {
 public:
  enum class state { connecting, streaming, closed };

  // `identity` is the ProducerIdentity FlatBuffer the HELLO carries.
  remote_stream(zmq::context_t& context, const remote_settings& settings,
                std::vector<std::byte> identity, send_queue queue, std::optional<spool_file> spool,
                std::uint64_t acknowledged, std::int64_t now_ns);
  ~remote_stream();
  remote_stream(const remote_stream&) = delete;
  remote_stream& operator=(const remote_stream&) = delete;

  // The socket to poll for replies; closed (no handle) while an attempt could not open one.
  zmq::socket_t& socket() noexcept { return socket_; }

  // Takes every reply waiting on the socket.
  void receive(std::int64_t now_ns);
  // Sends what the state allows (HELLO, DATA, PING) and handles timeouts. `dropped` and
  // `last_drop_ns` count the records the instance refused before they got a sequence,
  // carried by every envelope.
  void pump(std::int64_t now_ns, std::uint64_t dropped, std::int64_t last_drop_ns);

  // Queues a record the caller logged; spooled in pump().
  void push(std::span<const std::byte> record, std::int64_t now_ns) { queue_.push(record, now_ns); }

  // Says BYE (waiting at most `timeout` for the broker's answer) and closes.
  void close(std::chrono::milliseconds timeout);

  // Deletes the spool file: called when everything in it was delivered and no more comes.
  void remove_spool() {
    if (spool_) spool_->remove();
    spool_.reset();
  }

  state current() const noexcept { return state_; }
  bool delivered() const noexcept { return queue_.empty(); }
  // True when an envelope carrying `refused` (the count of records refused before they
  // got a sequence) has been sent in this session.
  bool refusals_reported(std::uint64_t refused) const noexcept {
    return refused == 0 || (state_ == state::streaming && dropped_sent_ >= refused);
  }
  const send_queue& queue() const noexcept { return queue_; }
  // True when it has work that cannot wait for the next poll timeout.
  bool can_send() const noexcept;

 private:
  void open_socket(std::int64_t now_ns);
  // How long an attempt waits for WELCOME: 1 s, doubling per failed attempt, up to the
  // reconnect limit.
  std::int64_t attempt_timeout() const noexcept;
  void send_hello(std::int64_t now_ns);
  bool send(std::string_view command, std::span<const std::byte> body);
  void send_batches(std::int64_t now_ns, std::uint64_t dropped, std::int64_t last_drop_ns);
  void on_message(std::string_view command, std::span<const std::byte> body, std::int64_t now_ns);
  void acknowledged(std::uint64_t next_sequence);
  void session_lost(std::int64_t now_ns);
  void spool_new_records();

  zmq::context_t& context_;
  remote_settings settings_;
  std::vector<std::byte> identity_;
  send_queue queue_;
  std::optional<spool_file> spool_;
  std::uint64_t spooled_through_ = 0;  // sequences below this are in the spool
  std::uint64_t spooled_dropped_ = 0;
  std::uint64_t spooled_acknowledged_ = 0;
  std::unique_ptr<flatbuffers::FlatBufferBuilder> builder_;
  zmq::socket_t socket_;

  state state_ = state::connecting;
  int attempt_ = 0;
  std::int64_t attempt_deadline_ns_ = 0;
  std::int64_t last_heard_ns_ = 0;
  std::int64_t last_sent_ns_ = 0;
  std::uint64_t next_send_ = 0;               // the first sequence not yet sent in this session
  std::uint64_t dropped_sent_ = 0;            // the drop count the last envelope carried
  std::uint64_t acknowledged_;                // the highest ACK from any broker
  std::vector<std::uint64_t> aligned_reply_;  // a reply body copied to 8-byte alignment
};

}  // namespace logwire
