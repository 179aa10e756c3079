// The broker's parts without the process: the query protocol, the ring drain and the
// instance lock.
#include <gtest/gtest.h>

#include <fstream>

#include "instance_lock.h"
#include "logwire/logwire_generated.h"
#include "logwire/producer.h"
#include "logwire/query_protocol.h"
#include "logwire/record_encoder.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "logwire/timestamp.h"
#include "logwire/version.h"
#include "query_server.h"
#include "ring_drain.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

nlohmann::json ask(const store& records, const std::string& request) {
  return nlohmann::json::parse(query_server::handle(request, records));
}

// A store in its own runtime directory, removed with it.
struct scratch_store {
  testing::temp_runtime_dir temp;
  runtime_dir dir = runtime_dir::open(temp.path()).value();
  std::unique_ptr<store> opened = store::open(dir, {.memory_cap_bytes = 4 << 20}, 0).value();
  store& records = *opened;
};

TEST(query_protocol, ping_names_the_broker_and_its_version) {
  scratch_store scratch;
  const store& records = scratch.records;
  const auto reply = ask(records, R"({"v":1,"method":"ping"})");
  EXPECT_EQ(reply["v"], 1);
  EXPECT_EQ(reply["result"]["broker"], "logwire");
  EXPECT_TRUE(reply["result"].contains("pid"));
}

TEST(query_protocol, observe_answers_with_the_agents_shape) {
  scratch_store scratch;
  const store& records = scratch.records;
  const auto reply = ask(records, R"({"v":1,"method":"observe","params":{"what":"backend-logs"}})");
  EXPECT_EQ(reply["result"]["type"], "backend-logs");
  EXPECT_EQ(reply["result"]["totalCount"], 0);
}

TEST(query_protocol, observe_passes_parameter_errors_through) {
  scratch_store scratch;
  const store& records = scratch.records;
  const auto reply =
      ask(records, R"({"v":1,"method":"observe","params":{"what":"backend-logs","limit":0}})");
  EXPECT_EQ(reply["error"]["code"], "invalid_param");
}

TEST(query_protocol, answers_another_version_with_the_one_it_speaks) {
  scratch_store scratch;
  const store& records = scratch.records;
  const auto reply = ask(records, R"({"v":2,"method":"ping"})");
  EXPECT_EQ(reply["error"]["code"], "unsupported_version");
  EXPECT_NE(reply["error"]["message"].get<std::string>().find("1"), std::string::npos);
}

TEST(query_protocol, answers_garbage_with_bad_request) {
  scratch_store scratch;
  const store& records = scratch.records;
  EXPECT_EQ(ask(records, "not json")["error"]["code"], "bad_request");
  EXPECT_EQ(ask(records, "[]")["error"]["code"], "bad_request");
  EXPECT_EQ(ask(records, std::string("{\"v\":1,\"method\":\"\xff\"}"))["error"]["code"],
            "bad_request");
  EXPECT_EQ(ask(records, R"({"v":1})")["error"]["code"], "bad_request");
}

TEST(query_protocol, answers_an_unknown_method_by_name) {
  scratch_store scratch;
  const store& records = scratch.records;
  const auto reply = ask(records, R"({"v":1,"method":"drop_tables"})");
  EXPECT_EQ(reply["error"]["code"], "unknown_method");
}

class ring_drain_fixture : public ::testing::Test {
 protected:
  producer open_producer(const std::string& service, std::size_t ring_bytes = 1 << 20) {
    return producer::open(
               {.service = service, .runtime_dir = temp_.path(), .ring_bytes = ring_bytes})
        .value();
  }

  // A ring whose writer is a process that no longer exists, formatted by hand and
  // registered like a producer's; `segment()` gives the test its bytes to shape.
  ring_view dead_writer_ring(const std::string& service) {
    flatbuffers::FlatBufferBuilder fbb;
    const wire::InstanceId id(7, 9);
    fbb.Finish(
        wire::CreateProducerIdentityDirect(fbb, service.c_str(), "host", 1, &id, "c++", "0"));
    const std::string name = dir_.shm_prefix() + "dead-writer";
    raw_segment_ = std::make_unique<shm_segment>(
        shm_segment::create(name, ring_segment_size(k_ring_min_capacity)).value());
    auto view =
        format_ring(
            raw_segment_->bytes(),
            {.producer_identity = {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()),
                                   fbb.GetSize()},
             .owner_pid = k_no_such_pid,
             .created_ns = 1})
            .value();
    view.header->heartbeat_ns.store(0);  // silent since long ago
    std::ofstream(dir_.rings_dir() / name);
    return view;
  }

  std::vector<std::string> messages(const std::string& service = "") {
    store_query query{.limit = 1000};
    if (!service.empty()) query.services.push_back(service);
    std::vector<std::string> out;
    for (const auto& record : records_.query(query).value().logs) out.push_back(record.message);
    return out;
  }

  bool has_message_containing(std::string_view text) {
    for (const auto& m : messages()) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  }

  static constexpr std::int32_t k_no_such_pid = 0x3fffffff;
  static constexpr std::int64_t k_now = 1'800'000'000'000'000'000;

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> opened_ = store::open(dir_, {.memory_cap_bytes = 4 << 20}, 0).value();
  store& records_ = *opened_;
  ring_drain drain_{dir_, records_};
  std::unique_ptr<shm_segment> raw_segment_;
};

