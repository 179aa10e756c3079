// The broker's HTTP server over real loopback sockets: the browser script, browser batches by
// POST and WebSocket into the frontend store, and every refusal (Host, Origin, size, JSON,
// method, path) with its status, its reason and its counter.
#include "http_server.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "http_browser_events.h"
#include "http_test_client.h"  // first: it silences GCC's TSan warning about Asio's fences
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using nlohmann::json;
using testing::http_answer;
using testing::http_exchange;
using testing::http_request;
using testing::ws_client;
namespace http = testing::http;

// A batch of `count` request events of page `page` from sequence `seq`, each with its own
// request ID "req-<page>-<sequence>".
std::string batch(std::string_view page, std::uint64_t seq, std::size_t count = 1) {
  json events = json::array();
  for (std::size_t i = 0; i < count; ++i) {
    events.push_back({{"kind", "request"},
                      {"timestamp", 1769854523456.25 + static_cast<double>(i)},
                      {"method", "POST"},
                      {"url", "http://localhost:3000/api/payments/process"},
                      {"status", 500},
                      {"durationMs", 35.5},
                      {"requestId", "req-" + std::string(page) + "-" + std::to_string(seq + i)},
                      {"initiator", "fetch"}});
  }
  return json{{"v", 1},
              {"page", {{"id", page}, {"url", "http://localhost:3000/checkout"}}},
              {"seq", seq},
              {"events", events}}
      .dump();
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class http_server_test : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(std::vector<std::string> origins) {
    server_.reset();
    http_server_options options;
    options.port = 0;
    if (!origins.empty()) options.allowed_origins = std::move(origins);
    auto serving = http_server::listen(std::move(options), ingest_, records_);
    ASSERT_TRUE(serving) << serving.error().message;
    server_.emplace(std::move(*serving));
    port_ = server_->port();
  }

  http::request<http::string_body> post(std::string body, std::string origin = "") const {
    auto request = http_request(http::verb::post, "/events", port_);
    request.set(http::field::content_type, "application/json");
    if (!origin.empty()) request.set(http::field::origin, origin);
    request.body() = std::move(body);
    request.prepare_payload();
    return request;
  }
  http_answer send(const http::request<http::string_body>& request) const {
    return http_exchange(port_, request);
  }

  std::uint64_t refused(frontend_refusal why) const {
    return records_.frontend().counts().refused[static_cast<std::size_t>(why)];
  }
  std::size_t events_with(std::string_view request_id) const {
    return records_.frontend().with_request_id(request_id).size();
  }

  logwire::testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> opened_ = store::open(dir_, {.memory_cap_bytes = 16 << 20}, 0).value();
  store& records_ = *opened_;
  frontend_ingest ingest_{records_.frontend()};
  std::optional<http_server> server_;
  std::uint16_t port_ = 0;
};

// --- the browser script -------------------------------------------------------------------

TEST_F(http_server_test, serves_the_browser_script_as_javascript) {
  const http_answer answer = send(http_request(http::verb::get, "/logwire.js", port_));
  ASSERT_FALSE(answer.error) << answer.error.message();
  EXPECT_EQ(answer.status(), 200u);
  EXPECT_EQ(answer.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(answer.response.body(), read_text_file(LOGWIRE_BROWSER_SCRIPT))
      << "the script compiled in is tools/browser/logwire.js as it is now";
  EXPECT_FALSE(answer.response.body().empty());
}

TEST_F(http_server_test, serves_the_browser_script_to_a_page_of_any_origin) {
  auto request = http_request(http::verb::get, "/logwire.js", port_);
  request.set(http::field::origin, "https://shop.example");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 200u);
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "*");
}

TEST_F(http_server_test, checks_the_host_of_the_browser_script_too) {
  auto request = http_request(http::verb::get, "/logwire.js", port_);
  request.set(http::field::host, "rebound.example:" + std::to_string(port_));
  EXPECT_EQ(send(request).status(), 403u);
  EXPECT_EQ(refused(frontend_refusal::bad_host), 1u);
}

// --- Host and Origin ------------------------------------------------------------------------

TEST_F(http_server_test, refuses_a_host_that_is_not_loopback_with_403_and_counts_it) {
  auto request = post(batch("pg-1", 0));
  request.set(http::field::host, "attacker.example:" + std::to_string(port_));
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 403u);
  EXPECT_EQ(answer.body()["error"], "bad_host");
  EXPECT_NE(answer.body()["message"].get<std::string>().find("attacker.example"),
            std::string::npos);
  EXPECT_EQ(refused(frontend_refusal::bad_host), 1u);
  EXPECT_EQ(events_with("req-pg-1-0"), 0u);
}

