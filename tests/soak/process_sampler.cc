#include "soak/process_sampler.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace logwire::testing {

std::optional<memory_sample> sample_memory(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  memory_sample sample;
  bool seen_rss = false;
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    std::uint64_t kib = 0;
    if (!(fields >> key >> kib)) continue;
    if (key == "VmRSS:") {
      sample.rss_bytes = kib * 1024;
      seen_rss = true;
    } else if (key == "RssAnon:") {
      sample.anon_bytes = kib * 1024;
    } else if (key == "RssFile:") {
      sample.file_bytes = kib * 1024;
    } else if (key == "RssShmem:") {
      sample.shmem_bytes = kib * 1024;
    }
  }
  // A zombie has no VmRSS line: it is gone as far as memory goes.
  if (!seen_rss) return std::nullopt;
  return sample;
}

std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!stat || !std::getline(stat, text)) return std::nullopt;
  // The command name (field 2) may hold spaces; the fields after it start past its ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;  // state .. cmajflt
  unsigned long long user = 0;
  unsigned long long system = 0;
  if (!(fields >> user >> system)) return std::nullopt;
  return static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace logwire::testing
