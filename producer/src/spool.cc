#include "spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/crc.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "logwire/logwire_generated.h"

namespace logwire {
namespace {

constexpr std::string_view k_suffix = ".spool";
constexpr std::size_t k_max_identity_bytes = 4096;

std::size_t padded(std::size_t size) {
  return (size + 7) & ~std::size_t{7};
}

std::uint32_t frame_crc(std::uint64_t sequence, std::span<const std::byte> record) {
  boost::crc_32_type crc;
  crc.process_bytes(&sequence, sizeof sequence);
  crc.process_bytes(record.data(), record.size());
  return crc.checksum();
}

bool write_all(int fd, const void* data, std::size_t size, off_t offset) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, bytes, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size, off_t offset) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::pread(fd, bytes, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

std::string hex16(std::uint64_t value) {
  std::array<char, 17> text{};
  std::snprintf(text.data(), text.size(), "%016llx", static_cast<unsigned long long>(value));
  return text.data();
}

// The service name as it may appear in a file name.
std::string file_safe(std::string_view service) {
  std::string out;
  for (const char c : service.substr(0, 64)) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    out.push_back(plain ? c : '_');
  }
  return out;
}

// Writes `head` and `frames` to "<path>.tmp", created and locked, then renames it to
// `path`: a spool appears whole and already locked, so a producer claiming orphans at that
// moment can neither take a new spool nor see half of a rewritten one. Returns the locked
// fd, or -1.
int publish_once(const std::filesystem::path& path, std::span<const std::byte> head,
                 std::span<const std::byte> frames) {
  const std::string temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !write_all(fd, head.data(), head.size(), 0) ||
      !write_all(fd, frames.data(), frames.size(), static_cast<off_t>(head.size())) ||
      ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int failure = errno;
    ::unlink(temporary.c_str());
    ::close(fd);
    errno = failure;
    return -1;
  }
  return fd;
}

// A producer claiming orphans can take the lock of a fresh ".tmp" between its open and
// its flock (and delete it as debris): then it is simply made again.
int publish_locked(const std::filesystem::path& path, std::span<const std::byte> head,
                   std::span<const std::byte> frames) {
  constexpr int k_attempts = 100;
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    if (const int fd = publish_once(path, head, frames); fd >= 0) return fd;
    if (errno != EWOULDBLOCK && errno != ENOENT && errno != EEXIST) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return -1;
}

// True when `path` still names the file open at `fd`: a spool may have been renamed over
// (rewritten) between the claimer's open and its lock.
bool still_named(int fd, const std::filesystem::path& path) {
  struct stat open_file {
  }, named{};
  return ::fstat(fd, &open_file) == 0 && ::stat(path.c_str(), &named) == 0 &&
         open_file.st_dev == named.st_dev && open_file.st_ino == named.st_ino;
}

// An identity that a spool's reader may hand on: a ProducerIdentity with a service and an
// instance id (the file may be damaged, or not a spool at all).
bool identity_usable(std::span<const std::byte> identity) {
  if (identity.size() < sizeof(flatbuffers::uoffset_t) ||
      reinterpret_cast<std::uintptr_t>(identity.data()) % alignof(std::uint64_t) != 0) {
    return false;
  }
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(identity.data()),
                                 identity.size(), 4, 16);
  if (!verifier.VerifyBuffer<wire::ProducerIdentity>(nullptr)) return false;
  const auto* id = flatbuffers::GetRoot<wire::ProducerIdentity>(identity.data());
  return id->service() != nullptr && id->service()->size() != 0 && id->instance_id() != nullptr;
}

}  // namespace

spool_file::spool_file(int fd, std::filesystem::path path, std::uint64_t end,
                       std::size_t data_start)
    : fd_(fd), path_(std::move(path)), end_(end), data_start_(data_start) {}

spool_file::spool_file(spool_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      end_(other.end_),
      data_start_(other.data_start_),
      buffer_(std::move(other.buffer_)) {}

spool_file& spool_file::operator=(spool_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    end_ = other.end_;
    data_start_ = other.data_start_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

spool_file::~spool_file() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock; the file stays for the next run
}

result<spool_file> spool_file::create(const std::filesystem::path& dir, std::string_view service,
                                      std::uint64_t instance_hi, std::uint64_t instance_lo,
                                      std::span<const std::byte> identity) {
  if (identity.size() > k_max_identity_bytes) {
    return error{errc::invalid_argument, "producer identity too large for a spool"};
  }
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) ::chmod(dir.c_str(), 0700);
  if (ec) {
    return error{errc::io_error,
                 "cannot create spool directory " + dir.string() + ": " + ec.message()};
  }
  const auto path = dir / (file_safe(service) + "-" + hex16(instance_hi) + hex16(instance_lo) +
                           std::string(k_suffix));
  std::vector<std::byte> head(k_spool_header_size + padded(identity.size()));
  const spool_header header{.magic = k_spool_magic,
                            .version = k_spool_version,
                            .identity_size = static_cast<std::uint32_t>(identity.size()),
                            .dropped = 0,
                            .last_drop_ns = 0,
                            .acknowledged = 0};
  std::memcpy(head.data(), &header, sizeof header);
  std::copy(identity.begin(), identity.end(), head.begin() + k_spool_header_size);
  const int fd = publish_locked(path, head, {});
  if (fd < 0) return error{errc::io_error, "cannot create spool " + path.string()};
  return spool_file(fd, path, head.size(), head.size());
}

