// Log call to queryable with a real logwire-broker process: a backend logs at 10,000
// records/s; every 10 ms one of its records is a probe, and the time from just before the
// probe's log call until a query to the broker returns it is one sample. Over ZeroMQ (the
// broker listening on a loopback TCP port) and, as the reference in the same run, over
// shared memory, each against a broker of its own.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "logwire/broker_client.h"
#include "logwire/producer.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/loopback_port.h"

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
constexpr double k_rate = 10'000;  // records per second, probes included
constexpr auto k_probe_every = std::chrono::milliseconds(10);
constexpr int k_probes = 1'000;  // 10 s and more

class broker_process {
 public:
  broker_process(const std::filesystem::path& runtime, const std::string& listen) {
    const std::string binary = std::string(LOGWIRE_BIN_DIR) + "/logwire-broker";
    const std::string dir = runtime.string();
    char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("--runtime-dir"),
                    const_cast<char*>(dir.c_str()),    const_cast<char*>("--listen"),
                    const_cast<char*>(listen.c_str()), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    const auto deadline = clock_type::now() + std::chrono::seconds(10);
    while (!std::filesystem::exists(runtime / "query.sock") && clock_type::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~broker_process() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  broker_process(const broker_process&) = delete;
  broker_process& operator=(const broker_process&) = delete;

 private:
  pid_t pid_ = -1;
};

// p50 / p99 / p99.9 / max, then p50 / p99 of the way to the broker, in microseconds per
// transport, for the table printed at the end.
std::map<std::string, std::array<double, 6>> g_results;

void log_call_to_queryable(benchmark::State& state, const std::string& transport) {
  char pattern[] = "/tmp/lw-bench-XXXXXX";
  const std::filesystem::path root = ::mkdtemp(pattern);
  const auto dir = logwire::runtime_dir::open(root / "rt").value();
  std::vector<double> samples_us;
  std::uint64_t dropped = 0;
  {
    const bool remote = transport == "zeromq";
    const std::string endpoint = logwire::testing::unused_loopback_endpoint();
    broker_process broker(dir.path(), remote ? endpoint : "none");
    auto logs =
        logwire::producer::open(
            {.service = "e2e", .endpoint = remote ? endpoint : "shm", .runtime_dir = dir.path()})
            .value();
    // Connected (or drained) before the first probe: connecting is not what is measured.
    logs.log(logwire::level::info, "warm-up");
    // A skipped benchmark runs no iteration.
    if (!logs.flush(std::chrono::seconds(10))) state.SkipWithError("the producer did not connect");
    logwire::broker_client client(dir, {.timeout = std::chrono::milliseconds(2000), .attempts = 1});

    std::atomic<bool> stop{false};
    std::thread background([&] {
      // The steady load around the probes: 10,000 records/s in all.
      const auto start = clock_type::now();
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<clock_type::duration>(
                                                  std::chrono::duration<double>(i / k_rate)));
        logs.log(logwire::level::info, "background load record", {.request_id = "req-load"},
                 {{"seq", i}});
      }
    });
    for (auto _ : state) {
      for (int probe = 0; probe < k_probes; ++probe) {
        std::this_thread::sleep_for(k_probe_every);
        const std::string id = "probe-" + std::to_string(probe);
        const std::int64_t logged_ns = logwire::unix_now_ns();
        const auto started = clock_type::now();
        logs.log(logwire::level::warn, "probe", {.request_id = id});
        const nlohmann::json query = {{"what", "backend-logs"},
                                      {"service", "e2e"},
                                      {"level", "WARN"},
                                      {"since", logwire::format_rfc3339_ms(logged_ns - 1'000'000)}};
        for (;;) {
          const auto reply = client.call("observe", query);
          bool found = false;
          if (reply) {
            for (const auto& record : (*reply)["logs"])
              found = found || record.value("requestId", "") == id;
          }
          if (found) break;
          if (clock_type::now() - started > std::chrono::seconds(5)) break;
        }
        samples_us.push_back(
            std::chrono::duration<double, std::micro>(clock_type::now() - started).count());
      }
    }
    stop.store(true);
    background.join();
    dropped = logs.dropped();
  }
  // The broker has stopped; its store outlives it. Each probe's receive time there splits
  // its latency into the way to the broker and the rest (storing, the query finding it).
  std::vector<double> to_broker_us;
  if (auto stored = logwire::store::open(dir, {}, logwire::unix_now_ns())) {
    for (const auto& record :
         (*stored)
             ->query({.services = {"e2e"}, .min_level = logwire::level::warn, .limit = k_probes})
             .value()
             .logs) {
      to_broker_us.push_back(static_cast<double>(record.receive_ns - record.timestamp_ns) / 1e3);
    }
  }
  dir.remove_shared_memory();
  std::filesystem::remove_all(root);
  if (samples_us.empty()) return;
  std::sort(samples_us.begin(), samples_us.end());
  const auto at = [&](double q) {
    return samples_us[static_cast<std::size_t>(q * static_cast<double>(samples_us.size() - 1))];
  };
  state.counters["p50_us"] = at(0.5);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["max_us"] = samples_us.back();
  state.counters["dropped"] = static_cast<double>(dropped);
  std::array<double, 2> to_broker{};
  if (!to_broker_us.empty()) {
    std::sort(to_broker_us.begin(), to_broker_us.end());
    to_broker = {to_broker_us[to_broker_us.size() / 2],
                 to_broker_us[static_cast<std::size_t>(0.99 * (to_broker_us.size() - 1))]};
    state.counters["to_broker_p50_us"] = to_broker[0];
    state.counters["to_broker_p99_us"] = to_broker[1];
  }
  g_results[transport] = {at(0.5),           at(0.99),     at(0.999),
                          samples_us.back(), to_broker[0], to_broker[1]};
}
BENCHMARK_CAPTURE(log_call_to_queryable, shm, std::string("shm"))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(log_call_to_queryable, zeromq, std::string("zeromq"))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void print_summary() {
  std::printf("\nlog call to queryable at 10,000 records/s, %d probes, us:\n", k_probes);
  std::printf("  %-8s %8s %8s %8s %8s   %s\n", "", "p50", "p99", "p99.9", "max",
              "log call to broker received (p50, p99)");
  for (const char* transport : {"shm", "zeromq"}) {
    const auto found = g_results.find(transport);
    if (found == g_results.end()) continue;
    const auto& [p50, p99, p999, max, to_broker_p50, to_broker_p99] = found->second;
    std::printf("  %-8s %8.0f %8.0f %8.0f %8.0f   %8.0f %8.0f\n", transport, p50, p99, p999, max,
                to_broker_p50, to_broker_p99);
  }
  std::printf("  goal: p99 <= 5000 us over ZeroMQ\n");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
