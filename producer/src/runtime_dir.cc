#include "logwire/runtime_dir.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace logwire {
namespace {

// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t k_max_socket_path = 107;

std::string hex64(std::uint64_t value) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4)
    out[static_cast<std::size_t>(i)] = k_digits[value & 0xf];
  return out;
}

// FNV-1a: stable across runs and builds, which std::hash does not promise.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

const char* non_empty_env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

result<void> make_private_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return error{errc::io_error,
                 "cannot create runtime directory " + dir.string() + ": " + std::strerror(errno)};
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return error{errc::io_error, "cannot stat " + dir.string() + ": " + std::strerror(errno)};
  }
  if (!S_ISDIR(st.st_mode)) {
    return error{errc::invalid_argument, dir.string() + " is not a directory"};
  }
  if (st.st_uid != ::geteuid()) {
    return error{errc::invalid_argument,
                 "runtime directory " + dir.string() + " belongs to another user (uid " +
                     std::to_string(st.st_uid) + "); pass --runtime-dir with a directory of yours"};
  }
  if ((st.st_mode & 0077) != 0) {
    return error{errc::invalid_argument,
                 "runtime directory " + dir.string() +
                     " is open to other users; make it private with: chmod 700 " + dir.string()};
  }
  return {};
}

}  // namespace

runtime_dir::runtime_dir(std::filesystem::path path)
    : path_(std::move(path)), shm_prefix_("logwire-" + hex64(fnv1a(path_.string())) + "-") {}

std::string runtime_dir::ring_segment(std::int64_t pid, std::uint64_t instance) const {
  return shm_prefix_ + std::to_string(pid) + "-" + hex64(instance);
}

std::size_t runtime_dir::remove_shared_memory() const {
  std::size_t removed = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/dev/shm", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(shm_prefix_, 0) == 0 && ::shm_unlink(name.c_str()) == 0) ++removed;
  }
  for (auto it = std::filesystem::directory_iterator(rings_dir(), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code ignored;
    std::filesystem::remove(it->path(), ignored);
  }
  return removed;
}

std::filesystem::path runtime_dir::default_path() {
  if (const char* env = non_empty_env("LOGWIRE_RUNTIME_DIR")) return env;
  if (const char* xdg = non_empty_env("XDG_RUNTIME_DIR"))
    return std::filesystem::path(xdg) / "logwire";
  return std::filesystem::path("/tmp") / ("logwire-" + std::to_string(::geteuid()));
}

result<runtime_dir> runtime_dir::open(const std::filesystem::path& requested) {
  std::filesystem::path path = requested.empty() ? default_path() : requested;
  std::error_code ec;
  path = std::filesystem::absolute(path, ec).lexically_normal();
  if (ec) return error{errc::invalid_argument, "bad runtime directory " + path.string()};
  if (!path.has_filename() && path.has_parent_path()) path = path.parent_path();

  // The parent may be shared (/tmp); only the directory itself must be private.
  if (path.has_parent_path() && !std::filesystem::exists(path.parent_path(), ec)) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return error{errc::io_error,
                   "cannot create " + path.parent_path().string() + ": " + ec.message()};
    }
  }
  if (auto made = make_private_dir(path); !made) return made.error();

  // One directory, one instance: hash the canonical path, so that a symlink or another
  // spelling of it reaches the same broker.
  const auto canonical = std::filesystem::canonical(path, ec);
  runtime_dir dir(ec ? path : canonical);
  if (auto made = make_private_dir(dir.rings_dir()); !made) return made.error();
  const auto socket_path = (path / "query.sock").string();
  if (socket_path.size() > k_max_socket_path) {
    return error{errc::invalid_argument, "runtime directory path is too long for a socket (" +
                                             std::to_string(socket_path.size()) + " > " +
                                             std::to_string(k_max_socket_path) +
                                             " bytes): " + path.string()};
  }
  return dir;
}

}  // namespace logwire
