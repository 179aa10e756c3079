#include "logwire/mcp_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace logwire {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

class fake_backend final : public observe_backend {
 public:
  broker_result observe(const json& arguments) override {
    const std::lock_guard lock(mutex);
    calls.push_back(arguments);
    if (throws) throw std::runtime_error("socket exploded");
    if (answer) return answer(arguments);
    return reply;
  }
  void reply_with(ordered_json result) {
    reply = broker_result(boost::system::in_place_value, std::move(result));
  }

  broker_result reply = broker_result(
      boost::system::in_place_value,
      ordered_json{{"type", "backend-logs"}, {"logs", ordered_json::array()}, {"totalCount", 0}});
  bool throws = false;
  // When set, answers each call in place of `reply`.
  std::function<broker_result(const json&)> answer;
  std::mutex mutex;
  std::vector<json> calls;  // guarded by mutex
};

broker_result result_of(ordered_json value) {
  return broker_result(boost::system::in_place_value, std::move(value));
}

ordered_json no_logs(std::string newer_cursor = "c1-n-1-2-0-0") {
  return {{"type", "backend-logs"},
          {"logs", ordered_json::array()},
          {"totalCount", 0},
          {"newerCursor", std::move(newer_cursor)}};
}

// As the broker writes it: keys in reading order, which the bridge must keep.
ordered_json two_errors() {
  return ordered_json::parse(R"({"type":"backend-logs","logs":[
    {"timestamp":"2026-01-31T10:15:23.350Z","service":"api-server","level":"ERROR",
     "message":"Failed to process payment","requestId":"req-1"},
    {"timestamp":"2026-01-31T10:15:24.000Z","service":"api-server","level":"FATAL",
     "message":"giving up"}],
    "totalCount":2,"oldestTimestamp":"2026-01-31T10:15:23.350Z"})");
}

class mcp_server_test : public ::testing::Test {
 protected:
  // Sends one line and parses the reply, which must exist and be one line.
  json send(std::string_view line) {
    const auto reply = server_.handle_line(line);
    EXPECT_TRUE(reply.has_value()) << line;
    if (!reply) return json();
    EXPECT_EQ(reply->find('\n'), std::string::npos);
    return json::parse(*reply);
  }
  json request(std::string_view method, json params, json id = 1) {
    json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) message["params"] = std::move(params);
    return send(message.dump());
  }
  json call_observe(json arguments) {
    return request("tools/call", {{"name", "observe"}, {"arguments", std::move(arguments)}});
  }
  static std::string text_of(const json& reply) {
    return reply.at("result").at("content").at(0).at("text").get<std::string>();
  }
  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  fake_backend backend_;
  mcp_server server_{backend_};
};

