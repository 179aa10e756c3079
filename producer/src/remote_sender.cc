#include "remote_sender.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace logwire {
namespace {

constexpr std::size_t k_records_per_take = 4096;
// While records flow, the thread looks at the ring at least every millisecond (zmq_poll
// counts whole milliseconds). After this many quiet polls it sleeps until a caller wakes
// it, so an idle producer costs nothing; a caller pays the wake-up (one write to an
// eventfd) only on its first record after such a lull.
constexpr auto k_active_wait = std::chrono::milliseconds(1);
constexpr int k_quiet_polls_before_sleep = 50;
constexpr auto k_sleep_wait = std::chrono::milliseconds(100);  // timers: pings, timeouts
constexpr auto k_trouble_pause = std::chrono::milliseconds(100);
constexpr auto k_bye_timeout = std::chrono::milliseconds(200);

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

wake_fd::wake_fd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

wake_fd::~wake_fd() {
  ::close(fd_);
}

void wake_fd::signal() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(fd_, &one, sizeof one);
}

void wake_fd::clear() noexcept {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t taken = ::read(fd_, &count, sizeof count);
}

remote_sender::remote_sender(const remote_settings& settings, ring_view handoff,
                             std::vector<std::byte> identity, std::optional<spool_file> spool,
                             std::vector<spool_file::orphan> orphans,
                             std::chrono::milliseconds flush_timeout)
    : settings_(settings), handoff_(handoff), reader_(handoff), flush_timeout_(flush_timeout) {
  live_ = std::make_unique<remote_stream>(context_, settings_, std::move(identity),
                                          send_queue(settings_.queue_bytes), std::move(spool), 0,
                                          now_ns());
  for (auto& claimed : orphans) {
    orphan_stream orphan{.stream = nullptr,
                         .dropped = claimed.dropped,
                         .last_drop_ns = claimed.last_drop_ns,
                         .file = std::move(claimed.file)};
    // The orphan's spool is not appended to again: its records came from it.
    orphan.stream = std::make_unique<remote_stream>(
        context_, settings_, std::move(claimed.identity), std::move(claimed.records), std::nullopt,
        claimed.acknowledged, now_ns());
    orphans_.push_back(std::move(orphan));
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

remote_sender::~remote_sender() {
  thread_.request_stop();
  thread_.join();
}

std::size_t remote_sender::take_from_ring(std::int64_t now) {
  const std::size_t taken = reader_.drain(
      [&](std::span<const std::byte> record, std::uint64_t) { live_->push(record, now); },
      k_records_per_take);
  consumed_head_ = handoff_.header->head.load(std::memory_order_relaxed);  // ours to move
  return taken;
}

void remote_sender::publish() {
  const send_queue& queue = live_->queue();
  queue_dropped_.store(queue.dropped(), std::memory_order_relaxed);
  unacknowledged_.store(queue.size(), std::memory_order_relaxed);
  {
    // Together, so that flush() never pairs a ring position with an older sequence count.
    const std::lock_guard lock(flush_mutex_);
    consumed_ = consumed_head_;
    taken_ = queue.next_sequence();
    settled_ = queue.front_sequence();
  }
  flushed_.notify_all();
}

void remote_sender::run(std::stop_token stop) {
  const std::stop_callback on_stop(stop, [this] { wake_.signal(); });  // no sleeping through it
  int quiet_polls = 0;
  std::int64_t stop_deadline = 0;
  while (true) {
    try {
      if (!pass(stop, quiet_polls, stop_deadline)) break;
    } catch (const std::exception&) {
      // Out of memory or descriptors: nothing here may end the backend's process. What
      // is queued stays queued; try again shortly.
      std::this_thread::sleep_for(k_trouble_pause);
    }
  }
  // A spool with nothing undelivered in it (records, or the count of refused ones) has no
  // more use; one with something left is for the next producer opened on the directory.
  if (live_->delivered() && reader_.backlog() == 0 && live_->refusals_reported(refused()))
    live_->remove_spool();
  live_->close(k_bye_timeout);
  for (auto& orphan : orphans_) orphan.stream->close(std::chrono::milliseconds(0));
  publish();
}

std::uint64_t remote_sender::refused() const noexcept {
  return handoff_.header->dropped.load(std::memory_order_relaxed);
}

bool remote_sender::pass(std::stop_token& stop, int& quiet_polls, std::int64_t& stop_deadline) {
  const std::int64_t now = now_ns();
  const std::size_t moved = take_from_ring(now);
  // Refused by the ring: these never got a sequence, so only this count tells of them.
  // (Records the queue drops leave a gap in the sequences, which the broker counts.)
  const auto last_refused =
      static_cast<std::int64_t>(handoff_.header->drop_last_ns.load(std::memory_order_relaxed));
  live_->pump(now, refused(), last_refused);
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    it->stream->pump(now, it->dropped, it->last_drop_ns);
    if (it->stream->delivered() && it->stream->refusals_reported(it->dropped) &&
        it->stream->current() == remote_stream::state::streaming) {
      it->stream->close(k_bye_timeout);
      if (it->file) it->file->remove();  // every record of it is stored
      it = orphans_.erase(it);
    } else {
      ++it;
    }
  }
  publish();

  if (stop.stop_requested()) {
    if (stop_deadline == 0) stop_deadline = now + std::chrono::nanoseconds(flush_timeout_).count();
    const bool all_delivered = reader_.backlog() == 0 && live_->delivered() &&
                               live_->refusals_reported(refused()) && orphans_.empty();
    if (all_delivered || now >= stop_deadline) return false;
  }

  // Which stream each poll item belongs to; a stream whose socket could not be opened
  // this attempt is left out.
  items_.clear();
  polled_.clear();
  const auto watch = [&](remote_stream& stream) {
    if (!stream.socket()) return;
    items_.push_back({stream.socket().handle(), 0, ZMQ_POLLIN, 0});
    polled_.push_back(&stream);
  };
  watch(*live_);
  for (auto& orphan : orphans_) watch(*orphan.stream);
  bool busy = moved > 0 || live_->can_send();
  for (auto& orphan : orphans_) busy = busy || orphan.stream->can_send();
  quiet_polls = busy ? 0 : quiet_polls + 1;
  std::chrono::milliseconds wait{0};
  if (!busy && quiet_polls < k_quiet_polls_before_sleep) {
    wait = k_active_wait;
  } else if (!busy && !stop.stop_requested()) {
    // Long quiet: sleep until a caller logs (it writes the wake fd, having seen the flag)
    // or the timers are due. The ring is looked at again after the flag is up, so a
    // record committed just before is not left waiting.
    sleeping_.store(true, std::memory_order_seq_cst);
    if (reader_.backlog() == 0) {
      wait = k_sleep_wait;
      items_.push_back({nullptr, wake_.fd(), ZMQ_POLLIN, 0});
    }
  } else if (!busy) {
    wait = k_active_wait;  // stopping: keep an eye on the acknowledgements
  }
  try {
    zmq::poll(items_.data(), items_.size(), wait);
  } catch (const zmq::error_t&) {
    for (auto& item : items_) item.revents = 0;
  }
  sleeping_.store(false, std::memory_order_relaxed);
  wake_.clear();
  const std::int64_t after = now_ns();
  for (std::size_t i = 0; i < polled_.size(); ++i) {
    if ((items_[i].revents & ZMQ_POLLIN) != 0) polled_[i]->receive(after);
  }
  return true;
}

bool remote_sender::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Everything logged before now lies below the ring's tail; once the thread has taken
  // it all (and published that), it has sequences below taken_.
  const std::uint64_t logged = handoff_.header->tail.load(std::memory_order_acquire);
  std::unique_lock lock(flush_mutex_);
  if (!flushed_.wait_until(lock, deadline, [&] { return consumed_ >= logged; })) return false;
  const std::uint64_t sequences = taken_;
  return flushed_.wait_until(lock, deadline, [&] { return settled_ >= sequences; });
}

}  // namespace logwire
