#include "ring_drain.h"

#include <spdlog/spdlog.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/logwire_generated.h"
#include "logwire/process_identity.h"
#include "logwire/ring.h"
#include "logwire/shm_segment.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

constexpr std::int64_t k_scan_interval_ns = 50'000'000;
constexpr std::size_t k_records_per_ring_per_poll = 4096;
constexpr std::uint64_t k_unmap_chunk = 1ull << 20;

struct identity {
  std::string service = "unknown";
  std::string host;
  std::string language;
  std::string version;
  instance_id instance;
};

// The identity bytes live in memory the producer can still write, so they are copied
// before they are verified and read.
identity read_identity(const ring_header& header) {
  // Read once and bounded: the producer may change the size after the ring was checked.
  const std::uint32_t claimed = *static_cast<const volatile std::uint32_t*>(&header.identity_size);
  const std::size_t size = std::min<std::size_t>(claimed, k_ring_identity_capacity);
  std::vector<std::uint8_t> copy(size);
  std::memcpy(copy.data(), header.identity, copy.size());
  identity out;
  flatbuffers::Verifier verifier(copy.data(), copy.size(), 4, 16);
  if (copy.empty() || !verifier.VerifyBuffer<wire::ProducerIdentity>(nullptr)) return out;
  const auto* id = flatbuffers::GetRoot<wire::ProducerIdentity>(copy.data());
  const auto text = [](const flatbuffers::String* s) { return s != nullptr ? s->str() : ""; };
  if (id->service() != nullptr && id->service()->size() > 0) out.service = id->service()->str();
  out.host = text(id->host());
  out.language = text(id->language());
  out.version = text(id->library_version());
  if (id->instance_id() != nullptr)
    out.instance = {id->instance_id()->hi(), id->instance_id()->lo()};
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
  std::uint64_t owner_start;
  std::uint64_t rejected = 0;
  std::uint64_t rejected_reported = 0;
  std::uint64_t unmapped;  // consumed positions below this are out of the broker's RSS

  attached_ring(std::string ring_name, shm_segment mapped, ring_view ring)
      : name(std::move(ring_name)),
        segment(std::move(mapped)),
        view(ring),
        reader(ring),
        producer(read_identity(*ring.header)),
        pid(ring.header->owner_pid),
        owner_start(ring.header->owner_start),
        unmapped(reader.head() & ~(k_unmap_chunk - 1)) {}

  // Drops the broker's page mappings of what it has consumed, a chunk at a time. The
  // memory is the producer's ring and stays; only the broker's resident size stops
  // counting every ring it ever read (ten 64 MiB rings would be 640 MiB of it).
  void unmap_consumed() noexcept {
    if (view.capacity < 4 * k_unmap_chunk) return;
    const std::uint64_t head = reader.head();
    while (unmapped + k_unmap_chunk <= head) {
      ::madvise(view.data + (unmapped & (view.capacity - 1)), k_unmap_chunk, MADV_DONTNEED);
      unmapped += k_unmap_chunk;
    }
  }

  bool closed() const noexcept {
    return view.header->state.load(std::memory_order_acquire) == k_ring_closed;
  }

  // The writer will write no more: it closed the ring, or its process is gone (not
  // running under its pid and start time, and silent past the heartbeat timeout).
  bool writer_gone(std::int64_t now_ns) const noexcept {
    if (closed()) return true;
    const auto heartbeat =
        static_cast<std::int64_t>(view.header->heartbeat_ns.load(std::memory_order_relaxed));
    const auto timeout = std::chrono::nanoseconds(k_heartbeat_timeout).count();
    return now_ns - heartbeat > timeout && !process_running(pid, owner_start);
  }
};

ring_drain::ring_drain(runtime_dir dir, store& records) : dir_(std::move(dir)), store_(records) {}
ring_drain::~ring_drain() = default;

void ring_drain::note(const attached_ring& ring, entry_kind kind, std::uint64_t sequence,
                      level severity, std::string_view message, std::initializer_list<field> fields,
                      std::int64_t now_ns) {
  const auto bytes = encoder_.encode({.severity = severity,
                                      .message = message,
                                      .fields = {fields.begin(), fields.size()},
                                      .service = ring.producer.service},
                                     now_ns);
  store_.insert(bytes, {.service = ring.producer.service,
                        .receive_ns = now_ns,
                        .instance = ring.producer.instance,
                        .sequence = sequence,
                        .kind = kind});
}

std::size_t ring_drain::poll(std::int64_t now_ns) {
  if (now_ns >= next_scan_ns_) {
    rescan(now_ns);
    next_scan_ns_ = now_ns + k_scan_interval_ns;
  }
  std::size_t moved = 0;
  for (auto it = rings_.begin(); it != rings_.end();) {
    attached_ring& ring = *it->second;
    moved += drain(ring, now_ns);
    report_problems(ring, now_ns);
    it = reclaim_if_done(ring, now_ns) ? rings_.erase(it) : std::next(it);
  }
  return moved;
}

