// The remote producer's background thread: takes the records callers put into the
// producer's in-process ring, queues (and spools) them, and runs the ZeroMQ sessions
// that deliver them: the live instance's and one per orphan spool being replayed. The
// caller's log() never waits for any of it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "logwire/ring.h"
#include "remote_stream.h"
#include "spool.h"

namespace logwire {

// An eventfd a thread can poll and others can signal. Thread-safety: any thread.
class wake_fd {
 public:
  wake_fd();
  ~wake_fd();
  wake_fd(const wake_fd&) = delete;
  wake_fd& operator=(const wake_fd&) = delete;

  int fd() const noexcept { return fd_; }
  void signal() noexcept;
  void clear() noexcept;  // takes any pending signal

 private:
  int fd_;
};

// Thread-safety: flush() and the counters from any thread; construction and destruction
// from one.
class remote_sender {
 public:
  remote_sender(const remote_settings& settings, ring_view handoff, std::vector<std::byte> identity,
                std::optional<spool_file> spool, std::vector<spool_file::orphan> orphans,
                std::chrono::milliseconds flush_timeout);
  // Delivers what it can within the flush timeout, says BYE, and stops.
  ~remote_sender();
  remote_sender(const remote_sender&) = delete;
  remote_sender& operator=(const remote_sender&) = delete;

  // Waits until every record logged before the call is settled: acknowledged by the
  // broker, or dropped from a full queue (and so reported by the broker as lost). False if
  // `timeout` passed first.
  bool flush(std::chrono::milliseconds timeout);

  // Records dropped from the queue (it was full) so far.
  std::uint64_t queue_dropped() const noexcept {
    return queue_dropped_.load(std::memory_order_relaxed);
  }
  // Records queued and not yet acknowledged.
  std::uint64_t unacknowledged() const noexcept {
    return unacknowledged_.load(std::memory_order_relaxed);
  }

  // Called by log() after it put a record in the ring: wakes the thread if it sleeps.
  // Costs a relaxed load unless it does (then one eventfd write).
  void wake() noexcept {
    if (sleeping_.load(std::memory_order_relaxed) &&
        sleeping_.exchange(false, std::memory_order_relaxed)) {
      wake_.signal();
    }
  }

 private:
  void run(std::stop_token stop);
  // One pass: take, pump, poll. False when stopping is done.
  bool pass(std::stop_token& stop, int& quiet_polls, std::int64_t& stop_deadline);
  // Records the ring refused so far.
  std::uint64_t refused() const noexcept;
  std::size_t take_from_ring(std::int64_t now_ns);
  void publish();

  remote_settings settings_;
  ring_view handoff_;
  ring_reader reader_;
  std::chrono::milliseconds flush_timeout_;
  zmq::context_t context_;
  std::unique_ptr<remote_stream> live_;
  struct orphan_stream {
    std::unique_ptr<remote_stream> stream;
    std::uint64_t dropped;
    std::int64_t last_drop_ns;
    std::optional<spool_file> file;
  };
  std::list<orphan_stream> orphans_;
  std::vector<zmq::pollitem_t> items_;  // a pass's poll items ...
  std::vector<remote_stream*> polled_;  // ... and the stream of each socket item

  std::atomic<std::uint64_t> queue_dropped_{0};
  std::atomic<std::uint64_t> unacknowledged_{0};
  std::uint64_t consumed_head_ = 0;    // the ring position taken so far (sender thread only)
  std::atomic<bool> sleeping_{false};  // the thread waits on wake_ and wants a signal
  wake_fd wake_;
  std::mutex flush_mutex_;
  std::condition_variable flushed_;
  // What flush() waits on, published by the sender thread after each pass.
  std::uint64_t consumed_ = 0;  // guarded by flush_mutex_: ring position taken
  std::uint64_t taken_ = 0;     // guarded by flush_mutex_: sequences given out
  // guarded by flush_mutex_: every sequence below is acknowledged, or was dropped from the
  // queue (whose loss the broker reports)
  std::uint64_t settled_ = 0;
  std::jthread thread_;  // last: started after everything it uses
};

}  // namespace logwire
