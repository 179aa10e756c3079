#include "logwire/store.h"

#include <gtest/gtest.h>

#include "logwire/observe_query.h"
#include "logwire/record_encoder.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

constexpr std::int64_t k_base = 1769854523LL * 1'000'000'000;  // 2026-01-31T10:15:23Z
constexpr std::int64_t k_ms = 1'000'000;

class store_fixture : public ::testing::Test {
 protected:
  void add(std::string_view service, level severity, std::string_view message, std::int64_t at,
           const log_context& context = {}, std::initializer_list<field> fields = {}) {
    const auto bytes = encoder_.encode({.severity = severity,
                                        .message = message,
                                        .context = context,
                                        .fields = {fields.begin(), fields.size()}},
                                       at);
    ASSERT_TRUE(verify_record(bytes));
    records_.insert(bytes, {.producer_service = service, .receive_ns = at});
  }

  std::vector<std::string> messages(const store_result& result) {
    std::vector<std::string> out;
    for (const auto& r : result.logs) out.push_back(r.message);
    return out;
  }

  store_query parse(const nlohmann::json& arguments) {
    auto query = parse_observe_arguments(arguments, k_base + 3600 * 1000 * k_ms);
    EXPECT_TRUE(query) << query.error().message;
    return query ? *query : store_query{};
  }

  record_encoder encoder_;
  store records_;
};

TEST_F(store_fixture, answers_in_time_order_even_when_records_arrive_out_of_order) {
  add("api", level::info, "second", k_base + 2 * k_ms);
  add("api", level::info, "first", k_base + 1 * k_ms);
  add("api", level::info, "third", k_base + 3 * k_ms);
  EXPECT_EQ(messages(records_.query({})), (std::vector<std::string>{"first", "second", "third"}));
}

TEST_F(store_fixture, filters_by_service_minimum_level_and_since) {
  add("api", level::debug, "api debug", k_base);
  add("api", level::error, "api error", k_base + 10 * k_ms);
  add("worker", level::fatal, "worker fatal", k_base + 20 * k_ms);
  add("api", level::warn, "api warn", k_base + 30 * k_ms);

  EXPECT_EQ(messages(records_.query({.services = {"api"}, .min_level = level::warn})),
            (std::vector<std::string>{"api error", "api warn"}));
  EXPECT_EQ(messages(records_.query({.min_level = level::error})),
            (std::vector<std::string>{"api error", "worker fatal"}));
  EXPECT_EQ(messages(records_.query({.since_ns = k_base + 20 * k_ms})),
            (std::vector<std::string>{"worker fatal", "api warn"}));
  EXPECT_TRUE(records_.query({.services = {"nobody"}}).logs.empty());
}

TEST_F(store_fixture, limit_keeps_the_newest_and_counts_every_match) {
  for (int i = 0; i < 10; ++i) add("api", level::info, "m" + std::to_string(i), k_base + i * k_ms);
  const auto result = records_.query({.limit = 3});
  EXPECT_EQ(messages(result), (std::vector<std::string>{"m7", "m8", "m9"}));
  EXPECT_EQ(result.total_count, 10u);
  EXPECT_EQ(result.oldest_ns, k_base) << "oldest of all matches, not of the page";
}

TEST_F(store_fixture, observe_json_has_the_agents_shape_and_leaves_out_empty_keys) {
  add("api-server", level::error, "Payment gateway timeout", k_base + 456 * k_ms,
      {.request_id = "req-12345",
       .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       .span_id = "span-789"},
      {{"userId", 987}, {"paymentId", "pay-99"}, {"retry", false}, {"ratio", 0.25}});
  add("api-server", level::info, "plain", k_base + 500 * k_ms);
  const auto json = to_observe_json(records_.query({}));
  EXPECT_EQ(json["type"], "backend-logs");
  EXPECT_EQ(json["totalCount"], 2);
  EXPECT_EQ(json["oldestTimestamp"], "2026-01-31T10:15:23.456Z");
  const auto& first = json["logs"][0];
  EXPECT_EQ(first.dump(),
            R"({"timestamp":"2026-01-31T10:15:23.456Z","service":"api-server","level":"ERROR",)"
            R"("message":"Payment gateway timeout","requestId":"req-12345",)"
            R"("traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"span-789",)"
            R"("fields":{"userId":987,"paymentId":"pay-99","retry":false,"ratio":0.25}})");
  EXPECT_EQ(
      json["logs"][1].dump(),
      R"({"timestamp":"2026-01-31T10:15:23.500Z","service":"api-server","level":"INFO","message":"plain"})");
}

