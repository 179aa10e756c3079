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
#include "sample_record.h"

namespace {

using logwire::bench::k_message;
using logwire::bench::k_request_id;
using logwire::bench::k_span_id;
using logwire::bench::k_traceparent;
using logwire::bench::latency_histogram;
using logwire::bench::ticks;

logwire::bench::drained_ring& shared_ring() {
  static logwire::bench::drained_ring ring;
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
    const bool ok = logwire::bench::log_sample(logs, user);
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
