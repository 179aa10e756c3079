#include "logwire/spdlog_sink.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>

#include "logwire/request_scope.h"
#include "support/ring_contents.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

class spdlog_sink_fixture : public ::testing::Test {
 protected:
  testing::temp_runtime_dir temp_;
  std::shared_ptr<producer> logs_ = std::make_shared<producer>(
      producer::open({.service = "api", .runtime_dir = temp_.path(), .ring_bytes = 1 << 20})
          .value());
  spdlog::logger logger_{"payments", std::make_shared<spdlog_sink>(logs_)};

  void SetUp() override { logger_.set_level(spdlog::level::trace); }
};

TEST_F(spdlog_sink_fixture, maps_every_spdlog_level) {
  logger_.trace("t");
  logger_.debug("d");
  logger_.info("i");
  logger_.warn("w");
  logger_.error("e");
  logger_.critical("c");
  const auto records = testing::drain_ring(logs_->ring_name());
  ASSERT_EQ(records.size(), 6u);
  const wire::Level expected[] = {wire::Level::Trace, wire::Level::Debug, wire::Level::Info,
                                  wire::Level::Warn,  wire::Level::Error, wire::Level::Fatal};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(records[i]->level(), expected[i]) << i;
}

TEST_F(spdlog_sink_fixture, sends_the_formatted_message_the_logger_name_and_spdlogs_time) {
  const auto before = std::chrono::system_clock::now();
  logger_.error("Payment gateway timeout after {} ms", 5000);
  const auto records = testing::drain_ring(logs_->ring_name());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]->message()->str(), "Payment gateway timeout after 5000 ms");
  ASSERT_NE(records[0]->fields(), nullptr);
  EXPECT_EQ(records[0]->fields()->Get(0)->key()->str(), "logger");
  EXPECT_EQ(records[0]->fields()->Get(0)->string_value()->str(), "payments");
  const auto before_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count();
  EXPECT_GE(records[0]->timestamp_ns(), before_ns);
}

TEST_F(spdlog_sink_fixture, carries_the_request_scope_and_the_source_location) {
  auto scope = request_scope::from_headers("req-12345", "");
  logger_.log(spdlog::source_loc{"payments.cc", 42, "charge"}, spdlog::level::warn, "slow");
  const auto records = testing::drain_ring(logs_->ring_name());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]->request_id()->str(), "req-12345");
  ASSERT_EQ(records[0]->fields()->size(), 4u);
  EXPECT_EQ(records[0]->fields()->Get(1)->string_value()->str(), "payments.cc");
  EXPECT_EQ(records[0]->fields()->Get(2)->int_value(), 42);
}

}  // namespace
}  // namespace logwire
