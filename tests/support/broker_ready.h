// Whether a broker serves a runtime directory: it answers a ping. The socket file alone
// says nothing, since a broker killed with SIGKILL leaves it behind.
#pragma once

#include <chrono>
#include <filesystem>

namespace logwire::testing {

// Pings until a broker answers or `timeout` passes.
bool broker_answers(const std::filesystem::path& runtime_dir, std::chrono::milliseconds timeout);

}  // namespace logwire::testing
