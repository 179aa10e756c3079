// The Streamable HTTP transport, driven over real loopback sockets by a small Beast client:
// sessions, the status codes of every refusal, and calls that wait without holding up others.

// Asio orders its handlers with std::atomic_thread_fence as well as its mutexes; GCC 12 warns
// under ThreadSanitizer that it cannot see fences, which -Werror would make fatal. The
// mutexes are what TSan checks, so the warning says nothing here. Before every include, as
// GCC judges a warning by where in the translation unit its code lies.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "logwire/http_transport.h"

namespace logwire {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using nlohmann::ordered_json;
using namespace std::chrono_literals;

// Answers every observe with one record, except for two services: "slow" blocks until the
// test opens the gate (a broker call that takes long), and "waiter" never has a match, so
// a call with waitMs polls until its wait ends or it is cancelled.
class scripted_backend final : public observe_backend {
 public:
  broker_result observe(const json& arguments) override {
    std::unique_lock lock(mutex_);
    const std::string service = arguments.value("service", "");
    ++calls_[service];
    changed_.notify_all();
    if (service == "slow") {
      // Bounded, so that a broken test ends instead of hanging.
      changed_.wait_for(lock, 20s, [&] { return gate_open_; });
    }
    if (service == "waiter") {
      return broker_result(boost::system::in_place_value,
                           ordered_json{{"type", "backend-logs"},
                                        {"logs", ordered_json::array()},
                                        {"totalCount", 0},
                                        {"newerCursor", "c1"}});
    }
    return broker_result(boost::system::in_place_value,
                         ordered_json{{"type", "backend-logs"},
                                      {"logs", ordered_json::array({ordered_json{
                                                   {"timestamp", "2026-01-31T10:15:23.456Z"},
                                                   {"service", service.empty() ? "api" : service},
                                                   {"level", "ERROR"},
                                                   {"message", "Failed to process payment"}}})},
                                      {"totalCount", 1}});
  }

  // Waits (at most `limit`) until `service` has been asked at least `count` times.
  bool wait_for_calls(const std::string& service, int count, std::chrono::seconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return calls_[service] >= count; });
  }
  int calls(const std::string& service) {
    const std::lock_guard lock(mutex_);
    return calls_[service];
  }
  void open_gate() {
    const std::lock_guard lock(mutex_);
    gate_open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, int> calls_;  // guarded by mutex_
  bool gate_open_ = false;            // guarded by mutex_
};

struct http_answer {
  beast::error_code error;
  http::response<http::string_body> response;

  unsigned status() const { return response.result_int(); }
  std::string header(std::string_view name) const { return std::string(response[name]); }
  json body() const { return json::parse(response.body(), nullptr, /*allow_exceptions=*/false); }
  // The message of a JSON-RPC error body.
  std::string error_message() const {
    const json parsed = body();
    if (!parsed.is_object() || !parsed.contains("error")) return "(no JSON-RPC error body)";
    return parsed["error"].value("message", "");
  }
};

// One client connection; every exchange is bounded by `timeout`.
class http_client {
 public:
  explicit http_client(std::uint16_t port, std::chrono::seconds timeout = 10s)
      : port_(port), timeout_(timeout) {}

  // Writes `bytes` as they are and reads one response.
  http_answer exchange(const std::string& bytes) {
    http_answer answer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(timeout_);
    const auto read = [&] {
      http::async_read(stream_, buffer_, parser,
                       [&](beast::error_code ec, std::size_t) { answer.error = ec; });
    };
    const auto write = [&] {
      asio::async_write(stream_, asio::buffer(bytes), [&](beast::error_code ec, std::size_t) {
        if (ec) {
          answer.error = ec;
          return;
        }
        read();
      });
    };
    if (connected_) {
      write();
    } else {
      stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                            [&](beast::error_code ec) {
                              if (ec) {
                                answer.error = ec;
                                return;
                              }
                              connected_ = true;
                              write();
                            });
    }
    io_.restart();
    io_.run();
    answer.response = parser.release();
    return answer;
  }
  http_answer exchange(const http::request<http::string_body>& request) {
    std::ostringstream bytes;
    bytes << request;
    return exchange(bytes.str());
  }

 private:
  std::uint16_t port_;
  std::chrono::seconds timeout_;
  asio::io_context io_;
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

