// Remote producers (C++ and Python, over ZeroMQ) against a broker that is killed,
// stopped for a minute, or sent garbage, with real processes. What is checked afterwards
// is the store itself, opened from the runtime directory once the broker has stopped.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "logwire/logwire_generated.h"
#include "logwire/record_encoder.h"
#include "logwire/remote_protocol.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/loopback_port.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using namespace std::chrono_literals;
using testing::binary_path;
using testing::child_process;
using testing::wait_for;

using testing::k_sanitized;

class remote_kill_test : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = testing::unused_loopback_endpoint();
    spool_dir_ = runtime_.log_file("spool").parent_path() / "spool";
  }

  std::unique_ptr<child_process> start_broker() {
    auto broker = std::make_unique<child_process>(
        // Delivery is what is checked here: the per-service rate limit is off.
        std::vector<std::string>{binary_path("logwire-broker"), "--runtime-dir", runtime_.string(),
                                 "--listen", endpoint_, "--rate-limit", "0"},
        child_process::options{.stderr_file = runtime_.log_file("broker").string()});
    EXPECT_TRUE(testing::broker_answers(runtime_.path(), 10s));
    return broker;
  }

  void stop_broker(child_process& broker) {
    broker.send_signal(SIGTERM);
    ASSERT_EQ(broker.wait(10s), 0);
  }

  // `logwire load` over ZeroMQ. Prints "... refused" when it has logged everything, then
  // "delivered; N dropped" (or "not all delivered; ...") once the broker acknowledged it.
  std::unique_ptr<child_process> start_cpp_load(const std::string& service, std::uint64_t count,
                                                int rate, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{
        binary_path("logwire"), "load",   "--service",          service,      "--count",
        std::to_string(count),  "--rate", std::to_string(rate), "--endpoint", endpoint_,
        "--reconnect-max",      "1",      "--flush-seconds",    "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<child_process>(
        argv, child_process::options{.pipe_stdout = true,
                                     .stderr_file = runtime_.log_file(service).string()});
  }

  // The Python producer's load tool: prints "done <n> dropped <d>" at the end.
  std::unique_ptr<child_process> start_python_load(const std::string& service, std::uint64_t count,
                                                   int rate, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "PYTHONPATH=" LOGWIRE_PYTHONPATH,
                                  "/usr/bin/python3",
                                  "-m",
                                  "logwire.load",
                                  "--endpoint",
                                  endpoint_,
                                  "--service",
                                  service,
                                  "--count",
                                  std::to_string(count),
                                  "--rate",
                                  std::to_string(rate)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<child_process>(
        argv, child_process::options{.pipe_stdout = true,
                                     .stderr_file = runtime_.log_file(service).string()});
  }

  // The last line a load process printed before it ended.
  static std::string last_line(child_process& load) {
    std::string last;
    while (auto line = load.read_line(2s)) last = *line;
    return last;
  }

  struct service_records {
    std::map<std::int64_t, int> seqs;  // seq field -> how often it was stored
    std::uint64_t dropped_reported = 0;
  };

  // What the store holds per service, read with no broker running.
  std::map<std::string, service_records> stored() {
    const auto dir = runtime_dir::open(runtime_.path()).value();
    auto records = store::open(dir, {}, unix_now_ns()).value();
    std::map<std::string, service_records> out;
    for (const auto& record : records->query({.limit = 100'000'000}).value().logs) {
      service_records& service = out[record.service];
      bool drop_note = false;
      std::int64_t dropped = 0;
      for (const auto& [key, value] : record.fields) {
        // Identical records within the dedup window (a restarted backend's first ones
        // repeating its predecessor's) are folded into one: their repeats count.
        if (key == "seq")
          service.seqs[std::get<std::int64_t>(value)] += static_cast<int>(record.repeat_count);
        if (key == "event" && std::get_if<std::string>(&value) != nullptr &&
            std::get<std::string>(value) == "dropped") {
          drop_note = true;
        }
        if (key == "dropped") dropped = std::get<std::int64_t>(value);
      }
      if (drop_note) service.dropped_reported += static_cast<std::uint64_t>(dropped);
    }
    return out;
  }

  static void expect_each_once(const service_records& records, std::uint64_t count,
                               const std::string& who) {
    EXPECT_EQ(records.seqs.size(), count) << who << ": every seq stored";
    int repeated = 0;
    for (const auto& [seq, times] : records.seqs) repeated += times != 1;
    EXPECT_EQ(repeated, 0) << who << ": no seq stored twice";
    if (!records.seqs.empty()) {
      EXPECT_EQ(records.seqs.begin()->first, 0) << who;
      EXPECT_EQ(records.seqs.rbegin()->first, static_cast<std::int64_t>(count) - 1) << who;
    }
  }

  testing::temp_runtime_dir runtime_;
  std::string endpoint_;
  std::filesystem::path spool_dir_;
  std::mt19937 random_{std::random_device{}()};
};

