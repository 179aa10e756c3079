// End to end with real processes: logwire-broker in a private runtime directory, a
// backend on the producer library, and logwire-mcp driven over stdin/stdout with real
// JSON-RPC, as an agent would.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::binary_path;
using testing::child_process;
using testing::wait_for;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class end_to_end : public ::testing::Test {
 protected:
  std::unique_ptr<child_process> start_broker(const std::string& log_name = "broker") {
    auto broker = std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire-broker"), "--runtime-dir", runtime_.string()},
        child_process::options{.stderr_file = runtime_.log_file(log_name).string()});
    const bool ready = testing::broker_answers(runtime_.path(), 10s);
    EXPECT_TRUE(ready) << "broker did not start:\n" << read_file(runtime_.log_file(log_name));
    return broker;
  }

  std::unique_ptr<child_process> start_bridge() {
    return std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire-mcp"), "--runtime-dir", runtime_.string(),
                                 "--no-start-broker"},
        child_process::options{.pipe_stdin = true,
                               .pipe_stdout = true,
                               .stderr_file = runtime_.log_file("bridge").string()});
  }

  int run(const std::vector<std::string>& argv) {
    child_process process(argv, {.stderr_file = runtime_.log_file("run").string()});
    return process.wait(10s).value_or(-1);
  }

  // Sends one JSON-RPC message and reads one reply line.
  json rpc(child_process& bridge, const json& message, std::chrono::milliseconds timeout = 5s) {
    EXPECT_TRUE(bridge.write_line(message.dump()));
    const auto line = bridge.read_line(timeout);
    EXPECT_TRUE(line) << "no reply to " << message.dump() << "\nbridge stderr:\n"
                      << read_file(runtime_.log_file("bridge"));
    return line ? json::parse(*line) : json();
  }

  void initialize(child_process& bridge) {
    const json reply = rpc(bridge, {{"jsonrpc", "2.0"},
                                    {"id", 1},
                                    {"method", "initialize"},
                                    {"params",
                                     {{"protocolVersion", "2025-06-18"},
                                      {"capabilities", json::object()},
                                      {"clientInfo", {{"name", "e2e"}, {"version", "1"}}}}}});
    ASSERT_EQ(reply["result"]["protocolVersion"], "2025-06-18") << reply.dump();
    ASSERT_TRUE(bridge.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  }

  json observe(child_process& bridge, const json& arguments) {
    return rpc(bridge, {{"jsonrpc", "2.0"},
                        {"id", next_id_++},
                        {"method", "tools/call"},
                        {"params", {{"name", "observe"}, {"arguments", arguments}}}});
  }

  testing::temp_runtime_dir runtime_;
  int next_id_ = 10;
};

TEST_F(end_to_end, agent_sees_exactly_the_two_payment_errors_in_time_order) {
  auto broker = start_broker();
  ASSERT_EQ(run({binary_path("logwire-demo-payment"), "--runtime-dir", runtime_.string()}), 0);

  auto bridge = start_bridge();
  initialize(*bridge);
  const json arguments = {{"what", "backend-logs"}, {"service", "api-server"}, {"level", "ERROR"}};
  json reply;
  // The broker drains asynchronously: ask until both records are in (bounded).
  ASSERT_TRUE(wait_for(
      [&] {
        reply = observe(*bridge, arguments);
        return reply["result"]["structuredContent"]["totalCount"] == 2;
      },
      5s))
      << reply.dump();

  const json& result = reply["result"];
  EXPECT_FALSE(result.value("isError", false));
  const json& logs = result["structuredContent"]["logs"];
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0]["message"], "Payment gateway timeout");
  EXPECT_EQ(logs[0]["level"], "ERROR");
  EXPECT_EQ(logs[0]["requestId"], "req-12345");
  EXPECT_EQ(logs[0]["spanId"], "span-789");
  EXPECT_EQ(logs[0]["service"], "api-server");
  EXPECT_EQ(logs[1]["message"], "Returning 500 to client");
  EXPECT_LT(logs[0]["timestamp"].get<std::string>(), logs[1]["timestamp"].get<std::string>());

  const std::string text = result["content"][0]["text"];
  const auto newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos) << "a summary line, then the JSON";
  EXPECT_EQ(json::parse(text.substr(newline + 1)), result["structuredContent"]);
}

TEST_F(end_to_end, agent_follows_a_request_by_id_and_then_only_what_arrives_after) {
  auto broker = start_broker();
  ASSERT_EQ(run({binary_path("logwire-demo-payment"), "--runtime-dir", runtime_.string()}), 0);
  auto bridge = start_bridge();
  initialize(*bridge);
  json reply;
  ASSERT_TRUE(wait_for(
      [&] {
        reply = observe(*bridge, {{"what", "backend-logs"}, {"requestId", "req-12345"}});
        return reply["result"]["structuredContent"]["totalCount"] == 4;
      },
      5s))
      << reply.dump();
  const json& found = reply["result"]["structuredContent"];
  EXPECT_EQ(found["logs"][0]["message"], "POST /api/payments/process");
  EXPECT_EQ(found["logs"][3]["message"], "Returning 500 to client");
  const std::string newer = found["newerCursor"];

  reply = observe(*bridge, {{"what", "backend-logs"}, {"text", "GATEWAY"}});
  ASSERT_EQ(reply["result"]["structuredContent"]["totalCount"], 1) << reply.dump();

  ASSERT_EQ(run({binary_path("logwire"), "--runtime-dir", runtime_.string(), "send", "--service",
                 "api-server", "--level", "ERROR", "--request-id", "req-12345", "Retry failed"}),
            0);
  ASSERT_TRUE(wait_for(
      [&] {
        reply = observe(*bridge,
                        {{"what", "backend-logs"}, {"requestId", "req-12345"}, {"cursor", newer}});
        return !reply["result"]["structuredContent"]["logs"].empty();
      },
      5s))
      << reply.dump();
  const json& after = reply["result"]["structuredContent"]["logs"];
  ASSERT_EQ(after.size(), 1u) << "only what arrived after the first answer";
  EXPECT_EQ(after[0]["message"], "Retry failed");
}