TEST_F(http_server_test, refuses_a_loopback_host_with_another_port) {
  auto request = post(batch("pg-1", 0));
  request.set(http::field::host, "localhost:" + std::to_string(port_ + 1));
  EXPECT_EQ(send(request).status(), 403u);
}

TEST_F(http_server_test, refuses_an_origin_not_allowed_with_403_and_counts_it) {
  const http_answer answer = send(post(batch("pg-1", 0), "https://attacker.example"));
  EXPECT_EQ(answer.status(), 403u);
  EXPECT_EQ(answer.body()["error"], "bad_origin");
  EXPECT_EQ(refused(frontend_refusal::bad_origin), 1u);
  EXPECT_EQ(events_with("req-pg-1-0"), 0u);
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "");
}

TEST_F(http_server_test, takes_a_batch_from_a_local_page_and_echoes_its_origin) {
  const http_answer answer = send(post(batch("pg-1", 0), "http://localhost:3000"));
  EXPECT_EQ(answer.status(), 204u) << answer.response.body();
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "http://localhost:3000");
  EXPECT_EQ(answer.header("Vary"), "Origin");
  EXPECT_EQ(events_with("req-pg-1-0"), 1u);
}

TEST_F(http_server_test, allowed_origins_replace_the_local_ones) {
  start({"https://app.example.test"});
  EXPECT_EQ(send(post(batch("pg-1", 0), "https://app.example.test")).status(), 204u);
  EXPECT_EQ(send(post(batch("pg-1", 1), "http://localhost:3000")).status(), 403u);
}

TEST_F(http_server_test, answers_a_cors_preflight_from_an_allowed_origin) {
  auto request = http_request(http::verb::options, "/events", port_);
  request.set(http::field::origin, "http://127.0.0.1:5173");
  request.set(http::field::access_control_request_method, "POST");
  request.set(http::field::access_control_request_headers, "content-type");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 204u);
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "http://127.0.0.1:5173");
  EXPECT_NE(answer.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(answer.header("Access-Control-Allow-Headers").find("Content-Type"), std::string::npos);
}

TEST_F(http_server_test, refuses_a_cors_preflight_from_another_origin) {
  auto request = http_request(http::verb::options, "/events", port_);
  request.set(http::field::origin, "https://attacker.example");
  request.set(http::field::access_control_request_method, "POST");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 403u);
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "");
}

TEST_F(http_server_test, allows_a_private_network_preflight_from_an_allowed_origin) {
  start({"https://app.example.test"});
  auto request = http_request(http::verb::options, "/events", port_);
  request.set(http::field::origin, "https://app.example.test");
  request.set(http::field::access_control_request_method, "POST");
  request.set("Access-Control-Request-Private-Network", "true");
  EXPECT_EQ(send(request).header("Access-Control-Allow-Private-Network"), "true");
}

// --- POST /events -------------------------------------------------------------------------

TEST_F(http_server_test, stores_a_posted_batch_once_when_it_is_sent_again) {
  EXPECT_EQ(send(post(batch("pg-1", 0, 3))).status(), 204u);
  EXPECT_EQ(send(post(batch("pg-1", 0, 3))).status(), 204u);
  EXPECT_EQ(events_with("req-pg-1-0"), 1u);
  EXPECT_EQ(events_with("req-pg-1-2"), 1u);
  EXPECT_EQ(records_.frontend().counts().duplicates, 3u);
  EXPECT_EQ(server_->counters().events_stored, 3u);
  EXPECT_EQ(server_->counters().events_duplicate, 3u);
}

TEST_F(http_server_test, takes_a_beacon_sent_as_text_plain) {
  auto request = post(batch("pg-1", 0));
  request.set(http::field::content_type, "text/plain;charset=UTF-8");
  EXPECT_EQ(send(request).status(), 204u);
  EXPECT_EQ(events_with("req-pg-1-0"), 1u);
}

TEST_F(http_server_test, refuses_another_content_type_with_415) {
  auto request = post(batch("pg-1", 0));
  request.set(http::field::content_type, "application/x-www-form-urlencoded");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 415u);
  EXPECT_EQ(answer.body()["error"], "unsupported_media_type");
  EXPECT_EQ(events_with("req-pg-1-0"), 0u);
}

TEST_F(http_server_test, answers_malformed_json_with_400_a_reason_and_a_count) {
  const http_answer answer = send(post(R"({"v":1,"page":{"id":"pg-1"},"seq":0,"events":[)"));
  EXPECT_EQ(answer.status(), 400u);
  EXPECT_EQ(answer.header("Content-Type"), "application/json");
  EXPECT_EQ(answer.body()["error"], "malformed_json");
  EXPECT_FALSE(answer.body()["message"].get<std::string>().empty());
  EXPECT_EQ(refused(frontend_refusal::malformed_json), 1u);
}

