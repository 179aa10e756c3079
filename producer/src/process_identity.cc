#include "logwire/process_identity.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

namespace logwire {

namespace {

struct process_stat {
  char state = '?';         // field 3: R, S, D, Z (zombie), ...
  std::uint64_t start = 0;  // field 22: start time in clock ticks after boot
};

// /proc/<pid>/stat, or an empty result if the process is not there.
std::optional<process_stat> read_stat(pid_t pid) noexcept {
  try {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return std::nullopt;
    const std::string text((std::istreambuf_iterator<char>(stat)),
                           std::istreambuf_iterator<char>());
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    std::size_t position = text.rfind(')');
    if (position == std::string::npos || position + 2 >= text.size()) return std::nullopt;
    process_stat out;
    out.state = text[position + 2];
    for (int field = 2; field < 22; ++field) {
      position = text.find(' ', position + 1);
      if (position == std::string::npos) return out;
    }
    std::from_chars(text.data() + position + 1, text.data() + text.size(), out.start);
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::uint64_t process_start_time(pid_t pid) noexcept {
  const auto stat = read_stat(pid);
  return stat ? stat->start : 0;
}

bool process_running(pid_t pid, std::uint64_t start_time) noexcept {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  const auto stat = read_stat(pid);
  if (!stat) return true;  // no /proc to ask: the pid alone has to do
  if (stat->state == 'Z' || stat->state == 'X') return false;  // dead, not yet reaped
  return start_time == 0 || stat->start == start_time;
}

}  // namespace logwire
