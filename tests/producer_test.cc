#include "logwire/producer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logwire/logwire_generated.h"
#include "logwire/process_identity.h"
#include "logwire/ring.h"
#include "logwire/runtime_dir.h"
#include "logwire/shm_segment.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

// Reads back every record in a producer's ring, as the broker would.
std::vector<std::vector<std::byte>> read_ring(const std::string& name) {
  auto segment = shm_segment::open(name);
  EXPECT_TRUE(segment);
  auto view = attach_ring(segment->bytes());
  EXPECT_TRUE(view);
  ring_reader reader(*view);
  std::vector<std::vector<std::byte>> records;
  reader.drain([&](std::span<const std::byte> p,
                   std::uint64_t) { records.emplace_back(p.begin(), p.end()); },
               1000);
  return records;
}

TEST(producer, refuses_an_empty_service_name) {
  testing::temp_runtime_dir temp;
  const auto opened = producer::open({.service = "", .runtime_dir = temp.path()});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, errc::invalid_argument);
}

TEST(producer, registers_a_ring_private_to_the_user) {
  testing::temp_runtime_dir temp;
  auto opened = producer::open({.service = "api-server", .runtime_dir = temp.path()});
  ASSERT_TRUE(opened) << opened.error().message;
  const auto dir = runtime_dir::open(temp.path());
  EXPECT_TRUE(std::filesystem::exists(dir->rings_dir() / opened->ring_name()));
  EXPECT_EQ(opened->ring_name().rfind(dir->shm_prefix(), 0), 0u);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/" + opened->ring_name()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(producer, writes_every_part_of_a_record_into_the_ring) {
  testing::temp_runtime_dir temp;
  auto logs = producer::open({.service = "api-server", .runtime_dir = temp.path()}).value();
  ASSERT_TRUE(
      logs.log(level::error, "Payment gateway timeout",
               {.request_id = "req-12345",
                .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                .span_id = "span-789",
                .stack_trace = "at charge()"},
               {{"gateway", "stripe"}, {"timeoutMs", 5000}, {"ratio", 0.5}, {"retryable", true}}));

  const auto records = read_ring(logs.ring_name());
  ASSERT_EQ(records.size(), 1u);
  const auto* record = flatbuffers::GetRoot<wire::Record>(records[0].data());
  EXPECT_EQ(record->level(), wire::Level::Error);
  EXPECT_EQ(record->message()->str(), "Payment gateway timeout");
  EXPECT_EQ(record->request_id()->str(), "req-12345");
  EXPECT_EQ(record->span_id()->str(), "span-789");
  EXPECT_EQ(record->stack_trace()->str(), "at charge()");
  EXPECT_EQ(record->service(), nullptr) << "the ring's identity names the service";
  EXPECT_GT(record->timestamp_ns(), 1'700'000'000'000'000'000);
  ASSERT_EQ(record->fields()->size(), 4u);
  EXPECT_EQ(record->fields()->Get(0)->string_value()->str(), "stripe");
  EXPECT_EQ(record->fields()->Get(1)->kind(), wire::FieldKind::Int);
  EXPECT_EQ(record->fields()->Get(1)->int_value(), 5000);
  EXPECT_EQ(record->fields()->Get(2)->kind(), wire::FieldKind::Double);
  EXPECT_EQ(record->fields()->Get(3)->kind(), wire::FieldKind::Bool);
  EXPECT_TRUE(record->fields()->Get(3)->bool_value());
}

TEST(producer, keeps_a_given_timestamp) {
  testing::temp_runtime_dir temp;
  auto logs = producer::open({.service = "svc", .runtime_dir = temp.path()}).value();
  ASSERT_TRUE(logs.write({.message = "m", .timestamp_ns = 123}));
  const auto records = read_ring(logs.ring_name());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(flatbuffers::GetRoot<wire::Record>(records[0].data())->timestamp_ns(), 123);
}

