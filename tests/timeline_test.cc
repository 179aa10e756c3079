// observe's timeline, frontend mode and backend-logs' browserRequest over a real store:
// the product spec's Example 1 (a click, a POST that fails with 500 and the backend's
// lines for it), joins by request ID, by trace ID and by time, the size bounds, and the
// query protocol's checks of the new arguments.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "logwire/observe_json.h"
#include "logwire/observe_query.h"
#include "logwire/record_encoder.h"
#include "logwire/shm_segment.h"
#include "logwire/store.h"
#include "query_server.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

using nlohmann::json;

constexpr std::int64_t k_base = 1769854523LL * 1'000'000'000;  // 2026-01-31T10:15:23Z
constexpr std::int64_t k_ms = 1'000'000;
constexpr std::string_view k_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view k_traceparent =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view k_url = "http://localhost:3000/api/payments/process";

struct backend_line {
  std::string_view service = "api-server";
  level severity = level::info;
  std::string_view message;
  std::int64_t at = k_base;
  std::string_view request_id = {};
  std::string_view traceparent = {};
  std::vector<field> fields = {};
};

class timeline : public ::testing::Test {
 protected:
  void SetUp() override {
    records_ = store::open(dir_, {.memory_cap_bytes = 16 << 20}, k_base).value();
  }
  void TearDown() override {
    records_.reset();
    shm_segment::remove(dir_.store_segment());
  }

  void log(const backend_line& line) {
    const auto bytes = encoder_.encode(
        {.severity = line.severity,
         .message = line.message,
         .context = {.request_id = line.request_id, .traceparent = line.traceparent},
         .fields = line.fields},
        line.at);
    ASSERT_TRUE(verify_record(bytes));
    records_->insert(bytes, {.service = line.service,
                             .receive_ns = line.at,
                             .instance = {1, 1},
                             .sequence = ++sequence_,
                             .kind = entry_kind::record});
  }

  void browse(std::vector<frontend_event> events, std::string page = "pg-1") {
    frontend_batch batch;
    batch.page_id = page;
    batch.first_sequence = page_sequence_;
    for (frontend_event& e : events) {
      e.page_id = page;
      e.page_url = "http://localhost:3000/checkout";
      e.sequence = page_sequence_++;
      e.receive_ns = e.timestamp_ns;
    }
    batch.events = std::move(events);
    records_->frontend().insert(std::move(batch), k_base);
  }

  static frontend_event click(std::int64_t at) {
    frontend_event e;
    e.kind = frontend_kind::action;
    e.timestamp_ns = at;
    e.action = "click";
    e.selector = "button#pay";
    e.text = "Submit Payment";
    return e;
  }

  static frontend_event post(std::int64_t at, int status, double duration_ms,
                             std::string request_id = "req-12345",
                             std::string_view traceparent = k_traceparent) {
    frontend_event e;
    e.kind = frontend_kind::request;
    e.timestamp_ns = at;
    e.method = "POST";
    e.url = std::string(k_url);
    e.status = status;
    e.duration_ms = duration_ms;
    e.request_id = std::move(request_id);
    e.traceparent = std::string(traceparent);
    e.initiator = "fetch";
    return e;
  }

  // The product spec's Example 1: a click, a POST, four backend lines, a 500.
  void example_one() {
    browse({click(k_base - 120 * k_ms), post(k_base, 500, 35)});
    log({.severity = level::info,
         .message = "Payment request received",
         .at = k_base + 2 * k_ms,
         .request_id = "req-12345",
         .traceparent = k_traceparent});
    log({.severity = level::debug,
         .message = "Processing payment for user 987",
         .at = k_base + 3 * k_ms,
         .request_id = "req-12345",
         .traceparent = k_traceparent,
         .fields = {{"userId", 987}}});
    log({.severity = level::error,
         .message = "Payment gateway timeout",
         .at = k_base + 30 * k_ms,
         .request_id = "req-12345",
         .traceparent = k_traceparent});
    log({.severity = level::error,
         .message = "Returning 500 to client",
         .at = k_base + 31 * k_ms,
         .request_id = "req-12345",
         .traceparent = k_traceparent});
  }

