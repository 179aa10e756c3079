// Browser event ingest over the broker's WebSocket: how many events per second one page's
// connection delivers into the frontend store, batched as logwire.js batches them. The
// broker's HTTP server runs in this process (http_server, its own thread, and a store); one
// client thread sends batches of a realistic mix (requests with traceparents, clicks,
// console errors; about 330 bytes of JSON an event) with up to 8 batches unacknowledged,
// and the time runs from the first send until the last acknowledgement: the broker has
// decoded and stored every event. The batches are serialized before the clock starts: that
// is the page's work, not the broker's.
//
// The reference, measured in the same run: the same batches decoded and inserted straight
// into a frontend store, with no socket, no server and no JSON reply: what the WebSocket
// path costs on top.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "http_browser_events.h"
#include "http_server.h"
#include "http_test_client.h"  // first: it silences GCC's TSan warning about Asio's fences
#include "logwire/frontend_event.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"

namespace {

using clock_type = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::size_t k_events = 200'000;
constexpr int k_window = 8;  // batches sent ahead of their acknowledgements
// Holds every event of a repetition: the figure is ingest, not eviction.
constexpr std::uint64_t k_frontend_bytes = 1024ull * 1024 * 1024;

// Event `i` of the mix: 6 requests, 3 clicks and 1 console error in 10.
json event(std::uint64_t i, double now_ms) {
  const double timestamp = now_ms + static_cast<double>(i) * 0.25;
  char traceparent[64];
  std::snprintf(traceparent, sizeof traceparent, "00-%032llx-%016llx-01",
                static_cast<unsigned long long>(0x4bf92f3577b34da6ull + i),
                static_cast<unsigned long long>(0x00f067aa0ba902b7ull + i));
  switch (i % 10) {
    case 6:
    case 7:
    case 8:
      return {{"kind", "action"},
              {"timestamp", timestamp},
              {"action", "click"},
              {"selector", "form#checkout > button#pay.btn.btn-primary"},
              {"text", "Submit Payment"}};
    case 9:
      return {{"kind", "console"},
              {"timestamp", timestamp},
              {"level", "error"},
              {"message", "Payment failed: HTTP 500 from /api/payments/process (req-" +
                              std::to_string(i) + "); the user was shown a retry button"}};
    default:
      return {{"kind", "request"},
              {"timestamp", timestamp},
              {"method", "POST"},
              {"url", "http://localhost:3000/api/payments/process?cart=4711&currency=EUR"},
              {"status", 500},
              {"durationMs", 35.5},
              {"requestId", "req-5f2c9a-" + std::to_string(i)},
              {"traceparent", traceparent},
              {"initiator", "fetch"}};
  }
}

// The batches of `events_per_batch` events of page `page` that make k_events.
std::vector<std::string> batches(const std::string& page, std::size_t events_per_batch) {
  const double now_ms = static_cast<double>(logwire::unix_now_ns()) / 1e6;
  std::vector<std::string> out;
  for (std::uint64_t first = 0; first < k_events; first += events_per_batch) {
    json events = json::array();
    for (std::uint64_t i = first; i < std::min<std::uint64_t>(first + events_per_batch, k_events);
         ++i) {
      events.push_back(event(i, now_ms));
    }
    out.push_back(json{{"v", 1},
                       {"page", {{"id", page}, {"url", "http://localhost:3000/checkout"}}},
                       {"seq", first},
                       {"events", std::move(events)}}
                      .dump());
  }
  return out;
}

double bytes_per_event(const std::vector<std::string>& sent) {
  std::size_t bytes = 0;
  for (const auto& b : sent) bytes += b.size();
  return static_cast<double>(bytes) / static_cast<double>(k_events);
}

// A store on a private runtime directory, removed when done.
class scratch_store {
 public:
  scratch_store() {
    char pattern[] = "/tmp/lw-bench-XXXXXX";
    root_ = ::mkdtemp(pattern);
    dir_.emplace(logwire::runtime_dir::open(root_ / "rt").value());
    store_ =
        logwire::store::open(
            *dir_, {.memory_cap_bytes = 16ull << 20, .frontend_memory_cap_bytes = k_frontend_bytes},
            logwire::unix_now_ns())
            .value();
  }
  ~scratch_store() {
    store_.reset();
    dir_->remove_shared_memory();
    std::filesystem::remove_all(root_);
  }
  scratch_store(const scratch_store&) = delete;
  scratch_store& operator=(const scratch_store&) = delete;

  logwire::store& records() { return *store_; }

