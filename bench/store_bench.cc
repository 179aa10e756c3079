// The store with 1,000,000 records of a realistic mix (issue 5): lookup by request ID,
// one service at WARN and above (newest 100), a text search over everything, inserting
// (exactly-once check, burst dedup, rate limit, eviction and indexes included) into an
// empty store and into one the memory cap keeps evicting from, and the memory the store
// takes for the records' FlatBuffers bytes.
//
// The mix: 10 services of uneven volume, 50,000 records/s together as the broker's clock
// sees them (the busiest 9,000/s, under the default limit of 10,000/s per service, so
// every record is stored). Requests of 5 to 20 consecutive records of one service share
// a request ID (a UUID), a valid W3C traceparent, one to three span IDs and the user's
// user_id and session_id; the first record of a request names its route, about half of
// the others a duration_ms. Levels ~40 % DEBUG, 50 % INFO, 8 % WARN, 2 % ERROR; messages
// from a vocabulary with numbers in them; a third of the errors carry a stack trace.
// Records are 360 to 450 bytes of FlatBuffers, those with a stack trace up to ~1 KB. No
// record repeats another, so the dedup looks at each and folds none. The broker's
// maintain() runs every 100 ms of that clock, as in logwire-broker.
//
// observe's overview modes over the same store: `summary` of the whole store, of a window
// of the middle half (its edges cut through blocks), and of one service in that window;
// and `services`.
//
// observe's `timeline` for one request over the same store, with the browser's side of the
// newest 20,000 requests in its frontend store (the request as logwire.js records it, with
// the request's ID and traceparent, and a click before every third): the browser events
// and backend records of a random one of them, merged and written as JSON within the MCP
// bridge's default answer size. Every record of the corpus carries its request's IDs, so
// the scan for ID-less records to infer joins from finds none.
//
// References measured in the same run: copying the same records with memcpy (the floor of
// an insert), decoding the records a lookup returns, and a plain case-insensitive search
// of every record's text straight from the generated records.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "latency_histogram.h"
#include "logwire/frontend_event.h"
#include "logwire/log_record.h"
#include "logwire/logwire_generated.h"
#include "logwire/observe_json.h"
#include "logwire/observe_query.h"
#include "logwire/record_encoder.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"

