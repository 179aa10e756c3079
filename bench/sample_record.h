// What the log-call benchmarks log, so that their figures compare: one record with a
// 38-byte message, request ID, traceparent, span ID and three typed fields; and a
// shared-memory producer whose ring a thread of the benchmark drains, standing in for the
// broker.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <thread>

#include "logwire/producer.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"

namespace logwire::bench {

inline constexpr const char* k_message = "Payment gateway timeout for order 4711";  // 38 bytes
inline constexpr const char* k_request_id = "req-12345";
inline constexpr const char* k_traceparent =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
inline constexpr const char* k_span_id = "span-789";

inline bool log_sample(producer& logs, std::int64_t user) noexcept {
  return logs.log(level::error, k_message,
                  {.request_id = k_request_id, .traceparent = k_traceparent, .span_id = k_span_id},
                  {{"userId", user}, {"paymentId", "pay-99"}, {"retryable", true}});
}

// Thread-safety: logs() from any number of threads.
class drained_ring {
 public:
  drained_ring() {
    char pattern[] = "/tmp/lw-bench-XXXXXX";
    root_ = ::mkdtemp(pattern);
    logs_ = std::make_unique<producer>(
        producer::open({.service = "bench", .runtime_dir = root_ / "rt"}).value());
    segment_ = std::make_unique<shm_segment>(shm_segment::open(logs_->ring_name()).value());
    reader_ = std::thread([this] {
      ring_reader reader(attach_ring(segment_->bytes()).value());
      while (!stop_.load(std::memory_order_relaxed)) {
        if (reader.drain([](std::span<const std::byte>, std::uint64_t) {}, 4096) == 0) {
          std::this_thread::yield();
        }
      }
    });
  }
  ~drained_ring() {
    stop_.store(true);
    reader_.join();
    logs_.reset();
    if (auto dir = runtime_dir::open(root_ / "rt")) dir->remove_shared_memory();
    std::filesystem::remove_all(root_);
  }
  drained_ring(const drained_ring&) = delete;
  drained_ring& operator=(const drained_ring&) = delete;

  producer& logs() { return *logs_; }

 private:
  std::filesystem::path root_;
  std::unique_ptr<producer> logs_;
  std::unique_ptr<shm_segment> segment_;
  std::atomic<bool> stop_{false};
  std::thread reader_;
};

}  // namespace logwire::bench
