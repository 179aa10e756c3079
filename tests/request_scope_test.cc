#include "logwire/request_scope.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/ring_contents.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

constexpr const char* k_traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class request_scope_fixture : public ::testing::Test {
 protected:
  std::string id(const testing::ring_record& r) {
    return r->request_id() != nullptr ? r->request_id()->str() : "";
  }
  testing::temp_runtime_dir temp_;
  producer logs_ =
      producer::open({.service = "api", .runtime_dir = temp_.path(), .ring_bytes = 1 << 20})
          .value();
};

TEST_F(request_scope_fixture, attaches_the_requests_ids_to_records_logged_inside_it) {
  {
    auto scope = request_scope::from_headers("req-12345", k_traceparent);
    logs_.log(level::info, "inside");
  }
  logs_.log(level::info, "outside");
  const auto records = testing::drain_ring(logs_.ring_name());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(id(records[0]), "req-12345");
  EXPECT_EQ(records[0]->traceparent()->str(), k_traceparent);
  EXPECT_EQ(id(records[1]), "") << "the scope ended";
}

TEST_F(request_scope_fixture, an_id_given_in_the_call_wins_over_the_scope) {
  auto scope = request_scope::from_headers("req-scope", "");
  logs_.log(level::info, "explicit", {.request_id = "req-call"});
  EXPECT_EQ(id(testing::drain_ring(logs_.ring_name()).at(0)), "req-call");
}

TEST_F(request_scope_fixture, nested_scopes_restore_the_outer_one) {
  auto outer = request_scope::from_headers("req-outer", "");
  {
    request_scope inner({.request_id = "req-inner", .span_id = "span-2"});
    logs_.log(level::info, "inner");
  }
  logs_.log(level::info, "outer again");
  const auto records = testing::drain_ring(logs_.ring_name());
  EXPECT_EQ(id(records.at(0)), "req-inner");
  EXPECT_EQ(records.at(0)->span_id()->str(), "span-2");
  EXPECT_EQ(id(records.at(1)), "req-outer");
}

TEST_F(request_scope_fixture, belongs_to_its_thread_only) {
  auto scope = request_scope::from_headers("req-main", "");
  std::thread([this] { logs_.log(level::info, "other thread"); }).join();
  EXPECT_EQ(id(testing::drain_ring(logs_.ring_name()).at(0)), "");
}

TEST(request_scope, trims_header_values_and_caps_their_length) {
  const std::string huge(10'000, 'r');
  auto scope = request_scope::from_headers("  req-1 \t", huge);
  EXPECT_EQ(request_scope::current()->request_id, "req-1");
  EXPECT_EQ(request_scope::current()->traceparent.size(), request_scope::k_max_header_value);
}

}  // namespace
}  // namespace logwire