namespace {

using logwire::bench::latency_histogram;
using logwire::bench::ticks;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t k_records = 1'000'000;
constexpr std::int64_t k_receive_interval_ns = 20'000;  // 50,000 records/s, all services
constexpr std::int64_t k_maintain_interval_ns = 100'000'000;
constexpr std::uint64_t k_cap_fits_all = 1024ull * 1024 * 1024;
constexpr std::uint64_t k_cap_evicting = 64ull * 1024 * 1024;  // about 150,000 records
constexpr std::size_t k_steady_prefill = 250'000;              // evicting well before this

struct service_share {
  std::string_view name;
  int per_mille;  // of all records
};
constexpr std::array<service_share, 10> k_services{{{"api-gateway", 180},
                                                    {"orders", 140},
                                                    {"payments", 120},
                                                    {"users", 100},
                                                    {"inventory", 100},
                                                    {"search", 100},
                                                    {"notifications", 80},
                                                    {"auth", 80},
                                                    {"shipping", 50},
                                                    {"recommendations", 50}}};

// {n} a number up to 7 digits, {ms} milliseconds, {k} a small count.
struct message_template {
  logwire::level severity;
  int per_mille;
  std::string_view text;
};
using enum logwire::level;
constexpr std::array<message_template, 21> k_messages{{
    {debug, 100, "cache lookup for key user:{n} hit in {ms} ms"},
    {debug, 90,
     "SQL SELECT id, status, total FROM orders WHERE customer_id = {n} returned {k} rows"},
    {debug, 70, "acquired connection {k} from pool db-primary ({k} idle)"},
    {debug, 60, "serialized response of {n} bytes with gzip level 6"},
    {debug, 55, "feature flag checkout_v2 evaluated to true for user {n}"},
    {debug, 25, "http client timeout set to {ms} ms for calls to inventory-service"},
    {info, 120, "GET /api/v1/orders/{n} completed with status 200 in {ms} ms"},
    {info, 80, "POST /api/v1/payments completed with status 201 in {ms} ms"},
    {info, 80, "order {n} created for customer {n} with {k} items totalling {n}.{k} EUR"},
    {info, 60, "user {n} logged in from 10.{k}.{k}.{k} using Chrome 118 on macOS"},
    {info, 50, "shipment {n} handed to carrier DHL with tracking number JD0146000{n}"},
    {info, 60, "search for \"wireless headphones\" returned {n} results in {ms} ms"},
    {info, 50, "email notification {n} queued for delivery to customer {n}"},
    {warn, 25, "slow query on table orders took {ms} ms (threshold 500 ms)"},
    {warn, 20, "retrying payment capture for order {n} (attempt {k} of 3)"},
    {warn, 15, "upstream inventory-service answered 429 Too Many Requests, backing off {ms} ms"},
    {warn, 20, "call to payments-gateway hit a read timeout after {ms} ms, retrying"},
    {error, 6, "payment capture failed for order {n}: gateway timeout after {ms} ms"},
    {error, 5, "database error on INSERT INTO orders: deadlock detected in transaction {n}"},
    {error, 5, "unhandled exception in POST /api/v1/checkout: NullPointerException"},
    {error, 4,
     "failed to publish event order.created for order {n} to kafka: broker not available"},
}};

constexpr std::array<std::string_view, 6> k_routes{"/api/v1/orders/{id}", "/api/v1/payments",
                                                   "/api/v1/cart/items",  "/api/v1/users/{id}",
                                                   "/api/v1/search",      "/api/v1/checkout"};
constexpr std::array<std::string_view, 8> k_frames{
    "at com.shop.payments.GatewayClient.capture(GatewayClient.java:{k}{k})",
    "at com.shop.payments.CaptureService.run(CaptureService.java:{k}{k})",
    "at com.shop.orders.OrderRepository.insert(OrderRepository.java:{k}{k})",
    "at org.springframework.transaction.support.TransactionTemplate.execute("
    "TransactionTemplate.java:140)",
    "at com.shop.web.CheckoutController.post(CheckoutController.java:{k}{k})",
    "at org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)",
    "at java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "at java.base/java.lang.Thread.run(Thread.java:833)"};

constexpr std::array<std::string_view, 3> k_exceptions{
    "java.net.SocketTimeoutException: Read timed out",
    "java.sql.SQLTransactionRollbackException: Deadlock found when trying to get lock",
    "java.lang.IllegalStateException: cart 4711 was already checked out"};

// Every record, encoded once, back to back at 8-byte offsets, with what feeding it needs.
struct corpus {
  std::vector<std::byte> bytes;
  std::vector<std::uint64_t> offsets;  // k_records + 1
  std::vector<std::uint8_t> service;
  std::vector<std::uint32_t> request_first;  // per request: its first record
  std::vector<std::string> request_ids;
  std::vector<std::string> request_traceparents;
  std::int64_t base_ns = 0;
  std::uint64_t record_bytes = 0;  // the records' FlatBuffers bytes, summed
  std::uint64_t frame_bytes = 0;   // what the record log's frames for them take
  std::size_t min_size = ~std::size_t{0};
  std::size_t max_size = 0;

  std::span<const std::byte> record(std::size_t i) const {
    return {bytes.data() + offsets[i], bytes.data() + offsets[i + 1]};
  }
  std::int64_t receive_ns(std::size_t i) const {
    return base_ns + static_cast<std::int64_t>(i) * k_receive_interval_ns;
  }
};

class generator {
 public:
  explicit generator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  std::string hex(std::size_t digits) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out(digits, '0');
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < digits; ++i) {
      if (i % 16 == 0) bits = rng_() | 1;  // never all zeros: a valid trace and span ID
      out[i] = k_hex[bits & 15];
      bits >>= 4;
    }
    return out;
  }
  std::string uuid() {
    std::string h = hex(32);
    h[12] = '4';
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20);
  }
  std::string fill(std::string_view text) {
    std::string out;
    while (!text.empty()) {
      const std::size_t open = text.find('{');
      out.append(text.substr(0, open));
      if (open == std::string_view::npos) break;
      const std::size_t close = text.find('}', open);
      const std::string_view what = text.substr(open + 1, close - open - 1);
      const std::uint64_t n = what == "n"    ? 1 + below(9'999'999)
                              : what == "ms" ? 1 + below(4999)
                                             : 1 + below(20);
      out += std::to_string(n);
      text.remove_prefix(close + 1);
    }
    return out;
  }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    int at = static_cast<int>(below(1000));
    for (const T& item : items) {
      if ((at -= item.per_mille) < 0) return item;
    }
    return items.back();
  }

 private:
  std::mt19937_64 rng_;
};

