// The broker's parts without the process: the query protocol, the ring drain and the
// instance lock.
#include <gtest/gtest.h>

#include <fstream>

#include "instance_lock.h"
#include "logwire/producer.h"
#include "logwire/query_protocol.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "query_server.h"
#include "ring_drain.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

nlohmann::json ask(const store& records, const std::string& request) {
  return nlohmann::json::parse(query_server::handle(request, records));
}

TEST(query_protocol, ping_names_the_broker_and_its_version) {
  store records;
  const auto reply = ask(records, R"({"v":1,"method":"ping"})");
  EXPECT_EQ(reply["v"], 1);
  EXPECT_EQ(reply["result"]["broker"], "logwire");
  EXPECT_TRUE(reply["result"].contains("pid"));
}

TEST(query_protocol, observe_answers_with_the_agents_shape) {
  store records;
  const auto reply = ask(records, R"({"v":1,"method":"observe","params":{"what":"backend-logs"}})");
  EXPECT_EQ(reply["result"]["type"], "backend-logs");
  EXPECT_EQ(reply["result"]["totalCount"], 0);
}

TEST(query_protocol, observe_passes_parameter_errors_through) {
  store records;
  const auto reply =
      ask(records, R"({"v":1,"method":"observe","params":{"what":"backend-logs","limit":0}})");
  EXPECT_EQ(reply["error"]["code"], "invalid_param");
}

TEST(query_protocol, answers_another_version_with_the_one_it_speaks) {
  store records;
  const auto reply = ask(records, R"({"v":2,"method":"ping"})");
  EXPECT_EQ(reply["error"]["code"], "unsupported_version");
  EXPECT_NE(reply["error"]["message"].get<std::string>().find("1"), std::string::npos);
}

TEST(query_protocol, answers_garbage_with_bad_request) {
  store records;
  EXPECT_EQ(ask(records, "not json")["error"]["code"], "bad_request");
  EXPECT_EQ(ask(records, "[]")["error"]["code"], "bad_request");
  EXPECT_EQ(ask(records, std::string("{\"v\":1,\"method\":\"\xff\"}"))["error"]["code"],
            "bad_request");
  EXPECT_EQ(ask(records, R"({"v":1})")["error"]["code"], "bad_request");
}

TEST(query_protocol, answers_an_unknown_method_by_name) {
  store records;
  const auto reply = ask(records, R"({"v":1,"method":"drop_tables"})");
  EXPECT_EQ(reply["error"]["code"], "unknown_method");
}

TEST(ring_drain, moves_records_from_a_producer_ring_into_the_store) {
  testing::temp_runtime_dir temp;
  auto logs = producer::open({.service = "api-server", .runtime_dir = temp.path()}).value();
  logs.log(level::info, "one");
  logs.log(level::error, "two", {.request_id = "req-1"});

  store records;
  ring_drain drain(runtime_dir::open(temp.path()).value(), records);
  EXPECT_EQ(drain.poll(1), 2u);
  const auto result = records.query({});
  ASSERT_EQ(result.logs.size(), 2u);
  EXPECT_EQ(result.logs[0].service, "api-server") << "the ring's identity names the service";
  EXPECT_EQ(result.logs[1].request_id, "req-1");
}

TEST(ring_drain, reclaims_a_closed_ring_once_it_is_drained) {
  testing::temp_runtime_dir temp;
  const auto dir = runtime_dir::open(temp.path()).value();
  std::string name;
  {
    auto logs = producer::open({.service = "short-lived", .runtime_dir = temp.path()}).value();
    logs.log(level::info, "last words");
    name = logs.ring_name();
  }
  store records;
  ring_drain drain(dir, records);
  EXPECT_EQ(drain.poll(1), 1u);
  EXPECT_EQ(drain.attached_rings(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir.rings_dir() / name));
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name));
}

TEST(ring_drain, keeps_an_open_ring_attached) {
  testing::temp_runtime_dir temp;
  auto logs = producer::open({.service = "api", .runtime_dir = temp.path()}).value();
  store records;
  ring_drain drain(runtime_dir::open(temp.path()).value(), records);
  drain.poll(1);
  EXPECT_EQ(drain.attached_rings(), 1u);
  logs.log(level::info, "later");
  EXPECT_EQ(drain.poll(2), 1u);
}

TEST(ring_drain, rejects_bytes_that_are_not_a_record_and_keeps_draining) {
  testing::temp_runtime_dir temp;
  auto logs = producer::open({.service = "api", .runtime_dir = temp.path()}).value();
  auto segment = shm_segment::open(logs.ring_name()).value();
  ring_writer raw(attach_ring(segment.bytes()).value());
  const std::string garbage = "\x04\x00\x00\x00this is not a flatbuffer";
  raw.write({reinterpret_cast<const std::byte*>(garbage.data()), garbage.size()}, 1);
  logs.log(level::info, "after the garbage");

  store records;
  ring_drain drain(runtime_dir::open(temp.path()).value(), records);
  drain.poll(1);
  const auto result = records.query({});
  ASSERT_EQ(result.logs.size(), 1u);
  EXPECT_EQ(result.logs[0].message, "after the garbage");
}

TEST(ring_drain, ignores_registry_entries_that_are_not_rings) {
  testing::temp_runtime_dir temp;
  const auto dir = runtime_dir::open(temp.path()).value();
  std::ofstream(dir.rings_dir() / "unrelated-file") << "x";
  std::ofstream(dir.rings_dir() / (dir.shm_prefix() + "no-such-segment"));
  store records;
  ring_drain drain(dir, records);
  EXPECT_EQ(drain.poll(1), 0u);
  EXPECT_EQ(drain.attached_rings(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir.rings_dir() / (dir.shm_prefix() + "no-such-segment")))
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

}  // namespace
}  // namespace logwire
