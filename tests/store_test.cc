#include "logwire/store.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cmath>
#include <iostream>
#include <limits>

#include "logwire/observe_json.h"
#include "logwire/observe_query.h"
#include "logwire/record_encoder.h"
#include "logwire/record_log.h"
#include "logwire/shm_segment.h"
#include "logwire/timestamp.h"
#include "support/temp_runtime_dir.h"

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
    ASSERT_EQ(
        records_.insert(bytes, {.service = service, .receive_ns = at, .sequence = ++sequence_}),
        insert_status::stored);
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

  testing::temp_runtime_dir temp_;
  std::unique_ptr<store> opened_ =
      store::open(runtime_dir::open(temp_.path()).value(), {.memory_cap_bytes = 4 << 20}, 0)
          .value();
  store& records_ = *opened_;
  record_encoder encoder_;
  std::uint64_t sequence_ = 0;
};

TEST_F(store_fixture, answers_in_time_order_even_when_records_arrive_out_of_order) {
  add("api", level::info, "second", k_base + 2 * k_ms);
  add("api", level::info, "first", k_base + 1 * k_ms);
  add("api", level::info, "third", k_base + 3 * k_ms);
  EXPECT_EQ(messages(records_.query({}).value()),
            (std::vector<std::string>{"first", "second", "third"}));
}

TEST_F(store_fixture, filters_by_service_minimum_level_and_since) {
  add("api", level::debug, "api debug", k_base);
  add("api", level::error, "api error", k_base + 10 * k_ms);
  add("worker", level::fatal, "worker fatal", k_base + 20 * k_ms);
  add("api", level::warn, "api warn", k_base + 30 * k_ms);

  EXPECT_EQ(messages(records_.query({.services = {"api"}, .min_level = level::warn}).value()),
            (std::vector<std::string>{"api error", "api warn"}));
  EXPECT_EQ(messages(records_.query({.min_level = level::error}).value()),
            (std::vector<std::string>{"api error", "worker fatal"}));
  EXPECT_EQ(messages(records_.query({.since_ns = k_base + 20 * k_ms}).value()),
            (std::vector<std::string>{"worker fatal", "api warn"}));
  EXPECT_TRUE(records_.query({.services = {"nobody"}}).value().logs.empty());
}

TEST_F(store_fixture, limit_keeps_the_newest_and_counts_every_match) {
  for (int i = 0; i < 10; ++i) add("api", level::info, "m" + std::to_string(i), k_base + i * k_ms);
  const auto result = records_.query({.limit = 3}).value();
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
  const auto result = records_.query({}).value();
  // A record's id is its position in the record log.
  const std::string first_id = std::to_string(result.logs[0].position);
  const std::string second_id = std::to_string(result.logs[1].position);
  const auto json = to_observe_json(result);
  EXPECT_EQ(json["type"], "backend-logs");
  EXPECT_EQ(json["totalCount"], 2);
  EXPECT_EQ(json["oldestTimestamp"], "2026-01-31T10:15:23.456Z");
  const auto& first = json["logs"][0];
  EXPECT_EQ(first.dump(),
            R"({"timestamp":"2026-01-31T10:15:23.456Z","service":"api-server","level":"ERROR",)"
            R"("message":"Payment gateway timeout","requestId":"req-12345",)"
            R"("traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"span-789",)"
            R"("fields":{"userId":987,"paymentId":"pay-99","retry":false,"ratio":0.25},)"
            R"("id":")" +
                first_id + R"("})");
  EXPECT_EQ(json["logs"][1].dump(),
            R"({"timestamp":"2026-01-31T10:15:23.500Z","service":"api-server","level":"INFO",)"
            R"("message":"plain","id":")" +
                second_id + R"("})");
  EXPECT_NE(first_id, second_id);
}

