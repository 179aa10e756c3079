// A real child process for multi-process tests: spawned from build/bin, with its stdin
// and stdout as pipes when asked, killed on destruction so no test leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace logwire::testing {

// Under a sanitizer the processes a test starts run several times slower; multi-process
// tests scale their loads by this.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool k_sanitized = true;
#else
inline constexpr bool k_sanitized = false;
#endif

// The path of a binary built into build/bin.
std::string binary_path(const std::string& name);

class child_process {
 public:
  struct options {
    bool pipe_stdin = false;
    bool pipe_stdout = false;
    std::string stderr_file;  // empty: inherit
  };

  child_process(const std::vector<std::string>& argv, options opts);
  child_process(const std::vector<std::string>& argv) : child_process(argv, options{}) {}
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  // Writes `line` and a newline to the child's stdin. False if the pipe is closed.
  bool write_line(const std::string& line);
  void close_stdin();
  // One line from the child's stdout without its newline; empty optional on timeout/EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  void send_signal(int signal_number);
  // The exit code (or 128 + signal) once the child ends; empty if it outlives `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

}  // namespace logwire::testing
