// Telling whether the process that owns a ring still runs: its pid alone is not enough,
// since the kernel reuses pids; the pid with its start time is.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace logwire {

// The start time of `pid` in clock ticks after boot (/proc/<pid>/stat), 0 if unknown.
std::uint64_t process_start_time(pid_t pid) noexcept;

// True while a process with this pid and start time runs (a start time of 0 matches
// any process with the pid).
bool process_running(pid_t pid, std::uint64_t start_time) noexcept;

}  // namespace logwire