std::string request_line(std::string_view method, const json& params, const json& id = 1) {
  json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) message["params"] = params;
  return message.dump();
}

std::string initialize_line(std::string_view version = "2025-06-18") {
  return request_line("initialize", {{"protocolVersion", version},
                                     {"capabilities", json::object()},
                                     {"clientInfo", {{"name", "http-test"}, {"version", "1"}}}});
}

std::string observe_line(const json& arguments, const json& id = 1) {
  return request_line("tools/call", {{"name", "observe"}, {"arguments", arguments}}, id);
}

class mcp_http_test : public ::testing::Test {
 protected:
  void SetUp() override {
    http_options options;
    options.port = 0;
    auto listening = http_transport::listen(server_, std::move(options));
    ASSERT_TRUE(listening) << listening.error().message;
    transport_.emplace(std::move(*listening));
    port_ = transport_->port();
  }
  // Calls still blocked in the backend would hold up the transport's stop.
  void TearDown() override { backend_.open_gate(); }

  // A POST as an MCP client sends it, to be adjusted by the test.
  http::request<http::string_body> post(std::string body, const std::string& session = "") const {
    http::request<http::string_body> request(http::verb::post, "/mcp", 11);
    request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
    request.set(http::field::content_type, "application/json");
    request.set(http::field::accept, "application/json, text/event-stream");
    if (!session.empty()) request.set("Mcp-Session-Id", session);
    request.body() = std::move(body);
    request.prepare_payload();
    return request;
  }
  http::request<http::string_body> without_body(http::verb method,
                                                const std::string& session = "") const {
    http::request<http::string_body> request = post("", session);
    request.method(method);
    request.erase(http::field::content_type);
    request.prepare_payload();
    return request;
  }

  http_answer send(const http::request<http::string_body>& request) {
    return http_client(port_).exchange(request);
  }

