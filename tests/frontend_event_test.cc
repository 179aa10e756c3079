// The browser batch decoder (frontend_event.h) against well-formed batches and hostile
// ones: wrong types, sizes, UTF-8, numbers out of range, nesting.
#include "logwire/frontend_event.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace logwire {
namespace {

using nlohmann::json;

constexpr std::int64_t k_received = 1769854524000LL * 1'000'000;

json batch_with(json events, std::uint64_t seq = 0) {
  return {
      {"v", 1},
      {"page", {{"id", "pg-1"}, {"url", "http://localhost:3000/checkout"}, {"sessionId", "s-9"}}},
      {"seq", seq},
      {"events", std::move(events)}};
}

json request_event() {
  return {{"kind", "request"},
          {"timestamp", 1769854523456.25},
          {"method", "POST"},
          {"url", "http://localhost:3000/api/payments/process"},
          {"status", 500},
          {"durationMs", 35.5},
          {"requestId", "req-12345"},
          {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
          {"initiator", "fetch"}};
}

result<frontend_batch> decode(const json& body) {
  return decode_frontend_batch(body.dump(), k_received);
}

TEST(frontend_decoder, reads_every_field_of_a_request) {
  const auto batch = decode(batch_with({request_event()}, 17));
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->page_id, "pg-1");
  EXPECT_EQ(batch->first_sequence, 17u);
  ASSERT_EQ(batch->events.size(), 1u);
  const frontend_event& e = batch->events[0];
  EXPECT_EQ(e.kind, frontend_kind::request);
  EXPECT_EQ(e.timestamp_ns, 1769854523456250000LL);
  EXPECT_EQ(e.receive_ns, k_received);
  EXPECT_EQ(e.page_url, "http://localhost:3000/checkout");
  EXPECT_EQ(e.session_id, "s-9");
  EXPECT_EQ(e.sequence, 17u);
  EXPECT_EQ(e.method, "POST");
  EXPECT_EQ(e.status, 500);
  EXPECT_DOUBLE_EQ(e.duration_ms, 35.5);
  EXPECT_EQ(e.request_id, "req-12345");
  EXPECT_EQ(e.initiator, "fetch");
}

TEST(frontend_decoder, reads_each_kind) {
  const auto batch = decode(
      batch_with({{{"kind", "action"},
                   {"timestamp", 1},
                   {"action", "click"},
                   {"selector", "button#pay"},
                   {"text", "Submit Payment"}},
                  {{"kind", "console"}, {"timestamp", 2}, {"level", "error"}, {"message", "boom"}},
                  {{"kind", "exception"},
                   {"timestamp", 3},
                   {"message", "TypeError"},
                   {"stack", "at x"},
                   {"source", "app.js:1:2"}},
                  {{"kind", "rejection"}, {"timestamp", 4}, {"message", "nope"}},
                  {{"kind", "page-load"},
                   {"timestamp", 5},
                   {"url", "http://localhost/"},
                   {"durationMs", 412.0}}}));
  ASSERT_TRUE(batch) << batch.error().message;
  ASSERT_EQ(batch->events.size(), 5u);
  EXPECT_EQ(batch->events[0].kind, frontend_kind::action);
  EXPECT_EQ(batch->events[0].text, "Submit Payment");
  EXPECT_EQ(batch->events[1].message, "boom");
  EXPECT_EQ(batch->events[2].source, "app.js:1:2");
  EXPECT_EQ(batch->events[3].kind, frontend_kind::rejection);
  EXPECT_EQ(batch->events[4].kind, frontend_kind::page_load);
  EXPECT_DOUBLE_EQ(batch->events[4].duration_ms, 412.0);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(batch->events[i].sequence, i);
}

TEST(frontend_decoder, a_refused_event_still_uses_its_sequence) {
  json bad = request_event();
  bad["status"] = "500";
  const auto batch = decode(batch_with({request_event(), bad, request_event()}, 10));
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->refused_events, 1u);
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->events[0].sequence, 10u);
  EXPECT_EQ(batch->events[1].sequence, 12u);
}

struct bad_event_case {
  const char* name;
  const char* key;
  json value;
};

class frontend_decoder_refuses_event : public ::testing::TestWithParam<bad_event_case> {};

