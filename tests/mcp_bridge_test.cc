// logwire-mcp as a process, against a real broker: a call that waits for its first match
// while other requests are answered, a broker killed in the middle of a call, a broker
// the bridge starts itself, and hostile input on stdin.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "logwire/broker_client.h"
#include "logwire/runtime_dir.h"
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

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class mcp_bridge : public ::testing::Test {
 protected:
  std::unique_ptr<child_process> start_broker() {
    auto broker = std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire-broker"), "--runtime-dir", runtime_.string(),
                                 "--listen", "none"},
        child_process::options{.stderr_file = runtime_.log_file("broker").string()});
    EXPECT_TRUE(testing::broker_answers(runtime_.path(), 10s))
        << "broker did not start:\n"
        << read_file(runtime_.log_file("broker"));
    return broker;
  }

  std::unique_ptr<child_process> start_bridge(bool start_broker = false) {
    std::vector<std::string> argv = {binary_path("logwire-mcp"), "--runtime-dir",
                                     runtime_.string()};
    if (!start_broker) argv.emplace_back("--no-start-broker");
    started_detached_ |= start_broker;
    auto bridge = std::make_unique<child_process>(
        argv, child_process::options{.pipe_stdin = true,
                                     .pipe_stdout = true,
                                     .stderr_file = runtime_.log_file("bridge").string()});
    const json reply =
        rpc(*bridge, {{"jsonrpc", "2.0"},
                      {"id", 1},
                      {"method", "initialize"},
                      {"params",
                       {{"protocolVersion", "2025-11-25"},
                        {"capabilities", json::object()},
                        {"clientInfo", {{"name", "bridge-test"}, {"version", "1"}}}}}});
    EXPECT_EQ(reply["result"]["protocolVersion"], "2025-11-25") << reply.dump();
    EXPECT_TRUE(bridge->write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
    return bridge;
  }

  json read_reply(child_process& bridge, std::chrono::milliseconds timeout = 5s) {
    const auto line = bridge.read_line(timeout);
    EXPECT_TRUE(line) << "no reply within " << timeout.count() << " ms\nbridge stderr:\n"
                      << read_file(runtime_.log_file("bridge"));
    return line ? json::parse(*line) : json();
  }

  json rpc(child_process& bridge, const json& message, std::chrono::milliseconds timeout = 5s) {
    EXPECT_TRUE(bridge.write_line(message.dump()));
    return read_reply(bridge, timeout);
  }

  static json observe_call(int id, const json& arguments) {
    return {{"jsonrpc", "2.0"},
            {"id", id},
            {"method", "tools/call"},
            {"params", {{"name", "observe"}, {"arguments", arguments}}}};
  }

  int send_record(const std::string& service, const std::string& level,
                  const std::string& message) {
    child_process send({binary_path("logwire"), "--runtime-dir", runtime_.string(), "send",
                        "--service", service, "--level", level, message},
                       {.stderr_file = runtime_.log_file("send").string()});
    return send.wait(10s).value_or(-1);
  }

  // A broker the bridge started runs on after the test; stops it. False if none answered.
  bool stop_detached_broker() {
    auto dir = runtime_dir::open(runtime_.path());
    if (!dir) return false;
    broker_client client(*dir, {.timeout = 500ms, .attempts = 1});
    const broker_result pong = client.call("ping", json::object());
    if (!pong) return false;
    const auto pid = (*pong)["pid"].get<pid_t>();
    if (::kill(pid, SIGTERM) != 0) return false;
    return testing::wait_for([&] { return ::kill(pid, 0) != 0; }, 10s);
  }

  void TearDown() override {
    if (started_detached_) stop_detached_broker();
  }

  testing::temp_runtime_dir runtime_;
  bool started_detached_ = false;
};

