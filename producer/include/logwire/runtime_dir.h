// The runtime directory of one logwire instance. The broker's lock, its query socket, the
// ring registry and the shared-memory names all derive from it, so two instances with
// different directories (two tests, two projects) never see each other.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "logwire/error.h"

namespace logwire {

class runtime_dir {
 public:
  // Resolves the directory: `requested` if not empty, else $LOGWIRE_RUNTIME_DIR, else
  // $XDG_RUNTIME_DIR/logwire, else /tmp/logwire-$UID. Creates it 0700 if missing and
  // refuses one that another user owns or that others can write or read, since its
  // sockets and rings carry the backend's logs.
  static result<runtime_dir> open(const std::filesystem::path& requested);

  // The directory open() would pick for an empty request, without touching the disk.
  static std::filesystem::path default_path();

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path lock_file() const { return path_ / "broker.lock"; }
  std::filesystem::path rings_dir() const { return path_ / "rings"; }
  // ZeroMQ endpoint of the broker's query socket (request/reply).
  std::string query_endpoint() const { return "ipc://" + (path_ / "query.sock").string(); }
  // Prefix of every shared-memory segment name of this instance: "logwire-<hash>-".
  const std::string& shm_prefix() const noexcept { return shm_prefix_; }
  // The segment of one producer's ring: "<prefix><pid>-<instance, 16 hex digits>".
  std::string ring_segment(std::int64_t pid, std::uint64_t instance) const;
  // The segment of the broker's store: "<prefix>store".
  std::string store_segment() const { return shm_prefix_ + "store"; }

  // Removes every shared-memory segment of this instance (the store and any rings) and
  // the ring registry's entries; the caller makes sure no broker or producer runs.
  // Returns how many segments were removed.
  std::size_t remove_shared_memory() const;

 private:
  explicit runtime_dir(std::filesystem::path path);

  std::filesystem::path path_;
  std::string shm_prefix_;
};

}  // namespace logwire
