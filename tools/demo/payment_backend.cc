// logwire-demo-payment: a stand-in backend that handles one payment request the way the
// product spec's example does (a gateway timeout that ends in a 500) and logs it through
// the producer library.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "logwire/producer.h"

int main(int argc, char** argv) {
  CLI::App app{"logwire-demo-payment: logs the payment example as api-server"};
  std::string runtime_path;
  app.add_option("--runtime-dir", runtime_path, "Runtime directory of the broker to log to");
  CLI11_PARSE(app, argc, argv);

  auto logs = logwire::producer::open({.service = "api-server", .runtime_dir = runtime_path});
  if (!logs) {
    std::cerr << "logwire-demo-payment: " << logs.error().message << "\n";
    return 1;
  }
  using logwire::level;
  using namespace std::chrono_literals;
  const logwire::log_context request{
      .request_id = "req-12345",
      .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
  logwire::log_context gateway_call = request;
  gateway_call.span_id = "span-789";
  gateway_call.stack_trace =
      "PaymentGatewayTimeout: no answer from gateway within 5000 ms\n"
      "  at gateway_client::charge (gateway_client.cc:88)\n"
      "  at payment_service::process (payment_service.cc:41)\n"
      "  at api::payments_process (routes.cc:120)";

  // Shown on stdout as well, so the demo can show what the backend said.
  const auto log = [&](logwire::level severity, std::string_view message,
                       const logwire::log_context& context,
                       std::initializer_list<logwire::field> fields) {
    std::cout << "  " << logwire::level_name(severity)
              << std::string(6 - logwire::level_name(severity).size(), ' ') << message << "  ("
              << context.request_id << (context.span_id.empty() ? "" : ", ") << context.span_id
              << ")\n";
    logs->log(severity, message, context, fields);
  };
  log(level::info, "POST /api/payments/process", request,
      {{"method", "POST"}, {"path", "/api/payments/process"}});
  std::this_thread::sleep_for(100ms);
  log(level::debug, "User 987 processing payment", request,
      {{"userId", 987}, {"paymentId", "pay-99"}, {"amount", 49.99}});
  std::this_thread::sleep_for(50ms);
  log(level::error, "Payment gateway timeout", gateway_call,
      {{"gateway", "stripe"}, {"timeoutMs", 5000}, {"retryable", true}});
  std::this_thread::sleep_for(50ms);
  log(level::error, "Returning 500 to client", request, {{"status", 500}});
  return logs->dropped() == 0 ? 0 : 1;
}
