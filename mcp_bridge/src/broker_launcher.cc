#include "broker_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

namespace logwire {
namespace {

constexpr std::string_view k_broker_name = "logwire-broker";

bool is_executable(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// In the grandchild, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_detached(const char* broker, char* const argv[], const char* log) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);  // the bridge ignores it; the broker must not inherit that
  const int null = ::open("/dev/null", O_RDWR);
  const int err = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);  // the bridge's stdout is the MCP stream
  }
  ::dup2(err >= 0 ? err : null, STDERR_FILENO);
  ::close_range(3, ~0u, 0);
  ::execv(broker, argv);
  _exit(127);
}

}  // namespace

broker_launcher::broker_launcher(const runtime_dir& dir, std::filesystem::path broker)
    : dir_(dir.path()), broker_(std::move(broker)) {}

std::filesystem::path broker_launcher::find_broker() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / k_broker_name;
    if (is_executable(beside)) return beside;
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string_view entry = rest.substr(0, colon);
      if (!entry.empty()) {
        const auto candidate = std::filesystem::path(entry) / k_broker_name;
        if (is_executable(candidate)) return candidate;
      }
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  return {};
}

std::optional<std::string> broker_launcher::start() {
  if (!enabled()) return "starting a broker is turned off (--no-start-broker)";
  const std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (last_start_ && now - *last_start_ < k_retry_interval) return std::nullopt;
  last_start_ = now;

  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  const std::string broker = broker_.string();
  const std::string dir = dir_.string();
  const std::string log = log_file().string();
  std::string arg_dir_flag = "--runtime-dir";
  std::vector<char*> argv = {const_cast<char*>(broker.c_str()), arg_dir_flag.data(),
                             const_cast<char*>(dir.c_str()), nullptr};

  const pid_t child = ::fork();
  if (child < 0) return std::string("cannot start ") + broker + ": fork: " + std::strerror(errno);
  if (child == 0) {
    // A session of its own, then a grandchild, so that no terminal or process group of
    // the agent's reaches the broker and nobody has to reap it.
    ::setsid();
    if (::fork() == 0) exec_detached(broker.c_str(), argv.data(), log.c_str());
    _exit(0);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return std::nullopt;
}

}  // namespace logwire
