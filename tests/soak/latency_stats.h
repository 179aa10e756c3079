// Latency samples of one kind of query and their percentiles, for the soak's report.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace logwire::testing {

class latency_stats {
 public:
  void add(double ms) { samples_.push_back(ms); }
  std::size_t count() const noexcept { return samples_.size(); }

  // The nearest-rank percentile (0 < p <= 100) in ms; 0 without samples.
  double percentile(double p) const {
    if (samples_.empty()) return 0;
    std::vector<double> sorted = samples_;
    std::sort(sorted.begin(), sorted.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * sorted.size()));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
  }
  double max() const {
    return samples_.empty() ? 0 : *std::max_element(samples_.begin(), samples_.end());
  }

 private:
  std::vector<double> samples_;
};

}  // namespace logwire::testing
