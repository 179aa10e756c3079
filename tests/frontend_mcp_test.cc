// The observe tool as an agent meets the browser's modes: the schema and descriptions of
// timeline and frontend, and their answers' first line, through run_observe with a
// backend that answers from a real store by the broker's own query handler.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "logwire/observe_backend.h"
#include "logwire/record_encoder.h"
#include "logwire/shm_segment.h"
#include "logwire/store.h"
#include "observe_tool.h"
#include "query_server.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

using nlohmann::json;

constexpr std::int64_t k_base = 1769854523LL * 1'000'000'000;
constexpr std::int64_t k_ms = 1'000'000;

// The broker's query handling without its socket.
class store_backend final : public observe_backend {
 public:
  explicit store_backend(const store& records) : records_(records) {}
  broker_result observe(const json& arguments) override {
    const json request = {{"v", 1}, {"method", "observe"}, {"params", arguments}};
    const auto reply = ordered_json::parse(query_server::handle(request.dump(), records_));
    if (reply.contains("error")) {
      const auto& e = reply.at("error");
      return broker_result(boost::system::in_place_error,
                           broker_error{e.at("code"), e.at("message"), e.value("hint", "")});
    }
    return broker_result(boost::system::in_place_value, reply.at("result"));
  }

 private:
  const store& records_;
};

class observe_tool_browser : public ::testing::Test {
 protected:
  void SetUp() override {
    records_ = store::open(dir_, {.memory_cap_bytes = 8 << 20}, k_base).value();
  }
  void TearDown() override {
    records_.reset();
    shm_segment::remove(dir_.store_segment());
  }

  void example_one() {
    frontend_batch batch;
    batch.page_id = "pg-1";
    frontend_event click;
    click.kind = frontend_kind::action;
    click.timestamp_ns = k_base - 100 * k_ms;
    click.action = "click";
    click.selector = "button#pay";
    click.text = "Submit Payment";
    frontend_event post;
    post.kind = frontend_kind::request;
    post.timestamp_ns = k_base;
    post.method = "POST";
    post.url = "http://localhost:3000/api/payments/process";
    post.status = 500;
    post.duration_ms = 35;
    post.request_id = "req-12345";
    batch.events = {click, post};
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
      batch.events[i].page_id = "pg-1";
      batch.events[i].sequence = i;
      batch.events[i].receive_ns = k_base;
    }
    records_->frontend().insert(std::move(batch), k_base);
    const auto bytes = encoder_.encode({.severity = level::error,
                                        .message = "Payment gateway timeout",
                                        .context = {.request_id = "req-12345"}},
                                       k_base + 30 * k_ms);
    records_->insert(bytes, {.service = "api-server",
                             .receive_ns = k_base,
                             .instance = {1, 1},
                             .sequence = 1,
                             .kind = entry_kind::record});
  }

  json call(json arguments) {
    store_backend backend(*records_);
    const std::atomic<bool> cancelled{false};
    return run_observe(backend, arguments, cancelled);
  }

  static std::string first_line(const json& result) {
    const std::string text = result.at("content")[0].at("text");
    return text.substr(0, text.find('\n'));
  }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> records_;
  record_encoder encoder_;
};

TEST(observe_tool_schema, offers_timeline_and_frontend_with_their_arguments) {
  const auto tool = observe_tool_definition();
  const auto& properties = tool.at("inputSchema").at("properties");
  const auto& modes = properties.at("what").at("enum");
  EXPECT_NE(std::find(modes.begin(), modes.end(), "timeline"), modes.end());
  EXPECT_NE(std::find(modes.begin(), modes.end(), "frontend"), modes.end());
  for (const char* name : {"window", "kind", "url", "minStatus"}) {
    ASSERT_TRUE(properties.contains(name)) << name;
    EXPECT_FALSE(properties.at(name).at("description").get<std::string>().empty());
  }
  const std::string description = tool.at("description");
  EXPECT_NE(description.find("what:'timeline'"), std::string::npos);
  EXPECT_NE(description.find("'exact'"), std::string::npos);
}

TEST_F(observe_tool_browser, a_timeline_opens_with_the_developers_view) {
  example_one();
  const json result = call({{"what", "timeline"}, {"requestId", "req-12345"}});
  ASSERT_FALSE(result.at("isError")) << result.dump();
  const std::string line = first_line(result);
  EXPECT_TRUE(
      line.starts_with("click \"Submit Payment\" (button#pay) → POST "
                       "/api/payments/process req-12345 → api-server: ERROR Payment "
                       "gateway timeout → 500 after 35 ms"))
      << line;
  EXPECT_EQ(result.at("structuredContent").at("type"), "timeline");
  const auto& entries = result.at("structuredContent").at("entries");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[2].at("correlation"), "exact");
}

TEST_F(observe_tool_browser, frontend_says_how_many_matched_and_how_to_follow_one) {
  example_one();
  const json result = call({{"what", "frontend"}, {"minStatus", 400}});
  ASSERT_FALSE(result.at("isError")) << result.dump();
  const std::string line = first_line(result);
  EXPECT_TRUE(line.starts_with("1 of 1 browser event (minStatus>=400)")) << line;
  EXPECT_NE(line.find("what:'timeline'"), std::string::npos);
}

TEST_F(observe_tool_browser, frontend_with_no_page_says_how_to_add_the_script) {
  const json result = call({{"what", "frontend"}});
  EXPECT_NE(first_line(result).find("logwire.js"), std::string::npos);
}

TEST_F(observe_tool_browser, backend_logs_show_the_browser_request) {
  example_one();
  const json result = call({{"what", "backend-logs"}, {"requestId", "req-12345"}});
  ASSERT_FALSE(result.at("isError")) << result.dump();
  EXPECT_EQ(result.at("structuredContent").at("logs")[0].at("browserRequest"),
            "POST /api/payments/process → 500");
}

TEST_F(observe_tool_browser, wait_ms_is_refused_for_the_timeline) {
  const json result = call({{"what", "timeline"}, {"requestId", "req-12345"}, {"waitMs", 100}});
  EXPECT_TRUE(result.at("isError"));
}

}  // namespace
}  // namespace logwire
