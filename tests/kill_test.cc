// Crash safety with real processes and SIGKILL at random moments: a broker killed and
// restarted while producers stream, and producers killed while the broker drains. What
// is checked afterwards is the store itself, opened from the runtime directory.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/ring_contents.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using namespace std::chrono_literals;
using testing::binary_path;
using testing::child_process;
using testing::wait_for;

using testing::k_sanitized;

class kill_test : public ::testing::Test {
 protected:
  std::unique_ptr<child_process> start_broker() {
    auto broker = std::make_unique<child_process>(
        // The load outruns the per-service rate limit on purpose; what is checked here is
        // delivery, so the limit is off.
        std::vector<std::string>{binary_path("logwire-broker"), "--runtime-dir", runtime_.string(),
                                 "--rate-limit", "0"},
        child_process::options{.stderr_file = runtime_.log_file("broker").string()});
    EXPECT_TRUE(testing::broker_answers(runtime_.path(), 10s));
    return broker;
  }

  std::unique_ptr<child_process> start_load(const std::string& service, std::uint64_t count,
                                            int rate, int threads = 1,
                                            std::size_t ring_bytes = 64 << 20) {
    return std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire"), "--runtime-dir", runtime_.string(), "load",
                                 "--service", service, "--count", std::to_string(count), "--rate",
                                 std::to_string(rate), "--threads", std::to_string(threads),
                                 "--ring-bytes", std::to_string(ring_bytes)},
        child_process::options{.pipe_stdout = true,
                               .stderr_file = runtime_.log_file("load").string()});
  }

  bool rings_registered() {
    const auto dir = runtime_dir::open(runtime_.path()).value();
    return !std::filesystem::is_empty(dir.rings_dir());
  }

  // Stored records per service and logging thread: seq -> how often it was stored.
  using sequences = std::map<std::int64_t, int>;
  std::map<std::string, std::map<std::int64_t, sequences>> stored_sequences() {
    const auto dir = runtime_dir::open(runtime_.path()).value();
    auto records = store::open(dir, {}, unix_now_ns()).value();
    std::map<std::string, std::map<std::int64_t, sequences>> out;
    for (const auto& record : records->query({.limit = 100'000'000}).value().logs) {
      std::optional<std::int64_t> seq, thread;
      for (const auto& [key, value] : record.fields) {
        if (key == "seq") seq = std::get<std::int64_t>(value);
        if (key == "thread") thread = std::get<std::int64_t>(value);
      }
      // A record stored twice would be folded by the burst dedup: its repeats count.
      if (seq && thread)
        out[record.service][*thread][*seq] += static_cast<int>(record.repeat_count);
    }
    return out;
  }

  // The segment name of the ring a producer process registered, if any.
  std::optional<std::string> ring_of(pid_t pid) {
    const auto dir = runtime_dir::open(runtime_.path()).value();
    const std::string prefix = dir.shm_prefix() + std::to_string(pid) + "-";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir.rings_dir(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0) return name;
    }
    return std::nullopt;
  }

  testing::temp_runtime_dir runtime_;
  std::mt19937 random_{std::random_device{}()};
};

TEST_F(kill_test, a_broker_killed_and_restarted_twenty_times_loses_and_repeats_nothing) {
  // Fast producers and short broker lives, so kills land between taking a batch into the
  // store and handing its ring space back; now and then a long outage, so a restarted
  // broker finds a deep backlog.
  constexpr int k_producers = 4;
  constexpr int k_threads = 2;
  constexpr int k_kills = 30;
  const std::uint64_t count = k_sanitized ? 8000 : 60000;  // per thread
  const int rate = k_sanitized ? 8000 : 40000;             // per producer

  auto broker = start_broker();
  std::vector<std::unique_ptr<child_process>> producers;
  for (int p = 0; p < k_producers; ++p) {
    producers.push_back(start_load("load-" + std::to_string(p), count, rate, k_threads));
  }
  std::uniform_int_distribution<int> run_ms(5, 60);
  std::uniform_int_distribution<int> catch_up_ms(0, 10);
  std::uniform_int_distribution<int> down_ms(0, 50);
  std::uniform_int_distribution<int> long_outage(0, 2);
  bool backlog = false;
  for (int kill = 0; kill < k_kills; ++kill) {
    // After a long outage the restarted broker is busy with the backlog: kill it then.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(backlog ? catch_up_ms(random_) : run_ms(random_)));
    broker->send_signal(SIGKILL);
    ASSERT_TRUE(broker->wait(5s));
    backlog = long_outage(random_) == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(backlog ? 300 : down_ms(random_)));
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
    const std::string service = "load-" + std::to_string(p);
    ASSERT_TRUE(stored.contains(service)) << service;
    for (int t = 0; t < k_threads; ++t) {
      ASSERT_TRUE(stored.at(service).contains(t)) << service << " thread " << t;
      const sequences& seqs = stored.at(service).at(t);
      EXPECT_EQ(seqs.size(), count) << service << " thread " << t << ": every seq";
      int repeated = 0;
      for (const auto& [seq, times] : seqs) repeated += times != 1;
      EXPECT_EQ(repeated, 0) << service << " thread " << t << ": none twice";
    }
  }
}

