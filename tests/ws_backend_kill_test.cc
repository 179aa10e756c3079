// The real logwire-broker with HTTP: the --http flags and the log line that names the port,
// then WebSocket backends on /logs against kills. A backend process killed with SIGKILL
// mid-stream (its socket ends without a close frame, perhaps in the middle of a message) is
// replayed by its successor from the last acknowledgement; a broker killed with SIGKILL
// three times under a streaming backend is reconnected to and replayed into. Every sequence
// is stored exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "http_test_client.h"  // first: it silences GCC's TSan warning about Asio's fences
#include "logwire/broker_client.h"
#include "logwire/runtime_dir.h"
#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/loopback_port.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::binary_path;
using testing::child_process;
using testing::ws_client;

constexpr std::string_view k_instance = "0af7651916cd43dd8448eb211c80319c";
constexpr std::uint64_t k_batch = 100;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string hello() {
  return json{{"v", 1},
              {"type", "hello"},
              {"producer",
               {{"service", "checkout"},
                {"host", "devbox"},
                {"pid", static_cast<int>(::getpid())},
                {"instanceId", k_instance},
                {"language", "javascript"},
                {"libraryVersion", "0.1.0"}}}}
      .dump();
}

std::string data(std::uint64_t first, std::uint64_t count) {
  json records = json::array();
  for (std::uint64_t i = 0; i < count; ++i) {
    records.push_back({{"level", "INFO"},
                       {"message", "charge " + std::to_string(first + i)},
                       {"requestId", "req-kill"},
                       {"fields", {{"seq", first + i}}}});
  }
  return json{{"v", 1}, {"type", "data"}, {"firstSequence", first}, {"records", records}}.dump();
}

// A backend as the JSON protocol asks it to behave: records kept until acknowledged, at most
// `window` messages unacknowledged, and after a lost connection a new one, hello, and a
// replay of everything from the last acknowledgement.
class json_backend {
 public:
  json_backend(std::uint16_t port, std::uint64_t total) : port_(port), total_(total) {}

  // Streams until every record is acknowledged, `give_up` passes, or `on_ack`, which sees
  // each acknowledgement, returns false. True when everything was acknowledged.
  bool stream(std::chrono::seconds give_up,
              const std::function<bool(std::uint64_t)>& on_ack = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + give_up;
    while (acknowledged_ < total_) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (!connection_ || !connection_->open()) {
        if (!connect()) {
          std::this_thread::sleep_for(50ms);
          continue;
        }
      }
      if (next_send_ < total_ && in_flight_ < k_window) {
        const std::uint64_t count = std::min(k_batch, total_ - next_send_);
        if (!connection_->send(data(next_send_, count))) continue;
        next_send_ += count;
        ++in_flight_;
        continue;
      }
      const auto reply = connection_->read_json();
      if (!reply) continue;
      if ((*reply)["type"] != "ack") {
        ADD_FAILURE() << "unexpected reply " << reply->dump();
        return false;
      }
      acknowledged_ = std::max<std::uint64_t>(acknowledged_, (*reply)["nextSequence"]);
      --in_flight_;
      if (on_ack && !on_ack(acknowledged_)) return acknowledged_ >= total_;
    }
    return true;
  }

  std::uint64_t acknowledged() const noexcept { return acknowledged_; }
  void set_acknowledged(std::uint64_t value) noexcept { acknowledged_ = value; }
  // Where the broker's welcomes resumed, each time.
  const std::vector<std::uint64_t>& welcomes() const noexcept { return welcomes_; }

 private:
  static constexpr int k_window = 4;

  bool connect() {
    connection_.emplace(port_, "/logs", ws_client::options{.timeout = 5s});
    if (!connection_->open()) return false;
    const auto welcome = connection_->exchange(hello());
    if (!welcome || (*welcome)["type"] != "welcome") return false;
    welcomes_.push_back((*welcome)["nextSequence"]);
    // Replay: everything from the last acknowledgement, whatever was in flight.
    next_send_ = acknowledged_;
    in_flight_ = 0;
    return true;
  }

  std::uint16_t port_;
  std::uint64_t total_;
  std::optional<ws_client> connection_;
  std::uint64_t acknowledged_ = 0;
  std::uint64_t next_send_ = 0;
  int in_flight_ = 0;
  std::vector<std::uint64_t> welcomes_;
};

