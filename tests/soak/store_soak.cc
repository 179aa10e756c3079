// store_soak: the store under a sustained load with real processes (issue 5). A broker
// in a private runtime directory takes 10 services x 10,000 records/s of the realistic
// mix through shared memory (`logwire load --mix realistic`; one service is limited below
// its rate, so that the rate limit takes part), while this program
//   - samples the broker's resident memory every second (VmRSS: its heap and the shared
//     memory it maps, the store's record log and the parts of the rings it is reading):
//     it must stay under the memory cap + 64 MiB;
//   - asks the three kinds of query the store promises a latency for (soak_queries.h)
//     and checks each answer, under the load and again once it is over;
//   - at the end, checks that every record logged is accounted for (soak_accounting.h).
// `make soak` runs it for 10 minutes with the latency budgets asserted; `make test` for
// 30 s, with the budgets asserted as --latency relaxed says (check_latency).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "logwire/runtime_dir.h"
#include "soak/process_sampler.h"
#include "soak/soak_accounting.h"
#include "soak/soak_queries.h"
#include "soak/soak_verdict.h"
#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/temp_runtime_dir.h"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using logwire::testing::child_process;
using logwire::testing::fixed;
using logwire::testing::k_query_kind_names;
using logwire::testing::k_query_kinds;

constexpr double k_mib = 1024.0 * 1024.0;
constexpr const char* k_probe_service = "soak-probe";

struct soak_options {
  double seconds = 600;
  unsigned services = 10;
  double rate = 10'000;  // per service
  unsigned threads = 2;  // per service
  std::string memory_cap = "256MiB";
  std::string rss_headroom = "64MiB";
  std::string ring_bytes = "64MiB";  // the producer's default
  double limited_rate = 8'000;       // the last service's rate limit; 0: the broker's default
  std::string latency = "strict";
  double fast_queries = 20;  // per second, of each of request and service
  double text_queries = 2;   // per second
  double report_seconds = 10;
  double quiet_seconds = 5;  // queries after the load
};

std::optional<std::uint64_t> parse_size(std::string text) {
  std::uint64_t unit = 1;
  for (const auto& [suffix, bytes] :
       {std::pair{"GiB", 1ull << 30}, std::pair{"MiB", 1ull << 20}, std::pair{"KiB", 1ull << 10}}) {
    const std::string s = suffix;
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      unit = bytes;
      text.resize(text.size() - s.size());
      break;
    }
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') return std::nullopt;
  return value * unit;
}

std::string service_name(unsigned i) {
  constexpr std::array<const char*, 10> k_names = {
      "api-gateway", "payments", "orders",   "inventory",     "users",
      "cart",        "search",   "shipping", "notifications", "auth"};
  return i < k_names.size() ? k_names[i] : "service-" + std::to_string(i);
}

void print_tail(const std::filesystem::path& file, int lines) {
  std::ifstream in(file);
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    kept.push_back(line);
    if (kept.size() > static_cast<std::size_t>(lines)) kept.erase(kept.begin());
  }
  std::printf("store_soak: the last lines of %s:\n", file.c_str());
  for (const auto& line : kept) std::printf("  %s\n", line.c_str());
}

// The counts of every service, from one observe call that is not timed.
std::optional<std::map<std::string, logwire::testing::service_tally>> fetch_counts(
    logwire::testing::timed_query_client& client, std::string& why) {
  const auto reply = client.observe({{"what", "backend-logs"}, {"limit", 1}}, 10s);
  if (!reply) {
    why = "no reply to the counts query";
    return std::nullopt;
  }
  const auto result = reply->body.find("result");
  if (result == reply->body.end()) {
    why = "the counts query failed: " + reply->body.dump();
    return std::nullopt;
  }
  return logwire::testing::read_counts(*result, why);
}

