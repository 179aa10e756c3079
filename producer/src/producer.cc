#include "logwire/producer.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <stop_token>
#include <thread>
#include <vector>

#include "logwire/logwire_generated.h"
#include "logwire/process_identity.h"
#include "logwire/remote_protocol.h"
#include "logwire/request_scope.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "logwire/utf8.h"
#include "logwire/version.h"
#include "record_writer.h"
#include "remote_sender.h"
#include "spool.h"

namespace logwire {
namespace {

constexpr std::size_t k_max_service_name = 128;
constexpr std::size_t k_initial_buffer_words = 512;  // 4 KiB: most records never grow it

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

result<void> check_service_name(std::string_view service) {
  if (service.empty()) return error{errc::invalid_argument, "service name is empty"};
  if (service.size() > k_max_service_name) {
    return error{errc::invalid_argument, "service name longer than 128 bytes"};
  }
  for (unsigned char c : service) {
    if (c < 0x20 || c == 0x7f) {
      return error{errc::invalid_argument, "service name has a control character"};
    }
  }
  if (!valid_utf8(service)) return error{errc::invalid_argument, "service name is not UTF-8"};
  return {};
}

result<std::size_t> ring_bytes_for(std::size_t requested, std::size_t fallback) {
  if (requested != 0) return requested;
  const char* env = std::getenv("LOGWIRE_RING_BYTES");
  if (env == nullptr || *env == '\0') return fallback;
  std::size_t bytes = 0;
  const auto [end, failure] = std::from_chars(env, env + std::strlen(env), bytes);
  if (failure != std::errc() || *end != '\0' || bytes == 0) {
    return error{errc::invalid_argument,
                 std::string("LOGWIRE_RING_BYTES must be a number of bytes, got '") + env + "'"};
  }
  return bytes;
}

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "unknown";
  return name.data();
}

wire::InstanceId random_instance_id() {
  std::random_device entropy;
  const auto draw = [&entropy] {
    return (static_cast<std::uint64_t>(entropy()) << 32) | static_cast<std::uint64_t>(entropy());
  };
  const std::uint64_t hi = draw();
  return wire::InstanceId(hi, draw());
}

flatbuffers::DetachedBuffer encode_identity(const std::string& service, wire::InstanceId id) {
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto identity = wire::CreateProducerIdentityDirect(
      fbb, service.c_str(), host_name().c_str(), static_cast<std::uint32_t>(::getpid()), &id, "c++",
      k_library_version);
  fbb.Finish(identity);
  return fbb.Release();
}

// The ring's entry in the registry the broker scans: an empty file named after the
// segment. Created after the ring is formatted, so the broker never finds a blank one.
result<void> register_ring(const runtime_dir& dir, const std::string& name) {
  const auto path = dir.rings_dir() / name;
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return error{errc::io_error, "cannot register ring at " + path.string()};
  ::close(fd);
  return {};
}

// "shm", or a ZeroMQ endpoint; from the options, else the environment.
result<std::string> endpoint_for(const std::string& requested) {
  std::string endpoint = requested;
  if (endpoint.empty()) {
    const char* env = std::getenv("LOGWIRE_ENDPOINT");
    endpoint = env != nullptr ? env : "";
  }
  if (endpoint.empty() || endpoint == "shm") return std::string("shm");
  if (endpoint.rfind("tcp://", 0) == 0 || endpoint.rfind("ipc://", 0) == 0) return endpoint;
  return error{errc::invalid_argument,
               "endpoint must be \"shm\" or a ZeroMQ endpoint like tcp://127.0.0.1:7717, got '" +
                   endpoint + "'"};
}

// The in-process ring of a remote producer: ordinary memory, zeroed, cache-line aligned.
struct heap_ring_deleter {
  void operator()(std::byte* bytes) const noexcept {
    ::operator delete[](bytes, std::align_val_t{64});
  }
};
using heap_ring = std::unique_ptr<std::byte[], heap_ring_deleter>;

heap_ring allocate_ring(std::size_t size) {
  auto* bytes = static_cast<std::byte*>(::operator new[](size, std::align_val_t{64}));
  std::memset(bytes, 0, size);
  return heap_ring(bytes);
}

}  // namespace