  // Opens a session the way a client does: initialize, then notifications/initialized.
  std::string open_session() {
    const http_answer answer = send(post(initialize_line()));
    EXPECT_EQ(answer.status(), 200u) << answer.response.body();
    const std::string session = answer.header("Mcp-Session-Id");
    EXPECT_FALSE(session.empty());
    EXPECT_EQ(
        send(post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", session)).status(),
        202u);
    return session;
  }

  scripted_backend backend_;
  mcp_server server_{backend_};
  std::optional<http_transport> transport_;
  std::uint16_t port_ = 0;
};

TEST_F(mcp_http_test, initialize_answers_json_with_a_random_visible_ascii_session_id) {
  const http_answer first = send(post(initialize_line("2025-06-18")));
  ASSERT_FALSE(first.error) << first.error.message();
  EXPECT_EQ(first.status(), 200u);
  EXPECT_EQ(first.header("Content-Type"), "application/json");
  EXPECT_EQ(first.body()["result"]["protocolVersion"], "2025-06-18");
  const std::string session = first.header("Mcp-Session-Id");
  EXPECT_GE(session.size(), 32u);
  for (const char c : session) EXPECT_TRUE(c >= 0x21 && c <= 0x7e) << session;

  const http_answer second = send(post(initialize_line()));
  EXPECT_NE(second.header("Mcp-Session-Id"), session) << "each initialize opens its own session";
}

TEST_F(mcp_http_test, tools_list_with_the_session_offers_observe) {
  const std::string session = open_session();
  const http_answer answer = send(post(request_line("tools/list", json::object(), 2), session));
  ASSERT_EQ(answer.status(), 200u) << answer.response.body();
  const json reply = answer.body();
  EXPECT_EQ(reply["id"], 2);
  ASSERT_EQ(reply["result"]["tools"].size(), 1u);
  EXPECT_EQ(reply["result"]["tools"][0]["name"], "observe");
}

TEST_F(mcp_http_test, observe_call_answers_the_backends_records) {
  const std::string session = open_session();
  const http_answer answer =
      send(post(observe_line({{"what", "backend-logs"}, {"service", "api"}}, "call-1"), session));
  ASSERT_EQ(answer.status(), 200u) << answer.response.body();
  const json reply = answer.body();
  EXPECT_EQ(reply["id"], "call-1");
  EXPECT_EQ(reply["result"]["isError"], false);
  EXPECT_EQ(reply["result"]["structuredContent"]["logs"][0]["message"],
            "Failed to process payment");
  EXPECT_EQ(backend_.calls("api"), 1);
}

TEST_F(mcp_http_test, notification_is_accepted_with_202_and_no_body) {
  const std::string session = open_session();
  const http_answer answer =
      send(post(R"({"jsonrpc":"2.0","method":"notifications/roots/list_changed"})", session));
  EXPECT_EQ(answer.status(), 202u);
  EXPECT_TRUE(answer.response.body().empty());
}

TEST_F(mcp_http_test, client_response_is_accepted_with_202_and_no_body) {
  const std::string session = open_session();
  const http_answer answer = send(post(R"({"jsonrpc":"2.0","id":"s1","result":{}})", session));
  EXPECT_EQ(answer.status(), 202u);
  EXPECT_TRUE(answer.response.body().empty());
}

TEST_F(mcp_http_test, request_without_session_id_is_400) {
  const http_answer answer = send(post(request_line("tools/list", json::object())));
  EXPECT_EQ(answer.status(), 400u);
  EXPECT_NE(answer.error_message().find("Mcp-Session-Id"), std::string::npos)
      << answer.error_message();
}

TEST_F(mcp_http_test, request_with_unknown_session_id_is_404) {
  open_session();
  const http_answer answer =
      send(post(request_line("tools/list", json::object()), "0123456789abcdef0123456789abcdef"));
  EXPECT_EQ(answer.status(), 404u);
  EXPECT_EQ(answer.body()["error"]["code"], -32001);
  EXPECT_TRUE(answer.body()["id"].is_null());
}

TEST_F(mcp_http_test, delete_ends_the_session_and_its_later_requests_get_404) {
  const std::string session = open_session();
  EXPECT_EQ(send(without_body(http::verb::delete_, session)).status(), 204u);
  EXPECT_EQ(send(post(request_line("ping", nullptr), session)).status(), 404u);
  EXPECT_EQ(send(without_body(http::verb::delete_, session)).status(), 404u);
}

TEST_F(mcp_http_test, delete_without_session_id_is_400) {
  EXPECT_EQ(send(without_body(http::verb::delete_)).status(), 400u);
}

TEST_F(mcp_http_test, least_recently_used_session_ends_beyond_the_cap) {
  const std::string first = open_session();
  const std::string second = open_session();
  for (std::size_t i = 2; i < k_max_http_sessions; ++i) {
    ASSERT_EQ(send(post(initialize_line())).status(), 200u);
  }
  // Full. Using `first` leaves `second` the least recently used, which the next session ends.
  EXPECT_EQ(send(post(request_line("ping", nullptr), first)).status(), 200u);
  ASSERT_EQ(send(post(initialize_line())).status(), 200u);
  EXPECT_EQ(send(post(request_line("ping", nullptr), second)).status(), 404u);
  EXPECT_EQ(send(post(request_line("ping", nullptr), first)).status(), 200u);
}

TEST_F(mcp_http_test, initialize_with_a_session_id_is_400) {
  const std::string session = open_session();
  EXPECT_EQ(send(post(initialize_line(), session)).status(), 400u);
}

TEST_F(mcp_http_test, host_other_than_loopback_with_our_port_is_403) {
  const std::string port = std::to_string(port_);
  const std::vector<std::string> refused = {
      "evil.example:" + port,
      "evil.example",
      "localhost.evil.example:" + port,
      "127.0.0.1:" + std::to_string(port_ == 1 ? 2 : port_ - 1),
      "127.0.0.1",
      "192.168.1.2:" + port};
  for (const std::string& host : refused) {
    auto request = post(initialize_line());
    request.set(http::field::host, host);
    const http_answer answer = send(request);
    EXPECT_EQ(answer.status(), 403u) << host;
    EXPECT_NE(answer.error_message().find("Host"), std::string::npos) << answer.error_message();
  }
  const std::vector<std::string> accepted = {"localhost:" + port, "LOCALHOST:" + port,
                                             "[::1]:" + port};
  for (const std::string& host : accepted) {
    auto request = post(initialize_line());
    request.set(http::field::host, host);
    EXPECT_EQ(send(request).status(), 200u) << host;
  }
}

TEST_F(mcp_http_test, request_without_host_is_403) {
  const std::string bytes =
      "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  EXPECT_EQ(http_client(port_).exchange(bytes).status(), 403u);
}

TEST_F(mcp_http_test, foreign_origin_is_403) {
  for (const char* origin : {"http://evil.example", "https://evil.example:7718", "null",
                             "http://localhost.evil.example:80", "http://127.0.0.1.nip.io:1"}) {
    auto request = post(initialize_line());
    request.set(http::field::origin, origin);
    const http_answer answer = send(request);
    EXPECT_EQ(answer.status(), 403u) << origin;
    EXPECT_NE(answer.error_message().find("Origin"), std::string::npos) << answer.error_message();
  }
}

TEST_F(mcp_http_test, local_origin_passes_and_is_echoed_for_cors) {
  for (const char* origin :
       {"http://localhost:5173", "http://127.0.0.1:6274", "http://[::1]:80", "http://localhost"}) {
    auto request = post(initialize_line());
    request.set(http::field::origin, origin);
    const http_answer answer = send(request);
    EXPECT_EQ(answer.status(), 200u) << origin;
    EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), origin);
    EXPECT_NE(answer.header("Access-Control-Expose-Headers").find("Mcp-Session-Id"),
              std::string::npos);
  }
}