int run(const soak_options& options) {
  logwire::testing::soak_verdict outcome;
  const auto cap = parse_size(options.memory_cap);
  const auto headroom = parse_size(options.rss_headroom);
  const auto ring_bytes = parse_size(options.ring_bytes);
  if (!cap || !headroom || !ring_bytes) {
    std::fprintf(stderr, "store_soak: a size is a number of bytes, KiB, MiB or GiB\n");
    return 2;
  }
  if (options.limited_rate >= options.rate) {
    std::fprintf(stderr, "store_soak: --limited-rate must be below --rate (or 0)\n");
    return 2;
  }
  const std::uint64_t rss_bound = *cap + *headroom;
  // Under a sanitizer the broker runs several times slower and its memory holds shadow
  // bytes and quarantine: a tenth of the load, and no bound on memory or latency.
  const double load_scale = logwire::testing::k_sanitized ? 0.1 : 1;
  const double rate = options.rate * load_scale;
  const double limited_rate = options.limited_rate * load_scale;
  const auto per_thread = static_cast<std::uint64_t>(rate * options.seconds / options.threads);
  const std::uint64_t logged_per_service = per_thread * options.threads;

  std::vector<std::string> services;
  for (unsigned i = 0; i < options.services; ++i) services.push_back(service_name(i));
  std::printf(
      "store_soak: %u services x %.0f records/s (realistic mix, %u threads each, %s rings) for "
      "%.0f s; memory cap %s, RSS bound %.0f MiB; latency budgets %s\n",
      options.services, rate, options.threads, options.ring_bytes.c_str(), options.seconds,
      options.memory_cap.c_str(), static_cast<double>(rss_bound) / k_mib, options.latency.c_str());

  logwire::testing::temp_runtime_dir runtime;
  const auto dir = logwire::runtime_dir::open(runtime.path());
  if (!dir) {
    std::fprintf(stderr, "store_soak: %s\n", dir.error().message.c_str());
    return 1;
  }
  std::vector<std::string> broker_argv = {logwire::testing::binary_path("logwire-broker"),
                                          "--runtime-dir",
                                          runtime.string(),
                                          "--listen",
                                          "none",
                                          "--memory-cap",
                                          std::to_string(*cap)};
  if (limited_rate > 0 && !services.empty()) {
    // One service over its limit, so that the rate limit takes part in the accounting.
    broker_argv.push_back("--rate-limit");
    broker_argv.push_back(services.back() + "=" + fixed(limited_rate, 0));
    std::printf("store_soak: %s is limited to %.0f records/s\n", services.back().c_str(),
                limited_rate);
  }
  child_process broker(broker_argv, {.stderr_file = runtime.log_file("broker").string()});
  if (!logwire::testing::broker_answers(runtime.path(), 10s)) {
    outcome.check(false, "the broker answers within 10 s");
    print_tail(runtime.log_file("broker"), 20);
    return 1;
  }

  // The probe: a producer that connects, logs nothing and closes (see soak_accounting.h).
  child_process probe({logwire::testing::binary_path("logwire"), "--runtime-dir", runtime.string(),
                       "load", "--service", k_probe_service, "--count", "0", "--mix", "realistic"},
                      {.pipe_stdout = true, .stderr_file = runtime.log_file("probe").string()});
  outcome.check(probe.wait(30s) == 0, "the probe producer ran");

  std::vector<std::unique_ptr<child_process>> producers;
  for (const std::string& service : services) {
    producers.push_back(std::make_unique<child_process>(
        std::vector<std::string>{
            logwire::testing::binary_path("logwire"), "--runtime-dir", runtime.string(), "load",
            "--service", service, "--count", std::to_string(per_thread), "--rate", fixed(rate, 3),
            "--threads", std::to_string(options.threads), "--mix", "realistic", "--ring-bytes",
            std::to_string(*ring_bytes), "--flush-seconds", "30"},
        child_process::options{.pipe_stdout = true,
                               .stderr_file = runtime.log_file("load-" + service).string()}));
  }
  const auto start = clock_type::now();

  logwire::testing::query_loop queries(dir->query_endpoint(),
                                       {.services = services,
                                        .fast_per_second = options.fast_queries,
                                        .text_per_second = options.text_queries});
  std::thread asker([&] { queries.run(); });
  // Stops and joins the asker on every way out of here, an exception included.
  const std::unique_ptr<std::thread, std::function<void(std::thread*)>> asker_guard(
      &asker, [&](std::thread* t) {
        queries.stop();
        if (t->joinable()) t->join();
      });
  logwire::testing::timed_query_client counts_client(dir->query_endpoint());

  // Every second: the broker's memory; every report_seconds: a line of progress.
  logwire::testing::memory_sample peak;
  double peak_at = 0;
  std::optional<double> first_over_at;
  bool broker_gone = false;
  const double cpu_start = logwire::testing::cpu_seconds(broker.pid()).value_or(0);
  double last_report = 0;
  std::uint64_t last_taken = 0;
  const auto deadline = start + std::chrono::duration<double>(options.seconds + 60);
  for (auto next = start + 1s;; next += 1s) {
    std::this_thread::sleep_until(next);
    const double t = std::chrono::duration<double>(clock_type::now() - start).count();
    const auto memory = logwire::testing::sample_memory(broker.pid());
    if (!memory) {
      broker_gone = true;
      break;
    }
    if (memory->rss_bytes > peak.rss_bytes) {
      peak = *memory;
      peak_at = t;
    }
    if (memory->rss_bytes > rss_bound && !first_over_at) first_over_at = t;
    bool running = false;
    for (auto& producer : producers) running |= !producer->wait(0ms).has_value();
    if (t - last_report >= options.report_seconds || !running) {
      std::string why;
      std::uint64_t taken = 0;
      if (const auto counts = fetch_counts(counts_client, why)) {
        for (const auto& [service, tally] : *counts) taken += tally.taken();
      }
      const auto report = queries.report();
      std::printf("store_soak: t=%3.0fs RSS %6.1f MiB (anon %5.1f, shmem %6.1f) stored %6.0f/s", t,
                  memory->rss_bytes / k_mib, memory->anon_bytes / k_mib,
                  memory->shmem_bytes / k_mib, (taken - last_taken) / (t - last_report));
      for (int k = 0; k < k_query_kinds; ++k) {
        std::printf(" | %s p50 %.2f p99 %.2f ms", k_query_kind_names[k],
                    report[k].latency.percentile(50), report[k].latency.percentile(99));
      }
      std::printf("\n");
      std::fflush(stdout);
      last_report = t;
      last_taken = taken;
    }
    if (!running || clock_type::now() > deadline) break;
  }
  const double load_seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  const double broker_cpu =
      logwire::testing::cpu_seconds(broker.pid()).value_or(cpu_start) - cpu_start;
  queries.stop();
  asker.join();

  // The same queries with the load over and the store still full: what the queries cost
  // without producers and ingest competing for the cores and the store's lock. Five times
  // as often, for more samples, since nothing else runs now.
  logwire::testing::query_loop quiet(dir->query_endpoint(),
                                     {.services = services,
                                      .fast_per_second = 5 * options.fast_queries,
                                      .text_per_second = 5 * options.text_queries});
  std::thread quiet_asker([&] { quiet.run(); });
  std::this_thread::sleep_for(std::chrono::duration<double>(options.quiet_seconds));
  quiet.stop();
  quiet_asker.join();

  // Memory.
  outcome.check(!broker_gone, "the broker ran to the end");
  if (broker_gone) print_tail(runtime.log_file("broker"), 20);
  std::printf(
      "store_soak: RSS max %.1f MiB at t=%.0fs (anon %.1f, file %.1f, shmem %.1f); broker CPU "
      "%.0f %% of a core over %.0f s\n",
      peak.rss_bytes / k_mib, peak_at, peak.anon_bytes / k_mib, peak.file_bytes / k_mib,
      peak.shmem_bytes / k_mib, 100 * broker_cpu / load_seconds, load_seconds);
  if (logwire::testing::k_sanitized) {
    std::printf(
        "store_soak: skip RSS bound: under a sanitizer the broker's memory holds shadow bytes "
        "and quarantine\n");
  } else {
    outcome.check(!first_over_at,
                  "RSS sampled every second stayed within cap + headroom = " +
                      fixed(rss_bound / k_mib, 0) + " MiB" +
                      (first_over_at ? " (first over at t=" + fixed(*first_over_at, 0) + "s)"
                                     : std::string()));
  }

  // Producers: each ran to its end and said what it logged and dropped.
  std::map<std::string, logwire::testing::producer_summary> summaries;
  for (std::size_t i = 0; i < producers.size(); ++i) {
    const auto status = producers[i]->wait(0ms);
    if (!status) producers[i]->send_signal(SIGKILL);
    const std::string first = producers[i]->read_line(2s).value_or("");
    const std::string second = producers[i]->read_line(2s).value_or("");
    const std::string third = producers[i]->read_line(2s).value_or("");
    const auto summary = logwire::testing::read_producer_summary(first, second, third);
    outcome.check(status == 0 && summary.has_value(),
                  "producer " + services[i] + " finished: " + first + " / " + second);
    if (summary) summaries[services[i]] = *summary;
  }

  // Queries: every answer fit its question; the latency within what is asserted.
  const auto report = queries.report();
  const auto quiet_report = quiet.report();
  logwire::testing::report_queries("under load", report, outcome);
  logwire::testing::report_queries("after the load, store full", quiet_report, outcome);
  if (logwire::testing::k_sanitized) {
    std::printf("store_soak: skip latency budgets: a sanitizer slows the broker several times\n");
  } else {
    logwire::testing::check_latency(options.latency == "strict", report, quiet_report, outcome);
  }

  // Accounting: wait until the broker has taken in every ring, drop note and rate-limit
  // report, then compare.
  std::printf(
      "store_soak: accounting: the broker counts its notes about a service (connected, closed, "
      "drops, rate-limit reports) in stored/evicted/expired with the records, and evicted notes "
      "cannot be told apart; the probe producer, which logs nothing, shows what a producer's "
      "notes add; services with drops or rate limiting are checked within the notes those "
      "add\n");
  std::string why;
  std::optional<std::map<std::string, logwire::testing::service_tally>> counts;
  std::uint64_t notes_per_producer = 0;
  const auto settled = [&] {
    counts = fetch_counts(counts_client, why);
    if (!counts || !counts->contains(k_probe_service)) return false;
    notes_per_producer = counts->at(k_probe_service).accounted();
    for (const auto& [service, summary] : summaries) {
      const auto found = counts->find(service);
      if (found == counts->end() ||
          found->second.accounted() < logged_per_service + notes_per_producer ||
          found->second.dropped < summary.dropped) {
        return false;
      }
    }
    return true;
  };
  const auto settle_deadline = clock_type::now() + 20s;
  while (!settled() && clock_type::now() < settle_deadline) std::this_thread::sleep_for(250ms);
  // The last rate-limit report is written within a second of the last record limited.
  std::this_thread::sleep_for(2s);
  settled();
  outcome.check(counts.has_value(),
                "observe answers with per-service counts" + (counts ? std::string() : ": " + why));
  std::uint64_t taken_total = 0;
  if (counts) {
    outcome.check(counts->contains(k_probe_service) && notes_per_producer <= 2,
                  "the probe producer, which logs nothing, adds " +
                      std::to_string(notes_per_producer) + " notes (connected, closed) <= 2");
    for (const auto& [service, summary] : summaries) {
      const auto found = counts->find(service);
      outcome.check(found != counts->end(), service + " is in the counts");
      if (found == counts->end()) continue;
      taken_total += found->second.taken();
      const bool limited = limited_rate > 0 && service == services.back();
      for (const auto& check :
           logwire::testing::check_service(service, found->second, summary,
                                           {.logged = logged_per_service,
                                           .notes_per_producer = notes_per_producer,
                                           .seconds = options.seconds,
                                           .longest_seconds = load_seconds,
                                           .rate_limit = limited ? limited_rate : 0})) {
        outcome.check(check.ok, check.what);
      }
    }
  }
  std::printf(
      "store_soak: stored %.0f records/s on average over the %.0f s the producers logged (%llu "
      "taken into the store in all, %.0f logged/s)\n",
      taken_total / options.seconds, options.seconds, static_cast<unsigned long long>(taken_total),
      static_cast<double>(logged_per_service * services.size()) / options.seconds);

  broker.send_signal(SIGTERM);
  const auto broker_status = broker.wait(15s);
  outcome.check(broker_status == 0, "the broker stopped cleanly on SIGTERM");
  if (outcome.failures > 0) print_tail(runtime.log_file("broker"), 30);
  std::printf("store_soak: %s (%d checks failed)\n", outcome.failures == 0 ? "PASSED" : "FAILED",
              outcome.failures);
  return outcome.failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"store_soak: the broker's store under 10 services x 10,000 records/s"};
  soak_options options;
  if (const char* seconds = std::getenv("LOGWIRE_SOAK_SECONDS"))
    options.seconds = std::atof(seconds);
  if (const char* cap = std::getenv("LOGWIRE_SOAK_MEMORY_CAP")) options.memory_cap = cap;
  app.add_option("--seconds", options.seconds, "How long the producers log ($LOGWIRE_SOAK_SECONDS)")
      ->capture_default_str();
  app.add_option("--services", options.services, "Producer processes, one service each")
      ->capture_default_str();
  app.add_option("--rate", options.rate, "Records per second of each service")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "Logging threads of each producer")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--memory-cap", options.memory_cap,
                 "The broker's --memory-cap ($LOGWIRE_SOAK_MEMORY_CAP)")
      ->capture_default_str();
  app.add_option("--rss-headroom", options.rss_headroom, "RSS allowed past the cap")
      ->capture_default_str();
  app.add_option("--ring-bytes", options.ring_bytes, "Each producer's ring")->capture_default_str();
  app.add_option("--limited-rate", options.limited_rate,
                 "Rate limit of the last service, below its rate (0: the default for all)")
      ->capture_default_str();
  app.add_option("--latency", options.latency,
                 "strict: p99 within each budget; relaxed (a short run on a small shared "
                 "machine): p95 within the budget plus one scheduling period")
      ->check(CLI::IsMember({"strict", "relaxed"}))
      ->capture_default_str();
  app.add_option("--queries-per-second", options.fast_queries,
                 "Request and service queries per second, each")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--text-queries-per-second", options.text_queries, "Text queries per second")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--quiet-seconds", options.quiet_seconds,
                 "Seconds of queries after the load, against the full store")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--report-seconds", options.report_seconds, "Seconds between progress lines")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return run(options);
  } catch (const std::exception& e) {
    // Unwound, so that the broker and producers are stopped on the way out.
    std::printf("store_soak: FAILED: %s\n", e.what());
    return 1;
  }
}
