// Starting a broker for logwire-mcp when none runs for its runtime directory, so that an
// agent's configuration is one line. The broker is detached (its own session, stdio on
// /dev/null, its log in the runtime directory): it outlives the bridge that started it
// and serves every other bridge and backend of that directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "logwire/runtime_dir.h"

namespace logwire {

// Thread-safety: every member may be called from any thread.
class broker_launcher {
 public:
  // `broker`: the logwire-broker binary; empty turns starting off.
  broker_launcher(const runtime_dir& dir, std::filesystem::path broker);

  // logwire-broker beside this executable, else on PATH; empty when neither exists.
  static std::filesystem::path find_broker();

  bool enabled() const noexcept { return !broker_.empty(); }

  // Starts a broker unless one was started less than k_retry_interval ago; does not wait
  // for it. Empty on success, else why it could not start.
  std::optional<std::string> start();

  // The broker's log, where a broker that failed to start said why.
  std::filesystem::path log_file() const { return dir_ / "broker.log"; }

  // Brokers are not started more often than this, however often calls find none.
  static constexpr std::chrono::seconds k_retry_interval{5};

 private:
  std::filesystem::path dir_;
  std::filesystem::path broker_;
  std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> last_start_;  // guarded by mutex_
};

}  // namespace logwire