std::size_t ring_drain::drain(attached_ring& ring, std::int64_t now_ns) {
  const std::size_t moved = ring.reader.drain(
      [&](std::span<const std::byte> payload, std::uint64_t position) {
        // Copied out before verifying: the producer can still write the shared bytes.
        copy_.assign(payload.begin(), payload.end());
        if (!verify_record(copy_)) {
          ++ring.rejected;
          return;
        }
        // The ring position is the sequence: a record taken before a broker crash, and
        // found again in the ring after it, is a duplicate the store refuses.
        store_.insert(sanitizer_.sanitize(copy_), {.service = ring.producer.service,
                                                   .receive_ns = now_ns,
                                                   .instance = ring.producer.instance,
                                                   .sequence = position});
      },
      k_records_per_ring_per_poll);
  ring.unmap_consumed();
  if (moved == 0 && ring.reader.backlog() != 0 && ring.writer_gone(now_ns) &&
      ring.reader.skip_abandoned()) {
    // Its process died between claiming a frame and committing it: that record is lost,
    // and counted with the drops so the agent hears of it.
    ring_header& h = *ring.view.header;
    h.dropped.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t none = 0;
    h.drop_first_ns.compare_exchange_strong(none, static_cast<std::uint64_t>(now_ns));
    h.drop_last_ns.store(static_cast<std::uint64_t>(now_ns), std::memory_order_relaxed);
  }
  return moved;
}

void ring_drain::report_problems(attached_ring& ring, std::int64_t now_ns) {
  ring_header& h = *ring.view.header;
  const std::uint64_t dropped = h.dropped.load(std::memory_order_relaxed);
  // A broker killed after noting drops but before marking them reported left the note
  // in the store: count from whichever says more.
  const std::uint64_t reported =
      std::max(h.drops_reported.load(std::memory_order_relaxed),
               store_.last_sequence(ring.producer.instance, entry_kind::dropped).value_or(0));
  if (dropped > reported) {
    const auto first = static_cast<std::int64_t>(h.drop_first_ns.load(std::memory_order_relaxed));
    const auto last = static_cast<std::int64_t>(h.drop_last_ns.load(std::memory_order_relaxed));
    const std::uint64_t count = dropped - reported;
    const std::string from = format_rfc3339_ms(first != 0 ? first : now_ns);
    const std::string to = format_rfc3339_ms(last != 0 ? last : now_ns);
    note(ring, entry_kind::dropped, dropped, level::warn,
         std::to_string(count) + " records from " + ring.producer.service +
             " were dropped between " + from + " and " + to +
             ": its ring was full (the broker was unavailable or too slow), a record was too "
             "large, or the process died while writing one",
         {{"event", "dropped"}, {"dropped", count}, {"from", from}, {"to", to}}, now_ns);
    spdlog::warn("{} records dropped by {} (pid {})", count, ring.producer.service, ring.pid);
    h.drop_first_ns.store(0, std::memory_order_relaxed);
    h.drops_reported.store(dropped, std::memory_order_relaxed);
  }
  const std::uint64_t bad = ring.rejected + ring.reader.corrupt_frames();
  if (bad > ring.rejected_reported) {
    const std::uint64_t count = bad - ring.rejected_reported;
    note(ring, entry_kind::rejected, ring.view.header->head.load(std::memory_order_relaxed),
         level::warn,
         std::to_string(count) + " malformed records from " + ring.producer.service +
             " were rejected",
         {{"event", "rejected"}, {"rejected", count}}, now_ns);
    spdlog::warn("{} malformed records rejected from {} (pid {})", count, ring.producer.service,
                 ring.pid);
    ring.rejected_reported = bad;
  }
}

void ring_drain::rescan(std::int64_t now_ns) {
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir_.rings_dir(), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(dir_.shm_prefix(), 0) != 0) continue;  // not one of this instance's rings
    if (rings_.contains(name) || unreadable_.contains(name)) continue;
    attach(name, now_ns);
  }
}

void ring_drain::attach(const std::string& name, std::int64_t now_ns) {
  auto segment = shm_segment::open(name);
  if (!segment) {
    if (segment.error().code == errc::not_found) {
      std::error_code ignored;
      std::filesystem::remove(dir_.rings_dir() / name, ignored);  // segment gone: stale entry
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
  const identity& who = ring->producer;
  spdlog::info("producer attached: {} pid {} on {}", who.service, ring->pid, who.host);
  // Stored once per producer instance: a restarted broker re-attaching is no news.
  note(*ring, entry_kind::connected, 0, level::info,
       "producer connected: " + who.service + " (pid " + std::to_string(ring->pid) + " on " +
           who.host + ", " + who.language + " logwire " + who.version + ", shared memory)",
       {{"event", "connected"},
        {"pid", ring->pid},
        {"host", who.host},
        {"language", who.language},
        {"transport", "shared-memory"}},
       now_ns);
  rings_.emplace(name, std::move(ring));
}

bool ring_drain::reclaim_if_done(attached_ring& ring, std::int64_t now_ns) {
  if (ring.reader.backlog() != 0 || !ring.writer_gone(now_ns)) return false;
  // A writer that claimed space just before it closed or died may have moved the tail
  // since the backlog was read; the next poll will take it.
  if (ring.reader.backlog() != 0) return false;
  report_problems(ring, now_ns);
  const bool closed = ring.closed();
  const std::string pid = std::to_string(ring.pid);
  if (closed) {
    note(ring, entry_kind::disconnected, 0, level::info,
         "producer disconnected: " + ring.producer.service + " (pid " + pid + ")",
         {{"event", "disconnected"}, {"pid", ring.pid}}, now_ns);
  } else {
    note(ring, entry_kind::crashed, 0, level::warn,
         "producer ended without closing (crashed or killed): " + ring.producer.service + " (pid " +
             pid + "); every record it committed was delivered",
         {{"event", "crashed"}, {"pid", ring.pid}}, now_ns);
  }
  spdlog::info("producer {}: {} pid {}", closed ? "disconnected" : "ended without closing",
               ring.producer.service, ring.pid);
  shm_segment::remove(ring.name);
  std::error_code ignored;
  std::filesystem::remove(dir_.rings_dir() / ring.name, ignored);
  return true;
}

}  // namespace logwire