TEST_F(store_fixture, an_invalid_traceparent_is_shown_as_text_not_as_a_trace) {
  add("api", level::info, "m", k_base, {.traceparent = "not-a-traceparent"});
  const auto json = to_observe_json(records_.query({}));
  EXPECT_FALSE(json["logs"][0].contains("traceId"));
  EXPECT_EQ(json["logs"][0]["traceparent"], "not-a-traceparent");
}

TEST_F(store_fixture, observe_json_of_an_empty_store_has_no_oldest_timestamp) {
  const auto json = to_observe_json(records_.query({}));
  EXPECT_EQ(json["totalCount"], 0);
  EXPECT_TRUE(json["logs"].empty());
  EXPECT_FALSE(json.contains("oldestTimestamp"));
}

TEST_F(store_fixture, parses_observe_arguments_into_a_query) {
  const auto query = parse({{"what", "backend_logs"},
                            {"service", "api"},
                            {"level", "warn"},
                            {"limit", 5},
                            {"since", "2026-01-31T10:15:23Z"}});
  EXPECT_EQ(query.services, std::vector<std::string>{"api"});
  EXPECT_EQ(query.min_level, level::warn);
  EXPECT_EQ(query.limit, 5u);
  EXPECT_EQ(query.since_ns, k_base);
  EXPECT_EQ(parse({{"what", "backend-logs"}}).limit, k_default_limit);
  EXPECT_EQ(parse({{"what", "backend-logs"}, {"service", {"a", "b"}}}).services.size(), 2u);
}

struct bad_arguments_case {
  const char* arguments;
  const char* code;
  const char* names;  // what the message must mention
};

class observe_arguments_rejected : public ::testing::TestWithParam<bad_arguments_case> {};

TEST_P(observe_arguments_rejected, with_an_error_naming_the_parameter) {
  const auto& c = GetParam();
  const auto query = parse_observe_arguments(nlohmann::json::parse(c.arguments), k_base);
  ASSERT_FALSE(query) << c.arguments;
  EXPECT_EQ(query.error().code, c.code) << c.arguments;
  EXPECT_NE(query.error().message.find(c.names), std::string::npos) << query.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    store, observe_arguments_rejected,
    ::testing::Values(
        bad_arguments_case{R"({})", "invalid_param", "what"},
        bad_arguments_case{R"({"what": "frontend"})", "unknown_mode", "backend-logs"},
        bad_arguments_case{R"({"what": "backend-logs", "level": "loud"})", "invalid_param",
                           "TRACE"},
        bad_arguments_case{R"({"what": "backend-logs", "level": 3})", "invalid_param", "level"},
        bad_arguments_case{R"({"what": "backend-logs", "limit": 0})", "invalid_param", "limit"},
        bad_arguments_case{R"({"what": "backend-logs", "limit": 1001})", "invalid_param", "1000"},
        bad_arguments_case{R"({"what": "backend-logs", "limit": 2.5})", "invalid_param", "limit"},
        bad_arguments_case{R"({"what": "backend-logs", "limit": "10"})", "invalid_param", "limit"},
        bad_arguments_case{R"({"what": "backend-logs", "limit": 1e300})", "invalid_param", "limit"},
        bad_arguments_case{R"({"what": "backend-logs", "since": "soon"})", "invalid_param",
                           "since"},
        bad_arguments_case{R"({"what": "backend-logs", "service": 7})", "invalid_param", "service"},
        bad_arguments_case{R"({"what": "backend-logs", "requestId": "r"})", "invalid_param",
                           "requestId"},
        bad_arguments_case{R"([1])", "invalid_param", "object"}));

}  // namespace
}  // namespace logwire