TEST_F(remote_kill_test, every_sequence_is_stored_once_while_the_broker_is_killed_and_restarted) {
  // Two C++ and two Python producers at 10K records/s each over TCP; the broker is
  // SIGKILLed at random moments, sometimes mid-batch, sometimes after a longer outage.
  constexpr int k_kills = 12;
  const int rate = k_sanitized ? 2000 : 10000;
  const std::uint64_t count = static_cast<std::uint64_t>(rate) * 15;  // 15 s of logging

  auto broker = start_broker();
  std::vector<std::unique_ptr<child_process>> cpp, python;
  for (int p = 0; p < 2; ++p)
    cpp.push_back(start_cpp_load("cpp-" + std::to_string(p), count, rate));
  for (int p = 0; p < 2; ++p) {
    python.push_back(start_python_load("py-" + std::to_string(p), count, rate));
  }
  std::uniform_int_distribution<int> run_ms(200, 1200);
  std::uniform_int_distribution<int> down_ms(0, 400);
  for (int kill = 0; kill < k_kills; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random_)));
    broker->send_signal(SIGKILL);
    ASSERT_TRUE(broker->wait(5s));
    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(random_)));
    broker = start_broker();
  }
  for (auto& load : cpp) {
    EXPECT_EQ(load->wait(120s), 0);
    EXPECT_EQ(last_line(*load), "logwire load: delivered; 0 dropped");
  }
  for (auto& load : python) {
    EXPECT_EQ(load->wait(120s), 0);
    EXPECT_EQ(last_line(*load), "done " + std::to_string(count) + " dropped 0");
  }
  stop_broker(*broker);

  const auto records = stored();
  for (const std::string service : {"cpp-0", "cpp-1", "py-0", "py-1"}) {
    ASSERT_TRUE(records.contains(service)) << service;
    expect_each_once(records.at(service), count, service);
  }
}

TEST_F(remote_kill_test,
       a_broker_away_for_a_minute_loses_nothing_within_the_queue_and_counts_the_rest) {
  // Two producers log through a 60 s outage: one with the default 64 MiB queue (everything
  // fits), one with a 1 MiB queue (most of the outage does not). The second's drops are
  // reported to the agent to the record.
  constexpr int k_rate = 2000;
  constexpr auto k_outage = 60s;
  const std::uint64_t count = k_rate * 66;  // logging runs past the outage on both sides

  auto broker = start_broker();
  auto roomy = start_cpp_load("roomy", count, k_rate);
  auto tight = start_cpp_load("tight", count, k_rate, {"--queue-bytes", "1048576"});
  auto python = start_python_load("py-roomy", count / 4, k_rate / 4);
  std::this_thread::sleep_for(2s);
  stop_broker(*broker);
  std::this_thread::sleep_for(k_outage);
  broker = start_broker();

  ASSERT_EQ(roomy->wait(120s), 0);
  ASSERT_EQ(tight->wait(120s), 0);
  ASSERT_EQ(python->wait(120s), 0);
  EXPECT_EQ(last_line(*roomy), "logwire load: delivered; 0 dropped");
  const std::string tight_summary = last_line(*tight);
  EXPECT_EQ(last_line(*python), "done " + std::to_string(count / 4) + " dropped 0");
  stop_broker(*broker);

  std::uint64_t tight_dropped = 0;
  ASSERT_EQ(std::sscanf(tight_summary.c_str(), "logwire load: delivered; %llu dropped",
                        reinterpret_cast<unsigned long long*>(&tight_dropped)),
            1)
      << tight_summary;
  EXPECT_GT(tight_dropped, 0u) << "a 1 MiB queue cannot hold a minute at 2000 records/s";

  const auto records = stored();
  expect_each_once(records.at("roomy"), count, "roomy");
  expect_each_once(records.at("py-roomy"), count / 4, "py-roomy");
  EXPECT_EQ(records.at("roomy").dropped_reported, 0u);
  const service_records& lossy = records.at("tight");
  // The producer cannot tell whether the oldest records it dropped had reached the broker
  // unacknowledged; the broker can, and reports exactly the ones that never arrived.
  EXPECT_GT(lossy.dropped_reported, 0u);
  EXPECT_EQ(lossy.seqs.size() + lossy.dropped_reported, count)
      << "stored + reported dropped = logged";
  EXPECT_LE(lossy.dropped_reported, tight_dropped) << "the producer counts what it gave up on";
  for (const auto& [seq, times] : lossy.seqs) ASSERT_EQ(times, 1) << "seq " << seq;
}