TEST_F(mcp_http_test, configured_origins_replace_the_default_ones) {
  http_options options;
  options.port = 0;
  options.allowed_origins = {"https://inspector.example"};
  auto listening = http_transport::listen(server_, std::move(options));
  ASSERT_TRUE(listening) << listening.error().message;
  const std::uint16_t port = listening->port();
  const auto with_origin = [&](const char* origin) {
    auto request = post(initialize_line());
    request.set(http::field::host, "localhost:" + std::to_string(port));
    request.set(http::field::origin, origin);
    return http_client(port).exchange(request).status();
  };
  EXPECT_EQ(with_origin("https://inspector.example"), 200u);
  EXPECT_EQ(with_origin("http://localhost:5173"), 403u);
}

TEST_F(mcp_http_test, preflight_from_an_allowed_origin_lists_the_mcp_headers) {
  auto request = without_body(http::verb::options);
  request.set(http::field::origin, "http://localhost:6274");
  request.set(http::field::access_control_request_method, "POST");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 204u);
  EXPECT_EQ(answer.header("Access-Control-Allow-Origin"), "http://localhost:6274");
  EXPECT_NE(answer.header("Access-Control-Allow-Headers").find("Mcp-Session-Id"),
            std::string::npos);
  EXPECT_NE(answer.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST_F(mcp_http_test, body_declared_over_the_cap_is_413_before_it_is_sent) {
  const std::string session = open_session();
  const std::string bytes = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                            "\r\nContent-Type: application/json\r\nAccept: application/json, "
                            "text/event-stream\r\nMcp-Session-Id: " +
                            session + "\r\nContent-Length: " + std::to_string(k_max_mcp_line + 1) +
                            "\r\n\r\n";
  const http_answer answer = http_client(port_).exchange(bytes);
  EXPECT_EQ(answer.status(), 413u);
  EXPECT_NE(answer.error_message().find("MiB"), std::string::npos) << answer.error_message();
}

TEST_F(mcp_http_test, body_of_exactly_the_cap_is_handled) {
  const std::string session = open_session();
  const std::string head = R"({"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":")";
  const std::string tail = R"("}})";
  const std::string body =
      head + std::string(k_max_mcp_line - head.size() - tail.size(), 'x') + tail;
  ASSERT_EQ(body.size(), k_max_mcp_line);
  const http_answer answer = send(post(body, session));
  EXPECT_EQ(answer.status(), 200u) << answer.response.body().substr(0, 200);
  EXPECT_EQ(answer.body()["id"], 9);
}