struct producer::impl {
  std::string service;
  std::optional<shm_segment> segment;  // shared memory
  heap_ring local_ring;                // ZeroMQ
  ring_view ring;
  ring_writer writer;
  // Shared memory: refreshes the ring's heartbeat so the broker can tell a live producer
  // from a dead one even where the pid says nothing (another pid namespace).
  std::jthread heartbeat;
  std::unique_ptr<remote_sender> sender;  // ZeroMQ

  impl(std::string service_name, shm_segment mapped, ring_view view)
      : service(std::move(service_name)),
        segment(std::move(mapped)),
        ring(view),
        writer(view),
        heartbeat([header = view.header](std::stop_token stop) { beat(*header, stop); }) {}

  impl(std::string service_name, heap_ring memory, ring_view view)
      : service(std::move(service_name)), local_ring(std::move(memory)), ring(view), writer(view) {}

  ~impl() {
    if (sender) {
      sender.reset();  // delivers what it can within the flush timeout; before the ring goes
      return;
    }
    heartbeat.request_stop();
    heartbeat.join();
    ring.header->state.store(k_ring_closed, std::memory_order_release);
  }

  static void beat(ring_header& header, std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    while (!stop.stop_requested()) {
      header.heartbeat_ns.store(static_cast<std::uint64_t>(now_ns()), std::memory_order_relaxed);
      wake.wait_for(lock, stop, k_heartbeat_interval, [] { return false; });
    }
  }
};

producer::producer(std::unique_ptr<impl> state) noexcept : impl_(std::move(state)) {}
producer::producer(producer&&) noexcept = default;
producer& producer::operator=(producer&&) noexcept = default;
producer::~producer() = default;

result<producer> producer::open(producer_options options) {
  if (auto valid = check_service_name(options.service); !valid) return valid.error();
  auto endpoint = endpoint_for(options.endpoint);
  if (!endpoint) return endpoint.error();
  if (*endpoint != "shm") return open_remote(std::move(options), *endpoint);
  auto dir = runtime_dir::open(options.runtime_dir);
  if (!dir) return dir.error();

  const wire::InstanceId id = random_instance_id();
  const auto identity = encode_identity(options.service, id);
  auto ring_bytes = ring_bytes_for(options.ring_bytes, k_default_ring_bytes);
  if (!ring_bytes) return ring_bytes.error();
  const std::uint64_t capacity = ring_capacity_for(*ring_bytes);
  const std::string name = dir->ring_segment(::getpid(), id.hi());

  auto segment = shm_segment::create(name, ring_segment_size(capacity));
  if (!segment) return segment.error();
  auto ring = format_ring(
      segment->bytes(),
      {.producer_identity = {reinterpret_cast<const std::byte*>(identity.data()), identity.size()},
       .owner_pid = static_cast<std::int32_t>(::getpid()),
       .owner_start = process_start_time(::getpid()),
       .created_ns = static_cast<std::uint64_t>(now_ns())});
  if (!ring) {
    shm_segment::remove(name);
    return ring.error();
  }
  if (auto registered = register_ring(*dir, name); !registered) {
    shm_segment::remove(name);
    return registered.error();
  }
  return producer(std::make_unique<impl>(std::move(options.service), std::move(*segment), *ring));
}