TEST(producer, counts_a_refused_record_instead_of_throwing) {
  testing::temp_runtime_dir temp;
  auto logs =
      producer::open({.service = "svc", .runtime_dir = temp.path(), .ring_bytes = 64 * 1024})
          .value();
  const std::string too_big(20 * 1024, 'x');
  EXPECT_FALSE(logs.log(level::info, too_big));
  EXPECT_EQ(logs.dropped(), 1u);
}

TEST(producer, field_keeps_the_type_it_was_given) {
  EXPECT_EQ(field("k", "text").type(), field::kind::string);
  EXPECT_EQ(field("k", std::string("text")).type(), field::kind::string);
  EXPECT_EQ(field("k", 1).type(), field::kind::int64);
  EXPECT_EQ(field("k", 1u).type(), field::kind::int64);
  EXPECT_EQ(field("k", 1.5f).type(), field::kind::float64);
  EXPECT_EQ(field("k", false).type(), field::kind::boolean);
  EXPECT_EQ(field("k", ~0ull).type(), field::kind::float64) << "beyond int64: kept as a double";
  EXPECT_EQ(field("k", static_cast<const char*>(nullptr)).string_value(), "");
}

}  // namespace
}  // namespace logwire

namespace logwire {
namespace {

TEST(producer, takes_its_ring_size_from_the_environment_when_not_given) {
  testing::temp_runtime_dir temp;
  ::setenv("LOGWIRE_RING_BYTES", "131072", 1);
  auto logs = producer::open({.service = "svc", .runtime_dir = temp.path()});
  ::unsetenv("LOGWIRE_RING_BYTES");
  ASSERT_TRUE(logs) << logs.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/" + logs->ring_name()).c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), ring_segment_size(131072));
}

TEST(producer, refuses_a_ring_size_in_the_environment_that_is_not_a_number) {
  testing::temp_runtime_dir temp;
  ::setenv("LOGWIRE_RING_BYTES", "64M", 1);
  const auto logs = producer::open({.service = "svc", .runtime_dir = temp.path()});
  ::unsetenv("LOGWIRE_RING_BYTES");
  ASSERT_FALSE(logs);
  EXPECT_NE(logs.error().message.find("LOGWIRE_RING_BYTES"), std::string::npos);
}

}  // namespace
}  // namespace logwire

namespace logwire {
namespace {

TEST(process_identity, tells_a_live_process_from_one_that_reuses_its_pid) {
  const pid_t self = ::getpid();
  const std::uint64_t start = process_start_time(self);
  ASSERT_NE(start, 0u);
  EXPECT_TRUE(process_running(self, start));
  EXPECT_FALSE(process_running(self, start + 1)) << "same pid, another start time";
}

TEST(process_identity, a_zombie_is_not_running) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Not reaped yet: a zombie, which kill(pid, 0) still finds.
  for (int i = 0; i < 200 && process_running(child, 0); ++i) ::usleep(5000);
  EXPECT_FALSE(process_running(child, 0));
  int status = 0;
  ::waitpid(child, &status, 0);
}

TEST(producer, records_its_start_time_in_the_ring) {
  testing::temp_runtime_dir temp;
  auto logs =
      producer::open({.service = "svc", .runtime_dir = temp.path(), .ring_bytes = 1 << 20}).value();
  auto segment = shm_segment::open(logs.ring_name()).value();
  const auto ring = attach_ring(segment.bytes()).value();
  EXPECT_EQ(ring.header->owner_start, process_start_time(::getpid()));
  EXPECT_NE(ring.header->owner_start, 0u);
}

}  // namespace
}  // namespace logwire

namespace logwire {
namespace {

TEST(producer, refuses_and_counts_more_fields_than_the_broker_accepts) {
  testing::temp_runtime_dir temp;
  auto logs = producer::open({.service = "svc", .runtime_dir = temp.path(), .ring_bytes = 64 << 20})
                  .value();
  std::vector<field> fields(k_max_record_fields + 1, field("k", 1));
  EXPECT_FALSE(logs.write({.message = "too many", .fields = fields}));
  EXPECT_EQ(logs.dropped(), 1u);
  fields.pop_back();
  EXPECT_TRUE(logs.write({.message = "just enough", .fields = fields}));
}

}  // namespace
}  // namespace logwire
