#include "logwire/rate_limiter.h"

#include <algorithm>

namespace logwire {

double rate_limiter::limit_of(std::string_view name) const {
  const auto found = limits_.per_service.find(name);
  return found != limits_.per_service.end() ? found->second : limits_.per_second;
}

bool rate_limiter::admit(std::uint32_t service, std::string_view name, std::int64_t now_ns) {
  if (service >= buckets_.size()) buckets_.resize(service + 1);
  bucket& b = buckets_[service];
  if (!b.known) {
    b.known = true;
    b.limit = limit_of(name);
    b.capacity = std::max(1.0, b.limit * limits_.burst_seconds);
    b.tokens = b.capacity;  // a service starts with its whole burst allowance
    b.refilled_ns = now_ns;
  }
  if (b.limit <= 0) return true;
  if (now_ns > b.refilled_ns) {
    b.tokens = std::min(b.capacity,
                        b.tokens + b.limit * static_cast<double>(now_ns - b.refilled_ns) / 1e9);
    b.refilled_ns = now_ns;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (b.dropped == 0) {
    b.first_drop_ns = now_ns;
    pending_.push_back(service);
  }
  ++b.dropped;
  b.last_drop_ns = now_ns;
  return false;
}

std::optional<rate_limiter::drop_report> rate_limiter::take_report(std::uint32_t service,
                                                                   std::int64_t now_ns) {
  if (service >= buckets_.size()) return std::nullopt;
  bucket& b = buckets_[service];
  if (b.dropped == 0) return std::nullopt;
  if (now_ns - b.first_drop_ns < k_drop_report_interval_ns) return std::nullopt;
  const drop_report report{service, b.dropped, b.first_drop_ns, b.last_drop_ns, b.limit};
  b.dropped = 0;
  std::erase(pending_, service);
  return report;
}

}  // namespace logwire