TEST_F(mcp_http_test, expect_100_continue_gets_the_go_ahead_before_the_body) {
  const std::string session = open_session();
  const std::string body = request_line("ping", nullptr, 3);
  http_client client(port_);
  const http_answer go_ahead = client.exchange(
      "POST /mcp HTTP/1.1\r\nHost: localhost:" + std::to_string(port_) +
      "\r\nContent-Type: application/json\r\nAccept: application/json, "
      "text/event-stream\r\nMcp-Session-Id: " +
      session + "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n");
  ASSERT_FALSE(go_ahead.error) << go_ahead.error.message();
  EXPECT_EQ(go_ahead.status(), 100u);
  const http_answer answer = client.exchange(body);
  ASSERT_FALSE(answer.error) << answer.error.message();
  EXPECT_EQ(answer.status(), 200u);
  EXPECT_EQ(answer.body()["id"], 3);
}

TEST_F(mcp_http_test, malformed_json_is_400_with_a_json_rpc_parse_error) {
  const std::string session = open_session();
  const http_answer answer = send(post(R"({"jsonrpc":"2.0","id":1,"method":)", session));
  EXPECT_EQ(answer.status(), 400u);
  EXPECT_EQ(answer.header("Content-Type"), "application/json");
  const json reply = answer.body();
  EXPECT_EQ(reply["error"]["code"], -32700);
  EXPECT_TRUE(reply["id"].is_null());
}

TEST_F(mcp_http_test, get_is_405_since_the_server_opens_no_stream) {
  const std::string session = open_session();
  auto request = without_body(http::verb::get, session);
  request.set(http::field::accept, "text/event-stream");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 405u);
  EXPECT_NE(answer.header("Allow").find("POST"), std::string::npos);
}

TEST_F(mcp_http_test, other_path_is_404) {
  auto request = post(initialize_line());
  request.target("/mcp/extra");
  EXPECT_EQ(send(request).status(), 404u);
}

TEST_F(mcp_http_test, unsupported_protocol_version_header_is_400) {
  const std::string session = open_session();
  auto request = post(request_line("tools/list", json::object()), session);
  for (const char* version : {"2099-01-01", "not-a-version"}) {
    request.set("MCP-Protocol-Version", version);
    const http_answer answer = send(request);
    EXPECT_EQ(answer.status(), 400u) << version;
    EXPECT_NE(answer.error_message().find("MCP-Protocol-Version"), std::string::npos);
  }
  request.set("MCP-Protocol-Version", "2025-06-18");
  EXPECT_EQ(send(request).status(), 200u);
}

TEST_F(mcp_http_test, content_type_other_than_json_is_415) {
  const std::string session = open_session();
  auto request = post(request_line("ping", nullptr), session);
  request.set(http::field::content_type, "text/plain");
  EXPECT_EQ(send(request).status(), 415u);
  request.set(http::field::content_type, "application/json; charset=utf-8");
  EXPECT_EQ(send(request).status(), 200u);
}

TEST_F(mcp_http_test, accept_listing_neither_json_nor_event_stream_is_406) {
  const std::string session = open_session();
  auto request = post(request_line("ping", nullptr), session);
  for (const char* accept : {"text/html", "application/json;q=0, text/event-stream;q=0"}) {
    request.set(http::field::accept, accept);
    EXPECT_EQ(send(request).status(), 406u) << accept;
  }
}

