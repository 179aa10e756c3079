#include "logwire/process_identity.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace logwire {

std::uint64_t process_start_time(pid_t pid) noexcept {
  try {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    const std::string text((std::istreambuf_iterator<char>(stat)),
                           std::istreambuf_iterator<char>());
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    std::size_t position = text.rfind(')');
    if (position == std::string::npos) return 0;
    // Fields after the name start with field 3; the start time is field 22.
    for (int field = 2; field < 22; ++field) {
      position = text.find(' ', position + 1);
      if (position == std::string::npos) return 0;
    }
    std::uint64_t ticks = 0;
    const char* begin = text.data() + position + 1;
    std::from_chars(begin, text.data() + text.size(), ticks);
    return ticks;
  } catch (...) {
    return 0;
  }
}

bool process_running(pid_t pid, std::uint64_t start_time) noexcept {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  if (start_time == 0) return true;
  const std::uint64_t now = process_start_time(pid);
  return now == 0 || now == start_time;
}

}  // namespace logwire