TEST_F(mcp_server_test, initialize_echoes_each_supported_protocol_version) {
  for (const char* version : {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}) {
    const json reply = request("initialize", {{"protocolVersion", version},
                                              {"capabilities", json::object()},
                                              {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
    EXPECT_EQ(reply.at("result").at("protocolVersion"), version);
  }
}

TEST_F(mcp_server_test, initialize_answers_latest_version_to_an_unknown_one) {
  const json reply = request("initialize", {{"protocolVersion", "2099-01-01"}});
  EXPECT_EQ(reply.at("result").at("protocolVersion"), "2025-11-25");
}

TEST_F(mcp_server_test, initialize_offers_tools_names_the_server_and_instructs_the_agent) {
  const json result = request("initialize", {{"protocolVersion", "2025-06-18"}}).at("result");
  EXPECT_EQ(result.at("capabilities"), json({{"tools", json::object()}}));
  EXPECT_EQ(result.at("serverInfo"), json({{"name", "logwire"}, {"version", "0.1.0"}}));
  EXPECT_NE(result.at("instructions").get<std::string>().find("what:'backend-logs'"),
            std::string::npos);
}

TEST_F(mcp_server_test, initialize_without_protocol_version_is_invalid_params) {
  EXPECT_EQ(request("initialize", json::object()).at("error").at("code"), -32602);
}

TEST_F(mcp_server_test, notifications_get_no_reply) {
  EXPECT_FALSE(server_.handle_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  EXPECT_FALSE(server_.handle_line(R"({"jsonrpc":"2.0","method":"no/such/thing"})"));
  EXPECT_FALSE(server_.handle_line(R"({"jsonrpc":"1.0","method":"ping"})"));
}

TEST_F(mcp_server_test, responses_and_blank_lines_get_no_reply) {
  EXPECT_FALSE(server_.handle_line(R"({"jsonrpc":"2.0","id":7,"result":{}})"));
  EXPECT_FALSE(server_.handle_line(R"({"jsonrpc":"2.0","id":7,"error":{"code":1}})"));
  EXPECT_FALSE(server_.handle_line("  \r"));
}

TEST_F(mcp_server_test, ping_answers_an_empty_result) {
  EXPECT_EQ(request("ping", nullptr),
            json({{"jsonrpc", "2.0"}, {"id", 1}, {"result", json::object()}}));
}

TEST_F(mcp_server_test, tools_list_offers_observe_with_its_input_schema) {
  const json tools = request("tools/list", json::object()).at("result").at("tools");
  ASSERT_EQ(tools.size(), 1u);
  const json& tool = tools.at(0);
  EXPECT_EQ(tool.at("name"), "observe");
  EXPECT_FALSE(tool.at("description").get<std::string>().empty());
  const json& schema = tool.at("inputSchema");
  EXPECT_EQ(schema.at("type"), "object");
  EXPECT_EQ(schema.at("required"), json({"what"}));
  const json& properties = schema.at("properties");
  EXPECT_EQ(properties.at("what").at("enum"),
            json({"backend-logs", "backend_logs", "services", "summary", "timeline", "frontend"}));
  EXPECT_EQ(properties.at("maxBytes").at("default"), k_default_max_bytes);
  EXPECT_EQ(properties.at("waitMs").at("maximum"), k_max_wait_ms);
  EXPECT_EQ(properties.at("level").at("enum"),
            json({"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}));
  EXPECT_EQ(properties.at("limit").at("type"), "integer");
  EXPECT_EQ(properties.at("limit").at("minimum"), 1);
  EXPECT_EQ(properties.at("limit").at("maximum"), 1000);
  EXPECT_EQ(properties.at("limit").at("default"), 100);
  for (const char* key : {"what", "service", "level", "limit", "since"}) {
    EXPECT_FALSE(properties.at(key).at("description").get<std::string>().empty()) << key;
  }
}

TEST_F(mcp_server_test, observe_forwards_arguments_with_the_answer_size_less_the_summary_line) {
  backend_.reply_with(two_errors());
  json arguments = {{"what", "backend_logs"}, {"service", "api"}, {"extra", {1, 2}}};
  call_observe(arguments);
  ASSERT_EQ(backend_.calls.size(), 1u);
  json expected = arguments;
  expected["maxBytes"] = k_default_max_bytes - 1000;
  EXPECT_EQ(backend_.calls[0], expected);

  arguments["maxBytes"] = 5000;
  call_observe(arguments);
  ASSERT_EQ(backend_.calls.size(), 2u);
  expected["maxBytes"] = 4000;
  EXPECT_EQ(backend_.calls[1], expected) << "the agent's own maxBytes";

  for (const json& bad : {json(1999), json(2'000'000), json("20KB")}) {
    const json result = call_observe({{"what", "backend-logs"}, {"maxBytes", bad}}).at("result");
    EXPECT_EQ(result.at("structuredContent").at("error").at("code"), "invalid_param") << bad;
  }
  EXPECT_EQ(backend_.calls.size(), 2u);
}

TEST_F(mcp_server_test, observe_says_what_the_size_bound_left_out_and_how_to_page_on) {
  ordered_json page = two_errors();
  page["totalCount"] = 150;
  page["omittedCount"] = 98;
  page["textCut"] = true;
  page["nextCursor"] = "c1-o-1-2-3-4";
  backend_.reply_with(page);
  const std::string summary =
      first_line(text_of(call_observe({{"what", "backend-logs"}, {"maxBytes", 8000}})));
  EXPECT_NE(summary.find("Long texts are cut; each cut says how to fetch its record whole by id."),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("98 older records of this page were left out to keep the answer under "
                         "8000 bytes; pass cursor: nextCursor"),
            std::string::npos)
      << summary;
}

TEST_F(mcp_server_test, services_and_summary_answers_open_with_their_own_line) {
  backend_.reply_with(ordered_json::parse(R"({"type":"services","services":[
      {"service":"api","connected":true},{"service":"worker","connected":false}],
      "totalCount":2})"));
  EXPECT_EQ(first_line(text_of(call_observe({{"what", "services"}}))),
            "2 services seen, 1 connected now: api (connected), worker.");
  backend_.reply_with(ordered_json::parse(R"({"type":"services","services":[],"totalCount":0})"));
  EXPECT_TRUE(first_line(text_of(call_observe({{"what", "services"}})))
                  .starts_with("No service has sent logs to this broker."));
  backend_.reply_with(ordered_json::parse(R"({"type":"summary","totalCount":1200,
      "oldestTimestamp":"2026-01-31T10:00:00.000Z","newestTimestamp":"2026-01-31T10:05:00.000Z",
      "errorCount":3,"newestErrors":[]})"));
  EXPECT_EQ(first_line(text_of(call_observe({{"what", "summary"}, {"since", "5m"}}))),
            "1200 records (since=5m) from 2026-01-31T10:00:00.000Z to 2026-01-31T10:05:00.000Z; "
            "3 errors. Follow an error with what:'backend-logs' and its requestId, or fetch it "
            "by id.");
}

TEST_F(mcp_server_test, observe_answers_summary_line_then_compact_json_and_structured_content) {
  backend_.reply_with(two_errors());
  const json reply =
      call_observe({{"what", "backend-logs"}, {"service", "api-server"}, {"level", "ERROR"}});
  const json& result = reply.at("result");
  EXPECT_EQ(result.at("isError"), false);
  EXPECT_EQ(result.at("structuredContent"), json(two_errors()));
  const std::string text = text_of(reply);
  EXPECT_EQ(first_line(text),
            "2 of 2 matching records (service=api-server, level>=ERROR), oldest "
            "2026-01-31T10:15:23.350Z.");
  EXPECT_EQ(text.substr(text.find('\n') + 1), two_errors().dump());
}

TEST_F(mcp_server_test, observe_with_no_records_at_all_says_to_start_a_producer) {
  const std::string summary = first_line(text_of(call_observe({{"what", "backend-logs"}})));
  EXPECT_NE(summary.find("No records"), std::string::npos) << summary;
  EXPECT_NE(summary.find("logwire producer"), std::string::npos) << summary;
}

TEST_F(mcp_server_test, observe_with_no_match_suggests_widening_the_filters_it_used) {
  const std::string summary = first_line(
      text_of(call_observe({{"what", "backend-logs"}, {"level", "FATAL"}, {"since", "5m"}})));
  EXPECT_EQ(summary,
            "No records match (level>=FATAL, since=5m), and none would without any one of the "
            "filters. If the backend has not run since, trigger it and call again with waitMs; "
            "otherwise widen the filters (drop level or since).");
  ASSERT_EQ(backend_.calls.size(), 3u) << "the answer, then once without each filter";
  EXPECT_FALSE(backend_.calls[1].contains("level"));
  EXPECT_FALSE(backend_.calls[2].contains("since"));
}

TEST_F(mcp_server_test, observe_with_no_match_names_the_filter_that_is_too_narrow) {
  backend_.answer = [](const json& arguments) {
    ordered_json result = no_logs();
    if (!arguments.contains("level")) result["totalCount"] = 3;
    return result_of(result);
  };
  const std::string summary = first_line(text_of(call_observe(
      {{"what", "backend-logs"}, {"service", "api"}, {"level", "FATAL"}, {"since", "5m"}})));
  EXPECT_EQ(summary,
            "No records match (service=api, level>=FATAL, since=5m). Without level, 3 records "
            "match: widen or drop that filter.");
}

TEST_F(mcp_server_test, observe_with_wait_polls_with_the_newer_cursor_until_a_match_arrives) {
  int polls = 0;
  backend_.answer = [&](const json& arguments) {
    if (!arguments.contains("cursor")) return result_of(no_logs("c1-n-1-10-0-0"));
    EXPECT_EQ(arguments.at("cursor"), polls == 0 ? "c1-n-1-10-0-0" : "c1-n-1-11-0-0");
    EXPECT_FALSE(arguments.contains("waitMs")) << "the bridge's own argument";
    if (++polls < 3) return result_of(no_logs("c1-n-1-11-0-0"));
    return result_of(two_errors());
  };
  const json reply = call_observe({{"what", "backend-logs"}, {"level", "ERROR"}, {"waitMs", 5000}});
  EXPECT_EQ(polls, 3);
  const std::string summary = first_line(text_of(reply));
  EXPECT_TRUE(summary.starts_with("After waiting ")) << summary;
  EXPECT_NE(summary.find(": 2 new of 2 matching records (level>=ERROR)"), std::string::npos)
      << summary;
  EXPECT_EQ(reply.at("result").at("structuredContent"), json(two_errors()));
}

TEST_F(mcp_server_test, observe_with_wait_says_when_nothing_arrived) {
  backend_.reply_with(no_logs());
  const auto start = std::chrono::steady_clock::now();
  const json reply = call_observe({{"what", "backend-logs"}, {"waitMs", 300}});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::milliseconds(2000));
  const std::string summary = first_line(text_of(reply));
  EXPECT_TRUE(summary.starts_with("No match arrived within 0.3 s (waitMs 300). No records"))
      << summary;
}

TEST_F(mcp_server_test, observe_rejects_a_wait_out_of_range_or_for_another_mode) {
  for (const json& wait : {json(-1), json(30'001), json("5s"), json(1.5)}) {
    const json result = call_observe({{"what", "backend-logs"}, {"waitMs", wait}}).at("result");
    EXPECT_EQ(result.at("isError"), true) << wait;
    EXPECT_EQ(result.at("structuredContent").at("error").at("code"), "invalid_param") << wait;
  }
  const json result = call_observe({{"what", "services"}, {"waitMs", 100}}).at("result");
  EXPECT_EQ(result.at("structuredContent").at("error").at("code"), "invalid_param");
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(mcp_server_test, observe_truncated_by_limit_says_how_many_and_how_to_see_the_rest) {
  backend_.reply_with(two_errors());
  backend_.reply->at("totalCount") = 1250;
  const std::string summary =
      first_line(text_of(call_observe({{"what", "backend-logs"}, {"limit", 2}})));
  EXPECT_EQ(summary.rfind("Showing 2 of 1250 matching records", 0), 0u) << summary;
  EXPECT_NE(summary.find("raise limit"), std::string::npos) << summary;
  EXPECT_NE(summary.find("since"), std::string::npos) << summary;
}

TEST_F(mcp_server_test, observe_at_the_maximum_limit_suggests_only_narrowing) {
  backend_.reply_with(two_errors());
  backend_.reply->at("totalCount") = 5000;
  const std::string summary =
      first_line(text_of(call_observe({{"what", "backend-logs"}, {"limit", 1000}})));
  EXPECT_EQ(summary.find("raise limit"), std::string::npos) << summary;
  EXPECT_NE(summary.find("narrow with since"), std::string::npos) << summary;
}

TEST_F(mcp_server_test, broker_error_becomes_tool_error_with_code_message_and_hint) {
  backend_.reply = broker_error{"broker_unavailable", "no broker", "start one with: x"};
  const json result = call_observe({{"what", "backend-logs"}}).at("result");
  EXPECT_EQ(result.at("isError"), true);
  EXPECT_EQ(result.at("content").at(0).at("text"),
            "broker_unavailable: no broker\nstart one with: x");
  EXPECT_EQ(result.at("structuredContent"), json({{"error",
                                                   {{"code", "broker_unavailable"},
                                                    {"message", "no broker"},
                                                    {"hint", "start one with: x"}}}}));
}

TEST_F(mcp_server_test, broker_error_without_hint_is_one_line) {
  backend_.reply = broker_error{"invalid_param", "limit must be 1..1000", ""};
  const json result = call_observe({{"what", "backend-logs"}, {"limit", 0}}).at("result");
  EXPECT_EQ(result.at("isError"), true);
  EXPECT_EQ(result.at("content").at(0).at("text"), "invalid_param: limit must be 1..1000");
  EXPECT_FALSE(result.at("structuredContent").at("error").contains("hint"));
}

TEST_F(mcp_server_test, backend_exception_becomes_tool_error) {
  backend_.throws = true;
  const json result = call_observe({{"what", "backend-logs"}}).at("result");
  EXPECT_EQ(result.at("isError"), true);
  EXPECT_NE(result.at("content").at(0).at("text").get<std::string>().find("socket exploded"),
            std::string::npos);
}

TEST_F(mcp_server_test, non_object_broker_reply_becomes_tool_error) {
  backend_.reply_with(ordered_json::array());
  EXPECT_EQ(call_observe({{"what", "backend-logs"}}).at("result").at("isError"), true);
}

TEST_F(mcp_server_test, missing_or_null_arguments_are_sent_as_an_empty_object) {
  request("tools/call", {{"name", "observe"}});
  request("tools/call", {{"name", "observe"}, {"arguments", nullptr}});
  ASSERT_EQ(backend_.calls.size(), 2u);
  const json sized = {{"maxBytes", k_default_max_bytes - 1000}};
  EXPECT_EQ(backend_.calls[0], sized) << "the broker checks what is missing";
  EXPECT_EQ(backend_.calls[1], sized);
}

TEST_F(mcp_server_test, non_object_arguments_are_invalid_params) {
  EXPECT_EQ(call_observe(json::array({"backend-logs"})).at("error").at("code"), -32602);
  EXPECT_EQ(call_observe("backend-logs").at("error").at("code"), -32602);
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(mcp_server_test, arguments_too_big_for_the_broker_are_invalid_params) {
  const json reply =
      call_observe({{"what", "backend-logs"}, {"service", std::string(2 << 20, 'x')}});
  EXPECT_EQ(reply.at("error").at("code"), -32602);
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(mcp_server_test, unknown_tool_is_invalid_params_naming_the_tool) {
  const json error = request("tools/call", {{"name", "tail"}}).at("error");
  EXPECT_EQ(error.at("code"), -32602);
  EXPECT_NE(error.at("message").get<std::string>().find("tail"), std::string::npos);
}

TEST_F(mcp_server_test, unknown_method_is_method_not_found) {
  const json reply = request("resources/list", json::object(), 9);
  EXPECT_EQ(reply.at("id"), 9);
  EXPECT_EQ(reply.at("error").at("code"), -32601);
}

TEST_F(mcp_server_test, answers_parse_error_with_null_id_and_keeps_serving) {
  const json error = send(R"({"jsonrpc":"2.0","id":1,"method":"ping")");
  EXPECT_TRUE(error.at("id").is_null());
  EXPECT_EQ(error.at("error").at("code"), -32700);
  EXPECT_EQ(request("ping", nullptr, 2).at("result"), json::object());
}

TEST_F(mcp_server_test, non_object_messages_are_invalid_requests) {
  for (const char* line : {"42", "\"ping\"", "null", "true"}) {
    const json reply = send(line);
    EXPECT_EQ(reply.at("error").at("code"), -32600) << line;
    EXPECT_TRUE(reply.at("id").is_null()) << line;
  }
}

TEST_F(mcp_server_test, batches_are_invalid_requests) {
  EXPECT_EQ(send(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])").at("error").at("code"), -32600);
  EXPECT_EQ(send("[]").at("error").at("code"), -32600);
}

TEST_F(mcp_server_test, request_without_method_or_with_wrong_jsonrpc_is_invalid_request) {
  const json no_method = send(R"({"jsonrpc":"2.0","id":"a"})");
  EXPECT_EQ(no_method.at("error").at("code"), -32600);
  EXPECT_EQ(no_method.at("id"), "a");
  EXPECT_EQ(send(R"({"jsonrpc":"1.0","id":1,"method":"ping"})").at("error").at("code"), -32600);
  EXPECT_EQ(send(R"({"id":1,"method":"ping"})").at("error").at("code"), -32600);
  EXPECT_EQ(send(R"({"jsonrpc":"2.0","id":1,"method":3})").at("error").at("code"), -32600);
}

TEST_F(mcp_server_test, ids_that_are_not_strings_or_numbers_are_invalid_requests) {
  for (const char* id : {"null", "true", "[1]", "{}"}) {
    const json reply = send(std::string(R"({"jsonrpc":"2.0","method":"ping","id":)") + id + "}");
    EXPECT_EQ(reply.at("error").at("code"), -32600) << id;
    EXPECT_TRUE(reply.at("id").is_null()) << id;
  }
}

TEST_F(mcp_server_test, non_object_params_are_invalid_params) {
  EXPECT_EQ(send(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[]})").at("error").at("code"),
            -32602);
}

TEST_F(mcp_server_test, string_and_number_ids_are_echoed_exactly) {
  EXPECT_EQ(request("ping", nullptr, "abc-1").at("id"), "abc-1");
  EXPECT_EQ(request("ping", nullptr, "").at("id"), "");
  EXPECT_EQ(request("ping", nullptr, -5).at("id"), -5);
  EXPECT_EQ(*server_.handle_line(R"({"jsonrpc":"2.0","id":"42","method":"ping"})"),
            R"({"jsonrpc":"2.0","id":"42","result":{}})");
  EXPECT_EQ(*server_.handle_line(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"})"),
            R"({"jsonrpc":"2.0","id":18446744073709551615,"result":{}})");
}

TEST_F(mcp_server_test, invalid_utf8_in_input_is_a_parse_error_not_an_exception) {
  const json reply = send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xff\xfe\"}");
  EXPECT_EQ(reply.at("error").at("code"), -32700);
}

TEST_F(mcp_server_test, invalid_utf8_from_the_backend_is_replaced_not_thrown) {
  ordered_json logs = two_errors();
  logs.at("logs").at(0).at("message") = std::string("bad \xc3\x28 bytes");
  backend_.reply_with(logs);
  const json result = call_observe({{"what", "backend-logs"}}).at("result");
  EXPECT_EQ(result.at("isError"), false);
  EXPECT_EQ(result.at("structuredContent").at("logs").at(0).at("message"),
            "bad \xEF\xBF\xBD( bytes");
}

TEST_F(mcp_server_test, oversized_line_is_rejected_and_the_session_keeps_serving) {
  const std::string huge =
      R"({"jsonrpc":"2.0","id":1,"method":"ping","x":")" + std::string(k_max_mcp_line, 'a') + "\"}";
  const json reply = send(huge);
  EXPECT_EQ(reply.at("error").at("code"), -32600);
  EXPECT_TRUE(reply.at("id").is_null());
  EXPECT_EQ(request("ping", nullptr).at("result"), json::object());
}

TEST_F(mcp_server_test, deeply_nested_message_is_rejected_without_recursing) {
  const std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":)"
                           R"("observe","arguments":{"what":)" +
                           std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}}}";
  EXPECT_EQ(send(deep).at("error").at("code"), -32600);
  EXPECT_TRUE(backend_.calls.empty());
  // Brackets inside strings are text, not nesting.
  backend_.reply_with(two_errors());
  call_observe({{"what", "backend-logs"}, {"service", std::string(500, '[')}});
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].at("service"), std::string(500, '['));
}

TEST(serve_lines, writes_one_flushed_line_per_request_and_none_for_notifications) {
  fake_backend backend;
  mcp_server server(backend);
  std::istringstream in(
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
      "not json\n"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
  std::ostringstream out;
  EXPECT_TRUE(serve_lines(server, in, out));
  EXPECT_EQ(out.str(),
            R"({"jsonrpc":"2.0","id":1,"result":{}})"
            "\n"
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: a line )"
            R"(must hold one JSON value in UTF-8"}})"
            "\n"
            R"({"jsonrpc":"2.0","id":2,"result":{}})"
            "\n");
}