TEST_F(mcp_http_test, client_accepting_only_event_stream_gets_the_reply_as_one_sse_event) {
  const std::string session = open_session();
  auto request = post(request_line("ping", nullptr, 5), session);
  request.set(http::field::accept, "text/event-stream");
  const http_answer answer = send(request);
  EXPECT_EQ(answer.status(), 200u);
  EXPECT_EQ(answer.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(answer.response.body(),
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\n\n");
}

TEST_F(mcp_http_test, connection_stays_open_for_the_next_request) {
  const std::string session = open_session();
  http_client client(port_);
  EXPECT_EQ(client.exchange(post(request_line("ping", nullptr, 1), session)).status(), 200u);
  const http_answer second = client.exchange(post(request_line("ping", nullptr, 2), session));
  ASSERT_FALSE(second.error) << second.error.message();
  EXPECT_EQ(second.body()["id"], 2);
}

TEST_F(mcp_http_test, slow_calls_on_some_connections_hold_up_no_other) {
  const std::string session = open_session();
  // More slow calls than the transport has I/O threads, so that a call holding one would show.
  constexpr int k_slow_calls = 4;
  std::vector<std::future<http_answer>> slow;
  for (int i = 0; i < k_slow_calls; ++i) {
    slow.push_back(std::async(std::launch::async, [&, i] {
      return http_client(port_, 30s)
          .exchange(post(observe_line({{"what", "backend-logs"}, {"service", "slow"}},
                                      "slow-" + std::to_string(i)),
                         session));
    }));
  }
  ASSERT_TRUE(backend_.wait_for_calls("slow", k_slow_calls, 10s))
      << "the slow calls never reached the backend";

  // The slow calls are still blocked in the backend; others are answered meanwhile (each
  // client gives up after 10 s, well before the backend's gate would open by itself).
  const http_answer listed = send(post(request_line("tools/list", json::object()), session));
  EXPECT_EQ(listed.status(), 200u) << listed.error.message();
  const http_answer observed =
      send(post(observe_line({{"what", "backend-logs"}, {"service", "api"}}), session));
  EXPECT_EQ(observed.status(), 200u) << observed.error.message();
  for (auto& call : slow) {
    EXPECT_EQ(call.wait_for(0s), std::future_status::timeout) << "a slow call ended early";
  }

  backend_.open_gate();
  for (int i = 0; i < k_slow_calls; ++i) {
    const http_answer answer = slow[i].get();
    EXPECT_EQ(answer.status(), 200u) << answer.error.message();
    EXPECT_EQ(answer.body()["id"], "slow-" + std::to_string(i));
  }
}

TEST_F(mcp_http_test, cancelled_notification_ends_the_sessions_waiting_call) {
  const std::string session = open_session();
  auto waiting = std::async(std::launch::async, [&] {
    // waitMs 30 s, but this client gives up after 10 s: only a cancellation answers in time.
    return http_client(port_, 10s)
        .exchange(post(
            observe_line({{"what", "backend-logs"}, {"service", "waiter"}, {"waitMs", 30000}}, 7),
            session));
  });
  ASSERT_TRUE(backend_.wait_for_calls("waiter", 2, 10s)) << "the call never started waiting";
  EXPECT_EQ(send(post(R"({"jsonrpc":"2.0","method":"notifications/cancelled",
                          "params":{"requestId":7,"reason":"user"}})",
                      session))
                .status(),
            202u);
  const http_answer answer = waiting.get();
  ASSERT_FALSE(answer.error) << answer.error.message();
  EXPECT_EQ(answer.status(), 200u);
  EXPECT_EQ(answer.body()["id"], 7);
}

TEST_F(mcp_http_test, stop_ends_waiting_calls_instead_of_waiting_for_them) {
  const std::string session = open_session();
  auto waiting = std::async(std::launch::async, [&] {
    return http_client(port_, 20s)
        .exchange(
            post(observe_line({{"what", "backend-logs"}, {"service", "waiter"}, {"waitMs", 30000}}),
                 session));
  });
  ASSERT_TRUE(backend_.wait_for_calls("waiter", 2, 10s)) << "the call never started waiting";
  auto stopped = std::async(std::launch::async, [&] { transport_->stop(); });
  EXPECT_EQ(stopped.wait_for(10s), std::future_status::ready) << "stop() waited out the call";
  stopped.get();
  waiting.get();  // answered or cut off, but over well before its 30 s
}

