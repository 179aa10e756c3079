// What a log call costs the backend. The same full record (a 40-byte message, request
// ID, traceparent, span ID and three typed fields) through logwire's shared-memory
// producer and, as the reference measured in the same run, through spdlog's async logger
// into a null sink. A reader thread drains logwire's ring meanwhile, as the broker would;
// spdlog's own worker thread does the same for its queue.
#include <benchmark/benchmark.h>
#include <spdlog/async.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "latency_histogram.h"
#include "logwire/producer.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"

namespace {

using logwire::bench::latency_histogram;
using logwire::bench::ticks;

constexpr const char* k_message = "Payment gateway timeout for order 4711";  // 38 bytes
constexpr const char* k_request_id = "req-12345";
constexpr const char* k_traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr const char* k_span_id = "span-789";

// One producer and one draining reader for the whole run, shared by benchmark threads.
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
    logs_.reset();
    if (auto dir = logwire::runtime_dir::open(root_ / "rt")) dir->remove_shared_memory();
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

std::shared_ptr<spdlog::logger> shared_spdlog() {
  static const auto logger = [] {
    spdlog::init_thread_pool(1 << 16, 1);
    auto sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    auto async = std::make_shared<spdlog::async_logger>(
        "bench", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    async->set_level(spdlog::level::trace);
    return async;
  }();
  return logger;
}

// p50 per benchmark name and thread count, for the ratio printed at the end.
std::mutex g_results_mutex;
std::map<std::string, double> g_p50;

void record_p50(benchmark::State& state, const char* name, latency_histogram& histogram) {
  if (state.thread_index() != 0) return;
  const std::lock_guard lock(g_results_mutex);
  g_p50[std::string(name) + "/" + std::to_string(state.threads())] = histogram.percentile_ns(0.5);
}

void logwire_log_call(benchmark::State& state) {
  logwire::producer& logs = shared_ring().logs();
  latency_histogram histogram(1 << 22);
  std::int64_t user = 987;
  std::uint64_t refused = 0;
  for (auto _ : state) {
    ++user;
    const std::uint64_t start = ticks();
    const bool ok =
        logs.log(logwire::level::error, k_message,
                 {.request_id = k_request_id, .traceparent = k_traceparent, .span_id = k_span_id},
                 {{"userId", user}, {"paymentId", "pay-99"}, {"retryable", true}});
    histogram.add(ticks() - start);
    refused += ok ? 0 : 1;
  }
  histogram.report(state);
  state.counters["refused"] =
      benchmark::Counter(static_cast<double>(refused), benchmark::Counter::kAvgThreads);
  record_p50(state, "logwire", histogram);
}

void spdlog_async_call(benchmark::State& state) {
  const auto logger = shared_spdlog();
  latency_histogram histogram(1 << 22);
  std::int64_t user = 987;
  for (auto _ : state) {
    ++user;
    const std::uint64_t start = ticks();
    logger->error("{} request_id={} traceparent={} span_id={} userId={} paymentId={} retryable={}",
                  k_message, k_request_id, k_traceparent, k_span_id, user, "pay-99", true);
    histogram.add(ticks() - start);
  }
  histogram.report(state);
  record_p50(state, "spdlog", histogram);
}

// The timer alone: what every figure above includes.
void timing_overhead(benchmark::State& state) {
  latency_histogram histogram(1 << 22);
  for (auto _ : state) {
    const std::uint64_t start = ticks();
    benchmark::ClobberMemory();
    histogram.add(ticks() - start);
  }
  histogram.report(state);
}

BENCHMARK(timing_overhead)->Iterations(1'000'000);
BENCHMARK(logwire_log_call)->Iterations(2'000'000)->Threads(1)->UseRealTime();
BENCHMARK(spdlog_async_call)->Iterations(2'000'000)->Threads(1)->UseRealTime();
BENCHMARK(logwire_log_call)->Iterations(500'000)->Threads(4)->UseRealTime();
BENCHMARK(spdlog_async_call)->Iterations(500'000)->Threads(4)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const char* threads : {"1", "4"}) {
    const auto ours = g_p50.find(std::string("logwire/") + threads);
    const auto theirs = g_p50.find(std::string("spdlog/") + threads);
    if (ours != g_p50.end() && theirs != g_p50.end() && theirs->second > 0) {
      std::printf("p50 per call, %s thread(s): logwire %.0f ns, spdlog async %.0f ns, ratio %.2f\n",
                  threads, ours->second, theirs->second, ours->second / theirs->second);
    }
  }
  return 0;
}
