// The payment demo app in process: its HTTP answers and the records its handler logs, read
// back from the producer's ring (no broker, no browser; tests/payment_demo's script does
// the rest end to end).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "payment_server.h"
#include "support/ring_contents.h"
#include "support/temp_runtime_dir.h"

namespace logwire::demo {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;
using tcp = asio::ip::tcp;
using reply = http::response<http::string_body>;

constexpr const char* k_traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class payment_app : public ::testing::Test {
 protected:
  void SetUp() override { start("http://127.0.0.1:7719"); }

  void start(std::string broker_origin) {
    server_.reset();
    auto started = payment_server::listen(
        logs_, out_, {.address = "127.0.0.1", .port = 0, .broker_origin = broker_origin});
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  // One request on a connection of its own.
  reply send(http::verb method, std::string target, std::string body = {},
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1:" + std::to_string(server_->port()));
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    reply answer;
    http::read(socket, buffer, answer);
    return answer;
  }

  reply pay(std::vector<std::pair<std::string, std::string>> headers,
            std::string body = R"({"userId": 987, "paymentId": "pay-99", "amount": 49.99})") {
    return send(http::verb::post, "/api/payments/process", std::move(body), std::move(headers));
  }

  static std::string text(const flatbuffers::String* value) {
    return value != nullptr ? value->str() : "";
  }

  testing::temp_runtime_dir temp_;
  producer logs_ =
      producer::open({.service = "api-server", .runtime_dir = temp_.path(), .ring_bytes = 1 << 20})
          .value();
  std::ostringstream console_text_;
  console out_{console_text_};
  std::unique_ptr<payment_server> server_;
};

TEST_F(payment_app, a_payment_logs_four_records_with_the_requests_ids_and_answers_500) {
  const reply answer = pay({{"X-Request-ID", "req-browser-0007"}, {"traceparent", k_traceparent}});
  EXPECT_EQ(answer.result_int(), 500);
  EXPECT_EQ(answer["X-Request-ID"], "req-browser-0007") << "the ID the client sent, echoed";
  const json body = json::parse(answer.body());
  EXPECT_EQ(body["error"], "payment_gateway_timeout");
  EXPECT_EQ(body["requestId"], "req-browser-0007");

  const auto records = testing::drain_ring(logs_.ring_name());
  ASSERT_EQ(records.size(), 4u);
  const std::vector<std::pair<wire::Level, std::string>> expected = {
      {wire::Level::Info, "POST /api/payments/process"},
      {wire::Level::Debug, "User 987 processing payment"},
      {wire::Level::Error, "Payment gateway timeout"},
      {wire::Level::Error, "Returning 500 to client"}};
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i]->level(), expected[i].first) << i;
    EXPECT_EQ(text(records[i]->message()), expected[i].second) << i;
    EXPECT_EQ(text(records[i]->request_id()), "req-browser-0007") << "every line: " << i;
    EXPECT_EQ(text(records[i]->traceparent()), k_traceparent) << "every line: " << i;
  }
  EXPECT_EQ(text(records[2]->span_id()).size(), 16u) << "the gateway call's own span";
  EXPECT_NE(text(records[2]->stack_trace()).find("PaymentGatewayTimeout"), std::string::npos);
  EXPECT_LE(records[0]->timestamp_ns(), records[3]->timestamp_ns());
}

TEST_F(payment_app, a_request_without_an_id_gets_one_on_every_record_and_in_the_answer) {
  const reply answer = pay({});
  EXPECT_EQ(answer.result_int(), 500);
  const std::string id(answer["X-Request-ID"]);
  EXPECT_TRUE(id.starts_with("req-")) << id;
  const auto records = testing::drain_ring(logs_.ring_name());
  ASSERT_EQ(records.size(), 4u);
  for (const auto& record : records) {
    EXPECT_EQ(text(record->request_id()), id);
    EXPECT_EQ(text(record->traceparent()), "") << "no trace is made up";
  }
}

