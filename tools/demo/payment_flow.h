// The payment the demo backend handles: the product spec's Example 1, where user 987's
// payment meets a gateway timeout and the client is answered 500. Shared by the one-shot
// run (the backend-only demo and tests) and the served page.
#pragma once

#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

#include "logwire/producer.h"

namespace logwire::demo {

struct payment_request {
  std::int64_t user_id = 987;
  std::string payment_id = "pay-99";
  double amount = 49.99;
  // The span of the backend's call to the gateway.
  std::string gateway_span_id = "span-789";
};

struct payment_outcome {
  int status = 500;
  std::string error_code;  // e.g. "payment_gateway_timeout"
  std::string message;     // what the client is told
};

// Where the backend's own console goes: each record is echoed there as one line.
// Thread-safety: any thread; lines are written whole.
class console {
 public:
  explicit console(std::ostream& out) : out_(out) {}
  void line(level severity, std::string_view message, const log_context& ids);
  void text(std::string_view text);

 private:
  std::mutex mutex_;
  std::ostream& out_;  // guarded by mutex_
};

// Logs the payment's four records (INFO received, DEBUG processing, ERROR gateway timeout
// with its stack trace, ERROR returning 500) through `logs`, pausing as a gateway call
// would (about 200 ms in all), and returns the answer for the client. The request's IDs
// come from the calling thread's logwire::request_scope, as in a real handler.
payment_outcome process_payment(producer& logs, const payment_request& payment, console& out);

}  // namespace logwire::demo