corpus make_corpus() {
  corpus c;
  c.bytes.reserve(k_records * 400);
  c.offsets.reserve(k_records + 1);
  c.service.reserve(k_records);
  c.base_ns = logwire::unix_now_ns();
  generator gen(20'261'124);
  logwire::record_encoder encoder;
  while (c.service.size() < k_records) {
    const auto service = static_cast<std::uint8_t>(&gen.pick(k_services) - k_services.data());
    const std::size_t count =
        std::min<std::size_t>(5 + gen.below(16), k_records - c.service.size());
    c.request_first.push_back(static_cast<std::uint32_t>(c.service.size()));
    c.request_ids.push_back(gen.uuid());
    const std::string traceparent = "00-" + gen.hex(32) + "-" + gen.hex(16) + "-01";
    c.request_traceparents.push_back(traceparent);
    const std::array<std::string, 3> spans{gen.hex(16), gen.hex(16), gen.hex(16)};
    const std::size_t span_count = 1 + gen.below(3);
    const auto user = static_cast<std::int64_t>(1 + gen.below(200'000));
    const std::string session =
        "s-" + std::to_string(user * 7 + static_cast<std::int64_t>(gen.below(2)));
    const std::string_view route = k_routes[gen.below(k_routes.size())];
    std::vector<std::string> said;
    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t i = c.service.size();
      // No record repeats another of its request (whose IDs it shares), so none is folded
      // by the burst dedup and every one is stored.
      const message_template* m = nullptr;
      std::string message;
      do {
        m = &gen.pick(k_messages);
        message = gen.fill(m->text);
      } while (std::find(said.begin(), said.end(), message) != said.end());
      said.push_back(message);
      std::string stack;
      if (m->severity == error && gen.below(3) == 0) {
        stack = k_exceptions[gen.below(k_exceptions.size())];
        for (std::size_t f = gen.below(5); f < k_frames.size(); ++f)
          stack += "\n\t" + gen.fill(k_frames[f]);
      }
      // Every record names its user and session; the first of a request its route, about
      // half of the others a duration.
      std::array<logwire::field, 3> fields{logwire::field("user_id", user),
                                           logwire::field("session_id", session),
                                           logwire::field("route", route)};
      std::size_t field_count = 3;
      if (r != 0) {
        fields[2] = logwire::field("duration_ms", static_cast<std::int64_t>(gen.below(2000)));
        field_count = 2 + gen.below(2);
      }
      const std::int64_t timestamp =
          c.receive_ns(i) - 200'000 - static_cast<std::int64_t>(gen.below(800'000));
      const auto bytes = encoder.encode({.severity = m->severity,
                                         .message = message,
                                         .context = {.request_id = c.request_ids.back(),
                                                     .traceparent = traceparent,
                                                     .span_id = spans[r * span_count / count],
                                                     .stack_trace = stack},
                                         .fields = {fields.data(), field_count}},
                                        timestamp);
      if (!logwire::verify_record(bytes)) std::abort();
      c.offsets.push_back(c.bytes.size());
      c.bytes.insert(c.bytes.end(), bytes.begin(), bytes.end());
      c.bytes.resize((c.bytes.size() + 7) & ~std::size_t{7});
      c.service.push_back(service);
      c.record_bytes += bytes.size();
      c.frame_bytes +=
          logwire::record_log::frame_bytes(k_services[service].name.size(), bytes.size());
      c.min_size = std::min(c.min_size, bytes.size());
      c.max_size = std::max(c.max_size, bytes.size());
    }
  }
  c.offsets.push_back(c.bytes.size());
  return c;
}

const corpus& records() {
  static const corpus c = [] {
    const auto start = clock_type::now();
    corpus made = make_corpus();
    std::printf("generated %zu records in %.1f s: %.0f bytes on average (%zu..%zu), %zu requests\n",
                k_records, std::chrono::duration<double>(clock_type::now() - start).count(),
                static_cast<double>(made.record_bytes) / k_records, made.min_size, made.max_size,
                made.request_ids.size());
    return made;
  }();
  return c;
}

// A store on a private runtime directory, removed with its shared memory when done.
class scratch_store {
 public:
  explicit scratch_store(std::uint64_t cap) {
    char pattern[] = "/tmp/lw-bench-XXXXXX";
    root_ = ::mkdtemp(pattern);
    dir_.emplace(logwire::runtime_dir::open(root_ / "rt").value());
    store_ = logwire::store::open(*dir_, {.memory_cap_bytes = cap}, records().base_ns).value();
  }
  ~scratch_store() {
    store_.reset();
    dir_->remove_shared_memory();
    std::filesystem::remove_all(root_);
  }
  scratch_store(const scratch_store&) = delete;
  scratch_store& operator=(const scratch_store&) = delete;
  logwire::store& get() { return *store_; }

 private:
  std::filesystem::path root_;
  std::optional<logwire::runtime_dir> dir_;
  std::unique_ptr<logwire::store> store_;
};

// Feeds records to a store as the broker takes them: one producer instance per service with
// its own sequence, maintain() every 100 ms of receive time.
class feeder {
 public:
  void feed(logwire::store& store, std::size_t begin, std::size_t end) {
    const corpus& c = records();
    for (std::size_t i = begin; i < end; ++i) {
      const std::int64_t now = c.receive_ns(i);
      if (now >= next_maintain_ns_) {
        store.maintain(now);
        next_maintain_ns_ = now + k_maintain_interval_ns;
      }
      const std::uint8_t s = c.service[i];
      const auto status = store.insert(c.record(i), {.service = k_services[s].name,
                                                     .receive_ns = now,
                                                     .instance = {s + 1u, 0x5eed},
                                                     .sequence = sequence_[s]++});
      ++statuses_[static_cast<std::size_t>(status)];
    }
  }
  std::uint64_t count(logwire::insert_status status) const {
    return statuses_[static_cast<std::size_t>(status)];
  }

 private:
  std::array<std::uint64_t, k_services.size()> sequence_{};
  std::array<std::uint64_t, 6> statuses_{};
  std::int64_t next_maintain_ns_ = 0;
};

