// The per-service rate limit: a token bucket for each service, so that one service's
// flood never pushes the others out of the store. A burst up to the bucket's size is
// taken whole; past it, records are dropped and counted, and each service's drops are
// reported once per interval (the store writes the report as a marker record).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logwire {

struct rate_limits {
  double per_second = 10'000;  // per service; 0: no limit
  double burst_seconds = 2;    // the bucket holds this many seconds of the rate
  std::map<std::string, double, std::less<>> per_service;  // overrides per_second
};

inline constexpr std::int64_t k_drop_report_interval_ns = 1'000'000'000;

// Thread-safety: none; the store's lock guards it.
class rate_limiter {
 public:
  struct drop_report {
    std::uint32_t service;
    std::uint64_t count;
    std::int64_t first_ns;  // receive times of the first and last record dropped
    std::int64_t last_ns;
    double limit;  // records per second
  };

  explicit rate_limiter(rate_limits limits) : limits_(std::move(limits)) {}

  // True when a record of `service` (named `name`) may be stored at `now_ns`; otherwise
  // it is counted for the next report.
  bool admit(std::uint32_t service, std::string_view name, std::int64_t now_ns);

  // The service's drops not yet reported, once its interval is over, and forgets them.
  std::optional<drop_report> take_report(std::uint32_t service, std::int64_t now_ns);
  // Every service with drops not yet reported.
  const std::vector<std::uint32_t>& pending() const noexcept { return pending_; }

 private:
  double limit_of(std::string_view name) const;

  struct bucket {
    double limit = 0;  // 0: unlimited
    double capacity = 0;
    double tokens = 0;
    std::int64_t refilled_ns = 0;
    bool known = false;
    std::uint64_t dropped = 0;  // since the last report
    std::int64_t first_drop_ns = 0;
    std::int64_t last_drop_ns = 0;
  };

  rate_limits limits_;
  std::vector<bucket> buckets_;  // by service
  std::vector<std::uint32_t> pending_;
};

}  // namespace logwire