TEST(serve_lines, answers_an_oversized_line_and_reads_the_next_one) {
  fake_backend backend;
  mcp_server server(backend);
  std::istringstream in(std::string(k_max_mcp_line + 10, ' ') + "x\n" +
                        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n");
  std::ostringstream out;
  EXPECT_TRUE(serve_lines(server, in, out));
  std::istringstream lines(out.str());
  std::string first, second;
  ASSERT_TRUE(std::getline(lines, first));
  ASSERT_TRUE(std::getline(lines, second));
  EXPECT_EQ(json::parse(first).at("error").at("code"), -32600);
  EXPECT_EQ(json::parse(second).at("id"), 3);
}

TEST(serve_lines, answers_other_messages_while_a_call_waits_and_cancels_it_at_end_of_input) {
  fake_backend backend;
  backend.reply_with(no_logs());
  mcp_server server(backend);
  std::istringstream in(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"observe",)"
      R"("arguments":{"what":"backend-logs","waitMs":30000}}})"
      "\n"
      R"({"jsonrpc":"2.0","id":2,"method":"ping"})"
      "\n");
  std::ostringstream out;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(serve_lines(server, in, out));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "end of input ends the wait";
  std::istringstream lines(out.str());
  std::string first, second;
  ASSERT_TRUE(std::getline(lines, first));
  ASSERT_TRUE(std::getline(lines, second)) << out.str();
  EXPECT_EQ(json::parse(first).at("id"), 2) << "the ping is answered while the call waits";
  const json call = json::parse(second);
  EXPECT_EQ(call.at("id"), 1);
  EXPECT_EQ(call.at("result").at("isError"), false);
}