// ---- memory: measured once, while filling the store the queries read ----

struct process_memory {
  double rss = 0, anon = 0, shmem = 0, heap = 0;  // bytes
  static process_memory now() {
    process_memory m;
    std::ifstream status("/proc/self/status");
    std::string key;
    double kib = 0;
    while (status >> key) {
      if (key == "VmRSS:" && status >> kib) m.rss = kib * 1024;
      if (key == "RssAnon:" && status >> kib) m.anon = kib * 1024;
      if (key == "RssShmem:" && status >> kib) m.shmem = kib * 1024;
    }
    const struct mallinfo2 heap = ::mallinfo2();
    m.heap = static_cast<double>(heap.uordblks + heap.hblkhd);
    return m;
  }
};

struct memory_figures {
  process_memory growth;
  double store_bytes = 0;
  double seconds = 0;
  std::uint64_t stored = 0;
};
memory_figures g_memory;
std::map<std::string, std::vector<double>> g_figures;  // per figure, one value per run

// Filled by the first query benchmark, which runs before the insert benchmarks: the
// process's growth is then the store's own, not memory a freed store left behind.
scratch_store& query_store() {
  static const std::unique_ptr<scratch_store> s = [] {
    records();
    const process_memory before = process_memory::now();
    auto made = std::make_unique<scratch_store>(k_cap_fits_all);
    feeder feed;
    const auto start = clock_type::now();
    feed.feed(made->get(), 0, k_records);
    g_memory.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    const process_memory after = process_memory::now();
    g_memory.growth = {after.rss - before.rss, after.anon - before.anon, after.shmem - before.shmem,
                       after.heap - before.heap};
    g_memory.store_bytes = static_cast<double>(made->get().memory_bytes());
    g_memory.stored = feed.count(logwire::insert_status::stored);
    return made;
  }();
  return *s;
}

// ---- insert ----

// Wall time, and the CPU time of this thread (page faults included): on a machine that
// other work shares, the second is what one core's throughput is.
class stopwatch {
 public:
  stopwatch() : wall_(clock_type::now()), cpu_(thread_cpu_s()) {}
  double wall_s() const { return std::chrono::duration<double>(clock_type::now() - wall_).count(); }
  double cpu_s() const { return thread_cpu_s() - cpu_; }

 private:
  static double thread_cpu_s() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  }
  clock_type::time_point wall_;
  double cpu_;
};

void report_rate(benchmark::State& state, const std::string& name, std::size_t n,
                 const stopwatch& timer) {
  const double wall = timer.wall_s();
  const double cpu = timer.cpu_s();
  state.SetIterationTime(wall);
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.counters["rec_per_s"] = static_cast<double>(n) / wall;
  state.counters["rec_per_cpu_s"] = static_cast<double>(n) / cpu;
  g_figures[name].push_back(static_cast<double>(n) / wall);
  g_figures[name + "_cpu"].push_back(static_cast<double>(n) / cpu);
}

void insert_into_empty_store(benchmark::State& state) {
  for (auto _ : state) {
    scratch_store s(k_cap_fits_all);
    feeder feed;
    const stopwatch timer;
    feed.feed(s.get(), 0, k_records);
    report_rate(state, "insert_fill", k_records, timer);
    state.counters["stored"] = static_cast<double>(feed.count(logwire::insert_status::stored));
    state.counters["rate_limited"] =
        static_cast<double>(feed.count(logwire::insert_status::rate_limited));
    state.counters["deduplicated"] =
        static_cast<double>(feed.count(logwire::insert_status::deduplicated));
  }
}

void insert_at_memory_cap(benchmark::State& state) {
  for (auto _ : state) {
    scratch_store s(k_cap_evicting);
    feeder feed;
    feed.feed(s.get(), 0, k_steady_prefill);
    const stopwatch timer;
    feed.feed(s.get(), k_steady_prefill, k_records);
    report_rate(state, "insert_steady", k_records - k_steady_prefill, timer);
    std::uint64_t evicted = 0;
    for (const auto& counts : s.get().counts()) evicted += counts.evicted;
    state.counters["evicted"] = static_cast<double>(evicted);
    state.counters["retained"] = static_cast<double>(s.get().size());
    state.counters["stored"] = static_cast<double>(feed.count(logwire::insert_status::stored));
  }
}

// The floor: the same records copied one by one into a shared-memory segment never
// touched before (as the store's fresh one is), and into a 64 MiB buffer used round and
// round (at the cap).
void reference_memcpy_fresh(benchmark::State& state) {
  const corpus& c = records();
  const std::string name = "/lw-bench-copy-" + std::to_string(::getpid());
  for (auto _ : state) {
    auto segment = logwire::shm_segment::create(name, c.bytes.size()).value();
    std::byte* to = segment.bytes().data();
    const stopwatch timer;
    for (std::size_t i = 0; i < k_records; ++i) {
      const auto r = c.record(i);
      std::memcpy(to + c.offsets[i], r.data(), r.size());
    }
    benchmark::ClobberMemory();
    report_rate(state, "memcpy_fresh", k_records, timer);
    logwire::shm_segment::remove(name);
  }
}