TEST_F(mcp_bridge, answers_other_requests_while_a_call_waits_then_returns_what_arrived) {
  auto broker = start_broker();
  auto bridge = start_bridge();
  ASSERT_TRUE(bridge->write_line(
      observe_call(50, {{"what", "backend-logs"}, {"level", "FATAL"}, {"waitMs", 20'000}}).dump()));
  std::this_thread::sleep_for(200ms);  // the call is waiting now

  const auto asked = std::chrono::steady_clock::now();
  const json pong = rpc(*bridge, {{"jsonrpc", "2.0"}, {"id", 51}, {"method", "ping"}});
  EXPECT_EQ(pong["id"], 51) << "the ping is answered first: " << pong.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
  const json listed = rpc(*bridge, {{"jsonrpc", "2.0"}, {"id", 52}, {"method", "tools/list"}});
  EXPECT_EQ(listed["id"], 52);

  ASSERT_EQ(send_record("payments", "FATAL", "card vault unreachable"), 0);
  const json reply = read_reply(*bridge, 10s);
  ASSERT_EQ(reply["id"], 50) << reply.dump();
  const json& result = reply["result"];
  EXPECT_EQ(result["isError"], false) << reply.dump();
  ASSERT_EQ(result["structuredContent"]["logs"].size(), 1u) << reply.dump();
  EXPECT_EQ(result["structuredContent"]["logs"][0]["message"], "card vault unreachable");
  const std::string text = result["content"][0]["text"];
  EXPECT_TRUE(text.starts_with("After waiting ")) << text;
}

TEST_F(mcp_bridge, broker_killed_during_a_call_gives_a_clear_error_and_a_restarted_one_answers) {
  auto broker = start_broker();
  auto bridge = start_bridge();
  ASSERT_TRUE(bridge->write_line(
      observe_call(60, {{"what", "backend-logs"}, {"level", "FATAL"}, {"waitMs", 20'000}}).dump()));
  std::this_thread::sleep_for(300ms);
  broker->send_signal(SIGKILL);
  broker->wait(5s);

  const json failed = read_reply(*bridge, 10s);
  ASSERT_EQ(failed["id"], 60) << failed.dump();
  EXPECT_EQ(failed["result"]["isError"], true) << failed.dump();
  EXPECT_EQ(failed["result"]["structuredContent"]["error"]["code"], "broker_unavailable");
  const std::string text = failed["result"]["content"][0]["text"];
  EXPECT_NE(text.find("logwire-broker --runtime-dir"), std::string::npos) << "says what to do";

  broker = start_broker();
  ASSERT_EQ(send_record("payments", "ERROR", "after the restart"), 0);
  json reply;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        reply = rpc(*bridge, observe_call(61, {{"what", "backend-logs"}, {"level", "ERROR"}}));
        return reply["result"]["structuredContent"]["totalCount"] == 1;
      },
      5s))
      << reply.dump();
  EXPECT_EQ(reply["result"]["isError"], false);
}

TEST_F(mcp_bridge, starts_a_detached_broker_that_outlives_it) {
  ASSERT_FALSE(testing::broker_answers(runtime_.path(), 0ms));
  auto bridge = start_bridge(/*start_broker=*/true);
  ASSERT_EQ(send_record("api", "ERROR", "logged once a broker runs"), 0);
  json reply;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        reply = rpc(*bridge, observe_call(70, {{"what", "backend-logs"}, {"level", "ERROR"}}), 15s);
        return reply["result"]["structuredContent"]["totalCount"] == 1;
      },
      15s))
      << reply.dump() << "\nbroker log:\n"
      << read_file(runtime_.path() / "broker.log");

  bridge->close_stdin();
  EXPECT_EQ(bridge->wait(5s), 0);
  EXPECT_TRUE(stop_detached_broker()) << "the broker outlived the bridge";
}

TEST_F(mcp_bridge, a_huge_line_and_invalid_utf8_get_errors_and_the_bridge_goes_on) {
  auto bridge = start_bridge();
  // 1 MB is within the 4 MiB line limit: a ping that long is still a ping.
  const std::string long_ping = R"({"jsonrpc":"2.0","id":80,"method":"ping","params":{"pad":")" +
                                std::string(1 << 20, 'x') + R"("}})";
  ASSERT_TRUE(bridge->write_line(long_ping));
  EXPECT_EQ(read_reply(*bridge)["id"], 80);

  ASSERT_TRUE(bridge->write_line(std::string(5 << 20, '[')));
  EXPECT_EQ(read_reply(*bridge)["error"]["code"], -32600) << "over the limit";

  ASSERT_TRUE(bridge->write_line("{\"jsonrpc\":\"2.0\",\"id\":81,\"method\":\"p\xff\xfeng\"}"));
  EXPECT_EQ(read_reply(*bridge)["error"]["code"], -32700) << "invalid UTF-8";

  const json pong = rpc(*bridge, {{"jsonrpc", "2.0"}, {"id", 82}, {"method", "ping"}});
  EXPECT_EQ(pong["id"], 82);
  EXPECT_TRUE(pong.contains("result"));
}

}  // namespace
}  // namespace logwire