TEST_F(http_server_test, answers_json_that_is_not_a_batch_with_400_bad_batch) {
  const http_answer answer = send(post(R"({"v":1,"seq":0,"events":[]})"));
  EXPECT_EQ(answer.status(), 400u);
  EXPECT_EQ(answer.body()["error"], "bad_batch");
  EXPECT_NE(answer.body()["message"].get<std::string>().find("page"), std::string::npos)
      << answer.body().dump();
  EXPECT_EQ(refused(frontend_refusal::bad_batch), 1u);
}

TEST_F(http_server_test, refuses_a_body_over_1_mib_with_413_and_counts_it) {
  const http_answer answer = send(post(std::string(k_max_http_body + 1, ' ')));
  EXPECT_EQ(answer.status(), 413u);
  EXPECT_EQ(answer.body()["error"], "too_large");
  EXPECT_EQ(refused(frontend_refusal::too_large), 1u);
}

TEST_F(http_server_test, takes_a_body_of_exactly_1_mib) {
  std::string body = batch("pg-1", 0);
  body.append(k_max_http_body - body.size(), ' ');
  EXPECT_EQ(send(post(body)).status(), 204u);
}

TEST_F(http_server_test, refuses_headers_over_8_kib_with_431) {
  auto request = post(batch("pg-1", 0));
  request.set("X-Padding", std::string(9000, 'x'));
  EXPECT_EQ(send(request).status(), 431u);
}

TEST_F(http_server_test, answers_an_unknown_path_with_404_and_a_wrong_method_with_405) {
  const http_answer missing = send(http_request(http::verb::get, "/admin", port_));
  EXPECT_EQ(missing.status(), 404u);
  EXPECT_EQ(missing.body()["error"], "not_found");
  const http_answer wrong = send(http_request(http::verb::delete_, "/events", port_));
  EXPECT_EQ(wrong.status(), 405u);
  EXPECT_EQ(wrong.header("Allow"), "POST, OPTIONS");
  EXPECT_EQ(send(http_request(http::verb::post, "/logwire.js", port_)).status(), 405u);
}

TEST_F(http_server_test, asks_for_an_upgrade_on_a_plain_get_of_a_websocket_path) {
  EXPECT_EQ(send(http_request(http::verb::get, "/events", port_)).status(), 426u);
  EXPECT_EQ(send(http_request(http::verb::get, "/logs", port_)).status(), 426u);
}

TEST_F(http_server_test, answers_bytes_that_are_not_http_with_400) {
  const http_answer answer = http_exchange(port_, "\x16\x03\x01 not http at all\r\n\r\n");
  EXPECT_EQ(answer.status(), 400u);
}

TEST_F(http_server_test, keeps_a_connection_alive_across_requests) {
  std::ostringstream two;
  two << post(batch("pg-1", 0)) << post(batch("pg-1", 1));
  // One connection, two requests: the second is answered too (read as the first's tail).
  const http_answer answer = http_exchange(port_, two.str());
  EXPECT_EQ(answer.status(), 204u);
  EXPECT_TRUE(
      testing::wait_for([&] { return events_with("req-pg-1-1") == 1; }, std::chrono::seconds(10)));
}

// --- WebSocket /events ----------------------------------------------------------------------

TEST_F(http_server_test, acknowledges_each_websocket_batch_with_the_next_sequence) {
  ws_client client(port_, "/events", {.origin = "http://localhost:3000"});
  ASSERT_TRUE(client.open()) << client.error().message();
  EXPECT_EQ(client.exchange(batch("pg-ws", 0, 5)), json::parse(R"({"v":1,"ack":5})"));
  EXPECT_EQ(client.exchange(batch("pg-ws", 5, 2)), json::parse(R"({"v":1,"ack":7})"));
  EXPECT_EQ(client.exchange(batch("pg-ws", 0, 5)), json::parse(R"({"v":1,"ack":5})"))
      << "a batch sent again is acknowledged, not stored again";
  EXPECT_EQ(events_with("req-pg-ws-0"), 1u);
  EXPECT_EQ(events_with("req-pg-ws-6"), 1u);
  EXPECT_EQ(records_.frontend().counts().taken, 7u);
}

TEST_F(http_server_test, answers_a_bad_websocket_batch_and_keeps_the_connection) {
  ws_client client(port_, "/events");
  ASSERT_TRUE(client.open());
  const auto refused_reply = client.exchange("{not json");
  ASSERT_TRUE(refused_reply);
  EXPECT_EQ((*refused_reply)["error"], "malformed_json");
  EXPECT_FALSE((*refused_reply)["message"].get<std::string>().empty());
  EXPECT_EQ(refused(frontend_refusal::malformed_json), 1u);
  EXPECT_EQ(client.exchange(batch("pg-ws", 0)), json::parse(R"({"v":1,"ack":1})"));
}

