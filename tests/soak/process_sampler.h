// What a process costs the machine, read from /proc: its resident memory (VmRSS, which
// counts the shared-memory pages it has touched as well as its heap) and the CPU time it
// has used. For soaks that watch a broker for minutes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace logwire::testing {

struct memory_sample {
  std::uint64_t rss_bytes = 0;    // VmRSS: RssAnon + RssFile + RssShmem
  std::uint64_t anon_bytes = 0;   // RssAnon: heap, stacks
  std::uint64_t file_bytes = 0;   // RssFile: code and mapped files
  std::uint64_t shmem_bytes = 0;  // RssShmem: the store's record log and the rings
};

// Empty once the process is gone (or /proc cannot be read).
std::optional<memory_sample> sample_memory(pid_t pid);

// User plus system CPU time the process has used, in seconds.
std::optional<double> cpu_seconds(pid_t pid);

}  // namespace logwire::testing
