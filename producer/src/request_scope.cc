#include "logwire/request_scope.h"

namespace logwire {
namespace {

thread_local const request_scope* t_innermost = nullptr;
thread_local const log_context* t_innermost_context = nullptr;

std::string header_value(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = value.find_last_not_of(" \t");
  value = value.substr(first, last - first + 1);
  return std::string(value.substr(0, request_scope::k_max_header_value));
}

}  // namespace

request_scope::request_scope(const log_context& context)
    : request_id_(context.request_id),
      traceparent_(context.traceparent),
      span_id_(context.span_id),
      context_{.request_id = request_id_, .traceparent = traceparent_, .span_id = span_id_},
      outer_(t_innermost) {
  t_innermost = this;
  t_innermost_context = &context_;
}

request_scope::~request_scope() {
  t_innermost = outer_;
  t_innermost_context = outer_ != nullptr ? &outer_->context_ : nullptr;
}

request_scope request_scope::from_headers(std::string_view x_request_id,
                                          std::string_view traceparent, std::string_view span_id) {
  const std::string id = header_value(x_request_id);
  const std::string parent = header_value(traceparent);
  const std::string span = header_value(span_id);
  return request_scope({.request_id = id, .traceparent = parent, .span_id = span});
}

const log_context* request_scope::current() noexcept {
  return t_innermost_context;
}

}  // namespace logwire
