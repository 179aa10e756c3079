// One broker per runtime directory: an exclusive flock on the directory's lock file,
// held for the broker's life and released by the kernel when the process dies however it
// dies, so a killed broker never leaves a stale lock.
#pragma once

#include <filesystem>

#include "logwire/error.h"

namespace logwire {

class instance_lock {
 public:
  // Takes the lock and writes this process's pid into the file. errc::already_running,
  // naming the holder's pid, when another process holds it.
  static result<instance_lock> acquire(const std::filesystem::path& lock_file);

  instance_lock(instance_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  instance_lock& operator=(instance_lock&&) = delete;
  instance_lock(const instance_lock&) = delete;
  instance_lock& operator=(const instance_lock&) = delete;
  ~instance_lock();

 private:
  explicit instance_lock(int fd) noexcept : fd_(fd) {}
  int fd_;
};

}  // namespace logwire
