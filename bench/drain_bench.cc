// How fast the broker moves records from a producer's ring into the store: ring_drain
// (copy out, verify, exactly-once check, append to the record log, index) on one core,
// with the ring filled beforehand so nothing else competes for the time.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "logwire/producer.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "ring_drain.h"

namespace {

constexpr std::uint64_t k_records_per_round = 150'000;  // ~50 MB: fits the 64 MiB ring

void drain_into_store(benchmark::State& state) {
  char pattern[] = "/tmp/lw-bench-XXXXXX";
  const std::filesystem::path root = ::mkdtemp(pattern);
  const auto dir = logwire::runtime_dir::open(root / "rt").value();
  {
    auto records =
        logwire::store::open(dir, {.rate = {.per_second = 0}}, logwire::unix_now_ns()).value();
    auto logs = logwire::producer::open({.service = "bench", .runtime_dir = dir.path()}).value();
    logwire::ring_drain drain(dir, *records);
    drain.poll(logwire::unix_now_ns());  // attach
    std::uint64_t moved = 0;
    for (auto _ : state) {
      state.PauseTiming();
      for (std::uint64_t i = 0; i < k_records_per_round; ++i) {
        logs.log(logwire::level::error, "Payment gateway timeout for order 4711",
                 {.request_id = "req-12345",
                  .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                  .span_id = "span-789"},
                 {{"userId", static_cast<std::int64_t>(i)},
                  {"paymentId", "pay-99"},
                  {"retryable", true}});
      }
      state.ResumeTiming();
      std::uint64_t round = 0;
      while (round < k_records_per_round) round += drain.poll(logwire::unix_now_ns());
      moved += round;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(moved));
    state.counters["dropped"] = static_cast<double>(logs.dropped());
  }
  dir.remove_shared_memory();
  std::filesystem::remove_all(root);
}
BENCHMARK(drain_into_store)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
