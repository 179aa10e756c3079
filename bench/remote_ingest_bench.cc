// Remote ingest: how many records per second one producer delivers into the broker's store
// over ZeroMQ on loopback TCP, batched into envelopes as the protocol does. The broker runs
// in this process (remote_listener and a store); one thread logs a realistic record (a
// ~150-byte message, a request ID, three fields) as fast as it can, and the time runs
// from the first log call until flush() returns: the broker has acknowledged, so stored,
// the last record. Each repetition has a broker of its own, so its store's pages are
// touched for the first time, as in a broker's first minutes.
//
// The ceiling, measured in the same run: raw ZeroMQ PUSH/PULL over loopback TCP carrying
// the same bytes, one message per record, and batched in messages the size of our
// envelopes (remote::k_batch_bytes). Both ends of every figure share the machine's cores.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "broker_in_process.h"
#include "logwire/producer.h"
#include "logwire/record_encoder.h"
#include "logwire/remote_protocol.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "remote_listener.h"

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t k_records = 1'000'000;
// Everything logged waits in the producer's queue until acknowledged: the queue must hold
// the whole burst, or its oldest records are dropped (and counted) before they are sent.
constexpr std::size_t k_queue_bytes = 1024ull * 1024 * 1024;
constexpr std::uint64_t k_store_bytes = 1024ull * 1024 * 1024;  // holds every record

constexpr std::string_view k_message =
    "Payment capture failed for order 4711: gateway stripe answered 504 Gateway Timeout "
    "after 3 retries (1.2 s); the charge moves to the capture retry queue";
static_assert(k_message.size() >= 145 && k_message.size() <= 155);

// The request ID of record `i`, like an X-Request-ID: "req-" and 16 digits.
struct request_id {
  std::array<char, 20> text{'r', 'e', 'q', '-'};
  std::string_view of(std::uint64_t i) {
    std::fill(text.begin() + 4, text.end(), '0');
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
    std::copy(digits, end, text.end() - (end - digits));
    return {text.data(), text.size()};
  }
};

bool log_one(logwire::producer& logs, request_id& id, std::uint64_t i) {
  return logs.log(
      logwire::level::error, k_message, {.request_id = id.of(i)},
      {{"userId", static_cast<std::int64_t>(i)}, {"paymentId", "pay-99f2c1"}, {"retryable", true}});
}

// The bytes one such record takes: the payload of the raw ZeroMQ references and the
// figure behind MB/s.
std::vector<std::byte> encoded_record() {
  logwire::record_encoder encoder;
  request_id id;
  const std::array<logwire::field, 3> fields{logwire::field("userId", std::int64_t{4711}),
                                             logwire::field("paymentId", "pay-99f2c1"),
                                             logwire::field("retryable", true)};
  const auto bytes = encoder.encode({.severity = logwire::level::error,
                                     .message = k_message,
                                     .context = {.request_id = id.of(4711)},
                                     .fields = fields,
                                     .service = "ingest"},
                                    logwire::unix_now_ns());
  return {bytes.begin(), bytes.end()};
}

std::size_t record_bytes() {
  static const std::size_t size = encoded_record().size();
  return size;
}

// Records per second of every repetition, per benchmark, for the table printed at the end.
std::map<std::string, std::vector<double>> g_rates;

void report(benchmark::State& state, const std::string& name, std::size_t records, double seconds) {
  state.SetIterationTime(seconds);
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.SetBytesProcessed(static_cast<std::int64_t>(records * record_bytes()));
  g_rates[name].push_back(static_cast<double>(records) / seconds);
}

void logwire_remote_ingest(benchmark::State& state) {
  logwire::bench::broker_in_process broker(k_store_bytes);
  auto logs =
      logwire::producer::open(
          {.service = "ingest", .endpoint = broker.endpoint(), .queue_bytes = k_queue_bytes})
          .value();
  request_id id;
  // The session first: connecting is not what is measured.
  log_one(logs, id, 0);
  if (!logs.flush(std::chrono::seconds(10))) {
    state.SkipWithError("the producer did not reach the broker");
    return;
  }
  const std::size_t before = broker.records().size();
  std::uint64_t ring_full = 0;
  for (auto _ : state) {
    const auto start = clock_type::now();
    for (std::uint64_t i = 1; i <= k_records; ++i) {
      // Refused only if the sending thread fell a whole ring behind: wait for it, so that
      // every record is delivered and the figure is a sustained rate.
      while (!log_one(logs, id, i)) {
        ++ring_full;
        std::this_thread::yield();
      }
    }
    const auto logged = clock_type::now();
    const bool flushed = logs.flush(std::chrono::seconds(120));
    const auto stored = clock_type::now();
    if (!flushed) state.SkipWithError("flush timed out");
    const double seconds = std::chrono::duration<double>(stored - start).count();
    report(state, "logwire", k_records, seconds);
    state.counters["log_phase_rec_per_s"] =
        static_cast<double>(k_records) / std::chrono::duration<double>(logged - start).count();
  }
  // Records, plus any note the broker wrote about drops.
  state.counters["stored"] = static_cast<double>(broker.records().size() - before);
  state.counters["ring_full_waits"] = static_cast<double>(ring_full);
  state.counters["dropped"] = static_cast<double>(logs.dropped());
  state.counters["bytes_per_record"] = static_cast<double>(record_bytes());
}