std::vector<spool_file::orphan> spool_file::claim_orphans(const std::filesystem::path& dir,
                                                          std::size_t max_bytes_each) {
  std::vector<orphan> found;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto& path = it->path();
    const bool temporary = path.string().ends_with(std::string(k_suffix) + ".tmp");
    if (path.extension() != k_suffix && !temporary) continue;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat info {};
    // Looked at once locked: until then its producer may still be writing it.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_uid != ::getuid() || info.st_nlink == 0 || !still_named(fd, path)) {
      ::close(fd);  // its producer still lives, or it is not ours, or it is already gone
      continue;
    }
    if (temporary) {  // a spool being published or rewritten when its producer died
      ::unlink(path.c_str());
      ::close(fd);
      continue;
    }
    spool_header header{};
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size < k_spool_header_size || !read_all(fd, &header, sizeof header, 0) ||
        header.magic != k_spool_magic || header.version != k_spool_version ||
        header.identity_size > k_max_identity_bytes ||
        k_spool_header_size + padded(header.identity_size) > size) {
      ::close(fd);
      continue;
    }
    const std::size_t data_start = k_spool_header_size + padded(header.identity_size);
    orphan claimed{.file = spool_file(fd, path, size, data_start),
                   .identity = std::vector<std::byte>(header.identity_size),
                   .dropped = header.dropped,
                   .last_drop_ns = header.last_drop_ns,
                   .acknowledged = header.acknowledged,
                   .records = send_queue(max_bytes_each)};
    if (!read_all(fd, claimed.identity.data(), claimed.identity.size(), k_spool_header_size) ||
        !identity_usable(claimed.identity)) {
      continue;  // left where it is, unlocked again as `claimed` goes
    }

    std::uint64_t offset = data_start;
    std::vector<std::byte> record;
    std::uint64_t last_sequence = 0;
    bool any = false;
    while (offset + k_spool_frame_header_size <= size) {
      std::uint32_t frame[2];
      std::uint64_t sequence = 0;
      if (!read_all(fd, frame, sizeof frame, static_cast<off_t>(offset)) ||
          !read_all(fd, &sequence, sizeof sequence, static_cast<off_t>(offset + 8))) {
        break;
      }
      const std::uint32_t length = frame[0];
      if (offset + k_spool_frame_header_size + length > size) break;  // cut short
      record.resize(length);
      if (!read_all(fd, record.data(), length, static_cast<off_t>(offset + 16))) break;
      if (frame_crc(sequence, record) != frame[1]) break;
      if (any && sequence <= last_sequence) break;  // sequences only grow
      claimed.records.push(sequence, record, header.last_drop_ns);
      last_sequence = sequence;
      any = true;
      offset += k_spool_frame_header_size + padded(length);
    }
    claimed.file.end_ = offset;
    // Acknowledged before its producer died: not worth sending again.
    claimed.records.acknowledge(header.acknowledged);
    found.push_back(std::move(claimed));
  }
  return found;
}

void spool_file::add_frame(const send_queue::record& r) {
  const std::uint32_t head[2] = {static_cast<std::uint32_t>(r.bytes.size()),
                                 frame_crc(r.sequence, r.bytes)};
  const std::size_t at = buffer_.size();
  buffer_.resize(at + k_spool_frame_header_size + padded(r.bytes.size()));
  std::memcpy(buffer_.data() + at, head, sizeof head);
  std::memcpy(buffer_.data() + at + 8, &r.sequence, sizeof r.sequence);
  std::memcpy(buffer_.data() + at + 16, r.bytes.data(), r.bytes.size());
}

bool spool_file::append(std::span<const send_queue::record> records) {
  if (fd_ < 0) return false;
  buffer_.clear();
  for (const auto& r : records) add_frame(r);
  if (!write_all(fd_, buffer_.data(), buffer_.size(), static_cast<off_t>(end_))) {
    remove();  // a spool with a hole would replay wrongly; keep the records in memory only
    return false;
  }
  end_ += buffer_.size();
  return true;
}

bool spool_file::record_progress(std::uint64_t dropped, std::int64_t last_drop_ns,
                                 std::uint64_t acknowledged) {
  if (fd_ < 0) return false;
  const std::uint64_t values[3] = {dropped, static_cast<std::uint64_t>(last_drop_ns), acknowledged};
  return write_all(fd_, values, sizeof values, offsetof(spool_header, dropped));
}

bool spool_file::compact(const send_queue& queue, std::size_t queue_bound) {
  if (fd_ < 0) return false;
  if (queue.empty() && end_ != data_start_) {
    if (::ftruncate(fd_, static_cast<off_t>(data_start_)) != 0) return false;
    end_ = data_start_;
    return true;
  }
  if (end_ - data_start_ > 2 * queue_bound) return rewrite(queue);
  return true;
}

bool spool_file::rewrite(const send_queue& queue) {
  // A new file with the same header and the queue's records replaces this one in one
  // rename, so a process killed half-way leaves the old spool whole.
  std::vector<std::byte> head(data_start_);
  if (!read_all(fd_, head.data(), head.size(), 0)) return false;
  buffer_.clear();
  for (std::size_t i = 0; i < queue.size(); ++i) add_frame(queue.at(i));
  const int fd = publish_locked(path_, head, buffer_);
  if (fd < 0) return false;
  ::close(fd_);
  fd_ = fd;
  end_ = data_start_ + buffer_.size();
  return true;
}

void spool_file::remove() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace logwire