void reference_memcpy_warm(benchmark::State& state) {
  const corpus& c = records();
  std::vector<std::byte> ring(k_cap_evicting + 4096);
  for (auto _ : state) {
    const stopwatch timer;
    std::size_t at = 0;
    for (std::size_t i = k_steady_prefill; i < k_records; ++i) {
      const auto r = c.record(i);
      if (at + r.size() > k_cap_evicting) at = 0;
      std::memcpy(ring.data() + at, r.data(), r.size());
      at += (r.size() + 7) & ~std::size_t{7};
    }
    benchmark::ClobberMemory();
    report_rate(state, "memcpy_warm", k_records - k_steady_prefill, timer);
  }
}

// ---- queries, on the store of 1,000,000 records ----

void note_latency(benchmark::State& state, const char* name, latency_histogram& h) {
  g_figures[std::string(name) + "_p50"].push_back(h.percentile_ns(0.5));
  g_figures[std::string(name) + "_p99"].push_back(h.percentile_ns(0.99));
  g_figures[std::string(name) + "_p999"].push_back(h.percentile_ns(0.999));
  g_figures[std::string(name) + "_max"].push_back(h.percentile_ns(1.0));
  h.report(state);
  state.counters["max_ns"] = h.percentile_ns(1.0);
}

void lookup_by_request_id(benchmark::State& state) {
  const logwire::store& s = query_store().get();
  const corpus& c = records();
  generator pick(7);
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::uint64_t returned = 0, wrong = 0;
  logwire::store_query q;
  for (auto _ : state) {
    const std::size_t request = pick.below(c.request_ids.size());
    q.request_id = c.request_ids[request];
    const std::uint64_t start = ticks();
    const auto result = s.query(q);
    h.add(ticks() - start);
    const std::size_t expected =
        (request + 1 < c.request_first.size() ? c.request_first[request + 1] : k_records) -
        c.request_first[request];
    returned += result->logs.size();
    wrong += result->total_count != expected;
  }
  note_latency(state, "lookup", h);
  state.counters["records_per_answer"] =
      static_cast<double>(returned) / static_cast<double>(state.iterations());
  state.counters["wrong_answers"] = static_cast<double>(wrong);
}

// What answering costs without the store: decoding the same records, straight from the
// generated bytes.
void reference_decode_request(benchmark::State& state) {
  const corpus& c = records();
  generator pick(7);
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const std::size_t request = pick.below(c.request_ids.size());
    const std::size_t end =
        request + 1 < c.request_first.size() ? c.request_first[request + 1] : k_records;
    const std::uint64_t start = ticks();
    std::vector<logwire::log_record> out;
    for (std::size_t i = c.request_first[request]; i < end; ++i)
      out.push_back(logwire::decode_record(c.record(i), k_services[c.service[i]].name));
    benchmark::DoNotOptimize(out.data());
    h.add(ticks() - start);
  }
  note_latency(state, "decode_request", h);
}

void service_at_level_newest_100(benchmark::State& state, const char* name,
                                 logwire::level min_level) {
  const logwire::store& s = query_store().get();
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::uint64_t matches = 0, returned = 0;
  std::size_t next = 0;
  logwire::store_query q{.min_level = min_level, .limit = 100};
  for (auto _ : state) {
    q.services = {std::string(k_services[next++ % k_services.size()].name)};
    const std::uint64_t start = ticks();
    const auto result = s.query(q);
    h.add(ticks() - start);
    matches += result->total_count;
    returned += result->logs.size();
  }
  note_latency(state, name, h);
  const auto n = static_cast<double>(state.iterations());
  state.counters["matches"] = static_cast<double>(matches) / n;
  state.counters["returned"] = static_cast<double>(returned) / n;
}

void text_search(benchmark::State& state, const char* name, std::string needle) {
  const logwire::store& s = query_store().get();
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::size_t matches = 0;
  const logwire::store_query q{.text = needle, .limit = 100};
  std::vector<double> cpu;
  for (auto _ : state) {
    const stopwatch timer;
    const std::uint64_t start = ticks();
    const auto result = s.query(q);
    h.add(ticks() - start);
    cpu.push_back(timer.cpu_s() * 1e9);
    matches = result->total_count;
  }
  note_latency(state, name, h);
  std::sort(cpu.begin(), cpu.end());
  state.counters["cpu_p50_ns"] = cpu[cpu.size() / 2];
  g_figures[std::string(name) + "_cpu"].push_back(cpu[cpu.size() / 2]);
  state.counters["matches"] = static_cast<double>(matches);
  state.counters["match_percent"] = 100.0 * static_cast<double>(matches) / k_records;
}

char lower(char ch) {
  return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
}

