// The request a thread is serving: while a request_scope lives, every record that thread
// logs without its own correlation IDs carries the scope's request ID, traceparent and
// span ID. Scopes nest; the innermost wins.
//
//   void handle(const http_request& req) {
//     auto scope = logwire::request_scope::from_headers(req.header("X-Request-ID"),
//                                                       req.header("traceparent"));
//     logs.log(logwire::level::info, "POST /api/payments/process");  // carries both IDs
//   }
#pragma once

#include <string>
#include <string_view>

#include "logwire/producer.h"

namespace logwire {

// Thread-safety: a scope belongs to the thread that created it and must end on it.
class request_scope {
 public:
  explicit request_scope(const log_context& context);
  ~request_scope();
  request_scope(const request_scope&) = delete;
  request_scope& operator=(const request_scope&) = delete;

  // From the incoming HTTP header values (either may be empty). Values are trimmed of
  // surrounding blanks and cut at k_max_header_value bytes: they come from the network.
  static request_scope from_headers(std::string_view x_request_id, std::string_view traceparent,
                                    std::string_view span_id = {});

  // The innermost scope of this thread, or null.
  static const log_context* current() noexcept;

  static constexpr std::size_t k_max_header_value = 256;

 private:
  std::string request_id_;
  std::string traceparent_;
  std::string span_id_;
  log_context context_;
  const request_scope* outer_;
};

}  // namespace logwire
