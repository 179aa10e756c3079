// logwire-demo-payment: the payment app of `make demo`, on the producer library as
// service api-server. With --serve it is a small web app: a checkout page whose "Submit
// Payment" button posts to POST /api/payments/process, which logs the product spec's
// example (a gateway timeout that ends in a 500) with the request's own IDs. Without it,
// it handles one such request by itself (IDs req-12345 and a fixed traceparent) and exits.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "logwire/producer.h"
#include "logwire/request_scope.h"
#include "payment_flow.h"
#include "payment_server.h"

namespace {

constexpr int k_exit_failure = 1;
constexpr int k_exit_usage = 2;
constexpr std::string_view k_default_broker_origin = "http://127.0.0.1:7719";

int handle_one_payment(logwire::producer& logs) {
  logwire::demo::console out(std::cout);
  const auto scope = logwire::request_scope::from_headers(
      "req-12345", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  logwire::demo::process_payment(logs, {}, out);
  return logs.dropped() == 0 ? 0 : k_exit_failure;
}

}  // namespace

int main(int argc, char** argv) {
  // Stop signals are taken by sigwait() in this thread only, blocked before any thread
  // starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "logwire-demo-payment: the payment demo app (service api-server). With --serve, a "
      "checkout page and POST /api/payments/process, which fails with 500 and logs why; "
      "without, one such request handled at once"};
  std::string runtime_path;
  app.add_option("--runtime-dir", runtime_path, "Runtime directory of the broker to log to");
  std::string serve;
  app.add_option("--serve", serve,
                 "Serve the page and the API on [ADDRESS:]PORT (loopback; port 0 picks one) "
                 "until SIGINT or SIGTERM; the first line on stdout names the page's URL");
  std::string broker_origin{k_default_broker_origin};
  app.add_option("--broker-http", broker_origin,
                 "Origin of the broker's HTTP server, where the page loads logwire.js from; "
                 "'none' for a page without it")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto logs = logwire::producer::open({.service = "api-server", .runtime_dir = runtime_path});
  if (!logs) {
    std::cerr << "logwire-demo-payment: " << logs.error().message << "\n";
    return k_exit_failure;
  }
  if (serve.empty()) return handle_one_payment(*logs);

  auto options = logwire::demo::parse_serve_address(serve);
  if (!options) {
    std::cerr << "logwire-demo-payment: --serve " << options.error().message << "\n";
    return k_exit_usage;
  }
  options->broker_origin = broker_origin == "none" ? std::string() : broker_origin;
  logwire::demo::console out(std::cout);
  auto server = logwire::demo::payment_server::listen(*logs, out, std::move(*options));
  if (!server) {
    std::cerr << "logwire-demo-payment: " << server.error().message << "\n";
    return server.error().code == logwire::errc::invalid_argument ? k_exit_usage : k_exit_failure;
  }
  out.text("logwire-demo-payment: serving the checkout page on " + (*server)->url() + "\n");

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*server)->stop();
  out.text("logwire-demo-payment: stopped\n");
  return 0;
}
