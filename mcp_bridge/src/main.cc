// logwire-mcp: the MCP server an agent starts on stdio. Everything on stdout is protocol;
// diagnostics go to stderr, which MCP clients keep as the server's log.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <string>

#include "broker_launcher.h"
#include "logwire/http_transport.h"
#include "logwire/mcp_server.h"
#include "logwire/observe_backend.h"
#include "logwire/runtime_dir.h"
#include "logwire/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "logwire-mcp: lets an AI coding agent read a backend's logs through MCP on stdio.\n"
      "Start it from the agent's MCP configuration; it answers the observe tool by asking "
      "the logwire broker of the runtime directory."};
  std::string requested_dir;
  app.add_option("--runtime-dir", requested_dir,
                 "Runtime directory of the logwire instance to query (default: "
                 "$LOGWIRE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/logwire, else /tmp/logwire-$UID)");
  std::string http_listen;
  app.add_option("--http", http_listen,
                 "Serve MCP over Streamable HTTP at http://ADDRESS:PORT/mcp instead of stdio; "
                 "ADDRESS is loopback only (127.0.0.1, ::1 or localhost; default 127.0.0.1), "
                 "port 0 picks a free one")
      ->type_name("[ADDRESS:]PORT");
  std::vector<std::string> http_origins;
  app.add_option("--http-allow-origin", http_origins,
                 "With --http: an Origin a browser page may call from, e.g. "
                 "http://localhost:6274 or https://app.example:* (repeatable; replaces the "
                 "default http://localhost:*, http://127.0.0.1:*, http://[::1]:*)");
  bool no_start_broker = false;
  app.add_flag("--no-start-broker", no_start_broker,
               "Do not start logwire-broker when none runs for the runtime dir (by default one "
               "is started, detached, and outlives this bridge)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints to stdout and exits 0; a usage error is reported on stderr.
    return app.exit(e) == 0 ? 0 : 2;
  }

  // With --http the process waits for SIGINT/SIGTERM in sigwait(): blocked before any
  // thread starts (ZeroMQ's, the transport's), so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (!http_listen.empty()) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto dir = logwire::runtime_dir::open(requested_dir);
  if (!dir) {
    std::cerr << "logwire-mcp: " << dir.error().message << "\n";
    return 2;
  }

  // A client that closes our stdout should end us through a failed write, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  // Buffered stdin: the capped line reader reads one character at a time.
  std::ios::sync_with_stdio(false);

  logwire::broker_backend_options options;
  if (!no_start_broker) {
    options.broker_binary = logwire::broker_launcher::find_broker();
    if (options.broker_binary.empty()) {
      std::cerr << "logwire-mcp: logwire-broker is neither beside this program nor on PATH; "
                   "start a broker yourself\n";
    }
  }
  logwire::broker_observe_backend backend(*dir, std::move(options));
  backend.start_broker_if_absent();
  logwire::mcp_server server(backend);
  if (!http_listen.empty()) {
    auto options = logwire::parse_http_listen(http_listen);
    if (!options) {
      std::cerr << "logwire-mcp: --http " << options.error().message << "\n";
      return 2;
    }
    if (!http_origins.empty()) options->allowed_origins = http_origins;
    auto transport = logwire::http_transport::listen(server, std::move(*options));
    if (!transport) {
      std::cerr << "logwire-mcp: --http: " << transport.error().message << "\n";
      return 2;
    }
    std::cerr << "logwire-mcp " << logwire::k_library_version << ": serving MCP at "
              << transport->url() << " for " << dir->path().string() << "\n";
    int received = 0;
    sigwait(&stop_signals, &received);
    transport->stop();
    return 0;
  }
  std::cerr << "logwire-mcp " << logwire::k_library_version << ": serving MCP on stdio for "
            << dir->path().string() << "\n";
  if (!logwire::serve_lines(server, std::cin, std::cout)) {
    std::cerr << "logwire-mcp: stdout closed; stopping\n";
    return 1;
  }
  return 0;
}