// Raw ZeroMQ: `records_per_message` records' bytes per message, PUSH to PULL over loopback
// TCP, each socket with its own context (and I/O thread) as producer and broker have.
void raw_zeromq(benchmark::State& state, const std::string& name, std::size_t records_per_message) {
  const std::vector<std::byte> record = encoded_record();
  std::vector<std::byte> message;
  for (std::size_t i = 0; i < records_per_message; ++i)
    message.insert(message.end(), record.begin(), record.end());
  const std::size_t messages = k_records / records_per_message;

  zmq::context_t receiving(1);
  zmq::context_t sending(1);
  zmq::socket_t pull(receiving, zmq::socket_type::pull);
  pull.bind("tcp://127.0.0.1:0");
  zmq::socket_t push(sending, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect(pull.get(zmq::sockopt::last_endpoint));
  {  // connected before the clock starts
    push.send(zmq::buffer(message.data(), message.size()), zmq::send_flags::none);
    zmq::message_t first;
    (void)pull.recv(first, zmq::recv_flags::none);
  }
  for (auto _ : state) {
    clock_type::time_point received;
    std::thread receiver([&] {
      std::size_t bytes = 0;
      for (std::size_t i = 0; i < messages; ++i) {
        zmq::message_t in;
        (void)pull.recv(in, zmq::recv_flags::none);
        bytes += in.size();
      }
      received = clock_type::now();
      benchmark::DoNotOptimize(bytes);
    });
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < messages; ++i) {
      // Copied into a ZeroMQ message, as the producer's envelope is.
      push.send(zmq::buffer(message.data(), message.size()), zmq::send_flags::none);
    }
    receiver.join();
    report(state, name, messages * records_per_message,
           std::chrono::duration<double>(received - start).count());
  }
  state.counters["records_per_msg"] = static_cast<double>(records_per_message);
  state.counters["bytes_per_record"] = static_cast<double>(record_bytes());
}

void raw_zeromq_record_per_message(benchmark::State& state) {
  raw_zeromq(state, "raw_per_record", 1);
}

void raw_zeromq_batched(benchmark::State& state) {
  raw_zeromq(state, "raw_batched",
             std::max<std::size_t>(1, logwire::remote::k_batch_bytes / record_bytes()));
}

BENCHMARK(raw_zeromq_record_per_message)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(raw_zeromq_batched)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(logwire_remote_ingest)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void print_summary() {
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const auto ours = g_rates.find("logwire");
  if (ours == g_rates.end() || ours->second.empty()) return;
  const double mb = static_cast<double>(record_bytes()) / 1e6;
  std::printf("\nremote ingest, %zu records of %zu bytes each (median of %zu, min..max):\n",
              k_records, record_bytes(), ours->second.size());
  const std::pair<const char*, const char*> rows[] = {
      {"logwire", "logwire producer -> broker store"},
      {"raw_per_record", "raw ZeroMQ PUSH/PULL, 1 record/message"},
      {"raw_batched", "raw ZeroMQ PUSH/PULL, batched as envelopes"}};
  const double ours_median = median(ours->second);
  for (const auto& [key, label] : rows) {
    const auto found = g_rates.find(key);
    if (found == g_rates.end() || found->second.empty()) continue;
    const auto& rates = found->second;
    const double m = median(rates);
    std::printf("  %-44s %10.0f records/s (%.0f..%.0f) %8.1f MB/s   logwire/this %.2f\n", label, m,
                *std::min_element(rates.begin(), rates.end()),
                *std::max_element(rates.begin(), rates.end()), m * mb, ours_median / m);
  }
  std::printf("  goal: >= 500000 records/s into the store: %s\n",
              ours_median >= 500'000 ? "met" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  // The broker's notes on drops (a ring-full wait counts as one) are counted above.
  spdlog::set_level(spdlog::level::err);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
