#include "payment_flow.h"

#include <chrono>
#include <thread>

#include "logwire/request_scope.h"

namespace logwire::demo {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view k_gateway_stack =
    "PaymentGatewayTimeout: no answer from gateway within 5000 ms\n"
    "  at gateway_client::charge (gateway_client.cc:88)\n"
    "  at payment_service::process (payment_service.cc:41)\n"
    "  at api::payments_process (routes.cc:120)";

}  // namespace

void console::line(level severity, std::string_view message, const log_context& ids) {
  const std::string_view name = level_name(severity);
  std::string shown =
      "  " + std::string(name) + std::string(name.size() < 6 ? 6 - name.size() : 1, ' ');
  shown += message;
  shown += "  (";
  shown += ids.request_id.empty() ? std::string_view("no request ID") : ids.request_id;
  if (!ids.span_id.empty()) {
    shown += ", ";
    shown += ids.span_id;
  }
  shown += ")\n";
  text(shown);
}

void console::text(std::string_view text) {
  const std::lock_guard lock(mutex_);
  out_ << text << std::flush;
}

payment_outcome process_payment(producer& logs, const payment_request& payment, console& out) {
  const log_context* scope = request_scope::current();
  const log_context request = scope != nullptr ? *scope : log_context{};
  // Each record carries the scope's IDs; the gateway record adds its own span and stack.
  const auto log = [&](level severity, std::string_view message, const log_context& context,
                       std::initializer_list<field> fields) {
    log_context shown = context;
    if (shown.request_id.empty()) shown.request_id = request.request_id;
    out.line(severity, message, shown);
    logs.log(severity, message, context, fields);
  };

  log(level::info, "POST /api/payments/process", {},
      {{"method", "POST"}, {"path", "/api/payments/process"}});
  std::this_thread::sleep_for(100ms);
  log(level::debug, "User " + std::to_string(payment.user_id) + " processing payment", {},
      {{"userId", payment.user_id}, {"paymentId", payment.payment_id}, {"amount", payment.amount}});
  std::this_thread::sleep_for(50ms);
  log(level::error, "Payment gateway timeout",
      {.span_id = payment.gateway_span_id, .stack_trace = k_gateway_stack},
      {{"gateway", "stripe"}, {"timeoutMs", 5000}, {"retryable", true}});
  std::this_thread::sleep_for(50ms);
  log(level::error, "Returning 500 to client", {}, {{"status", 500}});
  return {.status = 500,
          .error_code = "payment_gateway_timeout",
          .message = "The payment gateway did not answer in time; the payment was not taken"};
}

}  // namespace logwire::demo