class ws_backend_kill_test : public ::testing::Test {
 protected:
  // Starts the broker with HTTP on `http` and returns the port its log line names.
  std::uint16_t start_broker(const std::string& http = "127.0.0.1:0") {
    const std::string log = runtime_.log_file("broker-" + std::to_string(++starts_)).string();
    broker_ = std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire-broker"), "--runtime-dir", runtime_.string(),
                                 "--listen", "none", "--http", http, "--dedup-window", "0",
                                 "--rate-limit", "0"},
        child_process::options{.stderr_file = log});
    // The port of "http: serving on http://127.0.0.1:PORT". (Not std::regex: GCC 12 warns
    // about its internals under AddressSanitizer, and warnings are errors.)
    std::uint16_t port = 0;
    constexpr std::string_view k_serving = "http: serving on http://127.0.0.1:";
    testing::wait_for(
        [&] {
          const std::string text = read_file(log);
          const std::size_t at = text.find(k_serving);
          if (at == std::string::npos) return false;
          unsigned value = 0;
          const char* digits = text.data() + at + k_serving.size();
          const auto [end, ec] = std::from_chars(digits, text.data() + text.size(), value);
          if (ec != std::errc() || end == digits || value > 65535) return false;
          port = static_cast<std::uint16_t>(value);
          return true;
        },
        20s);
    EXPECT_NE(port, 0) << "no 'http: serving on' line:\n" << read_file(log);
    return port;
  }

  // Records of the test's backend the broker holds: all (totalCount), and how many have
  // this "seq".
  std::uint64_t stored_total() {
    broker_client client(runtime_dir::open(runtime_.path()).value());
    const auto reply =
        client.call("observe", {{"what", "backend-logs"}, {"requestId", "req-kill"}, {"limit", 1}});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? (*reply)["totalCount"].get<std::uint64_t>() : 0;
  }
  std::uint64_t stored_with_seq(std::uint64_t seq) {
    broker_client client(runtime_dir::open(runtime_.path()).value());
    const auto reply = client.call(
        "observe", {{"what", "backend-logs"}, {"fields", {{"seq", seq}}}, {"limit", 10}});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? (*reply)["totalCount"].get<std::uint64_t>() : 0;
  }

  // Every sequence below `total` is there once: as many records as sequences, and a sample
  // (the first, the last, and random ones) each found once.
  void expect_exactly_once(std::uint64_t total) {
    EXPECT_EQ(stored_total(), total);
    std::mt19937_64 random(total);
    std::vector<std::uint64_t> sample = {0, total - 1};
    for (int i = 0; i < 40; ++i) sample.push_back(random() % total);
    for (const std::uint64_t seq : sample) EXPECT_EQ(stored_with_seq(seq), 1u) << "seq " << seq;
  }

  testing::temp_runtime_dir runtime_;
  std::unique_ptr<child_process> broker_;
  int starts_ = 0;
};

TEST_F(ws_backend_kill_test, broker_names_its_http_port_and_serves_the_script) {
  const std::uint16_t port = start_broker();
  ASSERT_NE(port, 0);
  const auto answer = testing::http_exchange(
      port, testing::http_request(testing::http::verb::get, "/logwire.js", port));
  EXPECT_EQ(answer.status(), 200u);
  EXPECT_EQ(answer.header("Content-Type"), "text/javascript; charset=utf-8");
}

TEST_F(ws_backend_kill_test, broker_refuses_an_http_address_beyond_loopback) {
  child_process broker({binary_path("logwire-broker"), "--runtime-dir", runtime_.string(),
                        "--listen", "none", "--http", "0.0.0.0:0"},
                       {.stderr_file = runtime_.log_file("refused").string()});
  EXPECT_EQ(broker.wait(20s), 2);
  EXPECT_NE(read_file(runtime_.log_file("refused")).find("loopback"), std::string::npos);
}

TEST_F(ws_backend_kill_test, broker_exits_when_the_http_port_asked_for_is_taken) {
  testing::asio::io_context io;
  testing::tcp::acceptor holder(io, {testing::asio::ip::make_address("127.0.0.1"), 0});
  const std::string taken = "127.0.0.1:" + std::to_string(holder.local_endpoint().port());
  child_process broker({binary_path("logwire-broker"), "--runtime-dir", runtime_.string(),
                        "--listen", "none", "--http", taken},
                       {.stderr_file = runtime_.log_file("taken").string()});
  EXPECT_EQ(broker.wait(20s), 1);
  EXPECT_NE(read_file(runtime_.log_file("taken")).find("cannot serve HTTP"), std::string::npos)
      << read_file(runtime_.log_file("taken"));
}

