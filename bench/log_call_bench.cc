// What a log call costs the backend on the shared-memory path: a full record (message,
// request ID, traceparent, span ID, three typed fields) encoded and copied into the
// ring, while a reader thread drains it as the broker would.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "logwire/producer.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"

namespace {

// One producer and one draining reader for the whole run, shared by the benchmark threads.
class ring_under_test {
 public:
  ring_under_test() {
    char pattern[] = "/tmp/lw-bench-XXXXXX";
    root_ = ::mkdtemp(pattern);
    logs_ = std::make_unique<logwire::producer>(
        logwire::producer::open({.service = "bench", .runtime_dir = root_ / "rt"}).value());
    segment_ = std::make_unique<logwire::shm_segment>(
        logwire::shm_segment::open(logs_->ring_name()).value());
    reader_ = std::thread([this] {
      logwire::ring_reader reader(logwire::attach_ring(segment_->bytes()).value());
      while (!stop_.load(std::memory_order_relaxed)) {
        if (reader.drain([](std::span<const std::byte>, std::uint64_t) {}, 4096) == 0) {
          std::this_thread::yield();
        }
      }
    });
  }
  ~ring_under_test() {
    stop_.store(true);
    reader_.join();
    const std::string name = logs_->ring_name();
    logs_.reset();
    logwire::shm_segment::remove(name);
    std::filesystem::remove_all(root_);
  }
  logwire::producer& logs() { return *logs_; }

 private:
  std::filesystem::path root_;
  std::unique_ptr<logwire::producer> logs_;
  std::unique_ptr<logwire::shm_segment> segment_;
  std::atomic<bool> stop_{false};
  std::thread reader_;
};

ring_under_test& shared_ring() {
  static ring_under_test ring;
  return ring;
}

void log_call_full_record(benchmark::State& state) {
  logwire::producer& logs = shared_ring().logs();
  const std::uint64_t dropped_before = logs.dropped();
  std::int64_t user = 987;
  for (auto _ : state) {
    const bool ok =
        logs.log(logwire::level::error, "Payment gateway timeout for order 4711",
                 {.request_id = "req-12345",
                  .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                  .span_id = "span-789"},
                 {{"userId", ++user}, {"paymentId", "pay-99"}, {"retryable", true}});
    benchmark::DoNotOptimize(ok);
  }
  state.counters["dropped"] = static_cast<double>(logs.dropped() - dropped_before);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(log_call_full_record)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
