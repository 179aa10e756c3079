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
#include <random>
#include <stop_token>
#include <thread>
#include <vector>

#include "logwire/logwire_generated.h"
#include "logwire/process_identity.h"
#include "logwire/request_scope.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "logwire/version.h"
#include "record_writer.h"

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
  return {};
}

result<std::size_t> ring_bytes_for(std::size_t requested) {
  if (requested != 0) return requested;
  const char* env = std::getenv("LOGWIRE_RING_BYTES");
  if (env == nullptr || *env == '\0') return k_default_ring_bytes;
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

}  // namespace

struct producer::impl {
  std::string service;
  shm_segment segment;
  ring_view ring;
  ring_writer writer;
  // Refreshes the ring's heartbeat so the broker can tell a live producer from a dead
  // one even where the pid says nothing (another pid namespace).
  std::jthread heartbeat;

  impl(std::string service_name, shm_segment mapped, ring_view view)
      : service(std::move(service_name)),
        segment(std::move(mapped)),
        ring(view),
        writer(view),
        heartbeat([header = view.header](std::stop_token stop) { beat(*header, stop); }) {}

  ~impl() {
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
  auto dir = runtime_dir::open(options.runtime_dir);
  if (!dir) return dir.error();

  const wire::InstanceId id = random_instance_id();
  const auto identity = encode_identity(options.service, id);
  auto ring_bytes = ring_bytes_for(options.ring_bytes);
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
  return impl_->writer.write({bytes, size}, static_cast<std::uint64_t>(now)) ==
         write_status::written;
}

namespace {
const std::string k_no_name;  // what a moved-from producer answers
}  // namespace

const std::string& producer::service() const noexcept {
  return impl_ ? impl_->service : k_no_name;
}

std::uint64_t producer::dropped() const noexcept {
  return impl_ ? impl_->ring.header->dropped.load(std::memory_order_relaxed) : 0;
}

const std::string& producer::ring_name() const noexcept {
  return impl_ ? impl_->segment.name() : k_no_name;
}

}  // namespace logwire