TEST_F(ring_drain_fixture, moves_records_from_a_producer_ring_into_the_store) {
  auto logs = open_producer("api-server");
  logs.log(level::info, "one");
  logs.log(level::error, "two", {.request_id = "req-1"});
  EXPECT_EQ(drain_.poll(k_now), 2u);
  const auto result = records_.query({.min_level = level::error}).value();
  ASSERT_EQ(result.logs.size(), 1u);
  EXPECT_EQ(result.logs[0].service, "api-server") << "the ring's identity names the service";
  EXPECT_EQ(result.logs[0].request_id, "req-1");
}

TEST_F(ring_drain_fixture, notes_that_a_producer_connected_once_per_instance) {
  auto logs = open_producer("api-server");
  drain_.poll(k_now);
  ring_drain second_broker(dir_, records_);  // a restarted broker attaches the same ring
  second_broker.poll(k_now);
  const auto notes = messages("api-server");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("producer connected: api-server"), std::string::npos) << notes[0];
}

TEST_F(ring_drain_fixture, reclaims_a_closed_ring_once_it_is_drained_and_notes_it) {
  std::string name;
  {
    auto logs = open_producer("short-lived");
    logs.log(level::info, "last words");
    name = logs.ring_name();
  }
  EXPECT_EQ(drain_.poll(k_now), 1u);
  EXPECT_EQ(drain_.attached_rings(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.rings_dir() / name));
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name));
  EXPECT_TRUE(has_message_containing("producer disconnected: short-lived"));
}

TEST_F(ring_drain_fixture, keeps_an_open_ring_attached) {
  auto logs = open_producer("api");
  drain_.poll(k_now);
  EXPECT_EQ(drain_.attached_rings(), 1u);
  logs.log(level::info, "later");
  EXPECT_EQ(drain_.poll(k_now), 1u);
}

TEST_F(ring_drain_fixture, turns_the_drop_count_into_a_note_with_the_number) {
  auto logs = open_producer("bursty", 64 * 1024);
  const std::string payload(900, 'x');
  int refused = 0;
  for (int i = 0; i < 200; ++i) refused += logs.log(level::info, payload) ? 0 : 1;
  ASSERT_GT(refused, 0);
  drain_.poll(k_now);
  EXPECT_TRUE(has_message_containing(std::to_string(refused) + " records from bursty were dropped"))
      << ::testing::PrintToString(messages());
  drain_.poll(k_now + 1);
  int notes = 0;
  for (const auto& m : messages()) notes += m.find("were dropped") != std::string::npos;
  EXPECT_EQ(notes, 1) << "reported once";
}

TEST_F(ring_drain_fixture, rejects_bytes_that_are_not_a_record_notes_it_and_keeps_draining) {
  auto logs = open_producer("api");
  auto segment = shm_segment::open(logs.ring_name()).value();
  ring_writer raw(attach_ring(segment.bytes()).value());
  const std::string garbage = "\x04\x00\x00\x00this is not a flatbuffer";
  raw.write({reinterpret_cast<const std::byte*>(garbage.data()), garbage.size()}, 1);
  logs.log(level::info, "after the garbage");
  drain_.poll(k_now);
  EXPECT_TRUE(has_message_containing("after the garbage"));
  EXPECT_TRUE(has_message_containing("1 malformed records from api were rejected"));
}

TEST_F(ring_drain_fixture, skips_a_frame_its_dead_writer_marked_but_never_committed) {
  ring_view ring = dead_writer_ring("crashy");
  ring_writer writer(ring);
  // A frame claimed and marked (negative length) by a writer that died, then a committed
  // record another thread wrote after it.
  ring.header->tail.store(32);
  const std::int32_t marked = -32;
  std::memcpy(ring.data, &marked, sizeof marked);
  record_encoder encoder;
  writer.write(encoder.encode({.message = "committed after the dead one"}, k_now), 1);

  for (int i = 0; i < 4; ++i) drain_.poll(k_now + i);
  EXPECT_TRUE(has_message_containing("committed after the dead one"));
  EXPECT_TRUE(has_message_containing("1 records from crashy were dropped"));
  EXPECT_TRUE(has_message_containing("producer ended without closing (crashed or killed): crashy"));
  EXPECT_EQ(drain_.attached_rings(), 0u) << "drained and its writer gone: reclaimed";
}

TEST_F(ring_drain_fixture, skips_a_frame_its_dead_writer_claimed_but_never_marked) {
  ring_view ring = dead_writer_ring("crashy");
  ring_writer writer(ring);
  ring.header->tail.store(48);  // claimed, all zero: died between claim and mark
  record_encoder encoder;
  writer.write(encoder.encode({.message = "committed after the zeros"}, k_now), 1);
  for (int i = 0; i < 4; ++i) drain_.poll(k_now + i);
  EXPECT_TRUE(has_message_containing("committed after the zeros"));
}

