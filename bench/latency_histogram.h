// Per-call latency samples for google benchmark: each benchmark thread times every call
// with the time-stamp counter and reports p50 / p99 / p99.9 in nanoseconds. The
// counter's rate is calibrated once against steady_clock; the cost of the timing itself
// is measured the same way (an empty timed region) and reported beside the figures.
#pragma once

#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace logwire::bench {

inline double ns_per_tick() {
  static const double rate = [] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::uint64_t c1 = __rdtsc();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
  }();
  return rate;
}

// Ticks now, ordered against the code around it.
inline std::uint64_t ticks() noexcept {
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

class latency_histogram {
 public:
  explicit latency_histogram(std::size_t expected) { samples_.reserve(expected); }
  void add(std::uint64_t elapsed_ticks) { samples_.push_back(elapsed_ticks); }

  // Percentiles in ns as counters, averaged over the benchmark's threads.
  void report(benchmark::State& state) {
    if (samples_.empty()) return;
    std::sort(samples_.begin(), samples_.end());
    const auto at = [this](double q) {
      const auto index = static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1));
      return static_cast<double>(samples_[index]) * ns_per_tick();
    };
    const auto flags = benchmark::Counter::kAvgThreads;
    state.counters["p50_ns"] = benchmark::Counter(at(0.50), flags);
    state.counters["p99_ns"] = benchmark::Counter(at(0.99), flags);
    state.counters["p999_ns"] = benchmark::Counter(at(0.999), flags);
  }

  double percentile_ns(double q) {
    std::sort(samples_.begin(), samples_.end());
    if (samples_.empty()) return 0;
    const auto index = static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1));
    return static_cast<double>(samples_[index]) * ns_per_tick();
  }

 private:
  std::vector<std::uint64_t> samples_;
};

}  // namespace logwire::bench