TEST_F(http_server_test, closes_a_websocket_whose_message_is_over_1_mib_with_1009) {
  ws_client client(port_, "/events");
  ASSERT_TRUE(client.open());
  std::string body = batch("pg-ws", 0);
  body.append(k_max_ws_event_message + 1 - body.size(), ' ');
  client.send(body);
  EXPECT_FALSE(client.read());
  EXPECT_EQ(client.close_reason().code, testing::websocket::close_code::too_big);
  // Counted when the server's read ends, after the closing handshake.
  EXPECT_TRUE(testing::wait_for([&] { return refused(frontend_refusal::too_large) == 1; },
                                std::chrono::seconds(10)));
  EXPECT_EQ(events_with("req-pg-ws-0"), 0u);
}

TEST_F(http_server_test, takes_a_websocket_message_of_exactly_1_mib) {
  ws_client client(port_, "/events");
  ASSERT_TRUE(client.open());
  std::string body = batch("pg-ws", 0);
  body.append(k_max_ws_event_message - body.size(), ' ');
  EXPECT_EQ(client.exchange(body), json::parse(R"({"v":1,"ack":1})"));
}

TEST_F(http_server_test, refuses_a_websocket_from_an_origin_not_allowed) {
  ws_client client(port_, "/events", {.origin = "https://attacker.example"});
  EXPECT_FALSE(client.open());
  EXPECT_EQ(client.handshake().result_int(), 403u);
  EXPECT_EQ(refused(frontend_refusal::bad_origin), 1u);
}

TEST_F(http_server_test, refuses_a_websocket_to_a_host_not_loopback) {
  ws_client client(port_, "/logs", {.host = "rebound.example:" + std::to_string(port_)});
  EXPECT_FALSE(client.open());
  EXPECT_EQ(client.handshake().result_int(), 403u);
  EXPECT_EQ(refused(frontend_refusal::bad_host), 1u);
}

TEST_F(http_server_test, refuses_a_websocket_on_another_path_with_404) {
  ws_client client(port_, "/other");
  EXPECT_FALSE(client.open());
  EXPECT_EQ(client.handshake().result_int(), 404u);
}

TEST_F(http_server_test, stops_with_websockets_open) {
  ws_client client(port_, "/events");
  ASSERT_TRUE(client.open());
  server_->stop();
  EXPECT_FALSE(client.read()) << "the connection ends with the server";
}

// --- the shared guards and the --http value -------------------------------------------------

TEST(http_guard, takes_loopback_hosts_with_our_port_only) {
  EXPECT_TRUE(allowed_host("localhost:7719", 7719));
  EXPECT_TRUE(allowed_host("127.0.0.1:7719", 7719));
  EXPECT_TRUE(allowed_host("[::1]:7719", 7719));
  EXPECT_FALSE(allowed_host("127.0.0.1:7718", 7719));
  EXPECT_FALSE(allowed_host("localhost.attacker.example:7719", 7719));
  EXPECT_FALSE(allowed_host("", 7719));
}

TEST(http_guard, takes_origins_by_scheme_host_and_port_pattern) {
  EXPECT_TRUE(allowed_origin("http://localhost:3000", k_local_origins));
  EXPECT_TRUE(allowed_origin("http://[::1]:8080", k_local_origins));
  EXPECT_FALSE(allowed_origin("https://localhost:3000", k_local_origins));
  EXPECT_FALSE(allowed_origin("http://localhost:3000.attacker.example", k_local_origins));
  EXPECT_FALSE(allowed_origin("null", k_local_origins));
}

TEST(http_address, reads_address_and_port) {
  const auto v4 = parse_http_address("127.0.0.1:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->address, "127.0.0.1");
  EXPECT_EQ(v4->port, 0);
  const auto v6 = parse_http_address("[::1]:7719");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->address, "::1");
  EXPECT_FALSE(parse_http_address("127.0.0.1:http"));
  EXPECT_FALSE(parse_http_address("::1:7719"));
  EXPECT_FALSE(parse_http_address(":7719"));
}

TEST(http_address, refuses_to_serve_beyond_loopback) {
  logwire::testing::temp_runtime_dir temp;
  const runtime_dir dir = runtime_dir::open(temp.path()).value();
  auto records = store::open(dir, {.memory_cap_bytes = 16 << 20}, 0).value();
  frontend_ingest ingest(records->frontend());
  auto serving = http_server::listen({.address = "0.0.0.0", .port = 0}, ingest, *records);
  ASSERT_FALSE(serving);
  EXPECT_EQ(serving.error().code, errc::invalid_argument);
}

}  // namespace
}  // namespace logwire