 private:
  std::filesystem::path root_;
  std::optional<logwire::runtime_dir> dir_;
  std::unique_ptr<logwire::store> store_;
};

// Events per second of every repetition, per benchmark, for the table printed at the end.
std::map<std::string, std::vector<double>> g_rates;
double g_bytes_per_event = 0;

void report(benchmark::State& state, const std::string& name, double seconds, double bytes) {
  state.SetIterationTime(seconds);
  state.SetItemsProcessed(static_cast<std::int64_t>(k_events));
  state.counters["events_per_batch"] = static_cast<double>(state.range(0));
  state.counters["bytes_per_event"] = bytes;
  g_rates[name + "/" + std::to_string(state.range(0))].push_back(static_cast<double>(k_events) /
                                                                 seconds);
  g_bytes_per_event = bytes;
}

void websocket_ingest(benchmark::State& state) {
  const auto per_batch = static_cast<std::size_t>(state.range(0));
  scratch_store scratch;
  logwire::frontend_ingest ingest(scratch.records().frontend());
  auto server =
      logwire::http_server::listen({.address = "127.0.0.1", .port = 0}, ingest, scratch.records())
          .value();
  int repetition = 0;
  for (auto _ : state) {
    const auto sent = batches("pg-ws-" + std::to_string(++repetition), per_batch);
    logwire::testing::ws_client client(server.port(), "/events",
                                       {.origin = "http://localhost:3000"});
    if (!client.open()) {
      state.SkipWithError("cannot open the WebSocket");
      return;
    }
    const auto taken_before = scratch.records().frontend().counts().taken;
    const auto start = clock_type::now();
    std::size_t next = 0;
    std::size_t acknowledged = 0;
    bool failed = false;
    while (acknowledged < sent.size() && !failed) {
      if (next < sent.size() && next - acknowledged < k_window) {
        failed = !client.send(sent[next++]);
        continue;
      }
      const auto reply = client.read();
      failed = !reply || reply->find("\"ack\"") == std::string::npos;
      ++acknowledged;
    }
    const auto done = clock_type::now();
    if (failed) {
      state.SkipWithError("the WebSocket failed or refused a batch");
      return;
    }
    client.close();
    const auto taken = scratch.records().frontend().counts().taken - taken_before;
    if (taken != k_events) {
      state.SkipWithError("not every event was stored");
      return;
    }
    report(state, "websocket", std::chrono::duration<double>(done - start).count(),
           bytes_per_event(sent));
  }
}

void in_process_reference(benchmark::State& state) {
  const auto per_batch = static_cast<std::size_t>(state.range(0));
  scratch_store scratch;
  logwire::frontend_store& events = scratch.records().frontend();
  int repetition = 0;
  for (auto _ : state) {
    const auto sent = batches("pg-direct-" + std::to_string(++repetition), per_batch);
    const auto start = clock_type::now();
    std::size_t stored = 0;
    for (const std::string& text : sent) {
      const std::int64_t now = logwire::unix_now_ns();
      auto batch = logwire::decode_frontend_batch(text, now);
      if (!batch) {
        state.SkipWithError("a batch did not decode");
        return;
      }
      stored += events.insert(std::move(*batch), now).stored;
    }
    const auto done = clock_type::now();
    if (stored != k_events) {
      state.SkipWithError("not every event was stored");
      return;
    }
    report(state, "in_process", std::chrono::duration<double>(done - start).count(),
           bytes_per_event(sent));
  }
}

BENCHMARK(in_process_reference)
    ->Arg(25)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(websocket_ingest)
    ->Arg(1)
    ->Arg(25)
    ->Arg(100)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void print_summary() {
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "\nbrowser event ingest, %zu events of %.0f bytes of JSON each (median of 3, "
      "min..max):\n",
      k_events, g_bytes_per_event);
  const std::pair<const char*, const char*> rows[] = {
      {"websocket/1", "WebSocket, 1 event per batch"},
      {"websocket/25", "WebSocket, 25 events per batch"},
      {"websocket/100", "WebSocket, 100 events per batch"},
      {"in_process/25", "decode + insert in process, 25 per batch"}};
  for (const auto& [key, label] : rows) {
    const auto found = g_rates.find(key);
    if (found == g_rates.end() || found->second.empty()) continue;
    const auto& rates = found->second;
    std::printf("  %-44s %10.0f events/s (%.0f..%.0f)\n", label, median(rates),
                *std::min_element(rates.begin(), rates.end()),
                *std::max_element(rates.begin(), rates.end()));
  }
  const auto goal = g_rates.find("websocket/25");
  if (goal != g_rates.end() && !goal->second.empty()) {
    std::printf("  goal: >= 50000 events/s over the WebSocket (25 per batch): %s\n",
                median(goal->second) >= 50'000 ? "met" : "MISSED");
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
