// logwire-broker: drains the producers' rings into the store, takes remote producers'
// records over ZeroMQ, browser events and WebSocket backends over HTTP, and answers queries;
// one instance per runtime directory, until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "broker_options.h"
#include "http_browser_events.h"
#include "http_server.h"
#include "instance_lock.h"
#include "logwire/remote_protocol.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "logwire/version.h"
#include "query_server.h"
#include "remote_listener.h"
#include "ring_drain.h"

namespace {

constexpr int k_exit_usage = 2;
constexpr int k_exit_already_running = 3;
constexpr int k_exit_failure = 1;
constexpr std::uint64_t k_min_memory_cap = 16ull << 20;

// Idle drain loop: back off from a short sleep to a longer one while the rings are
// empty, so an idle broker costs next to nothing and a busy one reacts at once.
constexpr auto k_min_idle_sleep = std::chrono::microseconds(50);
constexpr auto k_max_idle_sleep = std::chrono::microseconds(1000);

// The store expires records, writes rate-limit markers and ages its dedup window this
// often, whether or not records arrive.
constexpr std::int64_t k_maintain_interval_ns = 100'000'000;

void drain_loop(logwire::ring_drain& drain, logwire::store& records,
                const std::atomic<bool>& stop) {
  auto idle_sleep = k_min_idle_sleep;
  std::int64_t next_maintain_ns = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    std::size_t moved = 0;
    try {
      const std::int64_t now_ns = logwire::unix_now_ns();
      if (now_ns >= next_maintain_ns) {
        records.maintain(now_ns);
        next_maintain_ns = now_ns + k_maintain_interval_ns;
      }
      moved = drain.poll(now_ns);
    } catch (const std::exception& e) {
      // One bad poll (out of memory, a vanished file) must not end the drain for all.
      spdlog::error("drain: {}", e.what());
    }
    if (moved > 0) {
      idle_sleep = k_min_idle_sleep;
      continue;
    }
    std::this_thread::sleep_for(idle_sleep);
    idle_sleep = std::min(idle_sleep * 2, k_max_idle_sleep);
  }
  // Take what is already in the rings before stopping; producers keep the rest.
  try {
    drain.poll(logwire::unix_now_ns());
  } catch (const std::exception& e) {
    spdlog::error("drain: {}", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Stop signals are taken by sigwait() in this thread only: blocked before anything else,
  // so one that arrives while the broker is still starting stops it cleanly too.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "logwire-broker: collects backend logs from shared-memory rings and ZeroMQ and answers "
      "the agent's queries"};
  std::string runtime_path;
  app.add_option("--runtime-dir", runtime_path,
                 "Runtime directory (default $LOGWIRE_RUNTIME_DIR, $XDG_RUNTIME_DIR/logwire or "
                 "/tmp/logwire-$UID)");
  std::string listen{logwire::remote::k_default_listen};
  const CLI::Option* listen_option = app.add_option(
      "--listen", listen,
      "ZeroMQ endpoint for remote producers (default tcp://127.0.0.1:7717; port 0 picks one; "
      "'none' to take none). An address beyond loopback lets any host that reaches it send "
      "logs");
  std::string memory_cap = "256MiB";
  app.add_option("--memory-cap", memory_cap,
                 "Most memory the store takes, records and indexes together; the oldest records "
                 "are evicted first (bytes, or with KiB, MiB, GiB)")
      ->capture_default_str();
  std::string retention = "1h";
  app.add_option("--retention", retention, "How long records are kept (e.g. 30m, 1h, 1d)")
      ->capture_default_str();
  std::string dedup_window = "2s";
  app.add_option("--dedup-window", dedup_window,
                 "A record identical to one stored this recently (timestamps aside) is counted "
                 "as a repeat of it, not stored again; 0 turns this off")
      ->capture_default_str();
  std::vector<std::string> rate_limit_values;
  app.add_option("--rate-limit", rate_limit_values,
                 "Records per second per service: N for every service (default 10000), "
                 "SERVICE=N for one; 0 for no limit. Repeatable")
      ->allow_extra_args(false);
  double rate_burst = 2;
  app.add_option("--rate-burst", rate_burst,
                 "Seconds of its rate a service may send at once before the limit applies")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  std::string http{logwire::k_broker_http_default};
  const CLI::Option* http_option =
      app.add_option("--http", http,
                     "Loopback ADDRESS:PORT for browser events, /logwire.js and WebSocket "
                     "backends (default 127.0.0.1:7719; port 0 picks one; 'none' for no HTTP)");
  std::vector<std::string> http_origins;
  app.add_option("--http-allow-origin", http_origins,
                 "An Origin whose pages may send events (e.g. https://app.example.test, or "
                 "http://devbox:* for any port); replaces the default local origins "
                 "http://localhost:*, http://127.0.0.1:*, http://[::1]:*. Repeatable")
      ->allow_extra_args(false);
  app.set_version_flag("--version", logwire::k_library_version);
  CLI11_PARSE(app, argc, argv);

  // Diagnostics go to stderr; the broker has nothing to say on stdout.
  spdlog::set_default_logger(spdlog::stderr_color_mt("logwire-broker"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ logwire-broker: %v");
  logwire::store_options store_options;
  {
    const auto cap = logwire::parse_byte_size(memory_cap);
    const auto keep = logwire::parse_duration_ns(retention);
    const auto window = dedup_window == "0" ? logwire::result<std::int64_t>(0)
                                            : logwire::parse_duration_ns(dedup_window);
    store_options.rate.burst_seconds = rate_burst;
    const auto limits = logwire::apply_rate_limits(rate_limit_values, store_options.rate);
    std::string problem;
    if (!cap) {
      problem = "--memory-cap: " + cap.error().message;
    } else if (*cap < k_min_memory_cap || *cap > logwire::k_log_max_capacity) {
      problem = "--memory-cap must be from 16MiB to 8GiB";
    } else if (!keep || *keep <= 0) {
      problem = "--retention '" + retention + "': use a duration such as 30m, 1h or 1d";
    } else if (!window || *window < 0) {
      problem = "--dedup-window '" + dedup_window + "': use a duration such as 2s or 500ms, or 0";
    } else if (!limits) {
      problem = limits.error().message;
    }
    if (!problem.empty()) {
      spdlog::error("{}", problem);
      return k_exit_usage;
    }
    store_options.memory_cap_bytes = *cap;
    store_options.retention_ns = *keep;
    store_options.dedup_window_ns = *window;
  }
  auto dir = logwire::runtime_dir::open(runtime_path);
  if (!dir) {
    spdlog::error("{}", dir.error().message);
    return k_exit_usage;
  }
  auto lock = logwire::instance_lock::acquire(dir->lock_file());
  if (!lock) {
    spdlog::error("{}", lock.error().message);
    return lock.error().code == logwire::errc::already_running ? k_exit_already_running
                                                               : k_exit_failure;
  }

  auto opened = logwire::store::open(*dir, store_options, logwire::unix_now_ns());
  if (!opened) {
    spdlog::error("{}", opened.error().message);
    return k_exit_failure;
  }
  logwire::store& records = **opened;
  if (records.recovered())
    spdlog::info("recovered {} records from the previous broker", records.size());
  auto server = logwire::query_server::bind(*dir, records);
  if (!server) {
    spdlog::error("{}", server.error().message);
    return k_exit_failure;
  }
  // The default port is a convenience: if another broker (another runtime directory)
  // holds it, this one runs without remote producers. A port asked for must be had.
  std::optional<logwire::remote_listener> remote;
  if (listen != "none") {
    auto bound = logwire::remote_listener::bind(listen, records);
    if (!bound) {
      if (listen_option->count() > 0) {
        spdlog::error("{}", bound.error().message);
        return k_exit_failure;
      }
      spdlog::warn("{}; remote producers cannot connect (use --listen)", bound.error().message);
    } else {
      remote.emplace(std::move(*bound));
      if (!logwire::loopback_endpoint(remote->endpoint())) {
        spdlog::warn(
            "listening for producers on {}, beyond loopback: any host that reaches it can send "
            "logs",
            remote->endpoint());
      }
    }
  }

  // HTTP: the default port is a convenience, as for --listen; a port asked for must be had.
  logwire::frontend_ingest browser_events(records.frontend());
  std::optional<logwire::http_server> http_server;
  if (http != "none") {
    auto options = logwire::parse_http_address(http);
    if (!options) {
      spdlog::error("--http {}", options.error().message);
      return k_exit_usage;
    }
    for (const std::string& origin : http_origins) {
      if (!origin.starts_with("http://") && !origin.starts_with("https://")) {
        spdlog::error(
            "--http-allow-origin '{}': an origin is a scheme, a host and maybe a port, e.g. "
            "http://localhost:3000, https://app.example.test or http://devbox:* (any port)",
            origin);
        return k_exit_usage;
      }
    }
    if (!http_origins.empty()) options->allowed_origins = http_origins;
    auto serving = logwire::http_server::listen(std::move(*options), browser_events, records);
    if (!serving) {
      if (http_option->count() > 0 || serving.error().code == logwire::errc::invalid_argument) {
        spdlog::error("{}", serving.error().message);
        return serving.error().code == logwire::errc::invalid_argument ? k_exit_usage
                                                                       : k_exit_failure;
      }
      spdlog::warn("{}; browsers and WebSocket backends cannot connect (use --http)",
                   serving.error().message);
    } else {
      http_server.emplace(std::move(*serving));
      spdlog::info("http: serving on {}", http_server->url());
    }
  }

  logwire::ring_drain drain(*dir, records);
  std::atomic<bool> stop{false};
  std::thread drainer([&] { drain_loop(drain, records, stop); });
  std::thread answerer([&] { server->serve(stop); });
  std::thread listener;
  if (remote) listener = std::thread([&] { remote->serve(stop); });
  spdlog::info("ready: runtime dir {}, queries on {}, producers on {}", dir->path().string(),
               dir->query_endpoint(),
               remote ? remote->endpoint() : std::string("shared memory only"));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("stopping on {}", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  stop.store(true);
  answerer.join();
  if (listener.joinable()) listener.join();
  if (http_server) http_server->stop();
  drainer.join();
  spdlog::info("stopped; {} records were in the store", records.size());
  return 0;
}
