// Backends over the broker's /logs WebSocket: the JSON form of the remote producer protocol
// (each message translated for remote_sessions, each reply back), then over real sockets:
// records stored with their types, refusals, and a connection torn down mid-stream whose
// unacknowledged records are replayed on a new one and stored exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "http_browser_events.h"
#include "http_server.h"
#include "http_test_client.h"  // first: it silences GCC's TSan warning about Asio's fences
#include "logwire/remote_protocol.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"
#include "ws_backend_json.h"

namespace logwire {
namespace {

using nlohmann::json;
using testing::ws_client;

constexpr std::string_view k_instance = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::int64_t k_now = 1'769'854'523'000'000'000;

json hello(std::string_view service = "api", std::string_view instance = k_instance) {
  return {{"v", 1},
          {"type", "hello"},
          {"producer",
           {{"service", service},
            {"host", "devbox"},
            {"pid", 4242},
            {"instanceId", instance},
            {"language", "javascript"},
            {"libraryVersion", "0.1.0"}}}};
}

// Records `first` to `first + count - 1`, each with its sequence in the field "seq".
json data(std::uint64_t first, std::size_t count) {
  json records = json::array();
  for (std::size_t i = 0; i < count; ++i) {
    records.push_back({{"timestamp", 1769854523456.789 + static_cast<double>(i)},
                       {"level", "INFO"},
                       {"message", "charge " + std::to_string(first + i)},
                       {"requestId", "req-12345"},
                       {"fields", {{"seq", first + i}}}});
  }
  return {{"v", 1}, {"type", "data"}, {"firstSequence", first}, {"records", records}};
}

const field_value* field_named(const log_record& record, std::string_view key) {
  for (const auto& [k, v] : record.fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

class ws_backend_fixture : public ::testing::Test {
 protected:
  std::vector<log_record> records_of(const std::string& service) const {
    return store_.query({.services = {service}, .limit = 1'000'000}).value().logs;
  }
  // How many times each "seq" was stored.
  std::map<std::int64_t, int> stored_sequences(const std::string& service = "api") const {
    std::map<std::int64_t, int> out;
    for (const auto& r : records_of(service)) {
      if (const auto* seq = field_named(r, "seq")) ++out[std::get<std::int64_t>(*seq)];
    }
    return out;
  }

  logwire::testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  // Exactly-once is the point: the burst dedup would fold records that look alike.
  std::unique_ptr<store> opened_ =
      store::open(dir_, {.memory_cap_bytes = 16 << 20, .dedup_window_ns = 0}, 0).value();
  store& store_ = *opened_;
};

// --- the translation, without sockets -------------------------------------------------------

class ws_backend_sessions_test : public ws_backend_fixture {
 protected:
  json send(const json& message, std::string_view peer = "ws-1") {
    return send_text(message.dump(), peer);
  }
  json send_text(std::string_view text, std::string_view peer = "ws-1") {
    return json::parse(sessions_.handle(peer, text, "127.0.0.1:5555", k_now));
  }
  ws_backend_sessions sessions_{store_};
};

TEST_F(ws_backend_sessions_test, welcomes_a_new_instance_from_sequence_zero) {
  const json welcome = send(hello());
  EXPECT_EQ(welcome["type"], "welcome");
  EXPECT_EQ(welcome["nextSequence"], 0);
  EXPECT_EQ(welcome["heartbeatIntervalMs"], 1000);
  EXPECT_EQ(welcome["maxMessageBytes"], k_max_ws_backend_message);
  EXPECT_EQ(sessions_.sessions(), 1u);
}

TEST_F(ws_backend_sessions_test, stores_records_with_their_types_and_acknowledges_them) {
  send(hello());
  json message = data(0, 1);
  message["records"][0] = {
      {"timestamp", "2026-01-31T10:15:23.456789Z"},
      {"level", "error"},
      {"message", "Payment gateway timeout"},
      {"requestId", "req-12345"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {"spanId", "span-789"},
      {"stackTrace", "PaymentGatewayTimeout: at charge()"},
      {"fields",
       {{"userId", 987},
        {"ok", true},
        {"amount", 4.5},
        {"name", "x"},
        {"big", 18446744073709551615ull},
        {"nested", {{"a", 1}}},
        {"nothing", nullptr}}},
      {"unknownKey", "ignored"}};
  const json ack = send(message);
  EXPECT_EQ(ack, json::parse(R"({"v":1,"type":"ack","nextSequence":1})"));
  const auto stored = records_of("api");
  const auto found = std::find_if(stored.begin(), stored.end(), [](const log_record& r) {
    return r.message == "Payment gateway timeout";
  });
  ASSERT_NE(found, stored.end());
  EXPECT_EQ(found->severity, level::error);
  EXPECT_EQ(found->timestamp_ns, 1'769'854'523'456'789'000);
  EXPECT_EQ(found->request_id, "req-12345");
  EXPECT_EQ(found->span_id, "span-789");
  EXPECT_EQ(found->stack_trace, "PaymentGatewayTimeout: at charge()");
  EXPECT_EQ(std::get<std::int64_t>(*field_named(*found, "userId")), 987);
  EXPECT_EQ(std::get<bool>(*field_named(*found, "ok")), true);
  EXPECT_EQ(std::get<double>(*field_named(*found, "amount")), 4.5);
  EXPECT_EQ(std::get<std::string>(*field_named(*found, "name")), "x");
  EXPECT_EQ(std::get<double>(*field_named(*found, "big")), 18446744073709551615.0);
  EXPECT_EQ(std::get<std::string>(*field_named(*found, "nested")), R"({"a":1})");
  EXPECT_EQ(field_named(*found, "nothing"), nullptr);
}

TEST_F(ws_backend_sessions_test, reads_a_timestamp_in_ms_and_a_level_as_a_severity_number) {
  send(hello());
  json message = data(0, 1);
  message["records"][0]["timestamp"] = 1769854523456.789;
  message["records"][0]["level"] = 17;  // OpenTelemetry ERROR
  send(message);
  const auto stored = records_of("api");
  const auto found = std::find_if(stored.begin(), stored.end(),
                                  [](const log_record& r) { return r.message == "charge 0"; });
  ASSERT_NE(found, stored.end());
  EXPECT_EQ(found->severity, level::error);
  EXPECT_EQ(found->timestamp_ns, 1'769'854'523'456'789'000);
}

TEST_F(ws_backend_sessions_test, stores_a_replay_once_and_acknowledges_the_whole) {
  send(hello());
  EXPECT_EQ(send(data(0, 5))["nextSequence"], 5);
  EXPECT_EQ(send(data(3, 5))["nextSequence"], 8);
  const auto stored = stored_sequences();
  ASSERT_EQ(stored.size(), 8u);
  for (const auto& [seq, times] : stored) EXPECT_EQ(times, 1) << "sequence " << seq;
  EXPECT_EQ(sessions_.counters().records_duplicate, 2u);
}

TEST_F(ws_backend_sessions_test, welcomes_a_reconnected_instance_from_what_is_stored) {
  send(hello(), "ws-1");
  send(data(0, 4), "ws-1");
  EXPECT_EQ(send(hello(), "ws-2")["nextSequence"], 4);
}

TEST_F(ws_backend_sessions_test, answers_ping_with_the_next_sequence) {
  send(hello());
  send(data(0, 2));
  EXPECT_EQ(send({{"v", 1}, {"type", "ping"}}),
            json::parse(R"({"v":1,"type":"ack","nextSequence":2})"));
}

TEST_F(ws_backend_sessions_test, ends_a_session_on_bye) {
  send(hello());
  EXPECT_EQ(send({{"v", 1}, {"type", "bye"}})["type"], "ack");
  EXPECT_EQ(sessions_.sessions(), 0u);
}

TEST_F(ws_backend_sessions_test, asks_for_hello_before_data) {
  const json reply = send(data(0, 1));
  EXPECT_EQ(reply["type"], "error");
  EXPECT_EQ(reply["code"], "no_session");
}

TEST_F(ws_backend_sessions_test, refuses_what_is_not_the_protocol_with_a_code_and_a_reason) {
  const auto code_of = [&](std::string_view text) { return send_text(text)["code"]; };
  EXPECT_EQ(code_of("{not json"), "malformed");
  EXPECT_EQ(code_of("[1,2]"), "malformed");
  EXPECT_EQ(code_of(R"({"v":2,"type":"hello"})"), "unsupported_version");
  EXPECT_EQ(code_of(R"({"type":"hello"})"), "unsupported_version");
  EXPECT_EQ(code_of(R"({"v":1,"type":"shout"})"), "unknown_command");
  EXPECT_EQ(code_of(R"({"v":1})"), "malformed");
  EXPECT_EQ(sessions_.counters().refused, 6u);
}

TEST_F(ws_backend_sessions_test, refuses_a_hello_without_a_usable_identity) {
  json no_service = hello();
  no_service["producer"].erase("service");
  EXPECT_EQ(send(no_service)["code"], "malformed");
  json short_instance = hello();
  short_instance["producer"]["instanceId"] = "abc";
  EXPECT_EQ(send(short_instance)["code"], "malformed");
  json zero_instance = hello();
  zero_instance["producer"]["instanceId"] = std::string(32, '0');
  EXPECT_EQ(send(zero_instance)["code"], "malformed");
  json bad_pid = hello();
  bad_pid["producer"]["pid"] = -1;
  EXPECT_EQ(send(bad_pid)["code"], "malformed");
  EXPECT_EQ(sessions_.sessions(), 0u);
}

TEST_F(ws_backend_sessions_test, refuses_a_record_of_the_wrong_shape_naming_it) {
  send(hello());
  json message = data(10, 3);
  message["records"][1]["level"] = "LOUD";
  const json reply = send(message);
  EXPECT_EQ(reply["code"], "malformed");
  const std::string why = reply["message"];
  EXPECT_NE(why.find("record 1 (sequence 11)"), std::string::npos) << why;
  EXPECT_NE(why.find("level"), std::string::npos) << why;
  EXPECT_TRUE(stored_sequences().empty()) << "a refused message stores nothing";

  message = data(10, 1);
  message["records"][0]["message"] = 42;
  EXPECT_NE(send(message)["message"].get<std::string>().find("\"message\" is number"),
            std::string::npos);
  message = data(10, 1);
  message["records"][0]["timestamp"] = -5;
  EXPECT_EQ(send(message)["code"], "malformed");
  message = data(10, 1);
  message["records"][0]["fields"] = json::array({1});
  EXPECT_EQ(send(message)["code"], "malformed");
  message = data(10, 1);
  message["firstSequence"] = -1;
  EXPECT_EQ(send(message)["code"], "malformed");
}

TEST_F(ws_backend_sessions_test, notes_a_connected_producer_as_a_websocket_one) {
  send(hello());
  bool found = false;
  for (const auto& r : records_of("api")) {
    if (r.message.find("producer connected: api") == std::string::npos) continue;
    found = true;
    EXPECT_NE(r.message.find("127.0.0.1:5555"), std::string::npos) << r.message;
    EXPECT_EQ(std::get<std::string>(*field_named(r, "transport")), "websocket");
  }
  EXPECT_TRUE(found);
}

// --- over the server's sockets ----------------------------------------------------------------

class ws_backend_server_test : public ws_backend_fixture {
 protected:
  void SetUp() override {
    auto serving = http_server::listen({.address = "127.0.0.1", .port = 0}, ingest_, store_);
    ASSERT_TRUE(serving) << serving.error().message;
    server_.emplace(std::move(*serving));
  }

  frontend_ingest ingest_{store_.frontend()};
  std::optional<http_server> server_;
};

TEST_F(ws_backend_server_test, a_backend_streams_records_over_the_websocket) {
  ws_client backend(server_->port(), "/logs");
  ASSERT_TRUE(backend.open()) << backend.error().message();
  EXPECT_EQ((*backend.exchange(hello().dump()))["nextSequence"], 0);
  EXPECT_EQ((*backend.exchange(data(0, 100).dump()))["nextSequence"], 100);
  EXPECT_EQ(stored_sequences().size(), 100u);
  EXPECT_EQ(server_->backend_counters().records_stored, 100u);
}

TEST_F(ws_backend_server_test, closes_a_backend_message_over_4_mib_with_1009) {
  ws_client backend(server_->port(), "/logs");
  ASSERT_TRUE(backend.open());
  backend.send(std::string(k_max_ws_backend_message + 1, ' '));
  EXPECT_FALSE(backend.read());
  EXPECT_EQ(backend.close_reason().code, testing::websocket::close_code::too_big);
  // Counted when the server's read ends, after the closing handshake.
  EXPECT_TRUE(testing::wait_for(
      [&] {
        return server_->counters().refused[static_cast<std::size_t>(http_refusal::too_large)] == 1;
      },
      std::chrono::seconds(10)));
}

// The backend sends without waiting for acknowledgements, as a producer does, and its
// connection is torn down (a reset, no close frame) with records unacknowledged and some
// perhaps unread. It reconnects, says hello as the same instance, and replays everything
// from its last acknowledgement: every sequence is stored exactly once.
TEST_F(ws_backend_server_test, replays_after_a_torn_connection_are_stored_exactly_once) {
  constexpr std::uint64_t k_total = 3000;
  constexpr std::uint64_t k_batch = 50;
  std::uint64_t acknowledged = 0;
  {
    ws_client backend(server_->port(), "/logs");
    ASSERT_TRUE(backend.open());
    ASSERT_EQ((*backend.exchange(hello().dump()))["nextSequence"], 0);
    // Two thirds sent; only the first few acknowledgements read.
    for (std::uint64_t first = 0; first < 2 * k_total / 3; first += k_batch) {
      ASSERT_TRUE(backend.send(data(first, k_batch).dump()));
    }
    for (int i = 0; i < 5; ++i) acknowledged = (*backend.read_json())["nextSequence"];
    backend.tear_down();
  }
  EXPECT_EQ(acknowledged, 5 * k_batch);

  ws_client again(server_->port(), "/logs");
  ASSERT_TRUE(again.open());
  const json welcome = *again.exchange(hello().dump());
  const std::uint64_t resume = welcome["nextSequence"];
  EXPECT_GE(resume, acknowledged) << "the broker kept what it acknowledged";
  EXPECT_LE(resume, 2 * k_total / 3);
  json last;
  for (std::uint64_t first = acknowledged; first < k_total; first += k_batch) {
    last = *again.exchange(data(first, k_batch).dump());
  }
  EXPECT_EQ(last["nextSequence"], k_total);

  const auto stored = stored_sequences();
  ASSERT_EQ(stored.size(), k_total);
  EXPECT_EQ(stored.begin()->first, 0);
  EXPECT_EQ(stored.rbegin()->first, static_cast<std::int64_t>(k_total - 1));
  for (const auto& [seq, times] : stored) ASSERT_EQ(times, 1) << "sequence " << seq;
  EXPECT_EQ(server_->backend_counters().records_duplicate, resume - acknowledged);
}

}  // namespace
}  // namespace logwire