  json ask(const timeline_query& q, std::size_t max_bytes = k_default_max_bytes) {
    const std::string text = timeline_json_text(*records_, q, max_bytes);
    EXPECT_LE(text.size(), max_bytes);
    json parsed = json::parse(text, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << text;
    return parsed;
  }

  // Each entry as "browser:kind" or "backend:LEVEL:message:correlation".
  static std::vector<std::string> shape(const json& answer) {
    std::vector<std::string> out;
    for (const json& e : answer.at("entries")) {
      if (e.at("source") == "browser") {
        out.push_back("browser:" + e.at("kind").get<std::string>());
      } else {
        out.push_back("backend:" + e.at("level").get<std::string>() + ":" +
                      e.at("message").get<std::string>() + ":" +
                      e.at("correlation").get<std::string>());
      }
    }
    return out;
  }

  // A query through the broker's protocol, as logwire-mcp sends it.
  json observe(json params) {
    const json request = {{"v", 1}, {"method", "observe"}, {"params", std::move(params)}};
    return json::parse(query_server::handle(request.dump(), *records_));
  }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> records_;
  record_encoder encoder_;
  std::uint64_t sequence_ = 0;
  std::uint64_t page_sequence_ = 0;
};

TEST_F(timeline, example_one_reads_click_request_backend_lines_and_the_500_in_order) {
  example_one();
  const json answer = ask({.request_id = "req-12345"});
  EXPECT_EQ(
      shape(answer),
      (std::vector<std::string>{
          "browser:action", "browser:request-sent", "backend:INFO:Payment request received:exact",
          "backend:DEBUG:Processing payment for user 987:exact",
          "backend:ERROR:Payment gateway timeout:exact",
          "backend:ERROR:Returning 500 to client:exact", "browser:request-answered"}));
  const json& entries = answer.at("entries");
  EXPECT_EQ(entries[1].at("method"), "POST");
  EXPECT_EQ(entries[1].at("requestId"), "req-12345");
  EXPECT_EQ(entries[1].at("traceId"), k_trace);
  EXPECT_FALSE(entries[1].contains("status"));
  EXPECT_EQ(entries[6].at("status"), 500);
  EXPECT_EQ(entries[6].at("timestamp"), "2026-01-31T10:15:23.035Z");
  EXPECT_EQ(entries[0].at("correlation"), "inferred");
  EXPECT_EQ(entries[0].at("inferredBy"), "page");
  EXPECT_EQ(entries[2].at("service"), "api-server");
  EXPECT_EQ(answer.at("exactCount"), 4);
  EXPECT_EQ(answer.at("inferredCount"), 0);
  EXPECT_EQ(answer.at("failedRequests"), 1);
}

TEST_F(timeline, example_one_summary_reads_like_the_developers_view) {
  example_one();
  const std::string summary = ask({.request_id = "req-12345"}).at("summary");
  EXPECT_EQ(summary.substr(0, summary.rfind(" (")),
            "click \"Submit Payment\" (button#pay) → POST /api/payments/process req-12345 → "
            "api-server: INFO Payment request received, DEBUG Processing payment for user 987, "
            "ERROR Payment gateway timeout, ERROR Returning 500 to client → 500 after 35 ms");
  EXPECT_NE(summary.find("all joined by ID"), std::string::npos) << summary;
}

TEST_F(timeline, a_click_long_before_the_request_is_not_its_cause) {
  browse({click(k_base - 5000 * k_ms), post(k_base, 200, 5)});
  EXPECT_EQ(shape(ask({.request_id = "req-12345"})),
            (std::vector<std::string>{"browser:request-sent", "browser:request-answered"}));
}

TEST_F(timeline, the_click_shown_is_the_pages_last_before_the_request_not_another_pages) {
  // A busy page: hundreds of requests between its click and the one asked about; and
  // another page's click nearer in time.
  std::vector<frontend_event> busy{click(k_base - 1500 * k_ms)};
  for (int i = 0; i < 500; ++i) {
    busy.push_back(
        post(k_base - 1000 * k_ms + i * k_ms, 200, 1, "req-other-" + std::to_string(i), {}));
  }
  busy.push_back(post(k_base, 500, 35));
  browse(std::move(busy));
  frontend_event elsewhere = click(k_base - 10 * k_ms);
  elsewhere.selector = "button#elsewhere";
  browse({elsewhere}, "pg-2");
  const json answer = ask({.request_id = "req-12345"});
  EXPECT_EQ(shape(answer), (std::vector<std::string>{"browser:action", "browser:request-sent",
                                                     "browser:request-answered"}));
  EXPECT_EQ(answer.at("entries")[0].at("selector"), "button#pay");
}

TEST_F(timeline, a_console_error_of_the_page_after_the_answer_is_shown) {
  frontend_event error;
  error.kind = frontend_kind::console;
  error.timestamp_ns = k_base + 50 * k_ms;
  error.level = "error";
  error.message = "payment failed";
  browse({post(k_base, 500, 35), error});
  const json answer = ask({.request_id = "req-12345"});
  EXPECT_EQ(shape(answer),
            (std::vector<std::string>{"browser:request-sent", "browser:request-answered",
                                      "browser:console"}));
  EXPECT_NE(answer.at("summary").get<std::string>().find("console.error \"payment failed\""),
            std::string::npos);
}

TEST_F(timeline, a_backend_line_with_only_the_trace_is_exact) {
  browse({post(k_base, 500, 35)});
  log({.message = "span work", .at = k_base + 5 * k_ms, .traceparent = k_traceparent});
  EXPECT_EQ(shape(ask({.request_id = "req-12345"})),
            (std::vector<std::string>{"browser:request-sent", "backend:INFO:span work:exact",
                                      "browser:request-answered"}));
}

TEST_F(timeline, by_trace_id_finds_the_request_and_lines_with_its_request_id) {
  browse({post(k_base, 500, 35)});
  log({.message = "by request id", .at = k_base + 5 * k_ms, .request_id = "req-12345"});
  const json answer = ask({.trace_id = std::string(k_trace)});
  EXPECT_EQ(shape(answer),
            (std::vector<std::string>{"browser:request-sent", "backend:INFO:by request id:exact",
                                      "browser:request-answered"}));
  EXPECT_EQ(answer.at("traceId"), k_trace);
}

TEST_F(timeline, a_line_without_ids_of_the_service_named_in_the_url_is_inferred) {
  browse({post(k_base, 500, 35)});
  log({.service = "payments-service", .message = "no ids here", .at = k_base + 10 * k_ms});
  const json answer = ask({.request_id = "req-12345"});
  EXPECT_EQ(shape(answer),
            (std::vector<std::string>{"browser:request-sent", "backend:INFO:no ids here:inferred",
                                      "browser:request-answered"}));
  EXPECT_EQ(answer.at("entries")[1].at("inferredBy"), "service");
  EXPECT_EQ(answer.at("inferredCount"), 1);
  EXPECT_NE(answer.at("summary").get<std::string>().find("inferred"), std::string::npos);
}

TEST_F(timeline, inferred_lines_keep_to_the_window_around_the_request) {
  browse({post(k_base, 500, 35)});
  // The request runs from 0 to 35 ms: with N = 100, from -100 to 135 ms.
  log({.service = "payments", .message = "just before", .at = k_base - 100 * k_ms});
  log({.service = "payments", .message = "too early", .at = k_base - 101 * k_ms});
  log({.service = "payments", .message = "just after", .at = k_base + 135 * k_ms});
  log({.service = "payments", .message = "too late", .at = k_base + 136 * k_ms});
  EXPECT_EQ(
      shape(ask({.request_id = "req-12345"})),
      (std::vector<std::string>{"backend:INFO:just before:inferred", "browser:request-sent",
                                "browser:request-answered", "backend:INFO:just after:inferred"}));
  EXPECT_EQ(ask({.request_id = "req-12345", .window_ns = 200 * k_ms}).at("inferredCount"), 4);
  EXPECT_EQ(ask({.request_id = "req-12345", .window_ns = 0}).at("inferredCount"), 0);
}

TEST_F(timeline, a_line_naming_the_requests_path_is_inferred_whatever_its_service) {
  browse({post(k_base, 500, 35)});
  log({.service = "gateway",
       .message = "routed",
       .at = k_base + 1 * k_ms,
       .fields = {{"path", "/api/payments/process"}, {"method", "POST"}}});
  log({.service = "gateway",
       .message = "other path",
       .at = k_base + 2 * k_ms,
       .fields = {{"path", "/api/cart"}}});
  log({.service = "gateway",
       .message = "other method",
       .at = k_base + 3 * k_ms,
       .fields = {{"url", "http://localhost:3000/api/payments/process?x=1"}, {"method", "GET"}}});
  // A path that is not the request's rules the service name out.
  log({.service = "payments",
       .message = "payments elsewhere",
       .at = k_base + 4 * k_ms,
       .fields = {{"path", "/health"}}});
  const json answer = ask({.request_id = "req-12345"});
  EXPECT_EQ(shape(answer),
            (std::vector<std::string>{"browser:request-sent", "backend:INFO:routed:inferred",
                                      "browser:request-answered"}));
  EXPECT_EQ(answer.at("entries")[1].at("inferredBy"), "path");
}

TEST_F(timeline, a_line_with_another_request_id_is_never_inferred) {
  browse({post(k_base, 500, 35)});
  log({.service = "payments",
       .message = "someone else's",
       .at = k_base + 10 * k_ms,
       .request_id = "req-other"});
  log({.service = "payments",
       .message = "in a field",
       .at = k_base + 11 * k_ms,
       .fields = {{"request_id", "req-other"}}});
  EXPECT_EQ(shape(ask({.request_id = "req-12345"})),
            (std::vector<std::string>{"browser:request-sent", "browser:request-answered"}));
}

TEST_F(timeline, a_service_name_too_short_or_absent_from_the_url_is_not_inferred) {
  browse({post(k_base, 500, 35)});
  log({.service = "ap", .message = "short", .at = k_base + 10 * k_ms});
  log({.service = "inventory", .message = "elsewhere", .at = k_base + 10 * k_ms});
  EXPECT_EQ(ask({.request_id = "req-12345"}).at("inferredCount"), 0);
}

TEST_F(timeline, a_request_the_browser_never_saw_still_shows_the_backend_and_says_so) {
  log({.message = "curl request", .at = k_base, .request_id = "req-cli"});
  const json answer = ask({.request_id = "req-cli"});
  EXPECT_EQ(shape(answer), (std::vector<std::string>{"backend:INFO:curl request:exact"}));
  EXPECT_NE(answer.at("summary").get<std::string>().find("logwire.js"), std::string::npos);
}

TEST_F(timeline, an_unknown_request_id_says_nothing_has_it) {
  example_one();
  const json answer = ask({.request_id = "req-nope"});
  EXPECT_TRUE(answer.at("entries").empty());
  EXPECT_EQ(answer.at("totalCount"), 0);
  EXPECT_TRUE(
      answer.at("summary").get<std::string>().starts_with("Nothing has requestId req-nope"));
}

TEST_F(timeline, a_failed_request_without_status_ends_in_request_failed) {
  frontend_event failed = post(k_base, 0, 12);
  failed.error = "TypeError: Failed to fetch";
  browse({failed});
  const json answer = ask({.request_id = "req-12345"});
  EXPECT_EQ(shape(answer),
            (std::vector<std::string>{"browser:request-sent", "browser:request-failed"}));
  EXPECT_NE(answer.at("summary").get<std::string>().find("failed: TypeError: Failed to fetch"),
            std::string::npos);
}

TEST_F(timeline, a_window_joins_every_request_in_it) {
  example_one();
  browse({post(k_base + 500 * k_ms, 200, 5, "req-2", "")});
  log({.message = "second", .at = k_base + 501 * k_ms, .request_id = "req-2"});
  log({.message = "unrelated", .at = k_base + 700 * k_ms, .request_id = "req-3"});
  const json answer = ask({.since_ns = k_base - k_ms * 1000, .until_ns = k_base + 1000 * k_ms});
  EXPECT_EQ(answer.at("exactCount"), 5);
  EXPECT_EQ(answer.at("browserCount"), 5);
  EXPECT_TRUE(answer.contains("since"));
  for (const auto& entry : shape(answer)) EXPECT_EQ(entry.find("unrelated"), std::string::npos);
}

TEST_F(timeline, past_the_limit_the_lowest_levels_give_way_and_the_browser_stays) {
  browse({click(k_base - k_ms), post(k_base, 500, 900)});
  for (int i = 0; i < 50; ++i) {
    log({.severity = level::debug,
         .message = "step " + std::to_string(i),
         .at = k_base + (i + 1) * k_ms,
         .request_id = "req-12345"});
  }
  log({.severity = level::error,
       .message = "the failure",
       .at = k_base + 800 * k_ms,
       .request_id = "req-12345"});
  const json answer = ask({.request_id = "req-12345", .limit = 10});
  EXPECT_EQ(answer.at("entries").size(), 10u);
  EXPECT_EQ(answer.at("omittedCount"), 44);  // 54 entries, 10 kept
  const auto entries = shape(answer);
  EXPECT_EQ(entries.front(), "browser:action");
  EXPECT_EQ(entries.back(), "browser:request-answered");
  EXPECT_NE(std::find(entries.begin(), entries.end(), "backend:ERROR:the failure:exact"),
            entries.end());
  // The earliest steps are kept: the latest of a level give way first.
  EXPECT_EQ(entries[2], "backend:DEBUG:step 0:exact");
}

TEST_F(timeline, stays_under_max_bytes_and_cuts_long_texts) {
  browse({post(k_base, 500, 900)});
  const std::string long_message(5000, 'x');
  for (int i = 0; i < 100; ++i) {
    log({.message = long_message + std::to_string(i),
         .at = k_base + (i + 1) * k_ms,
         .request_id = "req-12345"});
  }
  const json answer = ask({.request_id = "req-12345"}, 20000);
  EXPECT_EQ(answer.at("textCut"), true);
  EXPECT_GT(answer.at("omittedCount").get<int>(), 0);
  const auto entries = shape(answer);
  EXPECT_EQ(entries.front(), "browser:request-sent");
  EXPECT_EQ(entries.back(), "browser:request-answered");
}

TEST_F(timeline, backend_logs_name_the_browser_request_of_each_record) {
  example_one();
  log({.message = "no browser", .at = k_base + 40 * k_ms, .request_id = "req-cli"});
  const json reply = observe({{"what", "backend-logs"}});
  ASSERT_TRUE(reply.contains("result")) << reply.dump();
  int named = 0;
  for (const json& record : reply.at("result").at("logs")) {
    if (record.value("requestId", "") == "req-12345") {
      EXPECT_EQ(record.at("browserRequest"), "POST /api/payments/process → 500");
      ++named;
    } else {
      EXPECT_FALSE(record.contains("browserRequest"));
    }
  }
  EXPECT_EQ(named, 4);
}

TEST_F(timeline, observe_timeline_through_the_query_protocol) {
  example_one();
  const json reply =
      observe({{"what", "timeline"}, {"requestId", "req-12345"}, {"window", "250ms"}});
  ASSERT_TRUE(reply.contains("result")) << reply.dump();
  EXPECT_EQ(reply.at("result").at("type"), "timeline");
  EXPECT_EQ(reply.at("result").at("windowMs"), 250);
  EXPECT_EQ(reply.at("result").at("entries").size(), 7u);
  EXPECT_TRUE(reply.at("timing").contains("storeMs"));
}

struct refused_case {
  const char* name;
  json params;
  const char* says;
};

class timeline_arguments : public timeline, public ::testing::WithParamInterface<refused_case> {};

TEST_P(timeline_arguments, are_refused_with_a_reason) {
  const json reply = observe(GetParam().params);
  ASSERT_TRUE(reply.contains("error")) << reply.dump();
  EXPECT_EQ(reply.at("error").at("code"), "invalid_param");
  EXPECT_NE(reply.at("error").at("message").get<std::string>().find(GetParam().says),
            std::string::npos)
      << reply.dump();
}

INSTANTIATE_TEST_SUITE_P(
    hostile, timeline_arguments,
    ::testing::Values(
        refused_case{"timeline_without_id_or_since", {{"what", "timeline"}}, "needs requestId"},
        refused_case{"window_negative",
                     {{"what", "timeline"}, {"requestId", "r"}, {"window", -1}},
                     "window"},
        refused_case{"window_too_long",
                     {{"what", "timeline"}, {"requestId", "r"}, {"window", 60001}},
                     "window"},
        refused_case{"window_not_a_duration",
                     {{"what", "timeline"}, {"requestId", "r"}, {"window", "soon"}},
                     "window"},
        refused_case{"timeline_with_level",
                     {{"what", "timeline"}, {"requestId", "r"}, {"level", "ERROR"}},
                     "does not apply"},
        refused_case{"backend_logs_with_kind",
                     {{"what", "backend-logs"}, {"kind", "request"}},
                     "does not apply"},
        refused_case{"frontend_with_unknown_kind",
                     {{"what", "frontend"}, {"kind", "hover"}},
                     "kind must be"},
        refused_case{
            "frontend_with_min_status_zero", {{"what", "frontend"}, {"minStatus", 0}}, "minStatus"},
        refused_case{"frontend_with_backend_cursor",
                     {{"what", "frontend"}, {"cursor", "c1-o-1-2-3-4"}},
                     "cursor"},
        refused_case{
            "frontend_with_service", {{"what", "frontend"}, {"service", "api"}}, "does not apply"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(timeline, observe_frontend_filters_and_counts) {
  example_one();
  browse({post(k_base + k_ms * 100, 200, 3, "req-ok", "")});
  const json reply = observe({{"what", "frontend"}, {"minStatus", 400}});
  ASSERT_TRUE(reply.contains("result")) << reply.dump();
  const json& result = reply.at("result");
  EXPECT_EQ(result.at("type"), "frontend");
  EXPECT_EQ(result.at("totalCount"), 1);
  EXPECT_EQ(result.at("events")[0].at("requestId"), "req-12345");
  EXPECT_EQ(result.at("events")[0].at("pageUrl"), "http://localhost:3000/checkout");
  EXPECT_EQ(result.at("counts").at("stored"), 3);
  EXPECT_EQ(result.at("counts").at("refused").at("malformedJson"), 0);
  const json clicks = observe({{"what", "frontend"}, {"kind", json::array({"action"})}});
  EXPECT_EQ(clicks.at("result").at("events")[0].at("text"), "Submit Payment");
}

TEST_F(timeline, observe_frontend_pages_on_with_its_cursor_and_stays_under_max_bytes) {
  std::vector<frontend_event> many;
  for (int i = 0; i < 60; ++i) {
    frontend_event e;
    e.kind = frontend_kind::console;
    e.timestamp_ns = k_base + i * k_ms;
    e.message = std::string(600, 'm') + std::to_string(i);
    many.push_back(e);
  }
  browse(many);
  json params = {{"what", "frontend"}, {"maxBytes", 5000}};
  std::size_t seen = 0;
  for (int call = 0; call < 100; ++call) {
    const json reply = observe(params);
    ASSERT_TRUE(reply.contains("result")) << reply.dump();
    const json& result = reply.at("result");
    EXPECT_LE(result.dump().size(), 5000u);
    seen += result.at("events").size();
    if (!result.contains("nextCursor")) break;
    params["cursor"] = result.at("nextCursor");
  }
  EXPECT_EQ(seen, 60u);
}

}  // namespace
}  // namespace logwire
