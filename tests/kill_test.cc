// Crash safety with real processes and SIGKILL at random moments: a broker killed and
// restarted while producers stream, and producers killed while the broker drains. What
// is checked afterwards is the store itself, opened from the runtime directory.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using namespace std::chrono_literals;
using testing::binary_path;
using testing::child_process;
using testing::wait_for;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool k_sanitized = true;  // the processes run several times slower
#else
constexpr bool k_sanitized = false;
#endif

class kill_test : public ::testing::Test {
 protected:
  std::unique_ptr<child_process> start_broker() {
    auto broker = std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire-broker"), "--runtime-dir", runtime_.string()},
        child_process::options{.stderr_file = runtime_.log_file("broker").string()});
    EXPECT_TRUE(testing::broker_answers(runtime_.path(), 10s));
    return broker;
  }

  std::unique_ptr<child_process> start_load(const std::string& service, std::uint64_t count,
                                            int rate, std::size_t ring_bytes = 64 << 20) {
    return std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire"), "--runtime-dir", runtime_.string(), "load",
                                 "--service", service, "--count", std::to_string(count), "--rate",
                                 std::to_string(rate), "--ring-bytes", std::to_string(ring_bytes)},
        child_process::options{.pipe_stdout = true,
                               .stderr_file = runtime_.log_file("load").string()});
  }

  bool rings_registered() {
    const auto dir = runtime_dir::open(runtime_.path()).value();
    return !std::filesystem::is_empty(dir.rings_dir());
  }

  // seq values stored per service, with how often each was stored.
  std::map<std::string, std::map<std::int64_t, int>> stored_sequences() {
    const auto dir = runtime_dir::open(runtime_.path()).value();
    auto records = store::open(dir, {}, unix_now_ns()).value();
    std::map<std::string, std::map<std::int64_t, int>> out;
    for (const auto& record : records->query({.limit = 100'000'000}).logs) {
      for (const auto& [key, value] : record.fields) {
        if (key == "seq") ++out[record.service][std::get<std::int64_t>(value)];
      }
    }
    return out;
  }

  testing::temp_runtime_dir runtime_;
  std::mt19937 random_{std::random_device{}()};
};

TEST_F(kill_test, a_broker_killed_and_restarted_twenty_times_loses_and_repeats_nothing) {
  constexpr int k_producers = 4;
  constexpr int k_kills = 20;
  const std::uint64_t count = k_sanitized ? 4000 : 20000;
  const int rate = k_sanitized ? 1000 : 5000;

  auto broker = start_broker();
  std::vector<std::unique_ptr<child_process>> producers;
  for (int p = 0; p < k_producers; ++p) {
    producers.push_back(start_load("load-" + std::to_string(p), count, rate));
  }
  std::uniform_int_distribution<int> run_ms(20, 250);
  std::uniform_int_distribution<int> down_ms(0, 100);
  for (int kill = 0; kill < k_kills; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random_)));
    broker->send_signal(SIGKILL);
    ASSERT_TRUE(broker->wait(5s));
    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(random_)));
    broker = start_broker();
  }
  for (auto& producer : producers) {
    EXPECT_EQ(producer->wait(120s), 0);
    const auto summary = producer->read_line(1s);
    EXPECT_NE(summary.value_or("").find(", 0 refused"), std::string::npos) << summary.value_or("");
  }
  ASSERT_TRUE(wait_for([&] { return !rings_registered(); }, 30s)) << "every ring drained";
  broker->send_signal(SIGTERM);
  ASSERT_EQ(broker->wait(10s), 0);

  const auto stored = stored_sequences();
  for (int p = 0; p < k_producers; ++p) {
    const auto found = stored.find("load-" + std::to_string(p));
    ASSERT_NE(found, stored.end()) << "load-" << p;
    const auto& sequences = found->second;
    EXPECT_EQ(sequences.size(), count) << "load-" << p << ": every seq";
    int repeated = 0;
    for (const auto& [seq, times] : sequences) repeated += times != 1;
    EXPECT_EQ(repeated, 0) << "load-" << p << ": none twice";
    EXPECT_EQ(sequences.begin()->first, 0);
    EXPECT_EQ(sequences.rbegin()->first, static_cast<std::int64_t>(count) - 1);
  }
}

TEST_F(kill_test, producers_killed_fifty_times_never_stop_the_drain_and_lose_no_committed_record) {
  constexpr int k_victims = 50;
  const std::uint64_t steady_count = k_sanitized ? 3000 : 10000;
  auto broker = start_broker();
  auto steady = start_load("steady", steady_count, k_sanitized ? 500 : 2000);

  std::uniform_int_distribution<int> live_ms(10, 120);
  for (int v = 0; v < k_victims; ++v) {
    auto victim = start_load("victim-" + std::to_string(v), 1'000'000, 50'000, 4 << 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(live_ms(random_)));
    victim->send_signal(SIGKILL);
    ASSERT_TRUE(victim->wait(5s));
  }
  EXPECT_EQ(steady->wait(120s), 0);
  // A killed producer's ring is reclaimed once drained and its heartbeat has stopped.
  ASSERT_TRUE(wait_for([&] { return !rings_registered(); }, 30s)) << "every ring reclaimed";
  EXPECT_FALSE(broker->wait(0ms)) << "the broker kept running";
  broker->send_signal(SIGTERM);
  ASSERT_EQ(broker->wait(10s), 0);

  const auto stored = stored_sequences();
  ASSERT_TRUE(stored.contains("steady"));
  EXPECT_EQ(stored.at("steady").size(), steady_count) << "the steady producer lost nothing";
  int victims_heard = 0;
  for (int v = 0; v < k_victims; ++v) {
    const auto found = stored.find("victim-" + std::to_string(v));
    if (found == stored.end()) continue;  // killed before its first record
    ++victims_heard;
    const auto& sequences = found->second;
    // One thread writes in order, so what it committed is a prefix 0..n-1: no gap, no
    // repeat. (A record it was writing when killed may be missing at the end.)
    EXPECT_EQ(sequences.begin()->first, 0) << found->first;
    EXPECT_EQ(sequences.rbegin()->first + 1, static_cast<std::int64_t>(sequences.size()))
        << found->first << ": a gap";
    for (const auto& [seq, times] : sequences) {
      ASSERT_EQ(times, 1) << found->first << " seq " << seq;
    }
  }
  EXPECT_GT(victims_heard, k_victims / 2);
}

}  // namespace
}  // namespace logwire