TEST_F(remote_kill_test,
       spooled_records_arrive_after_the_backend_restarts_while_the_broker_is_away) {
  // No broker: the first run of the backend logs and exits with everything spooled.
  auto first = start_cpp_load("spooler", 5000, 0,
                              {"--spool-dir", spool_dir_.string(), "--flush-seconds", "0.2"});
  ASSERT_EQ(first->wait(30s), 0);
  EXPECT_NE(last_line(*first).find("not all delivered"), std::string::npos);
  ASSERT_FALSE(std::filesystem::is_empty(spool_dir_)) << "its records wait in the spool";

  // The broker comes back, then the backend restarts (a new instance) on the same spool.
  auto broker = start_broker();
  auto second = start_cpp_load("spooler", 100, 0, {"--spool-dir", spool_dir_.string()});
  ASSERT_EQ(second->wait(60s), 0);
  EXPECT_EQ(last_line(*second), "logwire load: delivered; 0 dropped");
  EXPECT_TRUE(wait_for([&] { return std::filesystem::is_empty(spool_dir_); }, 10s))
      << "both spools are removed once delivered";
  stop_broker(*broker);

  // seq 0..99 from the second instance and 0..4999 from the first: 0..99 twice, the rest once.
  const auto records = stored();
  const service_records& spooler = records.at("spooler");
  EXPECT_EQ(spooler.seqs.size(), 5000u);
  for (const auto& [seq, times] : spooler.seqs) {
    ASSERT_EQ(times, seq < 100 ? 2 : 1) << "seq " << seq;
  }
}

TEST_F(remote_kill_test, malformed_messages_are_answered_with_errors_and_other_streams_carry_on) {
  const std::uint64_t count = k_sanitized ? 10000 : 30000;
  auto broker = start_broker();
  auto honest = start_cpp_load("honest", count, 10000);

  zmq::context_t context;
  zmq::socket_t hostile(context, zmq::socket_type::dealer);
  hostile.set(zmq::sockopt::linger, 0);
  hostile.set(zmq::sockopt::rcvtimeo, 5000);
  hostile.connect(endpoint_);
  // Sends frames and returns the refusal code the broker answered with.
  const auto refusal_for = [&](std::vector<std::string> frames) -> std::string {
    std::vector<zmq::const_buffer> parts;
    for (const auto& frame : frames) parts.push_back(zmq::buffer(frame));
    EXPECT_TRUE(zmq::send_multipart(hostile, parts));
    std::vector<zmq::message_t> reply;
    if (!zmq::recv_multipart(hostile, std::back_inserter(reply))) return "no reply";
    if (reply.size() != 3 || reply[1].to_string() != "ERROR") return "not an error";
    const auto* refusal = flatbuffers::GetRoot<wire::Refusal>(reply[2].data());
    return refusal->code() != nullptr ? refusal->code()->str() : "";
  };

  // A well-formed envelope to cut short, for an honest session of the hostile socket.
  flatbuffers::FlatBufferBuilder fbb;
  const wire::InstanceId id(7, 7);
  fbb.Finish(
      wire::CreateHello(fbb, wire::CreateProducerIdentityDirect(fbb, "hostile", "h", 1, &id)));
  const std::string hello(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  record_encoder encoder;
  const auto record = encoder.encode({.message = "fine"}, unix_now_ns());
  fbb.Clear();
  const auto bytes =
      fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(record.data()), record.size());
  const auto records = fbb.CreateVector(std::vector{wire::CreateRecordBuffer(fbb, bytes)});
  wire::FinishEnvelopeBuffer(fbb, wire::CreateEnvelope(fbb, 0, 0, records));
  const std::string envelope(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());

  const std::string protocol(remote::k_protocol);
  for (int round = 0; round < 20; ++round) {
    EXPECT_EQ(refusal_for({"LWP9", "HELLO", hello}), "unsupported_version");
    EXPECT_EQ(refusal_for({protocol, "DATA", envelope}), "no_session");
    EXPECT_EQ(refusal_for({protocol, "HELLO", "not a flatbuffer"}), "malformed");
    EXPECT_EQ(refusal_for({protocol, "SHOUT", ""}), "unknown_command");
    EXPECT_EQ(refusal_for({protocol, "DATA"}), "malformed");
    EXPECT_EQ(refusal_for({protocol, "DATA", envelope.substr(0, envelope.size() / 2)}),
              "malformed");
  }
  // Oversized, past the cap but under the transport's hard limit.
  EXPECT_EQ(refusal_for({protocol, "DATA", std::string(remote::k_max_message_bytes + 1, 'x')}),
            "too_large");

  ASSERT_EQ(honest->wait(60s), 0);
  EXPECT_EQ(last_line(*honest), "logwire load: delivered; 0 dropped");
  stop_broker(*broker);
  expect_each_once(stored().at("honest"), count, "honest");
}

}  // namespace
}  // namespace logwire