result<producer> producer::open_remote(producer_options options, const std::string& endpoint) {
  const wire::InstanceId id = random_instance_id();
  const auto encoded = encode_identity(options.service, id);
  std::vector<std::byte> identity(
      reinterpret_cast<const std::byte*>(encoded.data()),
      reinterpret_cast<const std::byte*>(encoded.data()) + encoded.size());
  auto ring_bytes = ring_bytes_for(options.ring_bytes, k_default_remote_ring_bytes);
  if (!ring_bytes) return ring_bytes.error();
  const std::uint64_t capacity = ring_capacity_for(*ring_bytes);
  const remote_settings settings{
      .endpoint = endpoint,
      .reconnect_max =
          std::max(options.reconnect_max, std::chrono::milliseconds(remote::k_reconnect_min)),
      .queue_bytes =
          options.queue_bytes != 0 ? options.queue_bytes : remote::k_default_queue_bytes};

  std::filesystem::path spool_dir = options.spool_dir;
  if (spool_dir.empty()) {
    const char* env = std::getenv("LOGWIRE_SPOOL_DIR");
    if (env != nullptr) spool_dir = env;
  }
  std::optional<spool_file> spool;
  std::vector<spool_file::orphan> orphans;
  if (!spool_dir.empty()) {
    // Orphans first, so this instance's own spool is not among them.
    orphans = spool_file::claim_orphans(spool_dir, settings.queue_bytes);
    auto created = spool_file::create(spool_dir, options.service, id.hi(), id.lo(), identity);
    if (!created) return created.error();
    spool.emplace(std::move(*created));
  }

  auto memory = allocate_ring(ring_segment_size(capacity));
  auto ring = format_ring({memory.get(), ring_segment_size(capacity)},
                          {.producer_identity = identity,
                           .owner_pid = static_cast<std::int32_t>(::getpid()),
                           .owner_start = process_start_time(::getpid()),
                           .created_ns = static_cast<std::uint64_t>(now_ns())});
  if (!ring) return ring.error();
  auto state = std::make_unique<impl>(std::move(options.service), std::move(memory), *ring);
  try {
    state->sender =
        std::make_unique<remote_sender>(settings, *ring, std::move(identity), std::move(spool),
                                        std::move(orphans), options.flush_timeout);
  } catch (const std::exception& e) {
    return error{errc::invalid_argument, "cannot connect to " + endpoint + ": " + e.what()};
  }
  return producer(std::move(state));
}

bool producer::write(const record_view& record) noexcept {
  if (!impl_) return false;
  const std::int64_t now = now_ns();
  const record_view* view = &record;
  record_view scoped;
  if (const log_context* scope = request_scope::current()) {
    scoped = record;
    log_context& ids = scoped.context;
    if (ids.request_id.empty()) ids.request_id = scope->request_id;
    if (ids.traceparent.empty()) ids.traceparent = scope->traceparent;
    if (ids.span_id.empty()) ids.span_id = scope->span_id;
    view = &scoped;
  }
  // Laid out in a buffer of this thread's, then copied into the ring in one go: building
  // in place in the shared ring measured slower, as every scattered store there pulls a
  // cache line back from the draining broker's core.
  const record_writer encoded(*view, record.timestamp_ns != 0 ? record.timestamp_ns : now);
  const std::size_t size = encoded.size();
  if (size > k_max_record_bytes || view->fields.size() > k_max_record_fields) {
    impl_->writer.count_drop(static_cast<std::uint64_t>(now));
    return false;
  }
  thread_local std::vector<std::uint64_t> buffer(k_initial_buffer_words);  // 8-aligned
  if (size > buffer.size() * sizeof(std::uint64_t)) {
    try {
      buffer.resize(size / sizeof(std::uint64_t) + 1);
    } catch (...) {
      impl_->writer.count_drop(static_cast<std::uint64_t>(now));
      return false;
    }
  }
  auto* bytes = reinterpret_cast<std::byte*>(buffer.data());
  encoded.write(bytes);
  const bool written =
      impl_->writer.write({bytes, size}, static_cast<std::uint64_t>(now)) == write_status::written;
  if (impl_->sender) impl_->sender->wake();
  return written;
}

namespace {
const std::string k_no_name;  // what a moved-from producer answers
}  // namespace

const std::string& producer::service() const noexcept {
  return impl_ ? impl_->service : k_no_name;
}

std::string_view producer::transport() const noexcept {
  if (!impl_) return {};
  return impl_->sender ? "zeromq" : "shared-memory";
}

std::uint64_t producer::dropped() const noexcept {
  if (!impl_) return 0;
  const std::uint64_t refused = impl_->ring.header->dropped.load(std::memory_order_relaxed);
  return refused + (impl_->sender ? impl_->sender->queue_dropped() : 0);
}

std::uint64_t producer::unacknowledged() const noexcept {
  return impl_ && impl_->sender ? impl_->sender->unacknowledged() : 0;
}

const std::string& producer::ring_name() const noexcept {
  return impl_ && impl_->segment ? impl_->segment->name() : k_no_name;
}

bool producer::flush(std::chrono::milliseconds timeout) noexcept {
  if (!impl_) return true;
  if (impl_->sender) return impl_->sender->flush(timeout);
  // Shared memory: everything below the tail at the call is drained once head passes it.
  const ring_header& header = *impl_->ring.header;
  const std::uint64_t logged = header.tail.load(std::memory_order_acquire);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (header.head.load(std::memory_order_acquire) < logged) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace logwire
