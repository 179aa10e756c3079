// A remote producer's spool: its unacknowledged records on disk as well as in memory, so
// that they survive a restart of the backend while the broker is away. The next producer
// that opens the same spool directory finds the spool of an instance that is gone and
// replays it under that instance's own identity and sequences, so the broker stores each
// record once whichever process delivers it. Written without fsync: a spool survives the
// process, not the machine.
//
// File <dir>/<service>-<instance hi><instance lo>.spool (16 hex digits each), mode 0600,
// held with an exclusive flock while its producer lives (a spool nobody holds is an
// orphan). A spool is written whole as "<name>.tmp", locked, and renamed into place, both
// when it is created and when it is rewritten, so nobody sees half of one; a ".tmp" that
// nobody holds is debris of a crash and is deleted. Little-endian (x86-64, ARM64) byte
// order:
//
//    0        8         12              16         24              32             40
//   +--------+---------+---------------+----------+---------------+--------------+----------+
//   | magic  | version | identity_size | dropped  | last_drop_ns  | acknowledged | identity |
//   +--------+---------+---------------+----------+---------------+--------------+----------+
//   then frames, each 8-aligned:
//    0        4        8          16
//   +--------+--------+----------+-------------------------+
//   | length | crc32  | sequence | record (length bytes)   |  padded to 8
//   +--------+--------+----------+-------------------------+
//
// magic "LWSPOOL1"; identity is the ProducerIdentity FlatBuffer, padded to 8; dropped,
// last_drop_ns and acknowledged are the Envelope fields of the same names, rewritten in
// place as they change; crc32 (IEEE, as zlib's)
// covers the sequence and the record. A frame cut short or failing its crc ends the spool
// there: a producer killed mid-write loses only the frame it was writing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/error.h"
#include "send_queue.h"

namespace logwire {

inline constexpr std::uint64_t k_spool_magic = 0x314c4f4f5053574cull;  // "LWSPOOL1"
inline constexpr std::uint32_t k_spool_version = 1;
inline constexpr std::size_t k_spool_header_size = 40;
inline constexpr std::size_t k_spool_frame_header_size = 16;

struct spool_header {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t identity_size;
  std::uint64_t dropped;
  std::int64_t last_drop_ns;
  std::uint64_t acknowledged;
};
static_assert(sizeof(spool_header) == k_spool_header_size);
static_assert(offsetof(spool_header, dropped) == 16);
static_assert(offsetof(spool_header, acknowledged) == 32);

// Thread-safety: one thread (the producer's sender) uses a spool.
class spool_file {
 public:
  // Creates this instance's spool in `dir` (created 0700 if missing), locked.
  static result<spool_file> create(const std::filesystem::path& dir, std::string_view service,
                                   std::uint64_t instance_hi, std::uint64_t instance_lo,
                                   std::span<const std::byte> identity);

  // An orphan spool claimed by this process: its file (locked now) and what it held.
  struct orphan;
  // Locks and reads every spool in `dir` whose producer is gone. Unreadable ones are left
  // where they are.
  static std::vector<orphan> claim_orphans(const std::filesystem::path& dir,
                                           std::size_t max_bytes_each);

  spool_file(spool_file&& other) noexcept;
  spool_file& operator=(spool_file&& other) noexcept;
  ~spool_file();

  // Appends records. False (and the spool is given up) if the disk refused.
  bool append(std::span<const send_queue::record> records);
  // Stores the instance's refusal count and time, and its highest acknowledgement, in the
  // header.
  bool record_progress(std::uint64_t dropped, std::int64_t last_drop_ns,
                       std::uint64_t acknowledged);
  // Keeps only what `queue` still holds: empties the file when the queue is empty, and
  // rewrites it when it has grown past twice the queue's bound.
  bool compact(const send_queue& queue, std::size_t queue_bound);
  // Deletes the file (everything in it was delivered).
  void remove();

  const std::filesystem::path& path() const noexcept { return path_; }
  std::uint64_t file_bytes() const noexcept { return end_; }

 private:
  spool_file(int fd, std::filesystem::path path, std::uint64_t end, std::size_t data_start);
  bool rewrite(const send_queue& queue);
  void add_frame(const send_queue::record& record);  // to buffer_

  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t end_ = 0;       // where the next frame goes
  std::size_t data_start_ = 0;  // the first frame's offset
  std::vector<std::byte> buffer_;
};

struct spool_file::orphan {
  spool_file file;
  std::vector<std::byte> identity;
  std::uint64_t dropped = 0;
  std::int64_t last_drop_ns = 0;
  std::uint64_t acknowledged = 0;
  send_queue records;  // oldest dropped past the bound, counted in `dropped`
};

}  // namespace logwire
