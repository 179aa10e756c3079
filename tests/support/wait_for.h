// Waiting in multi-process tests: polls a condition until it holds or time runs out, so
// no test sleeps longer than it must or hangs for ever.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace logwire::testing {

inline bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace logwire::testing