TEST_F(kill_test, producers_killed_fifty_times_never_stop_the_drain_and_lose_no_committed_record) {
  constexpr int k_victims = 50;
  constexpr int k_victim_threads = 4;
  const std::uint64_t steady_count = k_sanitized ? 3000 : 10000;
  auto broker = start_broker();
  auto steady = start_load("steady", steady_count, k_sanitized ? 500 : 2000);

  // What each victim had committed and the broker had not yet taken when it died: read
  // from its ring while the broker is stopped. All of it must reach the store.
  std::map<std::string, std::set<std::pair<std::int64_t, std::int64_t>>> committed;
  std::uniform_int_distribution<int> live_ms(10, 120);
  for (int v = 0; v < k_victims; ++v) {
    const std::string service = "victim-" + std::to_string(v);
    auto victim =
        start_load(service, 1'000'000, k_sanitized ? 8000 : 40000, k_victim_threads, 4 << 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(live_ms(random_)));
    broker->send_signal(SIGSTOP);
    victim->send_signal(SIGKILL);
    ASSERT_TRUE(victim->wait(5s));
    if (const auto ring = ring_of(victim->pid())) {
      for (const auto& record : testing::snapshot_ring(*ring)) {
        std::int64_t seq = -1, thread = -1;
        if (record->fields() == nullptr) continue;
        for (const auto* f : *record->fields()) {
          if (f->key()->string_view() == "seq") seq = f->int_value();
          if (f->key()->string_view() == "thread") thread = f->int_value();
        }
        committed[service].insert({thread, seq});
      }
    }
    broker->send_signal(SIGCONT);
  }
  EXPECT_EQ(steady->wait(120s), 0);
  // A killed producer's ring is reclaimed once drained and its heartbeat has stopped.
  ASSERT_TRUE(wait_for([&] { return !rings_registered(); }, 30s)) << "every ring reclaimed";
  EXPECT_FALSE(broker->wait(0ms)) << "the broker kept running";
  broker->send_signal(SIGTERM);
  ASSERT_EQ(broker->wait(10s), 0);

  const auto stored = stored_sequences();
  ASSERT_TRUE(stored.contains("steady"));
  EXPECT_EQ(stored.at("steady").at(0).size(), steady_count) << "the steady producer lost nothing";
  std::size_t checked = 0;
  for (const auto& [service, records] : committed) {
    for (const auto& [thread, seq] : records) {
      ++checked;
      const auto in_store = stored.find(service);
      ASSERT_TRUE(in_store != stored.end() && in_store->second.contains(thread) &&
                  in_store->second.at(thread).contains(seq))
          << service << " thread " << thread << " seq " << seq << " was committed, not stored";
    }
  }
  EXPECT_GT(checked, 0u) << "some victims died with records still in their rings";
  for (const auto& [service, threads] : stored) {
    if (service.rfind("victim-", 0) != 0) continue;
    for (const auto& [thread, seqs] : threads) {
      // Each thread writes in order: what reached the store is a prefix, no gap, no repeat.
      EXPECT_EQ(seqs.begin()->first, 0) << service << " thread " << thread;
      EXPECT_EQ(seqs.rbegin()->first + 1, static_cast<std::int64_t>(seqs.size()))
          << service << " thread " << thread << ": a gap";
      for (const auto& [seq, times] : seqs) ASSERT_EQ(times, 1) << service << " seq " << seq;
    }
  }
}

}  // namespace
}  // namespace logwire
