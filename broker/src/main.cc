// logwire-broker: drains the producers' rings into the store, takes remote producers'
// records over ZeroMQ, and answers queries; one instance per runtime directory, until
// SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

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

// Idle drain loop: back off from a short sleep to a longer one while the rings are
// empty, so an idle broker costs next to nothing and a busy one reacts at once.
constexpr auto k_min_idle_sleep = std::chrono::microseconds(50);
constexpr auto k_max_idle_sleep = std::chrono::microseconds(1000);

void drain_loop(logwire::ring_drain& drain, const std::atomic<bool>& stop) {
  auto idle_sleep = k_min_idle_sleep;
  while (!stop.load(std::memory_order_relaxed)) {
    std::size_t moved = 0;
    try {
      moved = drain.poll(logwire::unix_now_ns());
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
  app.set_version_flag("--version", logwire::k_library_version);
  CLI11_PARSE(app, argc, argv);

  // Diagnostics go to stderr; the broker has nothing to say on stdout.
  spdlog::set_default_logger(spdlog::stderr_color_mt("logwire-broker"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ logwire-broker: %v");
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

  auto opened = logwire::store::open(*dir, {}, logwire::unix_now_ns());
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

  logwire::ring_drain drain(*dir, records);
  std::atomic<bool> stop{false};
  std::thread drainer([&] { drain_loop(drain, stop); });
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
  drainer.join();
  spdlog::info("stopped; {} records were in the store", records.size());
  return 0;
}