TEST_F(payment_app, payments_side_by_side_keep_their_own_ids) {
  std::thread other([&] { EXPECT_EQ(pay({{"X-Request-ID", "req-b"}}).result_int(), 500); });
  EXPECT_EQ(pay({{"X-Request-ID", "req-a"}}).result_int(), 500);
  other.join();
  const auto records = testing::drain_ring(logs_.ring_name());
  ASSERT_EQ(records.size(), 8u);
  std::map<std::string, std::vector<std::string>> by_id;
  for (const auto& record : records) {
    by_id[text(record->request_id())].push_back(text(record->message()));
  }
  ASSERT_EQ(by_id.size(), 2u);
  for (const auto& [id, messages] : by_id) {
    ASSERT_EQ(messages.size(), 4u) << id;
    EXPECT_EQ(messages.front(), "POST /api/payments/process") << id;
    EXPECT_EQ(messages.back(), "Returning 500 to client") << id;
  }
}

TEST_F(payment_app, a_body_that_is_not_a_payment_is_400_and_logged_as_a_warning) {
  const reply answer = pay({{"X-Request-ID", "req-bad"}}, "not json");
  EXPECT_EQ(answer.result_int(), 400);
  EXPECT_EQ(json::parse(answer.body())["error"], "bad_request");
  const auto records = testing::drain_ring(logs_.ring_name());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]->level(), wire::Level::Warn);
  EXPECT_EQ(text(records[0]->request_id()), "req-bad");
  EXPECT_EQ(pay({}, R"({"userId": "987"})").result_int(), 400) << "userId is a number";
}

TEST_F(payment_app, the_page_loads_logwire_js_from_the_broker_origin_given) {
  reply page = send(http::verb::get, "/");
  EXPECT_EQ(page.result_int(), 200);
  EXPECT_EQ(page[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_NE(page.body().find(R"(<script src="http://127.0.0.1:7719/logwire.js")"),
            std::string::npos);
  EXPECT_NE(page.body().find(R"(<button id="pay" type="button">Submit Payment</button>)"),
            std::string::npos);

  start("");
  page = send(http::verb::get, "/");
  EXPECT_EQ(page.body().find("/logwire.js"), std::string::npos) << "no broker, no script tag";
  EXPECT_EQ(page.body().find("<!--logwire-script-->"), std::string::npos);
}

TEST_F(payment_app, other_paths_and_methods_are_refused_with_a_reason) {
  EXPECT_EQ(send(http::verb::get, "/nope").result_int(), 404);
  const reply wrong_method = send(http::verb::get, "/api/payments/process");
  EXPECT_EQ(wrong_method.result_int(), 405);
  EXPECT_EQ(wrong_method[http::field::allow], "POST");
  EXPECT_EQ(send(http::verb::post, "/", "{}").result_int(), 405);
  EXPECT_TRUE(testing::drain_ring(logs_.ring_name()).empty()) << "nothing logged for them";
}

TEST(payment_app_options, serve_takes_loopback_addresses_only) {
  EXPECT_EQ(parse_serve_address("3000").value().port, 3000);
  EXPECT_EQ(parse_serve_address("127.0.0.1:0").value().address, "127.0.0.1");
  EXPECT_EQ(parse_serve_address("[::1]:8080").value().address, "::1");
  EXPECT_EQ(parse_serve_address("localhost:8080").value().address, "127.0.0.1");
  EXPECT_FALSE(parse_serve_address("0.0.0.0:3000"));
  EXPECT_FALSE(parse_serve_address("192.168.1.2:3000"));
  EXPECT_FALSE(parse_serve_address("127.0.0.1:70000"));
  EXPECT_FALSE(parse_serve_address("devbox:3000"));
}

TEST(payment_app_options, the_broker_origin_is_scheme_host_and_port_only) {
  EXPECT_TRUE(is_plain_origin("http://127.0.0.1:7719"));
  EXPECT_TRUE(is_plain_origin("http://[::1]:7719"));
  EXPECT_TRUE(is_plain_origin("https://logs.example.test"));
  EXPECT_FALSE(is_plain_origin("http://127.0.0.1:7719/path"));
  EXPECT_FALSE(is_plain_origin(R"(http://x"><script>alert(1)</script>)"));
  EXPECT_FALSE(is_plain_origin("javascript:alert(1)"));
  EXPECT_FALSE(is_plain_origin("http://"));
}

}  // namespace
}  // namespace logwire::demo
