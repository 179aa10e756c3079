// Log call to queryable: a backend logs at 10,000 records/s into a real logwire-broker
// process; every 10 ms one of its records is a probe, and the time from just before the
// probe's log call until a query to the broker returns it is one sample.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "logwire/broker_client.h"
#include "logwire/producer.h"
#include "logwire/runtime_dir.h"
#include "logwire/timestamp.h"

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
constexpr double k_rate = 10'000;  // records per second, probes included
constexpr auto k_probe_every = std::chrono::milliseconds(10);
constexpr int k_probes = 300;

class broker_process {
 public:
  explicit broker_process(const std::filesystem::path& runtime) {
    const std::string binary = std::string(LOGWIRE_BIN_DIR) + "/logwire-broker";
    const std::string dir = runtime.string();
    char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("--runtime-dir"),
                    const_cast<char*>(dir.c_str()), nullptr};
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

 private:
  pid_t pid_ = -1;
};

void log_call_to_queryable(benchmark::State& state) {
  char pattern[] = "/tmp/lw-bench-XXXXXX";
  const std::filesystem::path root = ::mkdtemp(pattern);
  const auto dir = logwire::runtime_dir::open(root / "rt").value();
  std::vector<double> samples_us;
  {
    broker_process broker(dir.path());
    auto logs = logwire::producer::open({.service = "e2e", .runtime_dir = dir.path()}).value();
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
  }
  std::sort(samples_us.begin(), samples_us.end());
  const auto at = [&](double q) {
    return samples_us[static_cast<std::size_t>(q * (samples_us.size() - 1))];
  };
  state.counters["p50_us"] = at(0.5);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = samples_us.back();
  dir.remove_shared_memory();
  std::filesystem::remove_all(root);
}
BENCHMARK(log_call_to_queryable)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