TEST_F(ring_drain_fixture, waits_for_a_slow_writer_that_is_still_alive) {
  auto logs = open_producer("slow");
  auto segment = shm_segment::open(logs.ring_name()).value();
  ring_view ring = attach_ring(segment.bytes()).value();
  ring.header->tail.store(32);  // a thread of this live process has claimed, not committed
  for (int i = 0; i < 3; ++i) drain_.poll(k_now + i);
  EXPECT_EQ(ring.header->head.load(), 0u) << "the claim of a live writer is never skipped";
  EXPECT_EQ(drain_.attached_rings(), 1u);
}

TEST_F(ring_drain_fixture, ignores_registry_entries_that_are_not_rings) {
  std::ofstream(dir_.rings_dir() / "unrelated-file") << "x";
  std::ofstream(dir_.rings_dir() / (dir_.shm_prefix() + "no-such-segment"));
  EXPECT_EQ(drain_.poll(k_now), 0u);
  EXPECT_EQ(drain_.attached_rings(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.rings_dir() / (dir_.shm_prefix() + "no-such-segment")))
      << "a stale entry whose segment is gone is removed";
}

TEST(instance_lock, a_second_holder_is_refused_with_the_first_ones_pid) {
  testing::temp_runtime_dir temp;
  const auto dir = runtime_dir::open(temp.path()).value();
  auto first = instance_lock::acquire(dir.lock_file());
  ASSERT_TRUE(first);
  const auto second = instance_lock::acquire(dir.lock_file());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::already_running);
  EXPECT_NE(second.error().message.find(std::to_string(::getpid())), std::string::npos)
      << second.error().message;
}

// observe's services mode reads what ring_drain's own lifecycle notes say.
TEST_F(ring_drain_fixture, services_follow_a_ring_producer_from_connected_to_closed) {
  {
    auto logs = open_producer("checkout");
    logs.log(level::warn, "slow");
    EXPECT_EQ(drain_.poll(k_now), 1u);
    const auto open = records_.services();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].producers, 1u);
    EXPECT_EQ(open[0].transport, "shared-memory");
    EXPECT_EQ(open[0].language, "c++");
    EXPECT_EQ(open[0].library_version, k_library_version);
    EXPECT_FALSE(open[0].host.empty());
  }
  drain_.poll(k_now);
  const auto closed = records_.services();
  EXPECT_EQ(closed[0].producers, 0u);
  EXPECT_EQ(closed[0].counts.stored, 1u);
}

TEST(query_protocol, observe_answers_services_summary_and_a_record_by_id) {
  scratch_store scratch;
  record_encoder encoder;
  const std::int64_t now = unix_now_ns();
  const std::string requests[] = {"r-0", "r-1", "r-2"};  // different: not folded as repeats
  for (std::uint64_t i = 0; i < 3; ++i) {
    const auto bytes = encoder.encode({.severity = level::error,
                                       .message = "payment failed",
                                       .context = {.request_id = requests[i]}},
                                      now - 1'000'000'000 + static_cast<std::int64_t>(i));
    scratch.records.insert(bytes, {.service = "api", .receive_ns = now, .sequence = i});
  }
  const store& records = scratch.records;
  const auto services = ask(records, R"({"v":1,"method":"observe","params":{"what":"services"}})");
  EXPECT_EQ(services["result"]["services"][0]["service"], "api");
  EXPECT_TRUE(services.contains("timing"));

  const auto summary =
      ask(records, R"({"v":1,"method":"observe","params":{"what":"summary","since":"1m"}})");
  EXPECT_EQ(summary["result"]["byService"]["api"]["ERROR"], 3);
  EXPECT_EQ(summary["result"]["repeatedMessages"][0]["count"], 3);
  EXPECT_EQ(summary["result"]["errorCount"], 3);

  const std::string id = summary["result"]["newestErrors"][0]["id"];
  const auto one =
      ask(records,
          R"({"v":1,"method":"observe","params":{"what":"backend_logs","id":")" + id + R"("}})");
  EXPECT_EQ(one["result"]["logs"][0]["id"], id);
  EXPECT_EQ(one["result"]["logs"][0]["message"], "payment failed");

  const auto gone = ask(
      records, R"({"v":1,"method":"observe","params":{"what":"backend-logs","id":"123456789"}})");
  EXPECT_EQ(gone["error"]["code"], "not_found");
  EXPECT_TRUE(gone["error"].contains("hint"));

  const auto bounded = ask(
      records, R"({"v":1,"method":"observe","params":{"what":"backend-logs","maxBytes":1000}})");
  EXPECT_LE(bounded["result"].dump().size(), 1000u);
  const auto too_small =
      ask(records, R"({"v":1,"method":"observe","params":{"what":"backend-logs","maxBytes":10}})");
  EXPECT_EQ(too_small["error"]["code"], "invalid_param");
}

}  // namespace
}  // namespace logwire
