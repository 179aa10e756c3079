#include "instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace logwire {

result<instance_lock> instance_lock::acquire(const std::filesystem::path& lock_file) {
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return error{errc::io_error, "cannot open " + lock_file.string() + ": " + std::strerror(errno)};
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int failure = errno;
    char holder[32] = {};
    const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    if (failure == EWOULDBLOCK) {
      const std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "unknown";
      return error{errc::already_running,
                   "another logwire-broker (pid " + pid.substr(0, pid.find('\n')) +
                       ") is already running for runtime dir " + lock_file.parent_path().string()};
    }
    return error{errc::io_error,
                 "cannot lock " + lock_file.string() + ": " + std::strerror(failure)};
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    ::close(fd);
    return error{errc::io_error,
                 "cannot write " + lock_file.string() + ": " + std::strerror(errno)};
  }
  return instance_lock(fd);
}

instance_lock::~instance_lock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace logwire