TEST_P(frontend_decoder_refuses_event, and_keeps_the_rest_of_the_batch) {
  json bad = request_event();
  if (GetParam().value.is_discarded()) {
    bad.erase(GetParam().key);
  } else {
    bad[GetParam().key] = GetParam().value;
  }
  const auto batch = decode(batch_with({bad, request_event()}));
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->refused_events, 1u);
  EXPECT_EQ(batch->events.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    hostile, frontend_decoder_refuses_event,
    ::testing::Values(bad_event_case{"unknown_kind", "kind", "mouse-move"},
                      bad_event_case{"kind_not_a_string", "kind", 3},
                      bad_event_case{"no_kind", "kind", json(json::value_t::discarded)},
                      bad_event_case{"no_timestamp", "timestamp", json(json::value_t::discarded)},
                      bad_event_case{"timestamp_a_string", "timestamp", "1769854523456"},
                      bad_event_case{"negative_timestamp", "timestamp", -1},
                      bad_event_case{"timestamp_past_2100", "timestamp", 4.2e12},
                      bad_event_case{"huge_timestamp", "timestamp", 1e300},
                      bad_event_case{"status_a_string", "status", "500"},
                      bad_event_case{"status_over_999", "status", 1000},
                      bad_event_case{"negative_status", "status", -1},
                      bad_event_case{"fractional_status", "status", 200.5},
                      bad_event_case{"negative_duration", "durationMs", -3},
                      bad_event_case{"duration_a_string", "durationMs", "35"},
                      bad_event_case{"url_a_number", "url", 12},
                      bad_event_case{"request_id_an_object", "requestId", json::object()}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(frontend_decoder, null_means_not_given) {
  json e = request_event();
  e["status"] = nullptr;
  e["durationMs"] = nullptr;
  e["error"] = nullptr;
  const auto batch = decode(batch_with({e}));
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].status, 0);
  EXPECT_LT(batch->events[0].duration_ms, 0);
}

TEST(frontend_decoder, ignores_unknown_keys) {
  json e = request_event();
  e["futureKey"] = {{"nested", true}};
  json body = batch_with({e});
  body["extra"] = 1;
  const auto batch = decode(body);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->events.size(), 1u);
}

TEST(frontend_decoder, cuts_long_texts_between_characters) {
  json e = request_event();
  std::string url = "http://localhost/";
  while (url.size() < 5000) url += "é";  // two bytes each
  e["url"] = url;
  e["error"] = std::string(20000, 'x');
  const auto batch = decode(batch_with({e}));
  ASSERT_TRUE(batch);
  const frontend_event& got = batch->events[0];
  EXPECT_LE(got.url.size(), k_max_url_bytes);
  EXPECT_GE(got.url.size(), k_max_url_bytes - 1);
  EXPECT_TRUE(got.url.starts_with("http://localhost/é"));
  EXPECT_NE(static_cast<unsigned char>(got.url.back()), 0xC3);  // not half a character
  EXPECT_EQ(got.error.size(), k_max_message_bytes);
}

TEST(frontend_decoder, cuts_selector_and_text_at_512_bytes) {
  const auto batch = decode(batch_with({{{"kind", "action"},
                                         {"timestamp", 1},
                                         {"selector", std::string(600, 's')},
                                         {"text", std::string(600, 't')}}}));
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->events[0].selector.size(), 512u);
  EXPECT_EQ(batch->events[0].text.size(), 512u);
}

TEST(frontend_decoder, refuses_text_that_is_not_json_as_malformed) {
  for (const std::string_view text : {"", "{", "not json", "{\"v\":1,}", "[1,2"}) {
    const auto batch = decode_frontend_batch(text, k_received);
    ASSERT_FALSE(batch) << text;
    EXPECT_EQ(frontend_error_code(batch.error()), "malformed_json") << text;
    EXPECT_FALSE(batch.error().message.empty());
  }
}

TEST(frontend_decoder, refuses_invalid_utf8_as_malformed) {
  const std::string text = "{\"v\":1,\"page\":{\"id\":\"p\xff\"},\"seq\":0,\"events\":[]}";
  const auto batch = decode_frontend_batch(text, k_received);
  ASSERT_FALSE(batch);
  EXPECT_EQ(frontend_error_code(batch.error()), "malformed_json");
  EXPECT_NE(batch.error().message.find("UTF-8"), std::string::npos);
}

