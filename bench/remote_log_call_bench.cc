// What a log call costs on the ZeroMQ path. The call encodes the record into the remote
// producer's in-process ring and returns; its sending thread does every network I/O. Timed
// with a broker listening (in this process: remote_listener and a store), so that the
// sending thread is really sending while the calls run, flat out and paced at 200,000
// calls/s (a rate the broker keeps up with), and with no broker at all (records queue up;
// past the queue bound the oldest are dropped). The reference in the same run: the same
// record through the shared-memory producer, a thread draining its ring as the broker
// would, as in log_call_bench.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "broker_in_process.h"
#include "latency_histogram.h"
#include "logwire/producer.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "remote_listener.h"
#include "sample_record.h"
#include "support/loopback_port.h"

namespace {

using logwire::bench::latency_histogram;
using logwire::bench::ns_per_tick;
using logwire::bench::ticks;

constexpr std::int64_t k_calls = 2'000'000;
constexpr std::int64_t k_paced_calls = 1'000'000;
constexpr double k_paced_interval_ns = 5'000;  // 200,000 calls/s
// Holds every record of a run: the store never wraps, so what is timed beside the calls is
// the broker taking records, not evicting them.
constexpr std::uint64_t k_store_bytes = 1024ull * 1024 * 1024;
// The producer's close waits this long for acknowledgements, not the default 2 s.
constexpr auto k_close_timeout = std::chrono::milliseconds(100);

logwire::producer open_remote(const std::string& endpoint) {
  return logwire::producer::open(
             {.service = "bench", .endpoint = endpoint, .flush_timeout = k_close_timeout})
      .value();
}

// p50 / p99 / p99.9 and the share of calls refused (ring full) per benchmark, for the table
// printed at the end.
std::map<std::string, std::array<double, 4>> g_results;

// Times every call; `interval_ns` > 0 spaces the calls' starts that far apart.
void time_log_calls(benchmark::State& state, logwire::producer& logs, const char* name,
                    double interval_ns = 0) {
  latency_histogram histogram(static_cast<std::size_t>(state.max_iterations));
  const auto interval_ticks = static_cast<std::uint64_t>(interval_ns / ns_per_tick());
  std::int64_t user = 987;
  std::uint64_t refused = 0;
  std::uint64_t next = ticks();
  for (auto _ : state) {
    ++user;
    if (interval_ticks != 0) {
      while (ticks() < next) {
      }
      next += interval_ticks;
    }
    const std::uint64_t start = ticks();
    const bool ok = logwire::bench::log_sample(logs, user);
    histogram.add(ticks() - start);
    refused += ok ? 0 : 1;
  }
  histogram.report(state);
  state.counters["refused"] = static_cast<double>(refused);
  state.counters["dropped"] = static_cast<double>(logs.dropped());
  g_results[name] = {histogram.percentile_ns(0.5), histogram.percentile_ns(0.99),
                     histogram.percentile_ns(0.999),
                     static_cast<double>(refused) / static_cast<double>(state.iterations())};
}

void shm_log_call(benchmark::State& state) {
  logwire::bench::drained_ring shm;
  time_log_calls(state, shm.logs(), "shared memory");
}

void zeromq_log_call_broker_listening(benchmark::State& state) {
  logwire::bench::broker_in_process broker(k_store_bytes);
  auto logs = open_remote(broker.endpoint());
  if (!logs.flush(std::chrono::seconds(10))) {
    state.SkipWithError("the producer did not reach the broker");
    return;
  }
  time_log_calls(state, logs, "zeromq, broker listening");
  state.counters["unacknowledged"] = static_cast<double>(logs.unacknowledged());
}

void zeromq_log_call_broker_listening_paced(benchmark::State& state) {
  logwire::bench::broker_in_process broker(k_store_bytes);
  auto logs = open_remote(broker.endpoint());
  if (!logs.flush(std::chrono::seconds(10))) {
    state.SkipWithError("the producer did not reach the broker");
    return;
  }
  time_log_calls(state, logs, "zeromq, broker listening, 200k calls/s", k_paced_interval_ns);
  state.counters["unacknowledged"] = static_cast<double>(logs.unacknowledged());
}

void zeromq_log_call_no_broker(benchmark::State& state) {
  auto logs = open_remote(logwire::testing::unused_loopback_endpoint());
  time_log_calls(state, logs, "zeromq, no broker (queueing)");
}

// The timer alone: what every figure above includes.
void timing_overhead(benchmark::State& state) {
  latency_histogram histogram(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const std::uint64_t start = ticks();
    benchmark::ClobberMemory();
    histogram.add(ticks() - start);
  }
  histogram.report(state);
  g_results["timer alone"] = {histogram.percentile_ns(0.5), histogram.percentile_ns(0.99),
                              histogram.percentile_ns(0.999), 0};
}

BENCHMARK(timing_overhead)->Iterations(1'000'000);
BENCHMARK(shm_log_call)->Iterations(k_calls)->UseRealTime();
BENCHMARK(zeromq_log_call_broker_listening)->Iterations(k_calls)->UseRealTime();
BENCHMARK(zeromq_log_call_broker_listening_paced)->Iterations(k_paced_calls)->UseRealTime();
BENCHMARK(zeromq_log_call_no_broker)->Iterations(k_calls)->UseRealTime();

void print_summary() {
  const auto shm = g_results.find("shared memory");
  if (shm == g_results.end()) return;
  std::printf("\nlog call, one thread, ns:\n  %-40s %7s %7s %8s   %-8s  %s\n", "", "p50", "p99",
              "p99.9", "refused", "p50 vs shared memory");
  for (const char* name :
       {"timer alone", "shared memory", "zeromq, broker listening",
        "zeromq, broker listening, 200k calls/s", "zeromq, no broker (queueing)"}) {
    const auto found = g_results.find(name);
    if (found == g_results.end()) continue;
    const auto& [p50, p99, p999, refused] = found->second;
    std::printf("  %-40s %7.0f %7.0f %8.0f   %6.1f %%  %.2f\n", name, p50, p99, p999, 100 * refused,
                p50 / shm->second[0]);
  }
  std::printf("  goal: p50 <= 200 ns on the ZeroMQ path\n");
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);  // the broker's notes on drops
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