TEST_F(end_to_end, records_logged_before_the_broker_starts_arrive_once_it_runs) {
  ASSERT_EQ(
      run({binary_path("logwire"), "--runtime-dir", runtime_.string(), "send", "--service",
           "early-bird", "--level", "WARN", "--field", "userId=987", "logged with no broker"}),
      0);
  auto broker = start_broker();
  auto bridge = start_bridge();
  initialize(*bridge);
  json reply;
  ASSERT_TRUE(wait_for(
      [&] {
        // WARN and up: the broker's own INFO notes (connected, disconnected) stay out.
        reply = observe(*bridge,
                        {{"what", "backend_logs"}, {"service", "early-bird"}, {"level", "WARN"}});
        return reply["result"]["structuredContent"]["totalCount"] == 1;
      },
      5s))
      << reply.dump();
  const json& record = reply["result"]["structuredContent"]["logs"][0];
  EXPECT_EQ(record["message"], "logged with no broker");
  EXPECT_EQ(record["level"], "WARN");
  EXPECT_EQ(record["fields"]["userId"], 987) << "an integer on the command line stays one";
}

TEST_F(end_to_end, bridge_answers_is_error_when_no_broker_runs) {
  auto bridge = start_bridge();
  initialize(*bridge);
  const auto started = std::chrono::steady_clock::now();
  const json reply = observe(*bridge, {{"what", "backend-logs"}});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "must not hang";
  EXPECT_EQ(reply["result"]["isError"], true) << reply.dump();
  const std::string text = reply["result"]["content"][0]["text"];
  EXPECT_NE(text.find("broker_unavailable"), std::string::npos) << text;
  EXPECT_NE(text.find("logwire-broker"), std::string::npos) << "says what to do: " << text;
}

TEST_F(end_to_end, bridge_answers_a_stale_socket_without_hanging) {
  {
    auto broker = start_broker();
    broker->send_signal(SIGKILL);
    broker->wait(5s);
  }
  ASSERT_TRUE(std::filesystem::exists(runtime_.path() / "query.sock"))
      << "a killed broker leaves it";
  auto bridge = start_bridge();
  initialize(*bridge);
  const auto started = std::chrono::steady_clock::now();
  const json reply = observe(*bridge, {{"what", "backend-logs"}});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  EXPECT_EQ(reply["result"]["isError"], true) << reply.dump();
}

TEST_F(end_to_end, bridge_answers_malformed_lines_with_a_parse_error_and_keeps_serving) {
  auto bridge = start_bridge();
  ASSERT_TRUE(bridge->write_line("{this is not json"));
  const auto line = bridge->read_line(5s);
  ASSERT_TRUE(line);
  const json error = json::parse(*line);
  EXPECT_EQ(error["error"]["code"], -32700);
  EXPECT_TRUE(error["id"].is_null());

  initialize(*bridge);
  const json pong = rpc(*bridge, {{"jsonrpc", "2.0"}, {"id", "p"}, {"method", "ping"}});
  EXPECT_EQ(pong["id"], "p");
  EXPECT_TRUE(pong.contains("result"));
}

TEST_F(end_to_end, bridge_exits_cleanly_at_end_of_input) {
  auto bridge = start_bridge();
  initialize(*bridge);
  bridge->close_stdin();
  EXPECT_EQ(bridge->wait(5s), 0);
}

TEST_F(end_to_end, a_second_broker_for_the_same_runtime_dir_exits_with_a_clear_message) {
  auto first = start_broker();
  child_process second({binary_path("logwire-broker"), "--runtime-dir", runtime_.string()},
                       {.stderr_file = runtime_.log_file("second").string()});
  EXPECT_EQ(second.wait(5s), 3);
  EXPECT_NE(read_file(runtime_.log_file("second")).find("already running"), std::string::npos);
  EXPECT_FALSE(first->wait(100ms)) << "the first one keeps running";
}

TEST_F(end_to_end, broker_stops_cleanly_on_sigint_and_sigterm) {
  for (const int signal_number : {SIGINT, SIGTERM}) {
    auto broker = start_broker();
    broker->send_signal(signal_number);
    EXPECT_EQ(broker->wait(5s), 0) << "signal " << signal_number;
    EXPECT_FALSE(std::filesystem::exists(runtime_.path() / "query.sock"));
  }
}

TEST_F(end_to_end, every_binary_explains_itself_with_help) {
  for (const char* name : {"logwire-broker", "logwire-mcp", "logwire", "logwire-demo-payment"}) {
    EXPECT_EQ(run({binary_path(name), "--help"}), 0) << name;
  }
}

}  // namespace
}  // namespace logwire
