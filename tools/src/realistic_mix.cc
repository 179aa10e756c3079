#include "realistic_mix.h"

#include <functional>

namespace logwire {
namespace {

struct route {
  std::string_view method;
  std::string_view path;
};

constexpr std::array<route, 8> k_routes = {{{"GET", "/api/orders"},
                                            {"POST", "/api/orders"},
                                            {"POST", "/api/payments/process"},
                                            {"GET", "/api/users/me"},
                                            {"GET", "/api/products"},
                                            {"PUT", "/api/cart"},
                                            {"DELETE", "/api/cart/items"},
                                            {"GET", "/health"}}};

constexpr std::array<std::string_view, 6> k_tables = {"orders",   "payments",   "users",
                                                      "products", "cart_items", "sessions"};

constexpr std::array<std::string_view, 8> k_debug_plain = {
    "Calling inventory-service",     "Feature flag new-checkout is on", "Validating request body",
    "Acquired connection from pool", "Session token verified",          "Computed cart total",
    "Response headers written",      "Loaded user preferences"};
constexpr std::array<std::string_view, 6> k_info_plain = {
    "Sent confirmation email", "Session refreshed",        "Shipping quote received from carrier",
    "Coupon applied to cart",  "Password reset link sent", "Profile updated"};
constexpr std::array<std::string_view, 4> k_warn_plain = {
    "Cache miss on product catalog", "Payment gateway answered 429, backing off",
    "Deprecated API version v1 called", "Request body larger than 64 KiB"};
constexpr std::string_view k_retry_message = "Retrying connection to db-primary";

struct failure {
  std::string_view message;
  std::string_view stack_trace;  // empty: none
};

constexpr std::array<failure, 5> k_failures = {{
    {"Payment gateway timeout",
     "PaymentGatewayTimeout: gateway did not answer within 5000 ms\n"
     "    at payments::gateway_client::charge (gateway_client.cc:212)\n"
     "    at payments::processor::process (processor.cc:88)\n"
     "    at http::router::dispatch (router.cc:140)\n"
     "    at http::server::handle (server.cc:67)"},
    {"Failed to process payment",
     "PaymentDeclined: card_declined (insufficient_funds)\n"
     "    at payments::processor::process (processor.cc:97)\n"
     "    at http::router::dispatch (router.cc:140)\n"
     "    at http::server::handle (server.cc:67)"},
    {"Database deadlock detected", ""},
    {"Upstream inventory-service returned 503", ""},
    {"Unhandled exception in request handler",
     "std::out_of_range: vector::_M_range_check: __n (which is 3) >= this->size() (which is 3)\n"
     "    at cart::pricing::line_total (pricing.cc:41)\n"
     "    at cart::service::update (service.cc:118)\n"
     "    at http::router::dispatch (router.cc:140)"},
}};

constexpr std::int64_t k_users = 5000;

// splitmix64: a user's session ID is the same in every service and thread.
std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void append_hex(std::string& out, std::uint64_t value, unsigned digits) {
  constexpr std::string_view k_digits = "0123456789abcdef";
  for (unsigned i = digits; i-- > 0;) out.push_back(k_digits[(value >> (4 * i)) & 0xf]);
}

}  // namespace

realistic_mix::realistic_mix(std::string_view service, unsigned thread)
    : random_(std::hash<std::string_view>{}(service)*31 + thread), thread_(thread) {
  start_request();
}

std::string realistic_mix::hex(unsigned digits) {
  std::string out;
  out.reserve(digits);
  while (digits > 0) {
    const unsigned n = digits < 16 ? digits : 16;
    std::uint64_t value = random_();
    if (value == 0) value = 1;  // a W3C trace or span ID is never all zero
    append_hex(out, value, n);
    digits -= n;
  }
  return out;
}

void realistic_mix::start_request() {
  request_state& r = request_;
  r.request_id = hex(8) + "-" + hex(4) + "-4" + hex(3) + "-a" + hex(3) + "-" + hex(12);
  r.traceparent = "00-" + hex(32) + "-" + hex(16) + "-01";
  r.span_count = 1 + below(3);
  for (unsigned i = 0; i < r.span_count; ++i) r.spans[i] = hex(16);
  r.user_id = 1000 + static_cast<std::int64_t>(below(k_users));
  r.session_id = "sess-";
  append_hex(r.session_id, mix64(static_cast<std::uint64_t>(r.user_id)), 16);
  r.route = below(k_routes.size());
  r.records_left = 5 + below(16);
  r.failed = false;
  r.made = 0;
}

const record_view& realistic_mix::next() {
  if (repeats_left_ > 0) {
    // A retry loop logs the same line again: the record as it was, seq included.
    --repeats_left_;
    ++repeats_;
    return record_;
  }
  if (request_.records_left == 0) start_request();
  make_record();
  ++seq_;
  --request_.records_left;
  return record_;
}

void realistic_mix::make_record() {
  request_state& r = request_;
  const route& rt = k_routes[r.route];
  fields_.clear();
  fields_.emplace_back("seq", seq_);
  fields_.emplace_back("thread", thread_);
  fields_.emplace_back("user_id", r.user_id);
  fields_.emplace_back("session_id", r.session_id);
  record_.context = {.request_id = r.request_id,
                     .traceparent = r.traceparent,
                     .span_id = r.spans[below(r.span_count)],
                     .stack_trace = {}};
  message_.clear();

  if (r.made == 0) {  // the request arrives
    record_.severity = level::info;
    message_.append(rt.method).append(" ").append(rt.path);
    fields_.emplace_back("route", rt.path);
  } else if (r.records_left == 1) {  // the answer
    if (r.failed) {
      record_.severity = level::error;
      message_ = "Returning 500 to client";
      fields_.emplace_back("status", 500);
    } else {
      record_.severity = level::info;
      const std::int64_t status = rt.method == "POST" ? 201 : 200;
      const std::int64_t duration_ms = 2 + below(400);
      message_ = "Request completed with status " + std::to_string(status) + " in " +
                 std::to_string(duration_ms) + " ms";
      fields_.emplace_back("status", status);
      fields_.emplace_back("duration_ms", static_cast<double>(duration_ms) + below(1000) / 1000.0);
    }
  } else {
    const unsigned roll = below(1000);  // per mille
    if (roll < 480) {
      record_.severity = level::debug;
      switch (below(4)) {
        case 0:
          message_ = "Cache lookup for product " + std::to_string(10000 + below(90000));
          fields_.emplace_back("cache_hit", below(4) != 0);
          break;
        case 1:
          table_ = k_tables[below(k_tables.size())];
          message_ = "Loaded " + std::to_string(below(200)) + " rows from " + table_;
          fields_.emplace_back("table", table_);
          fields_.emplace_back("rows", static_cast<std::int64_t>(below(200)));
          break;
        default:
          message_ = k_debug_plain[below(k_debug_plain.size())];
          break;
      }
    } else if (roll < 900) {
      record_.severity = level::info;
      switch (below(3)) {
        case 0:
          message_ = "Order " + std::to_string(100000 + below(900000)) + " created";
          break;
        case 1:
          message_ = "User " + std::to_string(r.user_id) + " authenticated";
          break;
        default:
          message_ = k_info_plain[below(k_info_plain.size())];
          break;
      }
    } else if (roll < 985) {
      record_.severity = level::warn;
      const unsigned pick = below(25);
      if (pick == 0) {
        message_ = k_retry_message;
        repeats_left_ = 2 + below(5);  // 3 to 7 records in all
      } else if (pick < 10) {
        table_ = k_tables[below(k_tables.size())];
        const std::int64_t ms = 500 + below(4500);
        message_ = "Slow query on " + table_ + ": " + std::to_string(ms) + " ms";
        fields_.emplace_back("table", table_);
        fields_.emplace_back("duration_ms", static_cast<double>(ms));
      } else {
        message_ = k_warn_plain[below(k_warn_plain.size())];
      }
    } else {
      record_.severity = level::error;
      const failure& f = k_failures[below(k_failures.size())];
      message_ = f.message;
      // Some failures come with the exception's stack trace.
      if (!f.stack_trace.empty() && below(5) < 3) record_.context.stack_trace = f.stack_trace;
      r.failed = true;
    }
  }
  ++r.made;
  record_.message = message_;
  record_.fields = fields_;
}

}  // namespace logwire
