#include "ring_drain.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/logwire_generated.h"
#include "logwire/ring.h"
#include "logwire/shm_segment.h"

namespace logwire {
namespace {

constexpr std::int64_t k_scan_interval_ns = 50'000'000;
constexpr std::size_t k_records_per_ring_per_poll = 4096;

bool process_alive(std::int32_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

struct identity {
  std::string service = "unknown";
  std::string host;
};

// The identity bytes live in memory the producer can still write, so they are copied
// before they are verified and read.
identity read_identity(const ring_header& header) {
  std::vector<std::uint8_t> copy(header.identity_size);
  std::memcpy(copy.data(), header.identity, copy.size());
  identity out;
  flatbuffers::Verifier verifier(copy.data(), copy.size(), 4, 16);
  if (copy.empty() || !verifier.VerifyBuffer<wire::ProducerIdentity>(nullptr)) return out;
  const auto* id = flatbuffers::GetRoot<wire::ProducerIdentity>(copy.data());
  if (id->service() != nullptr && id->service()->size() > 0) out.service = id->service()->str();
  if (id->host() != nullptr) out.host = id->host()->str();
  return out;
}

}  // namespace

struct ring_drain::attached_ring {
  std::string name;
  shm_segment segment;
  ring_view view;
  ring_reader reader;
  identity producer;
  std::int32_t pid;
  std::uint64_t rejected = 0;

  attached_ring(std::string ring_name, shm_segment mapped, ring_view ring)
      : name(std::move(ring_name)),
        segment(std::move(mapped)),
        view(ring),
        reader(ring),
        producer(read_identity(*ring.header)),
        pid(ring.header->owner_pid) {}
};

ring_drain::ring_drain(runtime_dir dir, store& records) : dir_(std::move(dir)), store_(records) {}
ring_drain::~ring_drain() = default;

std::size_t ring_drain::poll(std::int64_t now_ns) {
  if (now_ns >= next_scan_ns_) {
    rescan();
    next_scan_ns_ = now_ns + k_scan_interval_ns;
  }
  std::size_t moved = 0;
  std::vector<std::byte> copy;
  for (auto it = rings_.begin(); it != rings_.end();) {
    attached_ring& ring = *it->second;
    moved += ring.reader.drain(
        [&](std::span<const std::byte> payload, std::uint64_t) {
          // Copied out before verifying: the producer can still write the shared bytes.
          copy.assign(payload.begin(), payload.end());
          if (!verify_record(copy)) {
            if (ring.rejected++ == 0) {
              spdlog::warn("ring {} ({}): rejected a malformed record", ring.name,
                           ring.producer.service);
            }
            return;
          }
          store_.insert(copy, {.producer_service = ring.producer.service, .receive_ns = now_ns});
        },
        k_records_per_ring_per_poll);
    if (ring.reader.corrupt()) {
      spdlog::error("ring {} ({}): corrupt frame header; detaching", ring.name,
                    ring.producer.service);
      unreadable_.insert(ring.name);
      it = rings_.erase(it);
      continue;
    }
    if (reclaim_if_done(ring)) {
      it = rings_.erase(it);
    } else {
      ++it;
    }
  }
  return moved;
}

void ring_drain::rescan() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.rings_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(dir_.shm_prefix(), 0) != 0) continue;  // not one of this instance's rings
    if (rings_.contains(name) || unreadable_.contains(name)) continue;
    attach(name);
  }
}

void ring_drain::attach(const std::string& name) {
  auto segment = shm_segment::open(name);
  if (!segment) {
    if (segment.error().code == errc::not_found) {
      std::filesystem::remove(dir_.rings_dir() / name);  // its segment is gone: stale entry
    } else {
      spdlog::warn("{}", segment.error().message);
      unreadable_.insert(name);
    }
    return;
  }
  auto view = attach_ring(segment->bytes());
  if (!view) {
    spdlog::warn("shared memory {} is not a readable ring: {}", name, view.error().message);
    unreadable_.insert(name);
    return;
  }
  auto ring = std::make_unique<attached_ring>(name, std::move(*segment), *view);
  spdlog::info("producer connected: service {} pid {} on {}", ring->producer.service, ring->pid,
               ring->producer.host);
  rings_.emplace(name, std::move(ring));
}

bool ring_drain::reclaim_if_done(attached_ring& ring) {
  if (ring.reader.backlog() != 0) return false;
  const bool closed = ring.view.header->state.load(std::memory_order_acquire) == k_ring_closed;
  if (!closed && process_alive(ring.pid)) return false;
  // A writer that was mid-claim when it closed or died may have moved the tail since the
  // backlog check; drain once more before letting go.
  if (ring.reader.backlog() != 0) return false;
  spdlog::info("producer {}: service {} pid {}", closed ? "disconnected" : "exited without closing",
               ring.producer.service, ring.pid);
  shm_segment::remove(ring.name);
  std::filesystem::remove(dir_.rings_dir() / ring.name);
  return true;
}

}  // namespace logwire