// The same search over the generated records with the standard library's Horspool.
void reference_text_scan(benchmark::State& state, const char* name, std::string needle) {
  const corpus& c = records();
  const std::boyer_moore_horspool_searcher searcher(
      needle.begin(), needle.end(), [](char ch) { return std::hash<char>{}(lower(ch)); },
      [](char a, char b) { return lower(a) == lower(b); });
  const auto contains = [&](const flatbuffers::String* text) {
    if (text == nullptr) return false;
    const std::string_view v = text->string_view();
    return std::search(v.begin(), v.end(), searcher) != v.end();
  };
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::size_t matches = 0;
  for (auto _ : state) {
    const std::uint64_t start = ticks();
    matches = 0;
    for (std::size_t i = 0; i < k_records; ++i) {
      const auto& r = *flatbuffers::GetRoot<logwire::wire::Record>(c.record(i).data());
      matches += contains(r.message()) || contains(r.stack_trace());
    }
    h.add(ticks() - start);
  }
  note_latency(state, name, h);
  state.counters["matches"] = static_cast<double>(matches);
}

// ---- observe's overview modes ----

void summary(benchmark::State& state, const char* name, bool windowed, bool one_service) {
  const logwire::store& s = query_store().get();
  const corpus& c = records();
  logwire::summary_query q;
  if (windowed) {
    // The middle half of the records' times.
    q.since_ns = c.receive_ns(k_records / 4);
    q.until_ns = c.receive_ns(k_records * 3 / 4);
  }
  std::size_t next = 0;
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::uint64_t counted = 0, repeated = 0, errors = 0;
  for (auto _ : state) {
    if (one_service) q.services = {std::string(k_services[next++ % k_services.size()].name)};
    const std::uint64_t start = ticks();
    const logwire::store_summary result = s.summary(q);
    h.add(ticks() - start);
    counted += result.total_count;
    repeated += result.repeated.size();
    errors += result.newest_errors.size();
  }
  note_latency(state, name, h);
  const auto n = static_cast<double>(state.iterations());
  state.counters["entries"] = static_cast<double>(counted) / n;
  state.counters["repeated"] = static_cast<double>(repeated) / n;
  state.counters["errors"] = static_cast<double>(errors) / n;
}

void services(benchmark::State& state) {
  const logwire::store& s = query_store().get();
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::size_t listed = 0;
  for (auto _ : state) {
    const std::uint64_t start = ticks();
    const auto result = s.services();
    h.add(ticks() - start);
    listed = result.size();
  }
  note_latency(state, "services", h);
  state.counters["services"] = static_cast<double>(listed);
}

// ---- observe's timeline ----

constexpr std::size_t k_browser_requests = 20'000;  // the newest, seen by the browser too
constexpr std::size_t k_events_per_batch = 50;
constexpr std::size_t k_timeline_max_bytes = 20'000;  // logwire-mcp's default maxBytes

std::size_t request_end(const corpus& c, std::size_t request) {
  return request + 1 < c.request_first.size() ? c.request_first[request + 1] : k_records;
}

// The browser's side of the newest k_browser_requests requests, into the query store's
// frontend store once: for each a click on every third, then the request (POST to a route,
// 2 ms before its first record reached the broker, answered 1 ms after its last; one in
// ten a 500), in batches of one page as logwire.js sends them. Returns the first request
// with a browser side.
std::size_t browser_side() {
  static const std::size_t first = [] {
    logwire::store& s = query_store().get();
    const corpus& c = records();
    const std::size_t begin = c.request_ids.size() - k_browser_requests;
    logwire::frontend_batch batch;
    std::uint64_t sequence = 0;
    std::uint64_t stored = 0;
    const auto send = [&](std::int64_t now) {
      batch.page_id = "pg-bench";
      batch.first_sequence = batch.events.front().sequence;
      for (auto& event : batch.events) event.receive_ns = now;
      stored += s.frontend().insert(std::move(batch), now).stored;
      batch = {};
    };
    for (std::size_t r = begin; r < c.request_ids.size(); ++r) {
      const std::int64_t start = c.receive_ns(c.request_first[r]) - 2'000'000;
      const std::int64_t answered = c.receive_ns(request_end(c, r) - 1) + 1'000'000;
      const auto add = [&](logwire::frontend_event event) {
        event.page_id = "pg-bench";
        event.page_url = "http://localhost:3000/checkout";
        event.session_id = "s-bench";
        event.sequence = sequence++;
        batch.events.push_back(std::move(event));
      };
      if (r % 3 == 0) {
        logwire::frontend_event click;
        click.kind = logwire::frontend_kind::action;
        click.timestamp_ns = start - 50'000;  // before the request, after the one before
        click.action = "click";
        click.selector = "form#checkout > button#pay.btn.btn-primary";
        click.text = "Submit Payment";
        add(std::move(click));
      }
      logwire::frontend_event request;
      request.kind = logwire::frontend_kind::request;
      request.timestamp_ns = start;
      request.method = "POST";
      request.url = "http://localhost:3000/api/orders/" + std::to_string(r);
      request.status = r % 10 == 0 ? 500 : 200;
      request.duration_ms = static_cast<double>(answered - start) / 1e6;
      request.request_id = c.request_ids[r];
      request.traceparent = c.request_traceparents[r];
      request.initiator = "fetch";
      add(std::move(request));
      if (batch.events.size() >= k_events_per_batch) send(answered);
    }
    if (!batch.events.empty()) send(c.receive_ns(k_records - 1));
    if (stored != sequence || s.frontend().size() != sequence) {
      std::fprintf(stderr, "store_bench: the frontend store kept %llu of %llu browser events\n",
                   static_cast<unsigned long long>(stored),
                   static_cast<unsigned long long>(sequence));
      std::abort();
    }
    return begin;
  }();
  return first;
}