TEST(frontend_decoder, refuses_deep_nesting_before_parsing_it) {
  std::string text =
      "{\"v\":1,\"page\":{\"id\":\"p\"},\"seq\":0,\"events\":[{\"kind\":\"console\","
      "\"timestamp\":1,\"x\":";
  text += std::string(100000, '[');
  const auto batch = decode_frontend_batch(text, k_received);
  ASSERT_FALSE(batch);
  EXPECT_EQ(frontend_error_code(batch.error()), "malformed_json");
  EXPECT_NE(batch.error().message.find("nests"), std::string::npos);
}

TEST(frontend_decoder, brackets_inside_strings_do_not_count_as_nesting) {
  json e = {{"kind", "console"}, {"timestamp", 1}, {"message", std::string(100, '[') + "\\\"["}};
  const auto batch = decode(batch_with({e}));
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->events.size(), 1u);
}

struct bad_batch_case {
  const char* name;
  json body;
};

class frontend_decoder_refuses_batch : public ::testing::TestWithParam<bad_batch_case> {};

TEST_P(frontend_decoder_refuses_batch, as_bad_batch_with_a_reason) {
  const auto batch = decode(GetParam().body);
  ASSERT_FALSE(batch);
  EXPECT_EQ(frontend_error_code(batch.error()), "bad_batch");
  EXPECT_FALSE(batch.error().message.empty());
}

json without(json body, const char* key) {
  body.erase(key);
  return body;
}

json with(json body, const char* key, json value) {
  body[key] = std::move(value);
  return body;
}

INSTANTIATE_TEST_SUITE_P(
    hostile, frontend_decoder_refuses_batch,
    ::testing::Values(
        bad_batch_case{"an_array", json::array()}, bad_batch_case{"a_string", "batch"},
        bad_batch_case{"no_version", without(batch_with(json::array()), "v")},
        bad_batch_case{"version_2", with(batch_with(json::array()), "v", 2)},
        bad_batch_case{"no_page", without(batch_with(json::array()), "page")},
        bad_batch_case{"page_without_id", with(batch_with(json::array()), "page", json::object())},
        bad_batch_case{"empty_page_id", with(batch_with(json::array()), "page", {{"id", ""}})},
        bad_batch_case{"long_page_id",
                       with(batch_with(json::array()), "page", {{"id", std::string(129, 'p')}})},
        bad_batch_case{"page_url_a_number",
                       with(batch_with(json::array()), "page", {{"id", "p"}, {"url", 1}})},
        bad_batch_case{"no_seq", without(batch_with(json::array()), "seq")},
        bad_batch_case{"negative_seq", with(batch_with(json::array()), "seq", -1)},
        bad_batch_case{"seq_past_2_53",
                       with(batch_with(json::array()), "seq", (std::uint64_t{1} << 53) + 1)},
        bad_batch_case{"seq_a_string", with(batch_with(json::array()), "seq", "0")},
        bad_batch_case{"events_an_object",
                       with(batch_with(json::array()), "events", json::object())},
        bad_batch_case{"no_events", without(batch_with(json::array()), "events")}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(frontend_decoder, takes_exactly_1000_events_and_refuses_1001) {
  json events = json::array();
  for (int i = 0; i < 1000; ++i) events.push_back({{"kind", "console"}, {"timestamp", i}});
  ASSERT_TRUE(decode(batch_with(events)));
  events.push_back({{"kind", "console"}, {"timestamp", 1}});
  const auto refused = decode(batch_with(events));
  ASSERT_FALSE(refused);
  EXPECT_EQ(frontend_error_code(refused.error()), "bad_batch");
}

TEST(frontend_decoder, refuses_a_body_over_1_mib) {
  json e = {
      {"kind", "console"}, {"timestamp", 1}, {"message", std::string(k_max_batch_bytes, 'm')}};
  const auto batch = decode(batch_with({e}));
  ASSERT_FALSE(batch);
  EXPECT_NE(batch.error().message.find("bytes"), std::string::npos);
}

TEST(frontend_decoder, keeps_the_fraction_of_a_millisecond) {
  json e = {{"kind", "console"}, {"timestamp", 1769854523456.789}};
  const auto batch = decode(batch_with({e}));
  ASSERT_TRUE(batch);
  EXPECT_NEAR(static_cast<double>(batch->events[0].timestamp_ns), 1769854523456789000.0, 1000.0);
}

TEST(frontend_decoder, page_load_spelled_with_an_underscore_is_a_page_load) {
  const auto batch = decode(batch_with({{{"kind", "page_load"}, {"timestamp", 1}}}));
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].kind, frontend_kind::page_load);
}

}  // namespace
}  // namespace logwire