TEST_F(ws_backend_kill_test, broker_goes_on_without_http_when_the_default_port_is_taken) {
  // Hold the default port, unless something else already does: either way it is taken.
  testing::asio::io_context io;
  testing::tcp::acceptor holder(io);
  boost::system::error_code ignored;
  holder.open(testing::tcp::v4(), ignored);
  holder.bind({testing::asio::ip::make_address("127.0.0.1"), 7719}, ignored);
  holder.listen(1, ignored);
  child_process broker(
      {binary_path("logwire-broker"), "--runtime-dir", runtime_.string(), "--listen", "none"},
      {.stderr_file = runtime_.log_file("default").string()});
  EXPECT_TRUE(testing::broker_answers(runtime_.path(), 20s))
      << read_file(runtime_.log_file("default"));
  EXPECT_NE(read_file(runtime_.log_file("default")).find("cannot serve HTTP"), std::string::npos)
      << read_file(runtime_.log_file("default"));
  broker.send_signal(SIGTERM);
  EXPECT_EQ(broker.wait(20s), 0);
}

// A backend process streams as fast as it can and is killed with SIGKILL at a random point;
// its successor (the same instance, as a spooling producer restarted would be) replays from
// the last acknowledgement the dead one had.
TEST_F(ws_backend_kill_test, a_killed_backends_records_are_replayed_exactly_once) {
  const std::uint64_t total = logwire::testing::k_sanitized ? 10'000 : 50'000;
  const std::uint16_t port = start_broker();
  ASSERT_NE(port, 0);
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  // This process has no other thread now (the broker is a process of its own), so the child
  // may run the client it inherits.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(acks[0]);
    json_backend backend(port, total);
    backend.stream(60s, [&](std::uint64_t acknowledged) {
      return ::write(acks[1], &acknowledged, sizeof acknowledged) == sizeof acknowledged;
    });
    ::pause();  // all sent: waits for its kill
    ::_exit(0);
  }
  ::close(acks[1]);
  std::mt19937 random(static_cast<unsigned>(::getpid()));
  std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 250));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  std::uint64_t last_ack = 0;
  std::uint64_t value = 0;
  while (::read(acks[0], &value, sizeof value) == sizeof value) last_ack = value;
  ::close(acks[0]);

  json_backend successor(port, total);
  successor.set_acknowledged(last_ack);
  ASSERT_TRUE(successor.stream(120s));
  ASSERT_EQ(successor.welcomes().size(), 1u);
  EXPECT_GE(successor.welcomes()[0], last_ack) << "the broker kept what it acknowledged";
  std::cout << "killed after " << last_ack << " acknowledged, broker had "
            << successor.welcomes()[0] << "\n";
  expect_exactly_once(total);
}

// The broker is killed with SIGKILL three times while a backend streams; each time it comes
// back on the same port, the backend reconnects and replays what was not acknowledged.
TEST_F(ws_backend_kill_test, records_replayed_into_a_killed_broker_are_stored_exactly_once) {
  const std::uint64_t total = logwire::testing::k_sanitized ? 20'000 : 100'000;
  const std::string http = "127.0.0.1:" + std::to_string(testing::unused_loopback_port());
  std::uint16_t port = start_broker(http);
  ASSERT_NE(port, 0);
  json_backend backend(port, total);
  std::mt19937 random(static_cast<unsigned>(::getpid()));
  for (int kill = 0; kill < 3; ++kill) {
    const std::uint64_t until = total * (kill + 1) / 4 + random() % (total / 8);
    // Streams up to a point, then the broker dies under it, with messages in flight.
    bool reached = false;
    backend.stream(60s, [&](std::uint64_t acknowledged) {
      if (acknowledged < until) return true;
      reached = true;
      broker_->send_signal(SIGKILL);
      broker_->wait(10s);
      return false;
    });
    ASSERT_TRUE(reached);
    ASSERT_EQ(start_broker(http), port);
  }
  ASSERT_TRUE(backend.stream(120s));
  EXPECT_GE(backend.welcomes().size(), 4u);
  expect_exactly_once(total);
}

}  // namespace
}  // namespace logwire