TEST_F(store_fixture, an_invalid_traceparent_is_shown_as_text_not_as_a_trace) {
  add("api", level::info, "m", k_base, {.traceparent = "not-a-traceparent"});
  const auto json = to_observe_json(records_.query({}).value());
  EXPECT_FALSE(json["logs"][0].contains("traceId"));
  EXPECT_EQ(json["logs"][0]["traceparent"], "not-a-traceparent");
}

TEST_F(store_fixture, observe_json_of_an_empty_store_has_no_oldest_timestamp) {
  const auto json = to_observe_json(records_.query({}).value());
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

std::string case_name(const ::testing::TestParamInfo<bad_arguments_case>& info) {
  return "case_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(
    store, observe_arguments_rejected,
    ::testing::Values(
        bad_arguments_case{R"({})", "invalid_param", "what"},
        bad_arguments_case{R"({"what": "browser-logs"})", "unknown_mode", "backend-logs"},
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
        bad_arguments_case{R"({"what": "backend-logs", "statusCode": 500})", "invalid_param",
                           "statusCode"},
        bad_arguments_case{R"([1])", "invalid_param", "object"}),
    case_name);

}  // namespace
}  // namespace logwire

namespace logwire {
namespace {

class store_persistence : public ::testing::Test {
 protected:
  std::unique_ptr<store> open_store(std::uint64_t capacity = 4 << 20) {
    return store::open(dir_, {.memory_cap_bytes = capacity}, 0).value();
  }
  insert_status add(store& records, std::uint64_t sequence, std::string_view message,
                    instance_id instance = {1, 2}) {
    const auto bytes =
        encoder_.encode({.message = message}, k_base + static_cast<std::int64_t>(sequence));
    return records.insert(bytes, {.service = "svc", .instance = instance, .sequence = sequence});
  }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  record_encoder encoder_;
};

TEST_F(store_persistence, refuses_a_sequence_it_already_stored_for_the_instance) {
  auto records = open_store();
  EXPECT_EQ(add(*records, 10, "a"), insert_status::stored);
  EXPECT_EQ(add(*records, 10, "a again"), insert_status::duplicate);
  EXPECT_EQ(add(*records, 9, "older"), insert_status::duplicate);
  EXPECT_EQ(add(*records, 10, "other instance", {3, 4}), insert_status::stored);
  EXPECT_EQ(add(*records, 11, "b"), insert_status::stored);
  EXPECT_EQ(records->size(), 3u);
}

TEST_F(store_persistence, a_reopened_store_has_every_record_and_still_refuses_duplicates) {
  {
    auto records = open_store();
    EXPECT_FALSE(records->recovered());
    for (std::uint64_t i = 0; i < 100; ++i) add(*records, i, "m" + std::to_string(i));
  }
  auto records = open_store();
  EXPECT_TRUE(records->recovered());
  EXPECT_EQ(records->size(), 100u);
  EXPECT_EQ(records->last_sequence({1, 2}, entry_kind::record), 99u);
  EXPECT_EQ(add(*records, 99, "replayed"), insert_status::duplicate);
  EXPECT_EQ(add(*records, 100, "new"), insert_status::stored);
  EXPECT_EQ(records->query({.limit = 1}).value().logs.at(0).message, "new");
}

TEST_F(store_persistence, a_store_of_another_size_starts_afresh) {
  {
    auto records = open_store(4 << 20);
    add(*records, 1, "old");
  }
  auto records = open_store(8 << 20);
  EXPECT_FALSE(records->recovered());
  EXPECT_EQ(records->size(), 0u);
}

TEST_F(store_persistence, evicts_the_oldest_first_when_full) {
  auto records = open_store(k_log_min_capacity);
  const std::string padding(1000, 'p');
  std::uint64_t sequence = 0;
  for (; sequence < 5000; ++sequence) add(*records, sequence, std::to_string(sequence) + padding);
  const std::size_t kept = records->size();
  EXPECT_LT(kept, 5000u);
  EXPECT_GT(kept, 500u);
  const auto all = records->query({.limit = 1000}).value();
  EXPECT_EQ(all.total_count, kept);
  EXPECT_EQ(all.logs.back().message, "4999" + padding);
  EXPECT_EQ(all.oldest_ns, k_base + static_cast<std::int64_t>(5000 - kept))
      << "a contiguous newest run";
}

TEST_F(store_persistence, wraps_when_only_eight_bytes_are_left_before_the_end) {
  // The mapping ends where the data area does, so a padding frame written as a whole
  // entry header here would run 48 bytes past it.
  auto log = record_log::open(dir_.store_segment(), k_log_min_capacity, 0).value();
  const auto append = [&](std::uint64_t sequence, std::size_t record_bytes) {
    const std::vector<std::byte> record(record_bytes, std::byte{0x5a});
    return log.append({.instance = {1, 2}, .sequence = sequence}, record, {});
  };
  // Frames of 56 header bytes plus the record: 255 of 4096 and one of 4088 leave 8.
  std::uint64_t sequence = 0;
  for (; sequence < 255; ++sequence) ASSERT_TRUE(append(sequence, 4096 - 56));
  ASSERT_TRUE(append(sequence++, 4088 - 56));
  ASSERT_EQ(log.tail() % k_log_min_capacity, k_log_min_capacity - 8);
  // A page no one may touch right after the mapping, where one is free, so that a write
  // past the end faults here instead of landing in whatever is mapped next.
  auto* data_end = reinterpret_cast<std::byte*>(log.at(0).header) + k_log_min_capacity;
  void* guard =
      ::mmap(data_end, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  const bool guarded = guard == data_end;

  const auto wrapped = append(sequence, 100);
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(*wrapped % k_log_min_capacity, 0u) << "the entry starts the next lap";
  std::uint64_t last_sequence = 0;
  log.for_each([&](const log_entry& entry) { last_sequence = entry.header->sequence; });
  EXPECT_EQ(last_sequence, sequence);
  if (guard != MAP_FAILED) ::munmap(guard, 4096);
  if (!guarded) std::cout << "note: the page after the store was taken; no guard page this run\n";
}

TEST_F(store_persistence, a_torn_tail_left_by_a_crash_is_cut_off) {
  {
    auto records = open_store();
    add(*records, 1, "whole");
  }
  // A writer killed mid-entry: bytes past the tail that were never committed.
  auto segment = shm_segment::open(dir_.store_segment()).value();
  auto* header = reinterpret_cast<log_header*>(segment.bytes().data());
  std::memset(segment.bytes().data() + k_log_header_size + header->tail.load(), 0xab, 64);
  header->tail.store(header->tail.load() + 64);  // and a tail that claims them
  auto records = open_store();
  EXPECT_EQ(records->size(), 1u);
  EXPECT_EQ(add(*records, 2, "after"), insert_status::stored);
  EXPECT_EQ(records->size(), 2u);
}

}  // namespace
}  // namespace logwire

namespace logwire {
namespace {

TEST(observe_json, cuts_long_texts_and_says_so) {
  store_result result;
  log_record record;
  record.position = 8812;
  record.message = std::string(10'000, 'm');
  record.fields.emplace_back("blob", std::string(10'000, 'b'));
  record.fields.emplace_back("n", std::int64_t{7});
  result.logs.push_back(record);
  result.total_count = 1;
  const std::size_t limit = text_limits::for_budget(20'000).text;
  ASSERT_EQ(limit, 1250u) << "a sixteenth of the budget";
  const auto json = to_observe_json(result, 20'000);
  const std::string message = json["logs"][0]["message"];
  EXPECT_EQ(message.substr(0, limit), std::string(limit, 'm'));
  EXPECT_TRUE(message.ends_with(
      "\xE2\x80\xA6 [cut 8,750 bytes; observe {what: \"backend-logs\", id: \"8812\"} returns it "
      "whole]"))
      << message.substr(limit);
  EXPECT_LT(json["logs"][0]["fields"]["blob"].get<std::string>().size(), limit + 128);
  EXPECT_EQ(json["logs"][0]["fields"]["n"], 7);
  EXPECT_EQ(json["textCut"], true);
}

TEST(observe_json, leaves_out_the_oldest_records_past_the_size_budget) {
  store_result result;
  for (int i = 0; i < 1000; ++i) {
    log_record record;
    record.timestamp_ns = i;
    record.message = std::to_string(i) + std::string(2000, 'x');
    result.logs.push_back(record);
  }
  result.total_count = 5000;
  const auto json = to_observe_json(result);
  EXPECT_LE(json.dump().size(), k_default_max_bytes);
  const std::size_t kept = json["logs"].size();
  EXPECT_EQ(json["omittedCount"], 1000 - kept);
  EXPECT_EQ(json["logs"][kept - 1]["message"].get<std::string>().substr(0, 3), "999")
      << "newest kept";
  EXPECT_EQ(json["totalCount"], 5000);
}

TEST(observe_json, does_not_split_a_utf8_character_when_cutting) {
  const std::size_t limit = text_limits::for_budget(k_default_max_bytes).text;
  store_result result;
  log_record record;
  record.message = std::string(limit - 1, 'a') + "\xc3\xa9" + std::string(100, 'z');
  result.logs.push_back(record);
  const std::string message = to_observe_json(result)["logs"][0]["message"];
  EXPECT_EQ(message.substr(0, limit - 1), std::string(limit - 1, 'a'));
  EXPECT_EQ(message.substr(limit - 1, 3), "\xE2\x80\xA6") << "the two-byte character went whole";
}

TEST(observe_json, escapes_quotes_backslashes_and_control_characters) {
  log_record record;
  record.message = std::string("say \"hi\" \\ tab\there\nnew line \x01 end");
  record.stack_trace = "at f()\r\n";
  std::string text;
  bool cut = false;
  append_record_json(text, record, cut);
  EXPECT_NE(text.find(R"(say \"hi\" \\ tab\there\nnew line \u0001 end)"), std::string::npos)
      << text;
  const auto json = to_json(record);
  EXPECT_EQ(json["message"], record.message) << "reads back as written";
  EXPECT_EQ(json["stackTrace"], record.stack_trace);
}

TEST(observe_json, keeps_a_whole_double_a_double_and_writes_non_finite_ones_as_null) {
  log_record record;
  record.fields = {{"whole", 2.0},    {"half", 0.5},
                   {"big", 1e300},    {"nan", std::nan("")},
                   {"inf", HUGE_VAL}, {"int", std::int64_t{-9'223'372'036'854'775'807 - 1}},
                   {"yes", true}};
  const auto fields = to_json(record)["fields"];
  EXPECT_TRUE(fields["whole"].is_number_float());
  EXPECT_EQ(fields["whole"], 2.0);
  EXPECT_EQ(fields["half"], 0.5);
  EXPECT_EQ(fields["big"], 1e300);
  EXPECT_TRUE(fields["nan"].is_null());
  EXPECT_TRUE(fields["inf"].is_null());
  EXPECT_EQ(fields["int"], std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(fields["yes"], true);
}

TEST(observe_json, a_field_key_given_twice_keeps_its_last_value) {
  log_record record;
  record.fields = {{"a", std::int64_t{1}}, {"b", std::string("x")}, {"a", std::int64_t{2}}};
  std::string text;
  bool cut = false;
  append_record_json(text, record, cut);
  EXPECT_EQ(text.find("\"a\":1"), std::string::npos) << text;
  EXPECT_EQ(to_json(record)["fields"], (ordered_json{{"b", "x"}, {"a", 2}}));
}

TEST(observe_json, repairs_invalid_utf8_instead_of_writing_it) {
  log_record record;
  record.message = "bad \xff byte";
  EXPECT_EQ(to_json(record)["message"], "bad \xef\xbf\xbd byte");
}

}  // namespace
}  // namespace logwire
