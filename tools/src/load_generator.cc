#include "load_generator.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "logwire/producer.h"
#include "realistic_mix.h"

namespace logwire {
namespace {

using clock_type = std::chrono::steady_clock;

// Each thread paces itself to its share of the rate, against the start time, so a stall
// is caught up rather than lost.
void pace(const load_options& options, std::uint64_t seq, clock_type::time_point start) {
  const double per_thread_rate = options.rate / options.threads;
  if (per_thread_rate <= 0) return;
  const auto due =
      start + std::chrono::duration_cast<clock_type::duration>(
                  std::chrono::duration<double>(static_cast<double>(seq) / per_thread_rate));
  std::this_thread::sleep_until(due);
}

// The realistic mix paces coarsely, as a backend logs: a thread sleeps only once it is a
// millisecond ahead of its rate, so it logs a few records at a time instead of waking for
// each one (at 5,000 records/s per thread that would be 5,000 wake-ups a second).
void pace_coarsely(const load_options& options, std::uint64_t seq, clock_type::time_point start) {
  const double per_thread_rate = options.rate / options.threads;
  if (per_thread_rate <= 0) return;
  const auto due =
      start + std::chrono::duration_cast<clock_type::duration>(
                  std::chrono::duration<double>(static_cast<double>(seq) / per_thread_rate));
  if (due - clock_type::now() >= std::chrono::milliseconds(1)) std::this_thread::sleep_until(due);
}

void emit_plain(producer& logs, const load_options& options, unsigned thread,
                clock_type::time_point start, std::atomic<std::uint64_t>& refused) {
  const std::string message =
      "load record from thread " + std::to_string(thread) +
      std::string(options.message_bytes > 26 ? options.message_bytes - 26 : 0, '.');
  for (std::uint64_t seq = 0; seq < options.count; ++seq) {
    pace(options, seq, start);
    if (!logs.log(level::info, message, {}, {{"seq", seq}, {"thread", thread}})) {
      refused.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void emit_realistic(producer& logs, const load_options& options, unsigned thread,
                    clock_type::time_point start, std::atomic<std::uint64_t>& refused,
                    std::atomic<std::uint64_t>& repeats) {
  realistic_mix mix(options.service, thread);
  for (std::uint64_t n = 0; n < options.count; ++n) {
    pace_coarsely(options, n, start);
    if (!logs.write(mix.next())) refused.fetch_add(1, std::memory_order_relaxed);
  }
  repeats.fetch_add(mix.repeats(), std::memory_order_relaxed);
}

}  // namespace

int run_load(const load_options& options) {
  const auto seconds_to_ms = [](double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  };
  auto logs = producer::open({.service = options.service,
                              .endpoint = options.endpoint,
                              .runtime_dir = options.runtime_dir,
                              .ring_bytes = options.ring_bytes,
                              .queue_bytes = options.queue_bytes,
                              .spool_dir = options.spool_dir,
                              .reconnect_max = seconds_to_ms(options.reconnect_max_seconds),
                              .flush_timeout = seconds_to_ms(options.flush_seconds)});
  if (!logs) {
    std::cerr << "logwire load: " << logs.error().message << "\n";
    return 1;
  }
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> repeats{0};
  const auto start = clock_type::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, t] {
      if (options.mix == load_mix::realistic) {
        emit_realistic(*logs, options, t, start, refused, repeats);
      } else {
        emit_plain(*logs, options, t, start, refused);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  const std::uint64_t total = options.count * options.threads;
  std::printf("logwire load: %llu records from %u threads in %.3f s (%.0f/s), %llu refused\n",
              static_cast<unsigned long long>(total - refused.load()), options.threads, seconds,
              static_cast<double>(total) / seconds,
              static_cast<unsigned long long>(refused.load()));
  std::fflush(stdout);
  // Delivered means drained from the ring, or acknowledged over ZeroMQ.
  const bool delivered = logs->flush(seconds_to_ms(options.flush_seconds));
  std::printf("logwire load: %s; %llu dropped\n", delivered ? "delivered" : "not all delivered",
              static_cast<unsigned long long>(logs->dropped()));
  if (options.mix == load_mix::realistic) {
    // What the broker's burst dedup should fold, for tests that count.
    std::printf("logwire load: %llu records repeat the thread's record before (retry loops)\n",
                static_cast<unsigned long long>(repeats.load()));
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace logwire