TEST_F(mcp_http_test, listen_refuses_an_address_that_is_not_loopback) {
  for (const char* address : {"0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "::ffff:127.0.0.1"}) {
    http_options options;
    options.address = address;
    options.port = 0;
    const auto listening = http_transport::listen(server_, std::move(options));
    ASSERT_FALSE(listening) << address;
    EXPECT_EQ(listening.error().code, errc::invalid_argument) << address;
    EXPECT_NE(listening.error().message.find("loopback"), std::string::npos)
        << listening.error().message;
  }
  http_options options;
  options.address = "mcp.example.com";
  const auto listening = http_transport::listen(server_, std::move(options));
  ASSERT_FALSE(listening);
  EXPECT_EQ(listening.error().code, errc::invalid_argument);
}

TEST_F(mcp_http_test, listen_on_a_taken_port_is_an_io_error) {
  http_options options;
  options.port = port_;
  const auto listening = http_transport::listen(server_, std::move(options));
  ASSERT_FALSE(listening);
  EXPECT_EQ(listening.error().code, errc::io_error);
  EXPECT_NE(listening.error().message.find(std::to_string(port_)), std::string::npos)
      << listening.error().message;
}

TEST_F(mcp_http_test, listens_on_ipv6_loopback_and_names_it_in_the_url) {
  http_options options;
  options.address = "::1";
  options.port = 0;
  auto listening = http_transport::listen(server_, std::move(options));
  if (!listening) GTEST_SKIP() << "no IPv6 loopback here: " << listening.error().message;
  EXPECT_EQ(listening->url(), "http://[::1]:" + std::to_string(listening->port()) + "/mcp");
}

TEST(http_listen_argument, reads_port_address_and_bracketed_ipv6) {
  const auto port_only = parse_http_listen("7718");
  ASSERT_TRUE(port_only);
  EXPECT_EQ(port_only->address, "127.0.0.1");
  EXPECT_EQ(port_only->port, 7718);
  const auto with_address = parse_http_listen("localhost:0");
  ASSERT_TRUE(with_address);
  EXPECT_EQ(with_address->address, "localhost");
  EXPECT_EQ(with_address->port, 0);
  const auto ipv6 = parse_http_listen("[::1]:9000");
  ASSERT_TRUE(ipv6);
  EXPECT_EQ(ipv6->address, "::1");
  EXPECT_EQ(ipv6->port, 9000);
}

TEST(http_listen_argument, refuses_what_is_not_address_and_port) {
  for (const char* text : {"", "http", "65536", "-1", "7718x", ":7718", "::1:7718", "[::1]",
                           "127.0.0.1:", "127.0.0.1:+80"}) {
    const auto parsed = parse_http_listen(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().code, errc::invalid_argument) << text;
  }
}

TEST(http_host_check, accepts_loopback_names_with_our_port_only) {
  EXPECT_TRUE(allowed_host("localhost:7718", 7718));
  EXPECT_TRUE(allowed_host("127.0.0.1:7718", 7718));
  EXPECT_TRUE(allowed_host("[::1]:7718", 7718));
  EXPECT_TRUE(allowed_host("LocalHost:7718", 7718));
  EXPECT_TRUE(allowed_host("localhost", 80)) << "no port means 80";
  EXPECT_FALSE(allowed_host("localhost", 7718));
  EXPECT_FALSE(allowed_host("localhost:7719", 7718));
  EXPECT_FALSE(allowed_host("localhost:", 7718));
  EXPECT_FALSE(allowed_host("127.0.0.2:7718", 7718));
  EXPECT_FALSE(allowed_host("[::1]x:7718", 7718));
  EXPECT_FALSE(allowed_host("[::1", 7718));
  EXPECT_FALSE(allowed_host("attacker.example:7718", 7718));
  EXPECT_FALSE(allowed_host("", 7718));
}

TEST(http_origin_check, matches_exact_origins_and_any_port_patterns) {
  const std::vector<std::string> allowed = {"http://localhost:*", "https://app.example"};
  EXPECT_TRUE(allowed_origin("http://localhost:3000", allowed));
  EXPECT_TRUE(allowed_origin("http://localhost", allowed));
  EXPECT_TRUE(allowed_origin("HTTP://LOCALHOST:3000", allowed));
  EXPECT_TRUE(allowed_origin("https://app.example", allowed));
  EXPECT_FALSE(allowed_origin("https://app.example:444", allowed));
  EXPECT_FALSE(allowed_origin("https://localhost:3000", allowed)) << "the scheme counts";
  EXPECT_FALSE(allowed_origin("http://localhost.attacker.example", allowed));
  EXPECT_FALSE(allowed_origin("http://localhost:3000@attacker.example", allowed));
  EXPECT_FALSE(allowed_origin("http://localhost:", allowed));
  EXPECT_FALSE(allowed_origin("null", allowed));
}

}  // namespace
}  // namespace logwire