void timeline_of_one_request(benchmark::State& state) {
  const logwire::store& s = query_store().get();
  const corpus& c = records();
  const std::size_t first = browser_side();
  generator pick(11);
  latency_histogram h(static_cast<std::size_t>(state.max_iterations));
  std::uint64_t entries = 0, bytes = 0, wrong = 0;
  logwire::timeline_query q;
  for (auto _ : state) {
    const std::size_t request = first + pick.below(k_browser_requests);
    q.request_id = c.request_ids[request];
    const std::uint64_t start = ticks();
    const std::string answer = logwire::timeline_json_text(s, q, k_timeline_max_bytes);
    h.add(ticks() - start);
    // Every record of the request, exact, between the request sent and its answer; or, past
    // the answer's size, counted as omitted.
    const auto parsed = nlohmann::json::parse(answer);
    const std::size_t records_of_request = request_end(c, request) - c.request_first[request];
    const auto exact =
        parsed.value("exactCount", std::size_t{0}) + parsed.value("omittedCount", std::size_t{0});
    const auto browser = parsed.value("browserCount", std::size_t{0});
    // The click shown is the page's last before the request (the timeline looks 2 s back):
    // its own, or the one of the nearest request before it that had one.
    const bool clicked = request - request % 3 >= first;
    wrong += exact != records_of_request || browser != (clicked ? 3u : 2u) ||
             parsed.value("inferredCount", std::size_t{0}) != 0;
    entries += parsed.at("entries").size();
    bytes += answer.size();
  }
  note_latency(state, "timeline", h);
  const auto n = static_cast<double>(state.iterations());
  state.counters["entries"] = static_cast<double>(entries) / n;
  state.counters["bytes"] = static_cast<double>(bytes) / n;
  state.counters["wrong_answers"] = static_cast<double>(wrong);
}