TEST(serve_lines, a_cancelled_call_is_not_answered) {
  fake_backend backend;
  backend.reply_with(no_logs());
  mcp_server server(backend);
  std::istringstream in(
      R"({"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"observe",)"
      R"("arguments":{"what":"backend-logs","waitMs":30000}}})"
      "\n"
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}})"
      "\n"
      R"({"jsonrpc":"2.0","id":"b","method":"ping"})"
      "\n");
  std::ostringstream out;
  EXPECT_TRUE(serve_lines(server, in, out));
  EXPECT_EQ(out.str(), R"({"jsonrpc":"2.0","id":"b","result":{}})"
                       "\n");
}

TEST(serve_lines, answers_each_of_many_tool_calls_once) {
  fake_backend backend;
  backend.reply_with(two_errors());
  mcp_server server(backend);
  std::string input;
  for (int i = 0; i < 8; ++i) {
    input +=
        R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
        R"(,"method":"tools/call","params":{"name":"observe","arguments":{"what":"backend-logs"}}})"
        "\n";
  }
  std::istringstream in(input);
  std::ostringstream out;
  EXPECT_TRUE(serve_lines(server, in, out));
  std::istringstream lines(out.str());
  std::set<int> ids;
  for (std::string line; std::getline(lines, line);)
    ids.insert(json::parse(line).at("id").get<int>());
  EXPECT_EQ(ids.size(), 8u) << "every call answered once";
}

TEST(mcp_server, an_empty_object_is_an_invalid_request_not_a_notification) {
  fake_backend backend;
  mcp_server server(backend);
  const auto reply = server.handle_line("{}");
  ASSERT_TRUE(reply);
  const auto parsed = nlohmann::json::parse(*reply);
  EXPECT_EQ(parsed["error"]["code"], -32600);
  EXPECT_TRUE(parsed["id"].is_null());
}

}  // namespace
}  // namespace logwire
