// How the store soak says what it checked: one line per check, "ok" or "FAIL", and every
// failure counted, so that one run shows all of them rather than the first.
#pragma once

#include <cstdio>
#include <string>

namespace logwire::testing {

struct soak_verdict {
  int failures = 0;
  void check(bool ok, const std::string& what) {
    std::printf("store_soak: %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures;
  }
};

inline std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace logwire::testing