BENCHMARK(timeline_of_one_request)->Iterations(20'000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(summary, whole_store, "summary_all", false, false)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(summary, middle_half, "summary_window", true, false)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(summary, one_service_middle_half, "summary_service", true, true)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(services)->Iterations(20'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(lookup_by_request_id)->Iterations(20'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(reference_decode_request)->Iterations(20'000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(service_at_level_newest_100, warn, "service_warn", warn)
    ->Iterations(5'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(service_at_level_newest_100, error, "service_error", error)
    ->Iterations(5'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(text_search, few_percent, "text_timeout", "TIMEOUT")
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(text_search, none, "text_none", "xylophone")
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(reference_text_scan, few_percent, "scan_timeout", "TIMEOUT")
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(reference_text_scan, none, "scan_none", "xylophone")
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(reference_memcpy_fresh)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(insert_into_empty_store)
    ->Iterations(1)
    ->Repetitions(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(reference_memcpy_warm)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(insert_at_memory_cap)
    ->Iterations(1)
    ->Repetitions(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one_minute;
  file >> one_minute;
  return one_minute;
}

void print_summary() {
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const auto figure = [&](const std::string& name) -> double {
    const auto found = g_figures.find(name);
    return found == g_figures.end() || found->second.empty() ? -1 : median(found->second);
  };
  const auto range = [&](const std::string& name) {
    const auto found = g_figures.find(name);
    if (found == g_figures.end() || found->second.empty()) return std::string("-");
    const auto [lo, hi] = std::minmax_element(found->second.begin(), found->second.end());
    char text[64];
    std::snprintf(text, sizeof text, "%.2f..%.2f", *lo / 1e6, *hi / 1e6);
    return std::string(text);
  };
  const auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
  const corpus& c = records();
  std::printf(
      "\nstore, %zu records of %.0f bytes on average (%zu..%zu), %zu services, received at "
      "%.0f/s (the busiest service %.0f/s; limit 10,000/s per service):\n",
      k_records, static_cast<double>(c.record_bytes) / k_records, c.min_size, c.max_size,
      k_services.size(), 1e9 / k_receive_interval_ns,
      1e9 / k_receive_interval_ns * k_services[0].per_mille / 1000);
  if (const double p99 = figure("lookup_p99"); p99 >= 0) {
    std::printf(
        "  lookup by request ID        p50 %6.1f us  p99 %6.1f us  p99.9 %6.1f us   "
        "goal p99 <= 1 ms: %s\n",
        figure("lookup_p50") / 1e3, p99 / 1e3, figure("lookup_p999") / 1e3, verdict(p99 <= 1e6));
    std::printf("    reference: decoding the same records   p50 %6.1f us  p99 %6.1f us\n",
                figure("decode_request_p50") / 1e3, figure("decode_request_p99") / 1e3);
  }
  for (const auto& [name, label] :
       {std::pair{"service_warn", ">= WARN"}, std::pair{"service_error", ">= ERROR"}}) {
    const double p99 = figure(std::string(name) + "_p99");
    if (p99 < 0) continue;
    std::printf(
        "  one service, %-8s, 100  p50 %6.1f us  p99 %6.1f us  p99.9 %6.1f us   "
        "goal p99 <= 2 ms: %s\n",
        label, figure(std::string(name) + "_p50") / 1e3, p99 / 1e3,
        figure(std::string(name) + "_p999") / 1e3, verdict(p99 <= 2e6));
  }
  if (const double p99 = figure("timeline_p99"); p99 >= 0) {
    std::printf(
        "  timeline of one request     p50 %6.1f us  p99 %6.1f us  p99.9 %6.1f us   "
        "goal p99 <= 5 ms: %s\n",
        figure("timeline_p50") / 1e3, p99 / 1e3, figure("timeline_p999") / 1e3,
        verdict(p99 <= 5e6));
  }
  for (const auto& [name, label] : {std::pair{"summary_all", "summary, whole store     "},
                                    std::pair{"summary_window", "summary, middle half     "},
                                    std::pair{"summary_service", "summary, 1 service, half "},
                                    std::pair{"services", "services                 "}}) {
    const double p99 = figure(std::string(name) + "_p99");
    if (p99 < 0) continue;
    std::printf("  %s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms   goal p99 <= 50 ms: %s\n", label,
                figure(std::string(name) + "_p50") / 1e6, p99 / 1e6,
                figure(std::string(name) + "_max") / 1e6, verdict(p99 <= 50e6));
  }
  // Judged by the median: the slowest query shows how busy the machine was.
  for (const auto& [name, scan, label] : {std::tuple{"text_timeout", "scan_timeout", "\"TIMEOUT\""},
                                          std::tuple{"text_none", "scan_none", "\"xylophone\""}}) {
    const double median_ns = figure(std::string(name) + "_p50");
    if (median_ns < 0) continue;
    std::printf(
        "  text %-12s           median %5.1f ms (CPU %5.1f ms)  max %5.1f ms   goal <= 100 ms: "
        "%s\n"
        "    reference: plain scan of the same records  median %5.1f ms\n",
        label, median_ns / 1e6, figure(std::string(name) + "_cpu") / 1e6,
        figure(std::string(name) + "_max") / 1e6, verdict(median_ns <= 100e6),
        figure(std::string(scan) + "_p50") / 1e6);
  }
  // Judged by this thread's CPU time: what one core does, however busy the machine is.
  for (const auto& [name, label, floor] :
       {std::tuple{"insert_fill", "insert, empty store", "memcpy_fresh"},
        std::tuple{"insert_steady", "insert, at the memory cap", "memcpy_warm"}}) {
    const double rate = figure(std::string(name) + "_cpu");
    if (rate < 0) continue;
    std::printf("  %-26s %5.2f M/s per CPU-second (%s), wall %5.2f M/s   goal >= 2 M/s: %s\n",
                label, rate / 1e6, range(std::string(name) + "_cpu").c_str(), figure(name) / 1e6,
                verdict(rate >= 2e6));
    if (const double copy = figure(std::string(floor) + "_cpu"); copy >= 0) {
      std::printf("    reference: memcpy of the same records %6.2f M/s per CPU-second (%s)\n",
                  copy / 1e6, range(std::string(floor) + "_cpu").c_str());
    }
  }
  if (g_memory.stored != 0) {
    const double fb = static_cast<double>(c.record_bytes);
    std::printf(
        "  memory, %llu records stored (%.1f MB of FlatBuffers; log frames %.1f MB):\n"
        "    store.memory_bytes()     %7.1f MB  %.2fx   goal <= 1.5x: %s\n"
        "    process RSS growth       %7.1f MB  %.2fx   (shared memory %.1f MB, heap %.1f MB)\n"
        "    heap in use (mallinfo2)  %7.1f MB\n"
        "    filling it took %.2f s (%.2f M/s)\n",
        static_cast<unsigned long long>(g_memory.stored), fb / 1e6,
        static_cast<double>(c.frame_bytes) / 1e6, g_memory.store_bytes / 1e6,
        g_memory.store_bytes / fb, verdict(g_memory.store_bytes <= 1.5 * fb),
        g_memory.growth.rss / 1e6, g_memory.growth.rss / fb, g_memory.growth.shmem / 1e6,
        g_memory.growth.anon / 1e6, g_memory.growth.heap / 1e6, g_memory.seconds,
        k_records / g_memory.seconds / 1e6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const std::string load_before = load_average();
  records();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  // Other work on the machine shows in the wall-clock figures and the latencies.
  std::printf("  load average (1 min) before / after: %s / %s\n", load_before.c_str(),
              load_average().c_str());
  return 0;
}
